import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { DispatchFrame, FinishedFrame, OutputFrame, StartedFrame } from "@caisey/core";
import { LIMITS, redactEnv } from "@caisey/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Executor, type ExecutorOptions } from "../src/executor.ts";
import { Journal } from "../src/journal.ts";
import { type FrameSink, Outbox, type OutboxFrame } from "../src/outbox.ts";
import { BACKUP_SCRIPT, liveInGroup, MACHINE, until } from "./fixtures.ts";
import { bashDispatch, testTenant } from "./tenant.ts";

/**
 * What may still arrive once the window is exceeded and the pipes are paused: the chunk being framed, plus one
 * pipe read (64 KiB) that was already under way when the pause landed.
 */
const IN_FLIGHT = LIMITS.outputChunkBytes + 64 * 1024;

const SES = "ses_aaaaaaaaaaaaaaaaaaaa";
const SES2 = "ses_bbbbbbbbbbbbbbbbbbbb";
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const tenant = testTenant();

/** A dispatch as the server sends it (signed; the executor itself trusts its caller to have verified it). */
function dispatch(command: string, extra: Partial<Omit<DispatchFrame, "signature">> = {}): DispatchFrame {
  return tenant.signDispatch(MACHINE, bashDispatch(command, extra));
}

/** A sink that records frames and lets tests wait for a command's finished frame. */
class RecordingSink implements FrameSink {
  readonly frames: OutboxFrame[] = [];
  readonly resent: string[] = [];
  readonly starts: string[] = [];
  readonly #waiters = new Map<string, (frame: FinishedFrame) => void>();

  push(frame: OutboxFrame): void {
    this.frames.push(frame);
    if (frame.t === "finished") this.#waiters.get(frame.commandId)?.(frame);
  }
  resend(commandId: string): number {
    this.resent.push(commandId);
    return this.of(commandId).length;
  }
  isPaused(): boolean {
    return false;
  }
  async starting(_sessionId: string, commandId: string): Promise<void> {
    this.starts.push(commandId);
  }
  knows(): boolean {
    return false;
  }
  of(commandId: string): OutboxFrame[] {
    return this.frames.filter((f) => f.commandId === commandId);
  }
  finished(commandId: string): Promise<FinishedFrame> {
    const done = this.of(commandId).find((f) => f.t === "finished");
    if (done) return Promise.resolve(done as FinishedFrame);
    return new Promise((resolve) => this.#waiters.set(commandId, resolve));
  }
  started(commandId: string): StartedFrame | undefined {
    return this.of(commandId).find((f): f is StartedFrame => f.t === "started");
  }
  output(commandId: string, stream: "stdout" | "stderr"): OutputFrame[] {
    return this.of(commandId).filter((f): f is OutputFrame => f.t === "output" && f.stream === stream);
  }
  bytes(commandId: string, stream: "stdout" | "stderr"): Buffer {
    return Buffer.concat(this.output(commandId, stream).map((f) => Buffer.from(f.data, "base64")));
  }
}

function executor(sink: FrameSink, options: Partial<ExecutorOptions> = {}): Executor {
  return new Executor({ sink, shellVersion: async () => "test-shell 1.0", drainGraceMs: 300, ...options });
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/**
 * Whether a process of the group is blocked writing its output: the kernel's word (its wait channel) that the command
 * wants to write more than it can, because nobody reads the other end. Node gives a child a socket pair for stdio.
 */
function blockedWriting(pgid: number): boolean {
  return liveInGroup(pgid).some((pid) => {
    try {
      return /^(sock_alloc_send|unix_stream_sendmsg|pipe_write|anon_pipe_write|pipe_wait)/.test(
        readFileSync(`/proc/${pid}/wchan`, "utf8"),
      );
    } catch {
      return false; // the process ended while we looked
    }
  });
}

/** Wait until a `sleep 30 & sleep 30; wait` command runs as three processes (bash and both sleeps); its group. */
async function bothSleepsRunning(sink: RecordingSink, commandId: string): Promise<number> {
  await until(() => sink.started(commandId) !== undefined);
  const pgid = sink.started(commandId)?.pid as number;
  await until(() => liveInGroup(pgid).length === 3, "bash and both sleeps");
  return pgid;
}

/** Every process of the group ends soon after the command is reported. */
async function treeGone(pgid: number): Promise<void> {
  await until(() => liveInGroup(pgid).length === 0, "the process group to end", 1000);
  expect(liveInGroup(pgid)).toEqual([]);
}

/**
 * Commands of one session run in order, so once a later `true` in the session has finished, anything an earlier
 * dispatch was going to start has started: the positive event that proves a command did not run.
 */
async function barrier(ex: Executor, finished: (commandId: string) => Promise<unknown>): Promise<DispatchFrame> {
  const d = dispatch("true");
  ex.dispatch(d);
  await finished(d.commandId);
  return d;
}

const startedIn = (outbox: Outbox, commandId: string) =>
  outbox.pending().find((f): f is StartedFrame => f.t === "started" && f.commandId === commandId) as StartedFrame;

/** The finished frame of a command, once it is among the outbox's pending frames. */
async function finishedIn(outbox: Outbox, commandId: string): Promise<void> {
  await until(
    () => outbox.pending().some((f) => f.t === "finished" && f.commandId === commandId),
    `${commandId} to finish`,
  );
}

describe("Executor with real bash", () => {
  it("streams exact bytes with offsets, counts, hashes and the exit code", async () => {
    const sink = new RecordingSink();
    const d = dispatch("printf 'a\\0b\\n'; echo err >&2; exit 3");
    const clock = [1000.4, 1042.3]; // when it started, when it finished
    executor(sink, { now: () => clock.shift() as number }).dispatch(d);
    const fin = await sink.finished(d.commandId);

    const started = sink.started(d.commandId);
    expect(started).toEqual({
      t: "started",
      sessionId: SES,
      commandId: d.commandId,
      pid: started?.pid,
      user: os.userInfo().username,
      cwd: os.homedir(),
      executable: started?.executable,
      shell: "bash",
      shellVersion: "test-shell 1.0",
      env: redactEnv(process.env),
    });
    expect(started?.pid).toBeGreaterThan(0);
    expect(started?.executable).toMatch(/^\/.*\/bash$/);
    expect(sink.of(d.commandId)[0]?.t).toBe("started");
    expect(sink.of(d.commandId).at(-1)?.t).toBe("finished");

    expect(sink.output(d.commandId, "stdout").map((f) => [f.offset, f.data])).toEqual([[0, "YQBiCg=="]]);
    expect(sink.bytes(d.commandId, "stdout")).toEqual(Buffer.from([0x61, 0x00, 0x62, 0x0a]));
    expect(sink.bytes(d.commandId, "stderr").toString("utf8")).toBe("err\n");
    expect(sink.output(d.commandId, "stderr").map((f) => f.offset)).toEqual([0]);

    expect(fin).toEqual({
      t: "finished",
      sessionId: SES,
      commandId: d.commandId,
      state: "finished",
      exitCode: 3,
      signal: null,
      reason: null,
      stdoutBytes: 4,
      stderrBytes: 4,
      stdoutSha256: "3a100994c4e38751871e6e8eef9adad2b20177fdeaf650daacdcd74f4c9421e3",
      stderrSha256: "2ccde4875ec595757efdf23d7b1336fcd69cf0fb869310b12a0d219c52817b20",
      durationMs: 42,
    });
  });

  it("reports empty output with the SHA-256 of nothing", async () => {
    const sink = new RecordingSink();
    const d = dispatch("true");
    executor(sink).dispatch(d);
    const fin = await sink.finished(d.commandId);
    expect([fin.state, fin.exitCode, fin.reason, fin.stdoutBytes, fin.stderrBytes]).toEqual([
      "finished",
      0,
      null,
      0,
      0,
    ]);
    // reason null: the pipes' close was seen, no wait for the drain grace period
    expect(fin.stdoutSha256).toBe(EMPTY);
    expect(fin.stderrSha256).toBe(EMPTY);
    expect(sink.of(d.commandId).map((f) => f.t)).toEqual(["started", "finished"]);
  });

  it("frames 1 MiB of output in chunks of at most LIMITS.outputChunkBytes with contiguous offsets", async () => {
    const sink = new RecordingSink();
    const d = dispatch("yes abcdefg | head -c 1048576");
    executor(sink).dispatch(d);
    const fin = await sink.finished(d.commandId);
    const expected = Buffer.from("abcdefg\n".repeat(131072));
    const frames = sink.output(d.commandId, "stdout");
    let offset = 0;
    for (const frame of frames) {
      const size = Buffer.from(frame.data, "base64").length;
      expect(frame.offset).toBe(offset);
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(LIMITS.outputChunkBytes);
      offset += size;
    }
    expect(offset).toBe(1048576);
    expect(frames.length).toBeGreaterThanOrEqual(1048576 / LIMITS.outputChunkBytes);
    expect(sink.bytes(d.commandId, "stdout").equals(expected)).toBe(true);
    expect(fin.stdoutBytes).toBe(1048576);
    expect(fin.stdoutSha256).toBe(sha256(expected));
    expect(fin.exitCode).toBe(0);
  });

  it("frames output in the order it was read: a read of the other stream frames what is pending first", async () => {
    const sink = new RecordingSink();
    const d = dispatch(BACKUP_SCRIPT.command);
    // Nothing is framed for waiting: only a switch of stream (or the end) cuts a frame, whatever the machine's load.
    executor(sink, { coalescing: { quietMs: 600_000, maxMs: 600_000 } }).dispatch(d);
    const fin = await sink.finished(d.commandId);
    const frames = sink.of(d.commandId).filter((f): f is OutputFrame => f.t === "output");
    expect(frames.map((f) => [f.stream, Buffer.from(f.data, "base64").toString("utf8")])).toEqual(BACKUP_SCRIPT.lines);
    expect(frames.map((f) => f.offset)).toEqual([0, 0, 17]);
    expect([fin.exitCode, fin.stdoutBytes, fin.stderrBytes]).toEqual([0, 30, 18]);
    expect(fin.stdoutSha256).toBe(sha256("backup: starting\nbackup: done\n"));
    expect(fin.stderrSha256).toBe(sha256("warning: 91% full\n"));
  });

  it("kills the whole process tree on timeout and reports timed_out", async () => {
    const sink = new RecordingSink();
    const d = dispatch("sleep 30 & sleep 30; wait", { timeoutSeconds: 1 });
    executor(sink).dispatch(d);
    const pgid = await bothSleepsRunning(sink, d.commandId);
    const fin = await sink.finished(d.commandId);
    expect(fin).toMatchObject({
      state: "timed_out",
      exitCode: null,
      signal: "SIGKILL",
      reason: "timed out after 1s",
      stdoutBytes: 0,
      stderrBytes: 0,
    });
    expect(fin.durationMs).toBeGreaterThanOrEqual(1000);
    await treeGone(pgid);
  });

  it("kills the whole process tree on cancel and reports cancelled", async () => {
    const sink = new RecordingSink();
    const ex = executor(sink);
    const d = dispatch("echo before; sleep 30 & sleep 30; wait");
    ex.dispatch(d);
    await until(() => sink.bytes(d.commandId, "stdout").toString() === "before\n");
    const pgid = await bothSleepsRunning(sink, d.commandId);
    ex.cancel(SES, d.commandId);
    const fin = await sink.finished(d.commandId);
    expect(fin).toMatchObject({
      state: "cancelled",
      exitCode: null,
      signal: "SIGKILL",
      reason: "cancelled by technician",
      stdoutBytes: 7,
      stdoutSha256: sha256("before\n"),
    });
    await treeGone(pgid);
  });

  it("reports failed when the shell is not on PATH", async () => {
    const sink = new RecordingSink();
    const d = dispatch("echo hi");
    executor(sink, { env: { PATH: "/nonexistent/bin" } }).dispatch(d);
    const fin = await sink.finished(d.commandId);
    expect(sink.of(d.commandId).map((f) => f.t)).toEqual(["finished"]);
    expect(fin).toEqual({
      t: "finished",
      sessionId: SES,
      commandId: d.commandId,
      state: "failed",
      exitCode: null,
      signal: null,
      reason: "bash not found on PATH",
      stdoutBytes: 0,
      stderrBytes: 0,
      stdoutSha256: EMPTY,
      stderrSha256: EMPTY,
      durationMs: fin.durationMs,
    });
    const pwsh = dispatch("Get-Date", { shell: "powershell" });
    executor(sink, { env: { PATH: "/nonexistent/bin" } }).dispatch(pwsh);
    expect((await sink.finished(pwsh.commandId)).reason).toBe("powershell not found on PATH");
  });

  it("records, for every command, exactly the environment the command gets (redacted), read once", async () => {
    const sink = new RecordingSink();
    const bash = path.dirname(
      execFileSync("bash", ["-c", "command -v bash"], { encoding: "utf8" }).trim() || "/bin/bash",
    );
    // The shell is found past a missing directory and one without it (a file that is no directory, too).
    const PATH = ["/nonexistent/bin", os.tmpdir(), "/etc/hostname", bash].join(":");
    const env = { PATH, GREETING: "hello", API_TOKEN: "s3cret", UNSET: undefined };
    const ex = executor(sink, { env });
    const first = dispatch('printf \'%s|%s|%s\' "$GREETING" "$API_TOKEN" "$UNSET"');
    const second = dispatch("env | cut -d= -f1 | sort | tr '\\n' ' '", { sessionId: SES });
    ex.dispatch(first);
    ex.dispatch(second);
    await sink.finished(first.commandId);
    await sink.finished(second.commandId);
    const recorded = { API_TOKEN: redactEnv({ API_TOKEN: "s3cret" }).API_TOKEN, GREETING: "hello", PATH };
    expect(recorded.API_TOKEN).not.toBe("s3cret");
    for (const d of [first, second]) {
      expect(sink.started(d.commandId)?.env).toEqual(recorded);
      expect(sink.started(d.commandId)?.executable).toBe(path.join(bash, "bash"));
    }
    // The command itself gets the real values; later commands the same environment.
    expect(sink.bytes(first.commandId, "stdout").toString()).toBe("hello|s3cret|");
    const names = sink.bytes(second.commandId, "stdout").toString().trim().split(" ");
    for (const name of Object.keys(recorded)) expect(names).toContain(name);
    expect(names).not.toContain("UNSET");
  });

  it("runs one session's commands in order and different sessions in parallel", async () => {
    const sink = new RecordingSink();
    const ex = executor(sink);
    const first = dispatch("sleep 0.3; echo first");
    const second = dispatch("echo second");
    const other = dispatch("echo other", { sessionId: SES2 });
    ex.dispatch(first);
    ex.dispatch(second);
    ex.dispatch(other);
    await Promise.all([first, second, other].map((d) => sink.finished(d.commandId)));
    const order = sink.frames
      .filter((f) => f.t !== "output")
      .map(
        (f) =>
          `${f.t}:${f.commandId === first.commandId ? "first" : f.commandId === second.commandId ? "second" : "other"}`,
      );
    expect(order.indexOf("finished:first")).toBeLessThan(order.indexOf("started:second"));
    expect(order.indexOf("finished:other")).toBeLessThan(order.indexOf("finished:first"));
    expect(sink.bytes(second.commandId, "stdout").toString()).toBe("second\n");
  });

  it("never runs a known command twice: a redispatch resends instead", async () => {
    const sink = new RecordingSink();
    const lines: string[] = [];
    const ex = executor(sink, { log: (l) => lines.push(l) });
    const d = dispatch("sleep 0.2; echo once");
    ex.dispatch(d);
    ex.dispatch(d); // queued or starting
    await until(() => sink.started(d.commandId) !== undefined);
    ex.dispatch(d); // running
    await sink.finished(d.commandId);
    ex.dispatch(d); // finished, not yet acknowledged
    ex.forget(d.commandId);
    ex.dispatch(d); // finished and acknowledged
    await barrier(ex, (id) => sink.finished(id));
    expect(sink.of(d.commandId).filter((f) => f.t === "started").length).toBe(1);
    expect(sink.bytes(d.commandId, "stdout").toString()).toBe("once\n");
    expect(sink.resent).toEqual([d.commandId, d.commandId, d.commandId, d.commandId]);
    expect(lines.filter((l) => l.includes("not running it again")).map((l) => l.split(";")[0])).toEqual([
      `${d.commandId} already queued`,
      `${d.commandId} already running`,
      `${d.commandId} already finished`,
      `${d.commandId} already finished`,
    ]);
  });

  it("cancels a queued command without running it", async () => {
    const sink = new RecordingSink();
    const ex = executor(sink);
    const first = dispatch("sleep 0.3");
    const second = dispatch("echo never");
    ex.dispatch(first);
    ex.dispatch(second);
    ex.cancel(SES, second.commandId);
    const fin = await sink.finished(second.commandId);
    expect(fin).toMatchObject({
      state: "cancelled",
      exitCode: null,
      signal: null,
      reason: "cancelled by technician",
      stdoutBytes: 0,
      durationMs: 0,
    });
    await sink.finished(first.commandId);
    expect(sink.of(second.commandId).map((f) => f.t)).toEqual(["finished"]);
  });

  it("stops reading when a background process keeps the pipes open after the shell exits", async () => {
    const sink = new RecordingSink();
    const d = dispatch("sleep 5 & echo bye");
    executor(sink, { drainGraceMs: 200 }).dispatch(d);
    const fin = await sink.finished(d.commandId);
    expect(fin).toMatchObject({
      state: "finished",
      exitCode: 0,
      reason:
        "stopped reading output 200ms after the shell exited: a background process still holds stdout/stderr open",
      stdoutBytes: 4,
    });
    const pgid = sink.started(d.commandId)?.pid as number;
    process.kill(-pgid, "SIGKILL");
  });

  it("on shutdown kills running trees, reports them interrupted, and starts nothing more", async () => {
    const sink = new RecordingSink();
    const lines: string[] = [];
    const ex = executor(sink, { log: (l) => lines.push(l) });
    const running = dispatch("sleep 30 & sleep 30; wait");
    const queued = dispatch("echo never");
    ex.dispatch(running);
    ex.dispatch(queued);
    await until(() => sink.started(running.commandId) !== undefined);
    const pgid = sink.started(running.commandId)?.pid as number;
    await ex.shutdown();
    expect(await sink.finished(running.commandId)).toMatchObject({
      state: "interrupted",
      exitCode: null,
      signal: "SIGKILL",
      reason: "the runtime was stopped",
    });
    expect(sink.of(queued.commandId)).toEqual([]);
    const late = dispatch("echo late");
    ex.dispatch(late);
    expect(sink.of(late.commandId)).toEqual([]);
    expect(lines).toContain(`${late.commandId} not started: the runtime is stopping`);
    expect(ex.active()).toBe(0);
    await until(() => liveInGroup(pgid).length === 0, "the process group to end", 1000);
  });

  it("pauses output above the outbox window and resumes as acks arrive", async () => {
    let ex: Executor | undefined;
    const outbox = new Outbox({
      windowBytes: 256 * 1024,
      onFlow: (id, paused) => ex?.setPaused(id, paused),
    });
    ex = executor(outbox);
    const d = dispatch("head -c 2097152 /dev/zero");
    ex.dispatch(d);
    await until(() => outbox.isPaused(d.commandId));
    const pgid = startedIn(outbox, d.commandId).pid;
    await until(() => blockedWriting(pgid), "the command to block writing to the unread pipe");
    const held = outbox.unackedBytes(d.commandId);
    expect(held).toBeGreaterThan(256 * 1024);
    expect(held).toBeLessThanOrEqual(256 * 1024 + IN_FLIGHT);
    expect(outbox.pending().some((f) => f.t === "finished")).toBe(false);

    // The server acknowledges everything it has, repeatedly, until the command finishes.
    while (!outbox.pending().some((f) => f.t === "finished")) {
      const stdout = outbox
        .pending()
        .filter((f): f is OutputFrame => f.t === "output")
        .reduce((end, f) => Math.max(end, f.offset + Buffer.from(f.data, "base64").length), 0);
      outbox.ack({
        t: "ack",
        sessionId: SES,
        commandId: d.commandId,
        started: true,
        stdout,
        stderr: 0,
        finished: false,
      });
      expect(outbox.unackedBytes(d.commandId)).toBeLessThanOrEqual(256 * 1024 + IN_FLIGHT);
      // The acks resume the pipes: wait for the next output (or the finish) before acknowledging again.
      await until(
        () => outbox.pending().some((f) => f.t === "finished" || (f.t === "output" && f.offset >= stdout)),
        "more output after the ack",
      );
    }
    const fin = outbox.pending().find((f): f is FinishedFrame => f.t === "finished");
    expect(fin?.stdoutBytes).toBe(2097152);
    expect(fin?.stdoutSha256).toBe(sha256(Buffer.alloc(2097152)));
  });
});

describe("Executor and the journal", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "caisey-exec-"));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("answers a resumed dispatch it has no record of with `interrupted`, and runs nothing", async () => {
    const sink = new RecordingSink();
    const ex = executor(sink);
    const d = dispatch(`touch ${tmp}/ran`, { resume: true });
    ex.dispatch(d);
    expect(sink.of(d.commandId)).toEqual([
      {
        t: "finished",
        sessionId: SES,
        commandId: d.commandId,
        state: "interrupted",
        exitCode: null,
        signal: null,
        reason: "the runtime lost this command (restarted without a record of it)",
        stdoutBytes: 0,
        stderrBytes: 0,
        stdoutSha256: null,
        stderrSha256: null,
        durationMs: 0,
      },
    ]);
    ex.dispatch(d); // and again: resent, not run, not reported twice
    expect(sink.starts).toEqual([]);
    const later = await barrier(ex, (id) => sink.finished(id));
    expect(existsSync(`${tmp}/ran`)).toBe(false);
    expect(sink.starts).toEqual([later.commandId]);
    expect(sink.of(d.commandId).length).toBe(1);
    expect(sink.resent).toEqual([d.commandId]);
    expect(ex.active()).toBe(0);
  });

  it("never runs a command the journal knows from before a restart", async () => {
    const journal = await Journal.open(tmp);
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    const d = dispatch(`touch ${tmp}/ran`);
    await outbox.starting(d.sessionId, d.commandId); // the previous life got this far, then died
    await journal.close();
    const again = await Journal.open(tmp);
    const outboxAgain = new Outbox({ store: again, windowBytes: 1 << 20 });
    const ex = executor(outboxAgain);
    ex.dispatch(d); // resume: false (the server never saw it start) — still not run
    await barrier(ex, (id) => finishedIn(outboxAgain, id));
    expect(existsSync(`${tmp}/ran`)).toBe(false);
    expect(ex.active()).toBe(0);
    await again.close();
  });

  it("journals `starting` before spawning", async () => {
    const sink = new RecordingSink();
    const d = dispatch("echo hi");
    executor(sink).dispatch(d);
    await sink.finished(d.commandId);
    expect(sink.starts).toEqual([d.commandId]);
  });

  it("journals `starting` while the pre-state is read, and spawns only once it is on disk", async () => {
    const sink = new RecordingSink();
    const events: string[] = [];
    let durable = () => {};
    // `starting` is on disk only once the pre-state has been handed over: an executor that read the pre-state only
    // after `starting` was durable would never get there.
    sink.starting = (_sessionId, commandId) => {
      sink.starts.push(commandId);
      events.push("starting");
      return new Promise<void>((resolve) => {
        durable = () => {
          events.push("durable");
          resolve();
        };
      });
    };
    const push = sink.push.bind(sink);
    sink.push = (frame) => {
      events.push(frame.t);
      push(frame);
      if (frame.t === "prestate") durable();
    };
    const d = dispatch("echo ran > out.txt"); // a change: out.txt's pre-state (it does not exist) is read first
    executor(sink, { cwd: tmp }).dispatch(d);
    const fin = await sink.finished(d.commandId);
    expect(fin).toMatchObject({ state: "finished", exitCode: 0 });
    expect(events).toEqual(["starting", "prestate", "durable", "started", "finished"]);
    expect(readFileSync(path.join(tmp, "out.txt"), "utf8")).toBe("ran\n");
  });

  it("stays paused while disconnected: memory and journal stay within the window", async () => {
    const journal = await Journal.open(tmp);
    let ex: Executor | undefined;
    const outbox = new Outbox({
      store: journal,
      windowBytes: LIMITS.unackedOutputBytes,
      onFlow: (id, paused) => ex?.setPaused(id, paused),
    });
    ex = executor(outbox);
    const d = dispatch("cat /dev/zero"); // as fast as it can, forever
    ex.dispatch(d);
    await until(() => outbox.isPaused(d.commandId));
    const journalBytes = () => readdirSync(tmp).reduce((sum, name) => sum + statSync(path.join(tmp, name)).size, 0);
    // The command wants to write far more than it can: the kernel holds it in write() on the pipe nobody reads.
    const pgid = startedIn(outbox, d.commandId).pid;
    await until(() => blockedWriting(pgid), "the command to block writing to the unread pipe");
    await journal.flush();
    const held = outbox.unackedBytes(d.commandId);
    const onDisk = journalBytes();
    // Still blocked, and nothing more was read, framed or journalled while it was. (The runtime's memory while it
    // streams is measured by `npm run bench`, not asserted here.)
    await until(() => blockedWriting(pgid), "the command to stay blocked writing");
    await journal.flush();
    expect(outbox.isPaused(d.commandId)).toBe(true);
    expect(outbox.unackedBytes(d.commandId)).toBe(held);
    expect(held).toBeLessThanOrEqual(LIMITS.unackedOutputBytes + IN_FLIGHT);
    expect(journalBytes()).toBe(onDisk);
    expect(onDisk).toBeLessThan((LIMITS.unackedOutputBytes + IN_FLIGHT) * 1.4); // base64 + framing
    await ex.shutdown();
    const fin = outbox.pending().find((f): f is FinishedFrame => f.t === "finished");
    // Stopping resumes the pipes so the killed tree's last bytes drain: the finish counts everything journalled.
    expect(fin).toMatchObject({ state: "interrupted", reason: "the runtime was stopped" });
    expect(fin?.stdoutBytes).toBe(outbox.unackedBytes(d.commandId));
    expect(fin?.stdoutBytes).toBeGreaterThanOrEqual(held);
    await journal.close();
  });
});

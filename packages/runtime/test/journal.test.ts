import {
  appendFileSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import { type AckFrame, type FinishedFrame, type OutputFrame, parseOutputFrame, type StartedFrame } from "@caisey/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeRecord, interruptedFinish, Journal, type JournalOptions, processIdentity } from "../src/journal.ts";
import { frameMessage, Outbox, type OutboxFrame, outputBuffer, outputFrame } from "../src/outbox.ts";
import { until } from "./fixtures.ts";

const SES = "ses_aaaaaaaaaaaaaaaaaaaa";
const CMD = "cmd_aaaaaaaaaaaaaaaaaaaa";
const CMD2 = "cmd_bbbbbbbbbbbbbbbbbbbb";
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function started(commandId = CMD, pid = 4242): StartedFrame {
  return {
    t: "started",
    sessionId: SES,
    commandId,
    pid,
    user: "u",
    cwd: "/",
    executable: "/bin/bash",
    shell: "bash",
    shellVersion: "",
    env: { LANG: "C.UTF-8", NOTE: "ünïcode" },
  };
}

function output(stream: "stdout" | "stderr", offset: number, text: string, commandId = CMD): OutputFrame {
  return { t: "output", sessionId: SES, commandId, stream, offset, data: Buffer.from(text).toString("base64") };
}

function finished(commandId = CMD, stdoutBytes = 0): FinishedFrame {
  return {
    t: "finished",
    sessionId: SES,
    commandId,
    state: "finished",
    exitCode: 0,
    signal: null,
    reason: null,
    stdoutBytes,
    stderrBytes: 0,
    stdoutSha256: EMPTY,
    stderrSha256: EMPTY,
    durationMs: 1,
  };
}

function ack(a: Partial<Omit<AckFrame, "t" | "sessionId">> = {}): AckFrame {
  return { t: "ack", sessionId: SES, commandId: CMD, started: false, stdout: 0, stderr: 0, finished: false, ...a };
}

let dir: string;
let lines: string[];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "caisey-journal-"));
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = (options: JournalOptions = {}) => Journal.open(dir, { log: (l) => lines.push(l), ...options });
const segments = () =>
  readdirSync(dir)
    .filter((n) => n.endsWith(".journal"))
    .sort();
const describeFrame = (f: OutboxFrame) =>
  f.t === "output"
    ? `${f.commandId.slice(4, 5)}:${f.stream}@${f.offset}:${Buffer.from(f.data, "base64").toString()}`
    : `${f.commandId.slice(4, 5)}:${f.t}`;

/** An outbox over `journal`, connected: what it sends is kept in `sent`. */
function connectedOutbox(journal: Journal) {
  const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
  const sent: OutboxFrame[] = [];
  outbox.connected((f) => sent.push(f));
  return { outbox, sent };
}

describe("Journal", () => {
  it("writes frames durably before they are sent, and reads them back in order after a reopen", async () => {
    const journal = await open();
    const { outbox, sent } = connectedOutbox(journal);
    await outbox.starting(SES, CMD);
    outbox.push(started());
    outbox.push(output("stdout", 0, "one\n"));
    outbox.push(output("stderr", 0, "oops\n"));
    outbox.push(output("stdout", 4, "two\n"));
    outbox.push(finished(CMD, 8));
    expect(sent).toEqual([]); // nothing leaves before its batch is fsync'd
    await journal.flush();
    expect(sent.map(describeFrame)).toEqual([
      "a:started",
      "a:stdout@0:one\n",
      "a:stderr@0:oops\n",
      "a:stdout@4:two\n",
      "a:finished",
    ]);
    await journal.close();

    const again = await open();
    expect(again.recovery).toEqual({ segments: 1, frames: 5, damage: [] });
    expect([...again.entries()].map((e) => e.frame)).toEqual(sent);
    expect([...again.entries()].every((e) => e.durable)).toBe(true);
    expect(again.unfinished()).toEqual([]); // it has its finish
    expect(again.knows(CMD)).toBe(true);
    expect(again.knows(CMD2)).toBe(false);
    const reopened = new Outbox({ store: again, windowBytes: 1 << 20 });
    expect(reopened.unackedBytes(CMD)).toBe(13);
    const resent: OutboxFrame[] = [];
    reopened.connected((f) => resent.push(f));
    expect(resent).toEqual(sent);
    // New frames continue the sequence after the recovered ones.
    reopened.push(started(CMD2));
    await again.flush();
    expect(resent.map(describeFrame).at(-1)).toBe("b:started");
    expect([...again.entries()].map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    await again.close();
    // Nothing was acknowledged: the first segment stays; each start writes to a new one.
    expect(segments()).toEqual(["segment-000000000001.journal", "segment-000000000002.journal"]);
  });

  it("writes each frame as the documented record of { k, seq, frame, proc } (output: its raw bytes after an LF), byte for byte", async () => {
    const journal = await open();
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    await outbox.starting(SES, CMD);
    const frames: OutboxFrame[] = [
      started(),
      output("stdout", 0, "one\n"),
      output("stderr", 0, "\u00e9\u0000"),
      finished(CMD, 4),
    ];
    for (const frame of frames) outbox.push(frame);
    await journal.close();
    const file = readFileSync(path.join(dir, segments()[0] as string));
    const records: string[] = [];
    const raw: Buffer[] = [];
    for (let at = 0; at < file.length; ) {
      const length = Number.parseInt(file.subarray(at, at + 8).toString("latin1"), 16);
      const payload = file.subarray(at + 18, at + 18 + length);
      expect(file.subarray(at + 9, at + 17).toString("latin1")).toBe(crc32(payload).toString(16).padStart(8, "0"));
      expect(file[at + 18 + length]).toBe(0x0a);
      const lf = payload.indexOf(0x0a);
      records.push(payload.subarray(0, lf === -1 ? length : lf).toString("utf8"));
      if (lf !== -1) raw.push(payload.subarray(lf + 1));
      at += 18 + length + 1;
    }
    const frameRecords = records.map((r) => JSON.parse(r)).filter((p) => p.k === "frame");
    const { data: _one, ...one } = frames[1] as OutputFrame;
    const { data: _two, ...two } = frames[2] as OutputFrame;
    expect(frameRecords.map((p) => p.frame)).toEqual([frames[0], one, two, frames[3]]);
    expect(raw).toEqual([Buffer.from("one\n"), Buffer.from("\u00e9\u0000")]);
    expect(frameRecords.map((p) => p.seq)).toEqual([1, 2, 3, 4]);
    // Every JSON record is exactly what encodeRecord makes of its payload (the frame's own text is reused, not re-made).
    for (const text of records) expect(encodeRecord(JSON.parse(text)).subarray(18, -1).toString("utf8")).toBe(text);
  });

  it("writes large output from the frame's own buffer, between small records, as the same bytes a whole record has", async () => {
    const journal = await open({ flushBytes: 8 << 20, flushDelayMs: 50 });
    const outbox = new Outbox({ store: journal, windowBytes: 8 << 20 });
    await outbox.starting(SES, CMD);
    outbox.push(started());
    await journal.flush();
    const before = readFileSync(path.join(dir, segments()[0] as string)).length;
    const big = (offset: number, length: number, fill: number) => {
      const bytes = outputBuffer(length);
      for (let i = 0; i < length; i++) bytes[i] = (fill + i * 7) & 0xff;
      return outputFrame({ t: "output", sessionId: SES, commandId: CMD, stream: "stdout", offset }, bytes);
    };
    // One batch: small records between large ones (each large one written from its own buffer).
    const frames: OutboxFrame[] = [
      big(0, 300_000, 1),
      output("stderr", 0, "small\n"),
      big(300_000, 100_000, 2),
      big(400_000, 20_000, 3),
      finished(CMD, 420_000),
    ];
    for (const frame of frames) outbox.push(frame);
    await journal.close();
    const record = (seq: number, frame: OutboxFrame) => {
      if (frame.t !== "output") return encodeRecord({ k: "frame", seq, frame });
      const { data, ...header } = frame;
      const payload = Buffer.concat([
        Buffer.from(`${JSON.stringify({ k: "frame", seq, frame: header })}\n`),
        Buffer.from(data, "base64"),
      ]);
      const hex = (n: number) => n.toString(16).padStart(8, "0");
      return Buffer.concat([Buffer.from(`${hex(payload.length)} ${hex(crc32(payload))} `), payload, Buffer.from("\n")]);
    };
    const file = readFileSync(path.join(dir, segments()[0] as string));
    const expected = Buffer.concat(frames.map((frame, i) => record(i + 2, frame)));
    expect(file.length - before).toBe(expected.length);
    expect(file.subarray(before).equals(expected)).toBe(true);
    const again = await open();
    expect(again.recovery.damage).toEqual([]);
    const read = [...again.entries()].map((e) => e.frame).slice(1);
    expect(read.map((f) => JSON.stringify(f))).toEqual(frames.map((f) => JSON.stringify(f)));
    await again.close();
  });

  it("reads a journal written before raw output (base64 in the frame's JSON), and sends its bytes", async () => {
    const file = "segment-000000000001.journal";
    const old = [
      encodeRecord({ k: "checkpoint", v: 1, seq: 0, commands: [], settled: [] }),
      encodeRecord({ k: "starting", sessionId: SES, commandId: CMD }),
      encodeRecord({ k: "frame", seq: 1, frame: started() }),
      encodeRecord({ k: "frame", seq: 2, frame: output("stdout", 0, "from before\n") }),
      encodeRecord({ k: "frame", seq: 3, frame: output("stderr", 0, "\u00e9\u0000") }),
    ];
    writeFileSync(path.join(dir, file), Buffer.concat(old));

    const journal = await open();
    expect(journal.recovery).toEqual({ segments: 1, frames: 3, damage: [] });
    expect([...journal.entries()].map((e) => [describeFrame(e.frame), e.bytes])).toEqual([
      ["a:started", 0],
      ["a:stdout@0:from before\n", 12],
      ["a:stderr@0:\u00e9\u0000", 3],
    ]);
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    const sent: (string | Uint8Array)[] = [];
    outbox.connected((frame) => sent.push(frameMessage(frame)));
    const binary = sent.filter((m): m is Uint8Array => typeof m !== "string").map((m) => parseOutputFrame(m, 1 << 20));
    expect(binary.map((p) => (p.ok ? [p.header.stream, Buffer.from(p.bytes).toString()] : p))).toEqual([
      ["stdout", "from before\n"],
      ["stderr", "\u00e9\u0000"],
    ]);
    // It goes on in the new form after them, and both read back together.
    outbox.push(output("stdout", 12, "and after\n"));
    await journal.close();
    const again = await open();
    expect([...again.entries()].map((e) => describeFrame(e.frame))).toEqual([
      "a:started",
      "a:stdout@0:from before\n",
      "a:stderr@0:\u00e9\u0000",
      "a:stdout@12:and after\n",
    ]);
    expect(again.recovery.damage).toEqual([]);
    await again.close();
  });

  it("uses the documented record format", () => {
    const record = encodeRecord({ k: "settled", commandId: CMD });
    const text = record.toString("utf8");
    const json = `{"k":"settled","commandId":"${CMD}"}`;
    expect(text).toMatch(/^[0-9a-f]{8} [0-9a-f]{8} \{.*\}\n$/);
    expect(Number.parseInt(text.slice(0, 8), 16)).toBe(Buffer.byteLength(json));
    expect(text.slice(18, -1)).toBe(json);
  });

  it("discards a torn record at the tail, says so, and keeps everything before it", async () => {
    const journal = await open();
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    outbox.push(started());
    outbox.push(output("stdout", 0, "kept\n"));
    await journal.close();
    const [file] = segments();
    if (!file) throw new Error("no segment");
    const full = path.join(dir, file);
    const size = statSync(full).size;
    const torn = encodeRecord({ k: "frame", seq: 3, frame: output("stdout", 5, "lost\n") });
    appendFileSync(full, torn.subarray(0, torn.length - 7)); // the process died mid-write

    const again = await open();
    expect([...again.entries()].map((e) => describeFrame(e.frame))).toEqual(["a:started", "a:stdout@0:kept\n"]);
    expect(again.recovery.damage).toEqual([
      { segment: file, at: size, bytes: torn.length - 7, kind: "torn", why: "record cut short" },
    ]);
    expect(lines.some((l) => l.includes(`discarded a torn record at the end of ${file}`))).toBe(true);
    expect(statSync(full).size).toBe(size); // truncated back to the last whole record
    expect(again.unfinished()).toMatchObject([{ commandId: CMD, phase: "started", stdoutBytes: 5 }]);
    await again.close();

    // Zeros at the end (a filesystem that extended the file but never wrote the data) are a torn tail too.
    appendFileSync(path.join(dir, segments().at(-1) as string), Buffer.alloc(300));
    lines.length = 0;
    const third = await open();
    expect(third.recovery.damage.map((d) => [d.kind, d.bytes])).toEqual([["torn", 300]]);
    expect([...third.entries()].length).toBe(2);
    await third.close();
  });

  it("detects a damaged record in the middle, skips exactly it, and reports the missing bytes", async () => {
    const journal = await open();
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    outbox.push(started());
    outbox.push(output("stdout", 0, "aaaa\n"));
    outbox.push(output("stdout", 5, "bbbb\n"));
    outbox.push(output("stdout", 10, "cccc\n"));
    await journal.close();
    const file = path.join(dir, segments()[0] as string);
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from("bbbb\n"));
    bytes[at] = "Z".charCodeAt(0); // one flipped byte: same length, CRC no longer matches
    writeFileSync(file, bytes);

    const again = await open();
    expect([...again.entries()].map((e) => describeFrame(e.frame))).toEqual([
      "a:started",
      "a:stdout@0:aaaa\n",
      "a:stdout@10:cccc\n",
    ]);
    expect(again.recovery.damage).toMatchObject([{ kind: "damaged", why: "checksum mismatch" }]);
    expect(lines.some((l) => /is damaged at byte \d+ \(checksum mismatch\)/.test(l))).toBe(true);
    expect(lines).toContain(`outbox journal: ${CMD} stdout bytes 5–10 are missing from the journal`);
    await again.close();
  });

  it("rolls segments and deletes each once every frame in it is acknowledged", async () => {
    const journal = await open({ segmentBytes: 1024 });
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    outbox.connected(() => {});
    outbox.push(started());
    outbox.push(started(CMD2));
    const line = `${"x".repeat(99)}\n`;
    for (let i = 0; i < 40; i++) outbox.push(output("stdout", i * 100, line));
    await journal.flush();
    const before = segments();
    expect(before.length).toBeGreaterThan(5);

    // Acknowledge CMD's first half: the segments holding only those frames go; CMD2's started pins the first.
    outbox.ack(ack({ started: true, stdout: 2000 }));
    await journal.flush();
    const middle = segments();
    expect(middle).toContain(before[0]);
    expect(middle.length).toBeLessThan(before.length);

    outbox.ack(ack({ started: true, stdout: 4000 }));
    outbox.ack({ ...ack({ started: true }), commandId: CMD2 });
    await journal.flush();
    expect(segments().length).toBe(1); // only the active segment is left
    expect((segments()[0] as string) >= (before.at(-1) as string)).toBe(true);
    expect(journal.highWater(CMD)).toEqual({ stdout: 4000, stderr: 0 });
    await journal.close();

    // Nothing unacknowledged comes back, but the commands (and what they wrote) are still known.
    const again = await open({ segmentBytes: 1024 });
    expect([...again.entries()]).toEqual([]);
    expect(again.highWater(CMD)).toEqual({ stdout: 4000, stderr: 0 });
    expect(again.unfinished().map((c) => [c.commandId, c.stdoutBytes])).toEqual([
      [CMD, 4000],
      [CMD2, 0],
    ]);
    await again.close();
  });

  it("keeps high-water marks across reopens after acknowledged frames are gone, and settles finished commands", async () => {
    const journal = await open({ segmentBytes: 2048 });
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    outbox.connected(() => {});
    outbox.push(started());
    for (let i = 0; i < 30; i++) outbox.push(output("stderr", i * 64, "e".repeat(64)));
    outbox.push(output("stdout", 0, "tail\n"));
    await journal.flush();
    outbox.ack(ack({ started: true, stderr: 30 * 64 }));
    await journal.close();

    // Reopen twice (each start writes a new segment whose checkpoint carries the state on).
    await (await open({ segmentBytes: 2048 })).close();
    const again = await open({ segmentBytes: 2048 });
    expect([...again.entries()].map((e) => describeFrame(e.frame))).toEqual(["a:stdout@0:tail\n"]);
    const [lost] = again.unfinished();
    expect(lost).toMatchObject({ commandId: CMD, phase: "started", pid: 4242, stdoutBytes: 5, stderrBytes: 1920 });
    expect(interruptedFinish(lost as NonNullable<typeof lost>)).toEqual({
      t: "finished",
      sessionId: SES,
      commandId: CMD,
      state: "interrupted",
      exitCode: null,
      signal: null,
      reason: "the runtime stopped while this command was running (pid 4242); output up to that point is kept",
      stdoutBytes: 5,
      stderrBytes: 1920,
      stdoutSha256: null,
      stderrSha256: null,
      durationMs: 0,
    });

    // Finish and acknowledge everything: the command settles, is remembered, and the journal shrinks to one segment.
    const settled: string[] = [];
    const reopened = new Outbox({ store: again, windowBytes: 1 << 20, onSettled: (id) => settled.push(id) });
    reopened.connected(() => {});
    reopened.push(interruptedFinish(lost as NonNullable<typeof lost>));
    await again.flush();
    reopened.ack(ack({ started: true, stdout: 5, stderr: 1920, finished: true }));
    expect(settled).toEqual([CMD]);
    await again.close();
    const last = await open({ segmentBytes: 2048 });
    expect(last.unfinished()).toEqual([]);
    expect(last.knows(CMD)).toBe(true); // a late redispatch is still refused
    expect([...last.entries()]).toEqual([]);
    await last.flush();
    expect(segments().length).toBe(1);
    await last.close();
  });

  it("writes an ack record for each ack that leaves the command live, and only the settled record for the last", async () => {
    const journal = await open();
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    outbox.connected(() => {});
    await outbox.starting(SES, CMD);
    outbox.push(started());
    outbox.push(output("stdout", 0, "x\n"));
    outbox.push(finished(CMD, 2));
    await journal.flush();
    outbox.ack(ack({ started: true }));
    outbox.ack(ack({ started: true, stdout: 2 }));
    expect(journal.liveCommands()).toBe(1);
    outbox.ack(ack({ started: true, stdout: 2, finished: true }));
    // Settled: no longer held in memory either (the runtime would otherwise keep every command id it ever ran).
    expect(journal.liveCommands()).toBe(0);
    await journal.flush();
    const [segment] = segments();
    const payloads = readFileSync(path.join(dir, segment as string), "latin1")
      .split("\n")
      .flatMap((line) => (line.startsWith("{") || / \{"k"/.test(line) ? [line.slice(line.indexOf("{"))] : []))
      .map((json) => JSON.parse(json) as { k: string; frame?: { t: string } });
    expect(payloads.map((p) => (p.frame ? `frame:${p.frame.t}` : p.k))).toEqual([
      "checkpoint",
      "starting",
      "frame:started",
      "frame:output",
      "frame:finished",
      "ack",
      "ack",
      "settled",
    ]);
    expect(payloads.filter((p) => p.k === "ack")).toEqual([
      { k: "ack", commandId: CMD, started: true, stdout: 0, stderr: 0, finished: false },
      { k: "ack", commandId: CMD, started: true, stdout: 2, stderr: 0, finished: false },
    ]);
    await journal.close();
    // Reopened: settled (remembered, so a late redispatch is refused), nothing to resend, nothing unfinished.
    const again = await open();
    expect(again.knows(CMD)).toBe(true);
    expect(again.highWater(CMD)).toBeNull();
    expect([...again.entries()]).toEqual([]);
    expect(again.unfinished()).toEqual([]);
    await again.close();
  });

  it("journals a command before it starts, so a crash before its started frame is reported as such", async () => {
    const journal = await open();
    await journal.starting(SES, CMD);
    // no close: the process dies here
    const again = await open();
    expect(again.unfinished()).toEqual([
      { sessionId: SES, commandId: CMD, phase: "starting", pid: null, proc: null, stdoutBytes: 0, stderrBytes: 0 },
    ]);
    expect(interruptedFinish(again.unfinished()[0] as never).reason).toBe(
      "the runtime stopped while starting this command; it may not have run",
    );
    await again.close();
    await journal.close();
  });
  it("writes a finished frame at once, in one fdatasync with what of its command waits, and the acks with the next start", async () => {
    const writes: number[] = [];
    // Nothing else would reach the disk for a minute: only what must be durable now is written.
    const journal = await open({
      flushDelayMs: 60_000,
      beforeWrite: (_file, bytes) => {
        writes.push(bytes);
        return undefined;
      },
    });
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    const sent: OutboxFrame[] = [];
    outbox.connected((f) => sent.push(f));
    await outbox.starting(SES, CMD);
    const before = writes.length;
    outbox.push(started());
    outbox.push(output("stdout", 0, "x\n"));
    outbox.push(finished(CMD, 2));
    await until(() => sent.length === 3, "the command's frames sent");
    expect(sent.map(describeFrame)).toEqual(["a:started", "a:stdout@0:x\n", "a:finished"]);
    expect(writes.length - before).toBe(1);
    // The server's acknowledgement (it settles the command) waits for the next record that must be durable.
    outbox.ack(ack({ started: true, stdout: 2, finished: true }));
    await outbox.starting(SES, CMD2);
    expect(writes.length - before).toBe(2);
    const again = await open();
    expect(again.knows(CMD)).toBe(true);
    expect(again.highWater(CMD)).toBeNull(); // settled: it was on disk with the next start
    expect([...again.entries()]).toEqual([]);
    expect(again.unfinished().map((c) => [c.commandId, c.phase])).toEqual([[CMD2, "starting"]]);
    await again.close();
    await journal.close();
  });
});

describe("Journal's writes", () => {
  // Linux, as the runtime's tests: a descriptor's open flags are in /proc/self/fdinfo.
  it("append to the segment through a descriptor opened with O_DSYNC: a batch is on disk when its write returns", async () => {
    const journal = await open();
    const { outbox, sent } = connectedOutbox(journal);
    await outbox.starting(SES, CMD);
    outbox.push(started());
    await until(() => sent.length === 1, "the started frame sent");
    const segment = path.join(dir, segments().at(-1) as string);
    const fds = readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === segment;
      } catch {
        return false; // closed meanwhile
      }
    });
    expect(fds).toHaveLength(1);
    const flags = Number.parseInt(
      (
        readFileSync(`/proc/self/fdinfo/${fds[0]}`, "utf8").match(/^flags:\s+([0-7]+)$/m) as RegExpMatchArray
      )[1] as string,
      8,
    );
    expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC);
    expect(flags & constants.O_APPEND).toBe(constants.O_APPEND);
    await journal.close();
  });
});

describe("processIdentity", () => {
  // The runtime's tests run on Linux (they need bash and /proc); elsewhere there is no identity.
  it("is this boot's id and the process's start time, for each process asked", () => {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const start = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    };
    for (const pid of [process.pid, process.ppid, process.pid]) {
      expect(processIdentity(pid, "linux")).toBe(`${boot}:${start(pid)}`);
    }
    expect(processIdentity(process.pid, "darwin")).toBeNull();
  });
});

describe("Journal after a write error", () => {
  it("rewrites the unsynced batches in a fresh segment, sends nothing before, and reads back each frame once", async () => {
    let failures = 0;
    const journal = await open({
      beforeWrite: () => {
        if (failures-- > 0) throw new Error("EIO: i/o error, write");
        return undefined;
      },
    });
    failures = 1;
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    const sent: OutboxFrame[] = [];
    outbox.connected((f) => sent.push(f));
    outbox.push(started());
    outbox.push(output("stdout", 0, "one\n"));
    outbox.push(output("stdout", 4, "two\n"));
    await journal.flush();
    expect(sent.map(describeFrame)).toEqual(["a:started", "a:stdout@0:one\n", "a:stdout@4:two\n"]);
    expect(lines.some((l) => l.includes("failed (EIO: i/o error, write); nothing is sent until it is on disk"))).toBe(
      true,
    );
    await journal.close();
    const again = await open();
    expect([...again.entries()].map((e) => describeFrame(e.frame))).toEqual([
      "a:started",
      "a:stdout@0:one\n",
      "a:stdout@4:two\n",
    ]);
    expect(again.recovery.damage).toEqual([]);
    await again.close();
    // The segment whose write failed holds no frame any more (they moved), so it was deleted.
    expect(segments()).toEqual(["segment-000000000002.journal", "segment-000000000003.journal"]);
  });

  it("cuts a write of large output off in the middle of a frame's bytes, and writes it whole in the next segment", async () => {
    let room: number | undefined;
    const journal = await open({ beforeWrite: () => room, flushBytes: 8 << 20, flushDelayMs: 50 });
    const outbox = new Outbox({ store: journal, windowBytes: 8 << 20 });
    const sent: OutboxFrame[] = [];
    outbox.connected((f) => sent.push(f));
    const bytes = [outputBuffer(200_000), outputBuffer(200_000)];
    bytes.forEach((b, n) => {
      for (let i = 0; i < b.length; i++) b[i] = (i * 13 + n) & 0xff;
    });
    const header = { t: "output", sessionId: SES, commandId: CMD, stream: "stdout" } as const;
    room = 300_000; // the disk takes the first frame and part of the second's bytes, then answers ENOSPC
    outbox.push(started());
    outbox.push(outputFrame({ ...header, offset: 0 }, bytes[0] as Buffer));
    outbox.push(outputFrame({ ...header, offset: 200_000 }, bytes[1] as Buffer));
    await until(() => lines.some((l) => l.includes("failed (ENOSPC: no space left on device, write)")));
    expect(sent).toEqual([]);
    room = undefined;
    await journal.flush();
    expect(sent.map(describeFrame)).toEqual([
      "a:started",
      `a:stdout@0:${(bytes[0] as Buffer).toString()}`,
      `a:stdout@200000:${(bytes[1] as Buffer).toString()}`,
    ]);
    await journal.close();
    const again = await open();
    expect(again.recovery.damage).toEqual([]);
    const read = [...again.entries()].map((e) => e.frame);
    expect(read.map((f) => f.t)).toEqual(["started", "output", "output"]);
    expect(read.slice(1).map((f) => (f.t === "output" ? Buffer.from(f.data, "base64") : null))).toEqual(bytes);
    await again.close();
  });

  it("cuts a partial write off (a full disk), lets acknowledged segments go before the frames fit, and loses nothing", async () => {
    let room: number | undefined;
    const journal = await open({ beforeWrite: () => room });
    const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
    const sent: OutboxFrame[] = [];
    outbox.connected((f) => sent.push(f));
    outbox.push(started());
    outbox.push(output("stdout", 0, "one\n"));
    await journal.flush();
    const first = path.join(dir, segments()[0] as string);
    const whole = statSync(first).size;
    expect(journal.full).toBe(false);

    const two = `${"2".repeat(1999)}\n`;
    room = 10; // the disk takes 10 bytes of the next batch, then answers ENOSPC
    outbox.push(output("stdout", 4, two));
    await until(() => lines.some((l) => l.includes("failed (ENOSPC: no space left on device, write)")));
    expect(statSync(first).size).toBe(whole); // the 10 bytes are gone again: no torn record in the middle
    expect(journal.full).toBe(true);
    expect(sent.map(describeFrame)).toEqual(["a:started", "a:stdout@0:one\n"]);

    // The server acknowledges what it got: the first segment holds nothing unacknowledged, and goes as soon as the
    // next segment's checkpoint is on disk, while the frame (2.7 KB as a record) still does not fit.
    room = 1000;
    outbox.ack(ack({ started: true, stdout: 4 }));
    await until(() => !segments().includes(path.basename(first)), "the acknowledged segment deleted");
    room = undefined;
    await journal.flush();
    expect(sent.map(describeFrame)).toEqual(["a:started", "a:stdout@0:one\n", `a:stdout@4:${two}`]);
    expect(journal.full).toBe(false);
    await journal.close();

    const again = await open();
    expect(again.recovery.damage).toEqual([]);
    expect([...again.entries()].map((e) => describeFrame(e.frame))).toEqual([`a:stdout@4:${two}`]);
    expect(again.highWater(CMD)).toEqual({ stdout: 2004, stderr: 0 });
    await again.close();
  });
});

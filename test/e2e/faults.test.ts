// Nothing lost: real faults injected into real processes, and the record checked byte for byte afterwards.

import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { inReadOrder } from "../../packages/runtime/test/fixtures.ts";
import { fetchRecord, type Runtime, recordedStream, tcpProxy, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** What `seq`-style streaming commands below print, computed independently of any shell. */
function numberedLines(from: number, to: number): Buffer {
  let out = "";
  for (let i = from; i <= to; i++) out += `line ${String(i).padStart(5, "0")} ${"x".repeat(60)}\n`;
  return Buffer.from(out);
}
const streamingCommand = (n: number, sleep: number) =>
  `for i in $(seq 1 ${n}); do printf 'line %05d %s\\n' $i ${"x".repeat(60)}; sleep ${sleep}; done`;

function processesMatching(marker: string): string[] {
  try {
    return execFileSync("pgrep", ["-f", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const org = useOrganization({ clients: [{ name: "Contoso Dental", machine: true }] });

async function session(runtime: Runtime): Promise<string> {
  return (await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId })).id;
}

async function run(sessionId: string, command: string, extra: object = {}): Promise<string> {
  return (await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash", ...extra }))
    .commandId;
}

async function outputSoFar(sessionId: string, commandId: string): Promise<number> {
  return (await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`)).command.stdoutBytes;
}

/** A command that exited 0 having written exactly `stdout`, by its byte count and hash. */
const finishedWith = (stdout: Buffer) => ({
  state: "finished",
  exitCode: 0,
  stdoutBytes: stdout.length,
  stdoutSha256: sha(stdout),
});

/**
 * Streams numbered lines, lets `fault` strike each time the committed output passes one of the fractions `at`, and
 * checks that the command then finished with every line exactly once: in its counts and hash, and in the record.
 */
async function streamThroughFaults(
  runtime: Runtime,
  stream: { lines: number; sleep: number; at: number[] },
  fault: () => Promise<void> | void,
) {
  const sessionId = await session(runtime);
  const commandId = await run(sessionId, streamingCommand(stream.lines, stream.sleep));
  const expected = numberedLines(1, stream.lines);
  for (const fraction of stream.at) {
    await expect
      .poll(() => outputSoFar(sessionId, commandId), { timeout: 30_000, interval: 20, message: `${fraction} of it` })
      .toBeGreaterThanOrEqual(expected.length * fraction);
    await fault();
  }
  const done = await waitCommand(org.owner, sessionId, commandId, 60_000);
  expect(done).toMatchObject(finishedWith(expected));
  const { events } = await fetchRecord(org.owner, sessionId);
  expect(recordedStream(events, commandId, "stdout").equals(expected)).toBe(true);
  return { sessionId, commandId, expected, done, events };
}

describe("faults", () => {
  it("server killed with SIGKILL three times during a 20-second streaming command loses nothing", async () => {
    const { sessionId, commandId, expected, done, events } = await streamThroughFaults(
      org.runtime,
      { lines: 200, sleep: 0.1, at: [0.15, 0.4, 0.7] },
      async () => {
        await org.server.kill9(); // returns once the whole process group is gone
        await org.server.restart();
        await waitOnline(org.owner, org.runtime.machineId);
      },
    );
    expect(done).toMatchObject({ stderrBytes: 0, finalReason: null });
    const out = Buffer.from(
      await (await org.owner.get(`/api/v1/sessions/${sessionId}/commands/${commandId}/output`)).arrayBuffer(),
    );
    expect(out.equals(expected)).toBe(true);
    expect(events.filter((e) => e.type === "command.started")).toHaveLength(1);
    expect(events.filter((e) => e.type === "command.finished")).toHaveLength(1);
  });

  it("a runtime whose socket is cut mid-stream resends exactly what was not committed", async () => {
    const proxy = await tcpProxy(org.server.port);
    const viaProxy = await org.enroll("Litware Law", "changes", proxy.url);
    const p = org.start(viaProxy);
    try {
      await waitOnline(org.owner, viaProxy.machineId);
      await streamThroughFaults(viaProxy, { lines: 60, sleep: 0.05, at: [0.2, 0.5, 0.8] }, () => proxy.dropAll());
    } finally {
      await p.stop();
      await proxy.close();
    }
  });

  it("output interleaved on stdout and stderr keeps its order through a server killed twice mid-stream", async () => {
    const n = 120;
    // The script is perl, which Caisey cannot read: a client whose commands run without approval.
    const machine = await org.enroll("Northwind Traders", "never");
    const p = org.start(machine);
    try {
      await waitOnline(org.owner, machine.machineId);
      const sessionId = await session(machine);
      const commandId = await run(
        sessionId,
        inReadOrder(
          `for my $i (1..${n}) { line(*STDOUT, "out $i\\n"); line(*STDERR, "err $i\\n"); select(undef, undef, undef, 0.05) }`,
        ),
      );
      const written: [string, string][] = [];
      for (let i = 1; i <= n; i++) written.push(["stdout", `out ${i}\n`], ["stderr", `err ${i}\n`]);
      const stdoutBytes = written
        .filter(([stream]) => stream === "stdout")
        .reduce((sum, [, text]) => sum + text.length, 0);
      for (const fraction of [0.3, 0.7]) {
        await expect
          .poll(() => outputSoFar(sessionId, commandId), {
            timeout: 30_000,
            interval: 20,
            message: `${fraction} of it`,
          })
          .toBeGreaterThanOrEqual(stdoutBytes * fraction);
        await org.server.kill9();
        await org.server.restart();
        await waitOnline(org.owner, machine.machineId);
      }
      expect(await waitCommand(org.owner, sessionId, commandId, 60_000)).toMatchObject({
        state: "finished",
        exitCode: 0,
      });
      const { events } = await fetchRecord(org.owner, sessionId);
      // Every line was read on its own, so every line is one event: exactly once, in the order it was written.
      const outputs = events.filter((e) => e.type === "command.output" && e.data.commandId === commandId);
      expect(outputs.map((e) => [e.data.stream, Buffer.from(e.data.data, "base64").toString("utf8")])).toEqual(written);
    } finally {
      await p.stop();
    }
  });

  it("a runtime killed mid-command reports it interrupted on restart, keeping the output it had", async () => {
    const { runtime } = org;
    const sessionId = await session(runtime);
    const marker = `caisey-crash-${randomBytes(4).toString("hex")}`;
    // Bounded, so the orphaned shell ends by itself after the runtime that ran it is gone.
    const commandId = await run(sessionId, `for i in $(seq 1 30); do echo "${marker} $i"; sleep 0.1; done`);
    await expect.poll(() => outputSoFar(sessionId, commandId), { interval: 20 }).toBeGreaterThan(0);
    await runtime.proc.kill9();
    await waitOnline(org.owner, runtime.machineId, false);
    runtime.proc = org.start(runtime);
    const done = await waitCommand(org.owner, sessionId, commandId, 30_000);
    expect(done.state).toBe("interrupted");
    expect(done.finalReason).toMatch(
      /^the runtime stopped while this command was running \(pid \d+\); output up to that point is kept$/,
    );
    const { events } = await fetchRecord(org.owner, sessionId);
    const kept = recordedStream(events, commandId, "stdout").toString();
    const lines = kept.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines).toEqual(lines.map((_, i) => `${marker} ${i + 1}`));
    expect(done.stdoutBytes).toBe(Buffer.byteLength(kept));
    // The next command runs normally on the restarted runtime.
    const next = await run(sessionId, "echo after");
    expect(await waitCommand(org.owner, sessionId, next)).toMatchObject({
      state: "finished",
      exitCode: 0,
      stdoutBytes: 6,
    });
    await expect.poll(() => processesMatching(marker), { message: "the orphaned command to end" }).toEqual([]);
  });

  it("a watcher that goes away and comes back with after= sees every event exactly once", async () => {
    const sessionId = await session(org.runtime);
    const commandId = await run(sessionId, streamingCommand(40, 0.03));
    const seen: any[] = [];
    /** What each socket itself delivered: from after+1 on, contiguous (checked below, per socket). */
    const perSocket: { after: number; seqs: number[] }[] = [];
    const watch = (after: number) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(
          `${org.server.url.replace("http", "ws")}/api/v1/sessions/${sessionId}/live?after=${after}`,
          { headers: { authorization: `Bearer ${org.owner.token}` } },
        );
        const mine = { after, seqs: [] as number[] };
        perSocket.push(mine);
        ws.on("message", (m) => {
          const event = JSON.parse(m.toString());
          mine.seqs.push(event.seq);
          seen.push(event);
        });
        ws.on("open", () => resolve(ws));
        ws.on("error", reject);
      });
    for (let round = 0; round < 4; round++) {
      const ws = await watch(seen.at(-1)?.seq ?? 0);
      // The watcher is watching: this socket has delivered something (its own arrival at least).
      await expect.poll(() => perSocket.at(-1)?.seqs.length).toBeGreaterThan(0);
      // The browser goes away: it stops reading this socket at once (ws can still emit frames it had buffered).
      ws.removeAllListeners("message");
      ws.terminate();
    }
    await waitCommand(org.owner, sessionId, commandId);
    const last = await watch(seen.at(-1)?.seq ?? 0);
    const { events } = await org.owner.json(`/api/v1/sessions/${sessionId}/events`);
    await expect.poll(() => seen.length, { message: "the watcher to catch up" }).toBeGreaterThanOrEqual(events.length);
    last.close();
    // Every event exactly once, in order, byte for byte as /events serves it. (Presence events of the watcher's own
    // comings and goings may land after the /events snapshot, so compare the snapshot's prefix.)
    for (const { after, seqs } of perSocket) expect(seqs).toEqual(seqs.map((_, i) => after + 1 + i));
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.slice(0, events.length)).toEqual(events);
    expect(events.some((e: any) => e.type === "participant.joined")).toBe(true);
  });

  it("records binary output with NULs and invalid UTF-8 byte for byte", async () => {
    const file = join(tempDir("bin"), "payload.bin");
    const payload = Buffer.concat([
      Buffer.from([0, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0, 0x80]),
      randomBytes(300_000),
    ]);
    writeFileSync(file, payload);
    const sessionId = await session(org.runtime);
    const commandId = await run(sessionId, `cat '${file}'; cat '${file}' >&2`);
    const done = await waitCommand(org.owner, sessionId, commandId);
    expect(done).toMatchObject({
      state: "finished",
      stdoutBytes: payload.length,
      stderrBytes: payload.length,
      stdoutSha256: sha(payload),
      stderrSha256: sha(payload),
    });
    for (const stream of ["stdout", "stderr"] as const) {
      const out = Buffer.from(
        await (
          await org.owner.get(`/api/v1/sessions/${sessionId}/commands/${commandId}/output?stream=${stream}`)
        ).arrayBuffer(),
      );
      expect(out.equals(payload)).toBe(true);
    }
  });

  it("records a 200 MiB output in full with the process's SHA-256", async () => {
    const file = join(tempDir("big"), "big.bin");
    const chunk = randomBytes(1024 * 1024);
    const big = Buffer.alloc(200 * 1024 * 1024);
    for (let i = 0; i < 200; i++) {
      chunk.copy(big, i * chunk.length);
      big.writeUInt32BE(i, i * chunk.length); // every MiB differs, so a repeated or skipped chunk changes the hash
    }
    writeFileSync(file, big);
    const sessionId = await session(org.runtime);
    const commandId = await run(sessionId, `cat '${file}'`);
    const done = await waitCommand(org.owner, sessionId, commandId, 240_000);
    expect(done).toMatchObject({ ...finishedWith(big), finalReason: null });
    const res = await org.owner.get(`/api/v1/sessions/${sessionId}/commands/${commandId}/output`);
    const hash = createHash("sha256");
    let length = 0;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(part);
      length += part.length;
    }
    expect([length, hash.digest("hex")]).toEqual([big.length, sha(big)]);
  }, 300_000);

  it("timeout and cancel end the whole process tree and keep the output so far", async () => {
    const sessionId = await session(org.runtime);
    const timeoutMarker = `${300 + Math.random()}`.slice(0, 10);
    const timed = await run(sessionId, `echo begun; sleep ${timeoutMarker} & sleep ${timeoutMarker} & wait`, {
      timeoutSeconds: 3,
    });
    await expect
      .poll(() => processesMatching(`^sleep ${timeoutMarker}$`).length, { interval: 20, message: "both children" })
      .toBe(2);
    const t = await waitCommand(org.owner, sessionId, timed);
    expect(t).toMatchObject({ state: "timed_out", exitCode: null, stdoutBytes: 6, finalReason: "timed out after 3s" });
    await expect
      .poll(() => processesMatching(`^sleep ${timeoutMarker}$`), { message: "no child left after timeout" })
      .toEqual([]);

    const cancelMarker = `${400 + Math.random()}`.slice(0, 10);
    const cancelled = await run(
      sessionId,
      `echo begun; sleep ${cancelMarker} & (sleep ${cancelMarker}; echo never) & wait`,
    );
    await expect
      .poll(() => processesMatching(`^sleep ${cancelMarker}$`).length, { interval: 20, message: "both children" })
      .toBe(2);
    expect((await org.owner.post(`/api/v1/sessions/${sessionId}/commands/${cancelled}/cancel`)).status).toBe(202);
    const c = await waitCommand(org.owner, sessionId, cancelled);
    expect(c).toMatchObject({
      state: "cancelled",
      exitCode: null,
      stdoutBytes: 6,
      finalReason: "cancelled by technician",
    });
    await expect
      .poll(() => processesMatching(`^sleep ${cancelMarker}$`), { message: "no child left after cancel" })
      .toEqual([]);
  });
});

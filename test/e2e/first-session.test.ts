// The quick start, end to end with real processes: server (workerd), an enrolled runtime, a real bash.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BACKUP_SCRIPT } from "../../packages/runtime/test/fixtures.ts";
import { fetchRecord, recordedStream } from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest();

/** An independent implementation of DESIGN.md's chain, deliberately not using packages/core. */
function chainHead(sessionId: string, lines: string[]): string {
  let h = sha(`caisey-session-v1\n${sessionId}`);
  for (const line of lines) h = sha(Buffer.concat([h, sha(Buffer.from(line, "utf8"))]));
  return h.toString("hex");
}

const org = useOrganization({ clients: [{ name: "Contoso Dental", machine: true }] });

describe("a first session", () => {
  it("lists the enrolled machine online with its facts", async () => {
    const { machines } = await org.owner.json("/api/v1/machines");
    expect(machines).toHaveLength(1);
    expect(machines[0]).toMatchObject({
      id: org.runtime.machineId,
      clientId: org.runtime.clientId,
      os: "linux",
      online: true,
      runtimeVersion: "0.1.0",
    });
    expect(machines[0].hostname.length).toBeGreaterThan(0);
  });

  it("runs a command and records its exact bytes, exit code, counts and hashes", async () => {
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", {
      machineId: org.runtime.machineId,
      ticket: "INC-1042",
    });
    const command = "printf 'a\\0b\\n'; echo err >&2; exit 3";
    const accepted = await org.owner.post(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" });
    expect(accepted.status).toBe(202);
    const { commandId, state } = await accepted.json();
    expect(state).toBe("queued");

    const done = await waitCommand(org.owner, sessionId, commandId);
    const stdout = Buffer.from([0x61, 0x00, 0x62, 0x0a]);
    const stderr = Buffer.from("err\n");
    expect(done).toMatchObject({
      id: commandId,
      command,
      shell: "bash",
      state: "finished",
      exitCode: 3,
      stdoutBytes: 4,
      stderrBytes: 4,
      stdoutSha256: sha(stdout).toString("hex"),
      stderrSha256: sha(stderr).toString("hex"),
    });
    expect(done.durationMs).toBeGreaterThanOrEqual(0);

    const out = await org.owner.get(`/api/v1/sessions/${sessionId}/commands/${commandId}/output?stream=stdout`);
    expect(out.headers.get("content-type")).toBe("application/octet-stream");
    expect(Buffer.from(await out.arrayBuffer())).toEqual(stdout);
    const err = await org.owner.get(`/api/v1/sessions/${sessionId}/commands/${commandId}/output?stream=stderr`);
    expect(Buffer.from(await err.arrayBuffer())).toEqual(stderr);

    // The record: exact NDJSON, an unbroken chain recomputed independently, the contract's event shapes.
    const recordRes = await org.owner.get(`/api/v1/sessions/${sessionId}/record`);
    expect(recordRes.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const ndjson = Buffer.from(await recordRes.arrayBuffer()).toString("utf8");
    expect(ndjson.endsWith("\n")).toBe(true);
    const lines = ndjson.slice(0, -1).split("\n");
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("session.opened");
    expect(types[1]).toBe("command.requested");
    expect(types[2]).toBe("command.started");
    expect(types.at(-1)).toBe("command.finished");
    expect(new Set(types.slice(3, -1))).toEqual(new Set(["command.output"]));
    for (const e of events) {
      expect(Object.keys(e)).toEqual(["seq", "ts", "type", "actor", "data"]);
      expect(e.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect(events[0].data).toMatchObject({ sessionId, machineId: org.runtime.machineId, ticket: "INC-1042" });
    expect(events[2].actor).toBe(`machine:${org.runtime.machineId}`);
    const started = events[2].data;
    expect(started).toMatchObject({ commandId, shell: "bash", user: expect.any(String), cwd: expect.any(String) });
    expect(started.executable).toMatch(/\/bash$/);
    expect(started.shellVersion).toMatch(/bash/i);
    expect(started.pid).toBeGreaterThan(0);
    expect(started.env.PATH).toBe(process.env.PATH);
    const outputs = events.filter((e) => e.type === "command.output");
    const streamBytes = (s: string) =>
      Buffer.concat(outputs.filter((e) => e.data.stream === s).map((e) => Buffer.from(e.data.data, "base64")));
    expect(streamBytes("stdout")).toEqual(stdout);
    expect(streamBytes("stderr")).toEqual(stderr);
    expect(events.at(-1).data).toEqual({
      commandId,
      state: "finished",
      exitCode: 3,
      signal: null,
      reason: null,
      stdoutBytes: 4,
      stderrBytes: 4,
      stdoutSha256: sha(stdout).toString("hex"),
      stderrSha256: sha(stderr).toString("hex"),
      durationMs: done.durationMs,
    });

    const { session } = await org.owner.json(`/api/v1/sessions/${sessionId}`);
    expect(session.head).toEqual({ seq: lines.length, hash: chainHead(sessionId, lines) });
    const { events: served, head } = await org.owner.json(`/api/v1/sessions/${sessionId}/events`);
    expect(head).toEqual(session.head);
    expect(served.at(-1).hash).toBe(head.hash);
  });

  it("records output in the order it was produced: stdout, a warning on stderr, stdout", async () => {
    // The script is perl, which Caisey cannot read: a client whose commands run without approval.
    const machine = await org.enroll("Northwind Traders", "never");
    const p = org.start(machine);
    try {
      await waitOnline(org.owner, machine.machineId);
      const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: machine.machineId });
      const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
        command: BACKUP_SCRIPT.command,
        shell: "bash",
      });
      expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({ state: "finished", exitCode: 0 });
      const { events } = await fetchRecord(org.owner, sessionId);
      const outputs = events.filter((e) => e.type === "command.output" && e.data.commandId === commandId);
      expect(outputs.map((e) => [e.data.stream, Buffer.from(e.data.data, "base64").toString("utf8")])).toEqual(
        BACKUP_SCRIPT.lines,
      );
      expect(outputs.map((e) => e.data.offset)).toEqual([0, 0, 17]);
      // Each stream alone is still its exact bytes, for the downloads.
      expect(recordedStream(events, commandId, "stdout").toString("utf8")).toBe("backup: starting\nbackup: done\n");
      expect(recordedStream(events, commandId, "stderr").toString("utf8")).toBe("warning: 91% full\n");
    } finally {
      await p.stop();
    }
  });

  it("runs queued commands in order", async () => {
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
        command: `sleep 0.2; echo ${n}`,
        shell: "sh",
      });
      ids.push(commandId);
    }
    for (const id of ids) await waitCommand(org.owner, sessionId, id);
    const { events } = await org.owner.json(`/api/v1/sessions/${sessionId}/events`);
    const lifecycle = events
      .filter((e: any) => e.type === "command.started" || e.type === "command.finished")
      .map((e: any) => `${e.type.split(".")[1]} ${ids.indexOf(e.data.commandId) + 1}`);
    expect(lifecycle).toEqual(["started 1", "finished 1", "started 2", "finished 2", "started 3", "finished 3"]);
  });

  it("has no operator route when no operator secret is configured", async () => {
    const res = await fetch(`${org.server.url}/api/v1/tenants`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer guess" },
      body: JSON.stringify({ organization: "X", name: "X", email: "x@x.test", password: "0123456789" }),
    });
    expect([res.status, ((await res.json()) as any).error.code]).toEqual([404, "not_found"]);
  });

  it("shows the machine offline when its runtime stops", async () => {
    const runtime = org.runtime;
    await runtime.proc.stop();
    await waitOnline(org.owner, org.runtime.machineId, false);
    runtime.proc = org.start(runtime);
    await waitOnline(org.owner, org.runtime.machineId, true);
  });
});

// Hostile peers against a real runtime process and the real server: a forged machine key, a replayed challenge
// answer, a revoked machine, and a spoofed server sending dispatches not signed by the tenant's key. In every case
// the endpoint runs nothing: the marker file the command would create never appears.

import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { type Runtime, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const b64url = (b: Buffer) => b.toString("base64url");

const org = useOrganization();

function config(runtime: Runtime) {
  return JSON.parse(readFileSync(join(runtime.dataDir, "runtime.json"), "utf8"));
}

async function queueMarker(runtime: Runtime): Promise<{ sessionId: string; commandId: string; marker: string }> {
  const marker = join(tempDir("marker"), "ran");
  const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId });
  const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
    command: `touch '${marker}'`,
    shell: "bash",
  });
  return { sessionId, commandId, marker };
}

/** Open the runtime socket by hand and answer the challenge with `answer(nonce)`; resolves with the close code or "welcome". */
function handshake(machineId: string, answer: (nonce: string) => string): Promise<number | "welcome"> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${org.server.url.replace("http", "ws")}/api/v1/runtime/connect?machineId=${machineId}`);
    ws.on("message", (m) => {
      const frame = JSON.parse(m.toString());
      if (frame.t === "challenge") ws.send(answer(frame.nonce));
      if (frame.t === "welcome") {
        ws.close();
        resolve("welcome");
      }
    });
    ws.on("close", (code) => resolve(code));
    ws.on("error", reject);
  });
}

describe("runtime identity and signed dispatch", () => {
  it("a runtime with a forged key is refused and runs nothing", async () => {
    const runtime = await org.enroll("Forged Key Clinic", "never");
    const q = await queueMarker(runtime);
    const cfg = config(runtime);
    cfg.privateKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" });
    writeFileSync(join(runtime.dataDir, "runtime.json"), JSON.stringify(cfg), { mode: 0o600 });
    const proc = org.start(runtime);
    try {
      await proc.waitForLog(/4401/); // the server refused the forged identity
      const { machines } = await org.owner.json("/api/v1/machines");
      expect(machines.find((m: any) => m.id === runtime.machineId).online).toBe(false);
      expect((await org.owner.json(`/api/v1/sessions/${q.sessionId}/commands/${q.commandId}`)).command.state).toBe(
        "queued",
      );
      expect(existsSync(q.marker)).toBe(false);
    } finally {
      await proc.stop();
    }
  });

  it("a replayed answer to an earlier challenge is refused", async () => {
    const runtime = await org.enroll("Replay Dental", "never");
    const cfg = config(runtime);
    const key = createPrivateKey(cfg.privateKey);
    const facts = { hostname: "REPLAY-01", os: "linux", osVersion: "", arch: "x64", runtimeVersion: "0.1.0" };
    let captured = "";
    const hello = (nonce: string) =>
      JSON.stringify({
        t: "hello",
        v: 1,
        machineId: runtime.machineId,
        facts,
        signature: b64url(sign(null, Buffer.from(`caisey-runtime-auth-v1\n${runtime.machineId}\n${nonce}`), key)),
      });
    // A genuine answer is accepted…
    expect(
      await handshake(runtime.machineId, (nonce) => {
        captured = hello(nonce);
        return captured;
      }),
    ).toBe("welcome");
    // …and the same answer replayed on a new connection (fresh challenge) is refused.
    expect(await handshake(runtime.machineId, () => captured)).toBe(4401);
    // A signature over the right nonce for another machine id is refused too.
    expect(
      await handshake(runtime.machineId, (nonce) =>
        hello(nonce).replace(runtime.machineId, "mch_aaaaaaaaaaaaaaaaaaaa"),
      ),
    ).toBe(4401);
  });

  it("a revoked machine is disconnected, refused from then on, and runs nothing", async () => {
    const runtime = await org.enroll("Revoked Realty", "never");
    let proc = org.start(runtime);
    await waitOnline(org.owner, runtime.machineId);
    // A command is running and the marker command waits behind it when the owner revokes the machine.
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId });
    await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, { command: "sleep 1", shell: "bash" });
    const marker = join(tempDir("revoked"), "ran");
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: `touch '${marker}'`,
      shell: "bash",
    });
    expect((await org.owner.post(`/api/v1/machines/${runtime.machineId}/revoke`)).status).toBe(204);
    await waitOnline(org.owner, runtime.machineId, false);
    const { machines } = await org.owner.json("/api/v1/machines");
    expect(machines.find((m: any) => m.id === runtime.machineId)).toMatchObject({ revoked: true, online: false });
    const refused = await org.owner.post("/api/v1/sessions", { machineId: runtime.machineId });
    expect([refused.status, (await refused.json()).error.code]).toEqual([409, "machine_revoked"]);
    // Still refused when the runtime retries, and after it restarts; the queued command never reaches it.
    await proc.waitForLog(/(404|4403)[\s\S]*(connect failed|disconnected)[^\n]*(404|4403)/); // revoked, then a retry refused
    await proc.stop();
    proc = org.start(runtime);
    try {
      await proc.waitForLog(/unexpected server response: 404|4403/i); // the revoked runtime is refused
      expect(
        (await org.owner.json("/api/v1/machines")).machines.find((m: any) => m.id === runtime.machineId).online,
      ).toBe(false);
      expect((await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`)).command.state).toBe(
        "queued",
      );
      expect(existsSync(marker)).toBe(false);
    } finally {
      await proc.stop();
    }
  });

  it("a spoofed server cannot make the runtime run anything; the real server's signed dispatch runs", async () => {
    const runtime = await org.enroll("Spoofed Server Bakery", "never");
    const cfg = config(runtime);
    const marker = join(tempDir("spoof"), "ran");
    const attacker = generateKeyPairSync("ed25519").privateKey;
    // The attacker's server speaks the protocol perfectly, but cannot sign with the tenant's key.
    const fake = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    const received: any[] = [];
    fake.on("connection", (ws) => {
      ws.send(JSON.stringify({ t: "challenge", nonce: b64url(Buffer.alloc(32, 7)) }));
      ws.on("message", (m) => {
        const frame = JSON.parse(m.toString());
        received.push(frame);
        if (frame.t !== "hello") return;
        ws.send(JSON.stringify({ t: "welcome", machineId: runtime.machineId }));
        const d = {
          sessionId: "ses_aaaaaaaaaaaaaaaaaaaa",
          commandId: "cmd_aaaaaaaaaaaaaaaaaaaa",
          command: `touch '${marker}'`,
          shell: "bash",
          timeoutSeconds: null,
          technicianId: "usr_aaaaaaaaaaaaaaaaaaaa",
          approvalRequired: false,
          approval: null,
        };
        // The exact message the tenant would sign; only the key is wrong.
        const message = `caisey-dispatch-v1\n${JSON.stringify([runtime.machineId, d.sessionId, d.commandId, d.shell, d.timeoutSeconds, d.command, d.technicianId, d.approvalRequired, d.approval])}`;
        ws.send(
          JSON.stringify({
            t: "dispatch",
            ...d,
            resume: false,
            signature: b64url(sign(null, Buffer.from(message), attacker)),
          }),
        );
        ws.send(
          JSON.stringify({
            t: "dispatch",
            ...d,
            commandId: "cmd_bbbbbbbbbbbbbbbbbbbb",
            resume: false,
            signature: "A".repeat(86),
          }),
        );
      });
    });
    await new Promise((r) => fake.once("listening", r));
    const port = (fake.address() as { port: number }).port;
    writeFileSync(
      join(runtime.dataDir, "runtime.json"),
      JSON.stringify({ ...cfg, server: `http://127.0.0.1:${port}` }),
      { mode: 0o600 },
    );
    let proc = org.start(runtime);
    try {
      await proc.waitForLog(/refused dispatch[\s\S]*refused dispatch/); // both forged dispatches
    } finally {
      await proc.stop();
      fake.close();
    }
    // The runtime has exited (killing whatever it ran): nothing ran, and it did not even answer.
    expect(existsSync(marker)).toBe(false);
    expect(received.filter((f) => f.t !== "hello")).toEqual([]);
    // Pointed back at the real server, the same runtime runs the tenant's signed dispatch.
    writeFileSync(join(runtime.dataDir, "runtime.json"), JSON.stringify(cfg), { mode: 0o600 });
    proc = org.start(runtime);
    try {
      await waitOnline(org.owner, runtime.machineId);
      const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId });
      const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
        command: `touch '${marker}'`,
        shell: "bash",
      });
      expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({ state: "finished", exitCode: 0 });
      expect(existsSync(marker)).toBe(true);
    } finally {
      await proc.stop();
    }
  });
});

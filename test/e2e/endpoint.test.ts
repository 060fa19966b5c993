// The endpoint runtime under hostile conditions, against the real server: a data dir on a disk far smaller than a
// command's output, a server restart, and an enrollment whose token must stay out of logs.

import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../packages/runtime/src/config.ts";
import { collectFacts } from "../../packages/runtime/src/facts.ts";
import { Journal } from "../../packages/runtime/src/journal.ts";
import { Runtime as EndpointRuntime } from "../../packages/runtime/src/runtime.ts";
import { smallDisk } from "../../packages/runtime/test/fixtures.ts";
import { fetchRecord, ROOT, type Runtime, recordedStream, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const MiB = 1024 * 1024;

const org = useOrganization({ clients: [{ name: "Contoso Dental", machine: true }] });

async function session(runtime: Pick<Runtime, "machineId">): Promise<string> {
  return (await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId })).id;
}

async function run(sessionId: string, command: string): Promise<string> {
  return (await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" })).commandId;
}

/** Run a command to its end and check it exited 0 having written exactly `stdout`, in its counts and in the record. */
async function expectOutput(sessionId: string, command: string, stdout: Buffer, timeoutMs = 30_000): Promise<void> {
  const commandId = await run(sessionId, command);
  const done = await waitCommand(org.owner, sessionId, commandId, timeoutMs);
  expect(done).toMatchObject({ state: "finished", exitCode: 0, stdoutBytes: stdout.length, stdoutSha256: sha(stdout) });
  const { events } = await fetchRecord(org.owner, sessionId);
  expect(sha(recordedStream(events, commandId, "stdout"))).toBe(sha(stdout));
}

/**
 * A runtime whose data dir is on a 2 MiB disk, started and online: as root (CI), the real runtime on a real tmpfs;
 * otherwise the runtime in this process, its journal on a simulated 2 MiB disk (the journal's write seam answers
 * ENOSPC as a full disk does). Returns how to stop it and give the disk back.
 */
async function onSmallDisk(client: string): Promise<{ runtime: Runtime; stop: () => Promise<void> }> {
  if (process.getuid?.() === 0) {
    const dataDir = tempDir("small-disk");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", dataDir]);
    try {
      const runtime = await org.enroll(client, "changes", undefined, dataDir);
      const proc = org.start(runtime);
      await waitOnline(org.owner, runtime.machineId);
      return {
        runtime,
        stop: async () => {
          await proc.stop();
          execFileSync("umount", [dataDir]);
        },
      };
    } catch (error) {
      execFileSync("umount", [dataDir]);
      throw error;
    }
  }
  const runtime = await org.enroll(client);
  const outbox = join(runtime.dataDir, "outbox");
  mkdirSync(outbox, { mode: 0o700 });
  const store = await Journal.open(outbox, { beforeWrite: smallDisk(outbox, 2 * MiB).beforeWrite });
  const endpoint = new EndpointRuntime({
    config: await readConfig(runtime.dataDir),
    facts: collectFacts(),
    log: () => {},
    store,
  });
  endpoint.start();
  await waitOnline(org.owner, runtime.machineId);
  return { runtime, stop: () => endpoint.stop() };
}

describe("the endpoint", () => {
  it("keeps 10 MiB of output byte-exact through a data dir on a 2 MiB disk, then runs the next command", async () => {
    if (process.env.CI === "true") expect(process.getuid?.()).toBe(0); // so CI runs the real tmpfs
    const big = tempDir("big-output");
    org.removeLater(big);
    const bytes = randomBytes(10 * MiB);
    writeFileSync(join(big, "big.bin"), bytes);
    const { runtime, stop } = await onSmallDisk("Fabrikam Clinic");
    try {
      const sessionId = await session(runtime);
      await expectOutput(sessionId, `cat ${join(big, "big.bin")}`, bytes, 120_000);
      await expectOutput(sessionId, "echo next", Buffer.from("next\n"));
    } finally {
      await stop();
    }
  });

  it("reconnects within 100–500 ms after the server restarts under a healthy connection, and loses nothing", async () => {
    const { runtime } = org;
    const sessionId = await session(runtime);
    const lines = 60;
    const commandId = await run(sessionId, `for i in $(seq 1 ${lines}); do echo "line $i"; sleep 0.1; done`);
    // 40 lines printed 0.1 s apart: the connection has been up at least 4 s, longer than the 3 s that make it healthy.
    await expect
      .poll(
        async () => (await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`)).command.stdoutBytes,
        {
          timeout: 30_000,
          interval: 20,
        },
      )
      .toBeGreaterThanOrEqual(Buffer.byteLength(lineRange(1, 40)));
    const from = runtime.proc.output().length;
    await org.server.kill9();
    await org.server.restart();
    await runtime.proc.waitForLog(/ connected\n/, from, 30_000);

    // The waits the runtime chose (and logged) before its attempts: the first three quick, whatever the server did.
    const waits = [
      ...runtime.proc
        .output()
        .slice(from)
        .matchAll(/(disconnected|connect failed)[^\n]*, retrying in (\d+\.\d)s/g),
    ];
    expect(waits[0]?.[1]).toBe("disconnected");
    for (const [, , seconds] of waits.slice(0, 3)) {
      expect(Number(seconds)).toBeGreaterThanOrEqual(0.1);
      expect(Number(seconds)).toBeLessThanOrEqual(0.5);
    }
    const done = await waitCommand(org.owner, sessionId, commandId, 60_000);
    const expected = Buffer.from(lineRange(1, lines));
    expect(done).toMatchObject({
      state: "finished",
      exitCode: 0,
      stdoutBytes: expected.length,
      stdoutSha256: sha(expected),
    });
    await expectOutput(sessionId, "echo back", Buffer.from("back\n"));
  });

  it("enrolls with `npm run runtime` and the token in CAISEY_ENROLL_TOKEN: npm's log line does not show it", async () => {
    const { id: clientId } = await org.owner.json<{ id: string }>("/api/v1/clients", { name: "Northwind Vets" });
    const { token } = await org.owner.json<{ token: string }>("/api/v1/enrollments", { clientId });
    expect(token).toMatch(/^cse_/);
    const dataDir = tempDir("npm-enroll");
    org.removeLater(dataDir);
    const args = ["run", "runtime", "--", "enroll", "--server", org.server.url, "--data-dir", dataDir];
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        "npm",
        args,
        { cwd: ROOT, env: { ...process.env, CAISEY_ENROLL_TOKEN: token } },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stdout}${stderr}`)) : resolve(stdout + stderr),
      );
    });
    // npm printed its line for the script (with the arguments), and the runtime enrolled; the token is nowhere.
    expect(output).toContain(`caisey-runtime.mjs enroll --server ${org.server.url} --data-dir ${dataDir}`);
    const machineId = /Enrolled as machine (mch_[a-z2-7]{20})/.exec(output)?.[1];
    expect(machineId).toBeDefined();
    expect(output).not.toContain(token);
    expect(output).not.toMatch(/cse_/);
    expect((await readConfig(dataDir)).machineId).toBe(machineId);
  });
});

function lineRange(from: number, to: number): string {
  let out = "";
  for (let i = from; i <= to; i++) out += `line ${i}\n`;
  return out;
}

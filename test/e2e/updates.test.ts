// Updates, with real processes: a runtime running the portable bundle built at 1.0.0 is offered 1.1.0 signed by its
// release key. It swaps its own file and exits for its service manager (this test) to start it again, and a command
// whose output it had journalled but never got to the server is delivered by the new process, byte for byte. Builds
// signed by another key, or changed after signing, are refused, never run, and recorded. The portable bundle proves
// the mechanism; the one-file executables take the same path (their file is process.execPath) but take a minute each
// to build, which one-file.test.ts already spends once.

import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { packageRuntime } from "../../scripts/package-runtime.mjs";
import {
  fetchRecord,
  type Proc,
  RUNTIME_NODE_FLAGS,
  recordedStream,
  startProc,
  tcpProxy,
  tempDir,
} from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const UPDATE_EXIT_CODE = 75;
const BUNDLE = "caisey-runtime.mjs";
const served = tempDir("served");
const org = useOrganization({ env: { CAISEY_RUNTIME_FILES: served } });

/** Release builds in temporary dirs, by version: the portable bundle and release.json. */
const builds: Record<string, string> = {};

function releaseKey(dir: string): string {
  const file = join(dir, "release-key.pem");
  execFileSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", file]);
  execFileSync("chmod", ["600", file]);
  return file;
}

beforeAll(async () => {
  org.removeLater(served);
  const keys = tempDir("release-keys");
  org.removeLater(keys);
  const ours = releaseKey(keys);
  const theirs = releaseKey(tempDir("release-keys"));
  for (const [version, keyFile] of [
    ["1.0.0", ours],
    ["1.1.0", ours],
    ["1.2.0", theirs],
    ["1.3.0", ours],
    ["1.4.0", ours],
  ] as const) {
    const outDir = tempDir(`build-${version}`);
    org.removeLater(outDir);
    await packageRuntime([], { outDir, version, keyFile });
    builds[version] = outDir;
  }
  // 1.3.0 as a tampered mirror would serve it: one byte changed after it was signed, same size.
  const tampered = join(builds["1.3.0"] as string, BUNDLE);
  const bytes = readFileSync(tampered);
  const at = bytes.indexOf("caisey-runtime");
  bytes[at] = "C".charCodeAt(0);
  writeFileSync(tampered, bytes);
}, 120_000);

/** What the server offers from now on: the build's bundle first, then its release.json (each in place at once). */
function publish(version: string): void {
  for (const name of [BUNDLE, "release.json"]) {
    copyFileSync(join(builds[version] as string, name), join(served, `${name}.tmp`));
    renameSync(join(served, `${name}.tmp`), join(served, name));
  }
}

describe("runtime updates", () => {
  let program: string;
  let dataDir: string;
  let machineId: string;
  let runtime: Proc;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  afterAll(async () => {
    await runtime?.stop();
    await proxy?.close();
  });
  const run = (supervised = true) =>
    startProc(
      [...RUNTIME_NODE_FLAGS, program, "run", "--data-dir", dataDir, "--update-every", "1"],
      supervised ? { CAISEY_RUNTIME_SUPERVISED: "1" } : { INVOCATION_ID: "" },
    );

  it("swaps to a newer signed build and finishes a journalled command's delivery after the restart", async () => {
    proxy = await tcpProxy(org.server.port);
    const installed = tempDir("installed");
    org.removeLater(installed);
    program = join(installed, BUNDLE);
    copyFileSync(join(builds["1.0.0"] as string, BUNDLE), program);
    const machine = await org.enroll("Contoso Dental", "never", proxy.url);
    dataDir = machine.dataDir;
    machineId = machine.machineId;
    runtime = run();
    await runtime.waitForLog(/caisey-runtime 1\.0\.0: machine/);
    await waitOnline(org.owner, machine.machineId);
    await runtime.waitForLog(/update check: the server offers no runtime release/);

    // A command that waits for the gate, then prints: its output is journalled while the socket is held, never sent.
    const gate = join(installed, "gate");
    const expected = Buffer.from(Array.from({ length: 30_000 }, (_, i) => `${i + 1}\n`).join(""));
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: machine.machineId });
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; seq 1 30000`,
      shell: "bash",
    });
    await vi.waitFor(
      async () => {
        const { command } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`);
        expect(command.state).toBe("running");
      },
      { timeout: 20_000, interval: 50 },
    );
    proxy.holdRuntimes();
    writeFileSync(gate, "");

    publish("1.1.0");
    expect(await runtime.exited, runtime.output()).toBe(UPDATE_EXIT_CODE);
    expect(runtime.output()).toMatch(/updated .*caisey-runtime\.mjs from 1\.0\.0 to 1\.1\.0: restarting/);
    expect(readFileSync(program).equals(readFileSync(join(builds["1.1.0"] as string, BUNDLE)))).toBe(true);
    expect(readdirSync(join(dataDir, "update"))).toEqual([]);
    // Nothing of the output reached the server before the swap: the old process only journalled it.
    const before = (await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`)).command;
    expect(before).toMatchObject({ state: "running", stdoutBytes: 0 });

    proxy.release();
    proxy.dropAll();
    runtime = run(); // as the service manager does on the update's exit code
    await runtime.waitForLog(/caisey-runtime 1\.1\.0: machine/);
    const done = await waitCommand(org.owner, sessionId, commandId);
    expect(done).toMatchObject({ state: "finished", exitCode: 0, stdoutBytes: expected.length });
    const { events } = await fetchRecord(org.owner, sessionId);
    expect(recordedStream(events, commandId, "stdout").equals(expected)).toBe(true);
    expect(events.filter((e) => e.type === "command.finished")).toHaveLength(1);
    await runtime.waitForLog(/update check: 1\.1\.0 is current \(the server offers 1\.1\.0\)/);
  });

  it("refuses a build signed by another key and one changed after signing: deleted, never run, recorded", async () => {
    const current = readFileSync(program);
    publish("1.2.0");
    await runtime.waitForLog(/update to 1\.2\.0 refused: its signature is not by this runtime's release key/);
    publish("1.3.0");
    await runtime.waitForLog(/update to 1\.3\.0 refused: its SHA-256 [0-9a-f]{64} is not the [0-9a-f]{64} the release/);
    expect(readFileSync(program).equals(current)).toBe(true);
    expect(readdirSync(join(dataDir, "update"))).toEqual([]);
    expect(runtime.child.exitCode).toBeNull();
    expect(existsSync(`${program}.update`)).toBe(false);

    // The owner's audit log has both, by the machine.
    await vi.waitFor(
      async () => {
        const { entries } = await org.owner.json("/api/v1/audit?action=runtime.update_refused");
        expect(entries.map((e: any) => [e.actor, e.target, e.detail.version, e.detail.reason]).reverse()).toEqual([
          [`machine:${machineId}`, machineId, "1.2.0", "its signature is not by this runtime's release key"],
          [`machine:${machineId}`, machineId, "1.3.0", expect.stringMatching(/^its SHA-256 [0-9a-f]{64} is not the /)],
        ]);
      },
      { timeout: 10_000, interval: 200 },
    );

    // `status` shows the refusal as the runtime's last error.
    await vi.waitFor(
      async () => {
        const status = startProc([program, "status", "--data-dir", dataDir], {});
        expect(await status.exited).toBe(0);
        expect(status.output()).toMatch(/last error: {2}\S+ update to 1\.3\.0 refused: its SHA-256/);
      },
      { timeout: 10_000, interval: 500 },
    );
  });

  it("in the foreground, with no service manager, starts the new build itself with the same arguments", async () => {
    await runtime.stop();
    runtime = run(false);
    await runtime.waitForLog(/caisey-runtime 1\.1\.0: machine/);
    publish("1.4.0");
    await runtime.waitForLog(/caisey-runtime 1\.4\.0: machine/);
    expect(readFileSync(program).equals(readFileSync(join(builds["1.4.0"] as string, BUNDLE)))).toBe(true);
    await waitOnline(org.owner, machineId);
    expect(runtime.child.exitCode).toBeNull();
  });
});

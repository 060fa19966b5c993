// The runtime as a client's endpoint gets it: one executable file (`npm run package:runtime`), downloaded from the
// server (GET /downloads/…, checked against the server's SHA256SUMS) into an empty directory, with no Node, npm or
// repository anywhere it could reach, enrolls, connects and runs a command.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { packageRuntime, RUNTIME_DIST, TARGETS } from "../../scripts/package-runtime.mjs";
import { startProc, tempDir } from "../helpers.ts";
import { runToEnd, useOrganization, waitOnline } from "../organization.ts";

const org = useOrganization();
const FILE = TARGETS["linux-x64"].file;

// Made once, then reused: a second run only re-bundles and compares (seconds); the first injects Node (~1 min).
beforeAll(() => packageRuntime(["linux-x64"]), 300_000);

/** A PATH holding the shells a command needs and nothing else: `node` resolves nowhere. */
function pathWithoutNode(): string {
  const bin = tempDir("bin");
  org.removeLater(bin);
  for (const program of ["bash", "sh"]) symlinkSync(`/bin/${program}`, join(bin, program));
  return bin;
}

describe("the linux-x64 executable", () => {
  it("enrolls, connects and runs a command from an empty directory with no Node on PATH", async () => {
    const dir = tempDir("one-file");
    org.removeLater(dir);
    const program = join(dir, FILE);
    const sums = await (await fetch(`${org.server.url}/downloads/SHA256SUMS`)).text();
    const expected = sums
      .split("\n")
      .find((line) => line.endsWith(`  ${FILE}`))
      ?.slice(0, 64);
    const download = await fetch(`${org.server.url}/downloads/${FILE}`);
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(expected);
    expect(bytes.equals(readFileSync(join(RUNTIME_DIST, FILE)))).toBe(true);
    writeFileSync(program, bytes, { mode: 0o755 });
    mkdirSync(join(dir, "data"));
    const bin = pathWithoutNode();
    const env = { PATH: bin, NODE_OPTIONS: "", NODE_PATH: "" };
    const { id: clientId } = await org.owner.json("/api/v1/clients", { name: "Fabrikam Legal" });
    const { token } = await org.owner.json("/api/v1/enrollments", { clientId });

    const enroll = startProc(
      ["enroll", "--server", org.server.url, "--data-dir", "data"],
      { ...env, CAISEY_ENROLL_TOKEN: token },
      { program, cwd: dir },
    );
    expect(await enroll.exited, enroll.output()).toBe(0);
    const machineId = /mch_[a-z2-7]{20}/.exec(enroll.output())?.[0] as string;
    expect(JSON.parse(readFileSync(join(dir, "data/runtime.json"), "utf8")).machineId).toBe(machineId);

    const run = startProc(["run", "--data-dir", "data"], env, { program, cwd: dir });
    try {
      await waitOnline(org.owner, machineId);
      const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId });
      const done = await runToEnd(org.owner, sessionId, 'command -v node || echo "no node"; echo "$BASH"');
      expect(done).toMatchObject({ state: "finished", exitCode: 0 });
      const stdout = await (
        await org.owner.get(`/api/v1/sessions/${sessionId}/commands/${done.id}/output?stream=stdout`)
      ).text();
      expect(stdout).toBe(`no node\n${join(bin, "bash")}\n`);

      // `status` reads what the running runtime reports: enrolled, connected, nothing waiting in its outbox.
      await vi.waitFor(
        async () => {
          const status = startProc(["status", "--data-dir", "data"], env, { program, cwd: dir });
          expect(await status.exited).toBe(0);
          expect(status.output()).toContain(`enrollment:  machine ${machineId}`);
          expect(status.output()).toContain("connection:  connected");
          expect(status.output()).toContain("outbox:      0 frames waiting for the server");
        },
        { timeout: 20_000, interval: 500 },
      );
    } finally {
      await run.stop();
    }
  });
});

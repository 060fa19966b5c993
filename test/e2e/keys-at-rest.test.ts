// Keys at rest, on the real server (issue 11): `npm start` keeps its key secret in the data dir readable by its owner
// only, no SQLite file under the data dir holds a private key in the clear, a server started with another secret
// signs nothing and says why, and with the right secret the command it held runs.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const org = useOrganization({ clients: [{ name: "Contoso Dental", machine: true }] });

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe("keys at rest", () => {
  it("keeps the key secret in the data dir (0600) and no private key in the clear in any SQLite file", async () => {
    const secretFile = join(org.server.dataDir, "key-secret");
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const sqlite = filesUnder(join(org.server.dataDir, "v3")).filter((f) => f.includes(".sqlite"));
    expect(sqlite.length).toBeGreaterThan(0);
    const clear = sqlite.filter((f) => /"kty"\s*:\s*"OKP"|\\"d\\":|"d":"/.test(readFileSync(f, "latin1")));
    expect(clear).toEqual([]);
  });

  it("a server started with another key secret signs nothing and says why; with the right one the command runs", async () => {
    await org.server.stop();
    await org.server.restart({ CAISEY_KEY_SECRET: "another-deployments-secret-0123456789abcdef" });
    const from = org.server.proc.output().length;
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "echo signed",
      shell: "bash",
    });
    await org.server.proc.waitForLog(
      new RegExp(`the dispatch of ${commandId} cannot be signed: .*was wrapped with another CAISEY_KEY_SECRET`),
      from,
      30_000,
    );
    await org.server.stop();
    await org.server.restart({});
    await waitOnline(org.owner, org.runtime.machineId); // the runtime's reconnect backoff (issue 11, item 4)
    expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({ state: "finished", exitCode: 0 });
  });
});

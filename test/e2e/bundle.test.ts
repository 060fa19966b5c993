// The evidence bundle from a real server, a real runtime and bash, checked by both offline verifiers (issue 14): a
// sealed session with a command's output, chat and an internal note; the owner's bundle and the client contact's (the
// note withheld as its digest) both verify against the key the log publishes, and one changed byte fails both.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync, zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";

const MIRA = { name: "Mira Okafor", email: "mira@bundle.test", password: "a long enough password" };
const org = useOrganization({ clients: [{ name: "Contoso Dental", machine: true, contacts: [MIRA] }] });
const STANDALONE = join(import.meta.dirname, "../../packages/cli/standalone/verify-caisey.mjs");
const CLI = join(import.meta.dirname, "../../packages/cli/src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "caisey-bundle-"));

let sessionId: string;
let mira: Api;
let vkey: string;

async function bundle(as: Api): Promise<Uint8Array> {
  const res = await as.get(`/api/v1/sessions/${sessionId}/export?format=bundle`);
  expect(res.status, await res.clone().text()).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

function verifyWithBoth(zip: Uint8Array, name: string) {
  const path = join(dir, name);
  writeFileSync(path, zip);
  return [CLI, STANDALONE].map((verifier) => {
    const args = [...(verifier === CLI ? ["verify"] : []), path, "--key", vkey];
    const r = spawnSync(process.execPath, [verifier, ...args], { encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
  });
}

beforeAll(async () => {
  mira = await org.login(MIRA.email);
  ({ id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId }));
  const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
    command: "printf 'Status: Running\\n'",
    shell: "bash",
  });
  await waitCommand(org.owner, sessionId, commandId);
  await mira.json(`/api/v1/sessions/${sessionId}/messages`, { text: "Es druckt wieder — merci ✓" });
  await org.owner.json(`/api/v1/sessions/${sessionId}/notes`, { text: "replace the driver next visit" });
  await org.owner.json(`/api/v1/sessions/${sessionId}/close`, {});
  vkey = (await org.owner.json("/api/v1/log/key")).vkey;
});

describe("a real session's evidence bundle", () => {
  it("verifies with both verifiers, for the owner and for the client's contact with the note withheld", async () => {
    for (const [who, as] of [
      ["owner", org.owner],
      ["contact", mira],
    ] as const) {
      const zip = await bundle(as);
      const record = new TextDecoder().decode(unzipSync(zip)["record.ndjson"]);
      if (who === "contact") {
        expect(record).not.toContain("replace the driver");
        expect(record).toMatch(/^\{"seq":\d+,"redacted":"[0-9a-f]{64}"\}$/m);
      } else expect(record).toContain("replace the driver next visit");
      for (const { status, out } of verifyWithBoth(zip, `${who}.zip`)) {
        expect(status, out).toBe(0);
        expect(out).toMatch(/^ok +record: /m);
        expect(out).toMatch(/^ok +inclusion: /m);
      }
    }
  });

  it("fails both verifiers on one changed byte of the record, naming the record", async () => {
    const files = unzipSync(await bundle(org.owner));
    const record = files["record.ndjson"] as Uint8Array;
    // A byte in the middle of the record, whichever line it falls in.
    const at = Math.floor(record.length / 2);
    record[at] = (record[at] as number) === 0x41 ? 0x42 : 0x41;
    for (const { status, out } of verifyWithBoth(zipSync(files), "tampered.zip")) {
      expect(status, out).toBe(1);
      expect(out).toMatch(/^FAIL record: /m);
    }
  });
});

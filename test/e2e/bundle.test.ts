// The evidence bundle from a real server, a real runtime and bash, checked by both offline verifiers (issue 14): a
// sealed session with a command's output, chat and an internal note; the owner's bundle and the client contact's (the
// note withheld as its digest) both verify against the key the log publishes, and one changed byte fails both. The PDF
// report carries the bundle of its own choices as an attachment (poppler's pdfdetach takes it out), which both accept.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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

async function exported(as: Api, query: string): Promise<Uint8Array> {
  const res = await as.get(`/api/v1/sessions/${sessionId}/export?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}
const bundle = (as: Api, choices = "") => exported(as, `format=bundle${choices}`);

/** The files a PDF carries as attachments, as poppler's pdfdetach lists and saves them. */
function attachments(pdf: Uint8Array, name: string): Map<string, Uint8Array> {
  const path = join(dir, `${name}.pdf`);
  writeFileSync(path, pdf);
  const listed = execFileSync("pdfdetach", ["-list", path], { encoding: "utf8" });
  const names = [...listed.matchAll(/^\d+: (.+)$/gm)].map((m) => m[1] as string);
  const out = mkdtempSync(join(dir, `${name}-`));
  execFileSync("pdfdetach", ["-saveall", "-o", out, path]);
  return new Map(names.map((n) => [n, new Uint8Array(readFileSync(join(out, n)))]));
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

  it("is attached inside the PDF with the PDF's choices, and both verifiers accept the attachment", async () => {
    const record = (zip: Uint8Array) => new TextDecoder().decode(unzipSync(zip)["record.ndjson"]);
    for (const [who, as, choices, withNote] of [
      ["owner", org.owner, "", false],
      ["owner-notes", org.owner, "&includeNotes=1", true],
      ["contact", mira, "", false],
    ] as const) {
      const files = attachments(await exported(as, `format=pdf${choices}`), who);
      expect([who, [...files.keys()]]).toEqual([who, [`caisey-${sessionId}.zip`]]);
      const zip = files.get(`caisey-${sessionId}.zip`) as Uint8Array;
      expect(Buffer.from(zip.subarray(0, 4)).toString("hex")).toBe("504b0304");
      // The bundle `format=bundle` gives for the same choice of notes: the record byte for byte.
      const same = await bundle(as, withNote ? "&includeNotes=1" : "&includeNotes=0");
      expect(record(zip)).toBe(record(same));
      if (withNote) expect(record(zip)).toContain("replace the driver next visit");
      else {
        expect(record(zip)).not.toContain("replace the driver");
        expect(record(zip)).toMatch(/^\{"seq":\d+,"redacted":"[0-9a-f]{64}"\}$/m);
      }
      expect(record(zip)).toContain("Es druckt wieder — merci ✓");
      for (const { status, out } of verifyWithBoth(zip, `${who}-attached.zip`)) {
        expect([who, status], out).toEqual([who, 0]);
        expect(out).toMatch(/^ok +record: /m);
        expect(out).toMatch(/^ok +manifest: /m);
      }
    }
  });

  it("says in the PDF that the bundle is attached and how to take it out", async () => {
    // Kept for a look at the first page and the "how to verify" page, as a client's accounts department reads them.
    mkdirSync("/tmp/shots/pdf-bundle", { recursive: true });
    const path = "/tmp/shots/pdf-bundle/report.pdf";
    writeFileSync(path, await exported(org.owner, "format=pdf"));
    execFileSync("pdftoppm", ["-png", "-r", "60", path, "/tmp/shots/pdf-bundle/report"]);
    // Words as read, whatever line the layout broke them onto.
    const text = execFileSync("pdftotext", ["-enc", "UTF-8", path, "-"], { encoding: "utf8" }).replace(/\s+/g, " ");
    expect(text).toContain(`The evidence bundle caisey-${sessionId}.zip is attached to this PDF`);
    expect(text).toContain("How to verify this report");
    expect(text).toContain(`pdfdetach -saveall caisey-${sessionId}.pdf`);
    expect(text).toContain(`npx caisey verify caisey-${sessionId}.zip`);
    // The key as printed, for a reader to compare with theirs (a long key may wrap).
    expect(text.replace(/\s+/g, "")).toContain(vkey);
  });
});

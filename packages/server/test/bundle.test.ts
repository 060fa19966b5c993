// The evidence bundle (issue 14): `…/export?format=bundle` zips the record exactly as GET …/record serves it, the seal,
// its C2SP tlog-proof, the log's verifier key, a manifest with every file's SHA-256 and a README; core's verifyBundle
// holds over it against the key the log publishes. An open session has no bundle. A share link carries the seal and
// the log's verifier key, for the outsider's browser to check.

import {
  BUNDLE_FORMAT,
  type NoteKey,
  parseVerifierKey,
  readTlogProof,
  type SealProof,
  toHex,
  verifyBundle,
  verifySeal,
} from "@caisey/core";
import { unzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import { call, enrollMachine, json, ownerOnce } from "./harness.ts";

const owner = ownerOnce("bea@bundle.test", "Bundled Up IT");

let token: string;
let tenantId: string;
let machineId: string;
let vkey: string;

beforeAll(async () => {
  token = await owner();
  tenantId = (await json(await call("/api/v1/me", { token }), 200)).user.tenantId;
  machineId = (await enrollMachine(token, "Contoso Dental")).machineId;
  vkey = (await json(await call("/api/v1/log/key", { token }), 200)).vkey;
});

async function sessionWithChat(text: string): Promise<string> {
  const id = (await json(await call("/api/v1/sessions", { token, body: { machineId } }), 201)).id;
  await json(await call(`/api/v1/sessions/${id}/messages`, { token, body: { text } }), 201);
  return id;
}

const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe("the evidence bundle", () => {
  it("holds the exact record, the seal, its tlog-proof, the key, a manifest and a README, and verifies", async () => {
    const id = await sessionWithChat("Spooler läuft wieder — bitte drucken.");
    await json(await call(`/api/v1/sessions/${id}/close`, { token, body: {} }), 200);
    const response = await call(`/api/v1/sessions/${id}/export?format=bundle`, { token });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/zip");
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="caisey-${id}.zip"`);
    const files = unzipSync(new Uint8Array(await response.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual([
      "README.txt",
      "key.vkey",
      "manifest.json",
      "proof.tlog-proof",
      "record.ndjson",
      "seal.note",
    ]);

    const record = decode(new Uint8Array(await (await call(`/api/v1/sessions/${id}/record`, { token })).arrayBuffer()));
    expect(decode(files["record.ndjson"])).toBe(record);
    const seal: SealProof = await json(await call(`/api/v1/sessions/${id}/seal`, { token }), 200);
    expect(decode(files["seal.note"])).toBe(seal.note);
    expect(readTlogProof(decode(files["proof.tlog-proof"]), seal.note)).toEqual(seal);
    expect(decode(files["proof.tlog-proof"])).toMatch(/^c2sp\.org\/tlog-proof@v1\nindex \d+\n/);
    expect(decode(files["key.vkey"])).toBe(`${vkey}\n`);

    const head = (await json(await call(`/api/v1/sessions/${id}/events`, { token }), 200)).head;
    const manifest = JSON.parse(decode(files["manifest.json"]));
    expect(manifest).toMatchObject({ format: BUNDLE_FORMAT, sessionId: id, tenantId, machineId, head });
    expect(manifest.files.map((f: { name: string }) => f.name).sort()).toEqual([
      "README.txt",
      "key.vkey",
      "proof.tlog-proof",
      "record.ndjson",
      "seal.note",
    ]);
    for (const file of manifest.files)
      expect(file).toEqual({
        name: file.name,
        sha256: toHex(sha256(files[file.name] as Uint8Array)),
        bytes: files[file.name]?.length,
      });
    expect(decode(files["README.txt"])).toContain("npx caisey verify bundle.zip --key");

    const key = (await parseVerifierKey(sha256, vkey)) as NoteKey;
    const checks = await verifyBundle(crypto.subtle, new Map(Object.entries(files)), key);
    expect(checks.map((c) => [c.check, c.ok])).toEqual([
      ["seal", true],
      ["checkpoint", true],
      ["inclusion", true],
      ["record", true],
      ["manifest", true],
    ]);
  });

  it("goes with a share link as its seal and the log's key, so an outsider checks the seal without signing in", async () => {
    const id = await sessionWithChat("Printer is back.");
    const open = await json(await call(`/api/v1/sessions/${id}/shares`, { token, body: {} }), 201);
    const before = await json(await call(`/api/v1/shares/${open.token}`), 200);
    expect([before.seal, before.vkey]).toEqual([null, null]);
    await json(await call(`/api/v1/sessions/${id}/close`, { token, body: {} }), 200);
    const shared = await json(await call(`/api/v1/shares/${open.token}`), 200);
    expect(shared.vkey).toBe(vkey);
    expect(shared.seal).toEqual(await json(await call(`/api/v1/sessions/${id}/seal`, { token }), 200));
    const key = (await parseVerifierKey(sha256, shared.vkey)) as NoteKey;
    expect(await verifySeal(sha256, shared.seal, key)).toMatchObject({ ok: true, seal: { sessionId: id } });
  });

  it("is attached to the PDF report once the session is sealed, and not before", async () => {
    const id = await sessionWithChat("Drucker geht wieder.");
    // A PDF's embedded file streams are never packed into its compressed object streams: their dictionary reads plain.
    const pdf = async () => {
      const res = await call(`/api/v1/sessions/${id}/export?format=pdf`, { token });
      expect(res.status).toBe(200);
      return new TextDecoder("latin1").decode(await res.arrayBuffer());
    };
    expect(await pdf()).not.toContain("/EmbeddedFile");
    await json(await call(`/api/v1/sessions/${id}/close`, { token, body: {} }), 200);
    const sealed = await pdf();
    expect(sealed).toContain("/Type /EmbeddedFile");
    expect(sealed).toContain("/Subtype /application#2Fzip");
  });

  it("is refused for an open session with 409 not_sealed", async () => {
    const id = await sessionWithChat("still working on it");
    expect(await json(await call(`/api/v1/sessions/${id}/export?format=bundle`, { token }), 409)).toEqual({
      error: { code: "not_sealed", message: "an evidence bundle is of a sealed session: close the session first" },
    });
  });
});

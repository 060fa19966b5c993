// The offline verifiers (issue 14): `caisey verify` (core's verifyBundle) and the standalone verify-caisey.mjs (Node's
// crypto and zlib only) agree on a good bundle and name the same first failure on every tamper case: a flipped byte
// in any line, a dropped last line, a reordered pair, a swapped seal from another session, a bad signature, a
// checkpoint from another key, and a log that dropped a leaf since a checkpoint the verifier kept. The bundles are
// made here with core's own log, note and seal functions over the printer case, under a key this test holds.

import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkpointText,
  consistencyProof,
  ed25519Signer,
  inclusionProof,
  type NoteSigner,
  sealText,
  signNote,
  tlogProofText,
  toHex,
  treeRoot,
  utf8,
  verifierKey,
  verifyChain,
} from "@caisey/core";
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { run } from "../../packages/cli/src/main.ts";
import { MemoryLog, sha256 } from "../../packages/core/test/evidence/memory-log.ts";
import { PRINTER_CASE, SESSION_ID } from "../../packages/core/test/evidence/printer-case.ts";

const STANDALONE = join(import.meta.dirname, "../../packages/cli/standalone/verify-caisey.mjs");
const TENANT = "tnt_printerprinterprint";
const ORIGIN = `caisey.test/log/${TENANT}`;
const dir = mkdtempSync(join(tmpdir(), "caisey-verify-"));

async function logSigner(): Promise<{ signer: NoteSigner; vkey: string }> {
  const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    signer: await ed25519Signer(sha256, ORIGIN, pair.privateKey, publicKey),
    vkey: await verifierKey(sha256, ORIGIN, publicKey),
  };
}

let log: { signer: NoteSigner; vkey: string };
let otherKey: { signer: NoteSigner; vkey: string };

/** A record redacted the way exports redact: one line kept as its digest. */
const redacted = (lines: string[], seq: number) =>
  lines.map((l, i) =>
    i === seq - 1 ? `{"seq":${seq},"redacted":"${createHash("sha256").update(l).digest("hex")}"}` : l,
  );
const RECORD = redacted(PRINTER_CASE, 3);

async function sealNote(sessionId: string, lines: string[]): Promise<string> {
  const chain = verifyChain(sha256, sessionId, lines);
  if (!chain.ok) throw new Error(chain.reason);
  const { seq, hash } = chain.head;
  return signNote(
    sealText({ tenantId: TENANT, sessionId, seq, headHash: hash, closedAt: "2026-03-12T15:17:45.000Z" }),
    log.signer,
  );
}

interface Made {
  files: Record<string, string>;
  notes: string[];
  log: MemoryLog;
}

/** A bundle of leaf `index` of a log of `notes`, its checkpoint signed by `signer`. */
async function bundleOf(record: string[], notes: string[], index: number, signer = log.signer): Promise<Made> {
  const memory = MemoryLog.of(notes.map(utf8));
  const size = notes.length;
  const checkpoint = await signNote(
    checkpointText({ origin: ORIGIN, size, root: treeRoot(sha256, memory.node, size) }),
    signer,
  );
  const note = notes[index] as string;
  const proof = {
    note,
    leafIndex: index,
    treeSize: size,
    inclusion: inclusionProof(sha256, memory.node, index, size).map(toHex),
    checkpoint,
  };
  const files: Record<string, string> = {
    "record.ndjson": `${record.join("\n")}\n`,
    "seal.note": note,
    "proof.tlog-proof": tlogProofText(proof),
    "key.vkey": `${log.vkey}\n`,
    "README.txt": "test bundle\n",
  };
  return { files: { ...files, "manifest.json": manifestOf(files) }, notes, log: memory };
}

/** A manifest listing `files` as the server lists them: name, SHA-256 (hex) and length in bytes. */
function manifestOf(files: Record<string, string>): string {
  const listed = Object.entries(files).map(([name, text]) => ({
    name,
    sha256: createHash("sha256").update(text).digest("hex"),
    bytes: utf8(text).length,
  }));
  return `${JSON.stringify({ format: "caisey-evidence-bundle/v1", sessionId: SESSION_ID, files: listed }, null, 2)}\n`;
}

let n = 0;
function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, `${n++}-${name}`);
  writeFileSync(path, content);
  return path;
}
const zip = (files: Record<string, string>) =>
  write("bundle.zip", zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, utf8(v)]))));

/** Both verifiers' verdicts on one bundle: exit code and the name of the first failed check ("" when none). */
async function verdicts(files: Record<string, string>, extra: string[] = []) {
  const path = zip(files);
  const cli = await run(["verify", path, ...extra]);
  const alone = spawnSync(process.execPath, [STANDALONE, path, ...extra], { encoding: "utf8" });
  const failed = (out: string) => /^FAIL (\w+)/m.exec(out)?.[1] ?? "";
  return {
    cli: { code: cli.code, failed: failed(cli.out.join("\n")) },
    standalone: { code: alone.status, failed: failed(alone.stdout) },
    out: cli.out.join("\n"),
    standaloneOut: alone.stdout,
  };
}

const keyFile = () => write("key.vkey", `${log.vkey}\n`);
let good: Made;
let otherNote: string;

beforeAll(async () => {
  [log, otherKey] = [await logSigner(), await logSigner()];
  otherNote = await sealNote("ses_otherotherotherothe", PRINTER_CASE.slice(0, 4));
  const notes = [
    await sealNote("ses_firstfirstfirstfirs", PRINTER_CASE.slice(0, 2)),
    otherNote,
    await sealNote(SESSION_ID, RECORD),
  ];
  good = await bundleOf(RECORD, [...notes, await sealNote("ses_lastlastlastlastlas", PRINTER_CASE.slice(0, 3))], 2);
});

describe("both verifiers", () => {
  it("pass a good bundle against the pinned key and print each check", async () => {
    const v = await verdicts(good.files, ["--key", keyFile()]);
    expect(v.cli).toEqual({ code: 0, failed: "" });
    expect(v.standalone).toEqual({ code: 0, failed: "" });
    for (const out of [v.out, v.standaloneOut])
      for (const check of ["seal", "checkpoint", "inclusion", "record", "manifest"])
        expect(out).toMatch(new RegExp(`^ok +${check}: `, "m"));
    expect(v.out).toContain(`record: ${RECORD.length} lines recompute the sealed head`);
  });

  it("warn that they trust the bundle's own key when no --key is given", async () => {
    const v = await verdicts(good.files);
    expect(v.cli.code).toBe(0);
    expect(v.standalone.code).toBe(0);
    for (const out of [v.out, v.standaloneOut])
      expect(out).toContain("warning: no --key given: using the bundle's own key.vkey");
  });

  it("detect a flipped byte in any line", async () => {
    for (let i = 0; i < RECORD.length; i++) {
      const line = RECORD[i] as string;
      const at = Math.floor(line.length / 2);
      const flipped = line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 0x01) + line.slice(at + 1);
      const record = RECORD.map((l, j) => (j === i ? flipped : l));
      const v = await verdicts({ ...good.files, "record.ndjson": `${record.join("\n")}\n` }, ["--key", keyFile()]);
      expect([i, v.cli, v.standalone]).toEqual([i, { code: 1, failed: "record" }, { code: 1, failed: "record" }]);
    }
    // A standalone verifier started per line: on a loaded machine more than the default 5 s.
  }, 30_000);

  it("detect a dropped last line and a reordered pair", async () => {
    const dropped = RECORD.slice(0, -1);
    const reordered = [RECORD[0], RECORD[2], RECORD[1], ...RECORD.slice(3)];
    for (const record of [dropped, reordered]) {
      const v = await verdicts({ ...good.files, "record.ndjson": `${record.join("\n")}\n` }, ["--key", keyFile()]);
      expect(v.cli).toEqual({ code: 1, failed: "record" });
      expect(v.standalone).toEqual({ code: 1, failed: "record" });
    }
    const v = await verdicts({ ...good.files, "record.ndjson": `${dropped.join("\n")}\n` }, ["--key", keyFile()]);
    expect(v.out).toContain(`is not the sealed head (seq ${RECORD.length}`);
  });

  it("detect a file that is not as the manifest lists it, naming the first mismatch", async () => {
    const manifest = JSON.parse(good.files["manifest.json"] as string) as { files: { name: string }[] };
    const readme = "test bundle, edited after export\n";
    const hex = (text: string) => createHash("sha256").update(text).digest("hex");
    const cases: [Record<string, string>, string][] = [
      [
        { ...good.files, "README.txt": readme },
        `README.txt has SHA-256 ${hex(readme)}, the manifest lists ${hex(good.files["README.txt"] as string)}`,
      ],
      [{ ...good.files, "extra.txt": "slipped in\n" }, "the bundle holds extra.txt, which the manifest does not list"],
      [
        {
          ...good.files,
          "manifest.json": JSON.stringify({
            files: [...manifest.files, { name: "notes.txt", sha256: "00", bytes: 1 }],
          }),
        },
        "the manifest lists notes.txt, which the bundle lacks",
      ],
      [{ ...good.files, "manifest.json": "{}\n" }, "manifest.json lists no files"],
    ];
    for (const [files, why] of cases) {
      const v = await verdicts(files, ["--key", keyFile()]);
      expect([why, v.cli, v.standalone]).toEqual([
        why,
        { code: 1, failed: "manifest" },
        { code: 1, failed: "manifest" },
      ]);
      for (const out of [v.out, v.standaloneOut]) expect(out).toContain(`FAIL manifest: ${why}`);
      // The signed checks still hold: the manifest only says the files are not the ones it was made with.
      expect(v.out).toMatch(/^ok +record: /m);
    }
  }, 30_000);

  it("detect a seal swapped from another session, though it is signed and in the log", async () => {
    const other = await bundleOf(RECORD, good.notes, 1);
    const v = await verdicts(
      { ...good.files, "seal.note": otherNote, "proof.tlog-proof": other.files["proof.tlog-proof"] as string },
      ["--key", keyFile()],
    );
    expect(v.cli).toEqual({ code: 1, failed: "record" });
    expect(v.standalone).toEqual({ code: 1, failed: "record" });
  });

  it("detect a bad signature on the seal", async () => {
    const note = good.files["seal.note"] as string;
    const at = note.length - 10;
    const forged = note.slice(0, at) + (note[at] === "A" ? "B" : "A") + note.slice(at + 1);
    const v = await verdicts({ ...good.files, "seal.note": forged }, ["--key", keyFile()]);
    expect(v.cli).toEqual({ code: 1, failed: "seal" });
    expect(v.standalone).toEqual({ code: 1, failed: "seal" });
  });

  it("detect a checkpoint signed by another key, and a bundle whose own key is not the pinned one", async () => {
    const forged = await bundleOf(RECORD, good.notes, 2, otherKey.signer);
    const v = await verdicts(forged.files, ["--key", keyFile()]);
    expect(v.cli).toEqual({ code: 1, failed: "checkpoint" });
    expect(v.standalone).toEqual({ code: 1, failed: "checkpoint" });
    const pinnedOther = await verdicts(good.files, ["--key", otherKey.vkey]);
    expect(pinnedOther.cli).toEqual({ code: 1, failed: "seal" });
    expect(pinnedOther.standalone).toEqual({ code: 1, failed: "seal" });
  });

  it("check an older checkpoint's consistency, and detect a log that dropped a leaf since", async () => {
    const kept = await signNote(
      checkpointText({ origin: ORIGIN, size: 2, root: treeRoot(sha256, good.log.node, 2) }),
      log.signer,
    );
    const older = write("older.checkpoint", kept);
    const proofFile = (memory: MemoryLog, to: number) =>
      write("consistency.json", JSON.stringify({ proof: consistencyProof(sha256, memory.node, 2, to).map(toHex) }));
    const honest = proofFile(good.log, 4);
    const ok = await verdicts(good.files, ["--key", keyFile(), "--checkpoint", older, "--consistency", honest]);
    expect(ok.cli).toEqual({ code: 0, failed: "" });
    expect(ok.standalone).toEqual({ code: 0, failed: "" });
    expect(ok.out).toContain("consistency: the log grew from 2 to 4 seals without changing one");

    // The log drops the first session's seal and signs the shorter history it now tells.
    const [, ...kept3] = good.notes;
    const dropped = await bundleOf(RECORD, kept3, 1);
    const lie = proofFile(dropped.log, 3);
    const v = await verdicts(dropped.files, ["--key", keyFile(), "--checkpoint", older, "--consistency", lie]);
    expect(v.cli).toEqual({ code: 1, failed: "consistency" });
    expect(v.standalone).toEqual({ code: 1, failed: "consistency" });

    const unproven = await verdicts(good.files, ["--key", keyFile(), "--checkpoint", older]);
    expect(unproven.cli).toEqual({ code: 1, failed: "consistency" });
    expect(unproven.standalone).toEqual({ code: 1, failed: "consistency" });
    expect(unproven.out).toContain("cannot check offline without the log's proof from 2 to 4");
  });

  it("run from the repository root as `npx caisey verify`, exiting 1 on a failure", () => {
    const out = execFileSync(
      "npx",
      ["caisey", "verify", zip(good.files), "--key", readFileSync(keyFile(), "utf8").trim()],
      {
        encoding: "utf8",
      },
    );
    expect(out).toMatch(/^ok +record: /m);
    const bad = spawnSync("npx", ["caisey", "verify", zip({ ...good.files, "record.ndjson": "" })], {
      encoding: "utf8",
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^FAIL record: /m);
    expect(bad.stderr).not.toContain("ok   record");
  }, 60_000);

  it("say how they are used", async () => {
    expect(await run(["--help"])).toEqual({
      code: 0,
      out: [expect.stringContaining("Usage: caisey verify <bundle.zip>")],
    });
    expect((await run(["verify"])).code).toBe(2);
    const alone = spawnSync(process.execPath, [STANDALONE, "--help"], { encoding: "utf8" });
    expect([alone.status, alone.stdout]).toEqual([
      0,
      expect.stringContaining("usage: node verify-caisey.mjs <bundle.zip>"),
    ]);
  });
});

// The evidence bundle (`…/export?format=bundle`): the exact record, its seal, the seal's proof in the tenant's log
// (C2SP tlog-proof, https://c2sp.org/tlog-proof), the log's verifier key, a manifest and a README — everything a third
// party needs to check a session offline. `verifyBundle` is the check `caisey verify` runs; the standalone verifier
// (packages/cli/standalone) runs the same checks with Node's crypto alone, so the two can be held against each other.

import { fromBase64, fromHex, fromUtf8, toBase64, toHex } from "../bytes.ts";
import { splitRecordLines, verifyChainWebCrypto } from "../chain.ts";
import { parseCheckpoint } from "./checkpoint.ts";
import { type Digest, verifyConsistency } from "./merkle.ts";
import { type NoteKey, openNote, parseNote } from "./note.ts";
import { type SealProof, verifySeal } from "./seal.ts";

export const BUNDLE_FORMAT = "caisey-evidence-bundle/v1";
export const TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";

export const BUNDLE_FILES = {
  record: "record.ndjson",
  seal: "seal.note",
  proof: "proof.tlog-proof",
  key: "key.vkey",
  manifest: "manifest.json",
  readme: "README.txt",
} as const;

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  sessionId: string;
  tenantId: string;
  machineId: string;
  hostname: string;
  head: { seq: number; hash: string };
  createdAt: string;
  /** Every other file of the bundle with its SHA-256 (lowercase hex) and length. */
  files: { name: string; sha256: string; bytes: number }[];
}

/** The seal's place in the log as a C2SP tlog-proof: header, `index N`, the path as base64 lines, the checkpoint. */
export function tlogProofText(proof: SealProof): string {
  const path = proof.inclusion.map((h) => `${toBase64(fromHex(h))}\n`).join("");
  return `${TLOG_PROOF_HEADER}\nindex ${proof.leafIndex}\n${path}\n${proof.checkpoint}`;
}

/** A tlog-proof read back with the seal note it proves: the `SealProof` `verifySeal` checks; a reason when not one. */
export function readTlogProof(text: string, note: string): SealProof | string {
  const split = text.indexOf("\n\n");
  if (split < 0) return "a tlog-proof has a blank line before its checkpoint";
  const lines = text.slice(0, split).split("\n");
  if (lines[0] !== TLOG_PROOF_HEADER) return `a tlog-proof starts with ${TLOG_PROOF_HEADER}`;
  let at = 1;
  if (lines[at]?.startsWith("extra ")) at++;
  const index = /^index (0|[1-9][0-9]*)$/.exec(lines[at] ?? "");
  if (!index) return "a tlog-proof names its leaf: index <n>";
  const inclusion: string[] = [];
  for (const line of lines.slice(at + 1)) {
    try {
      const hash = fromBase64(line);
      if (hash.length !== 32) return "a tlog-proof's hashes are 32 bytes";
      inclusion.push(toHex(hash));
    } catch {
      return "a tlog-proof's hashes are base64";
    }
  }
  const checkpoint = text.slice(split + 2);
  const signed = parseNote(checkpoint);
  const parsed = typeof signed === "string" ? signed : parseCheckpoint(signed.text);
  if (typeof parsed === "string") return `the tlog-proof's checkpoint: ${parsed}`;
  return { note, leafIndex: Number(index[1]), treeSize: parsed.size, inclusion, checkpoint };
}

/** What the README of a bundle says: how to check it, with this repository's verifier or by hand. */
export function bundleReadme(manifest: Omit<BundleManifest, "files">): string {
  return `Caisey evidence bundle — session ${manifest.sessionId} on ${manifest.hostname}

This archive is the complete, sealed record of one remote-support session:

  record.ndjson      the session's record, one JSON event per line, exactly as stored
                     (lines withheld from you appear as {"seq":N,"redacted":"<SHA-256 of the line>"})
  seal.note          the seal: a C2SP signed note over the record's last seq and hash, signed by the
                     organization's log key
  proof.tlog-proof   the seal's inclusion proof in the organization's transparency log (c2sp.org/tlog-proof),
                     ending in the log's signed checkpoint
  key.vkey           the log's verifier key as the organization published it (pin your own copy)
  manifest.json      the session, machine and head, and the SHA-256 of every file

To verify (Node 22 or later):

  npx caisey verify bundle.zip --key <the organization's vkey>
  node verify-caisey.mjs bundle.zip --key <the organization's vkey>   (standalone, no dependencies)

Either one recomputes the record's hash chain
  h0 = SHA-256("caisey-session-v1\\n" + session id)
  h_i = SHA-256(h_(i-1) || SHA-256(line_i))   (a redacted line gives SHA-256(line_i) itself)
checks that the seal's seq and hash are the recomputed head (${manifest.head.seq}, ${manifest.head.hash}),
that the seal and the checkpoint are signed by the key, that the seal is a leaf of the tree the checkpoint
names, and that every file has the SHA-256 manifest.json lists (the manifest is not signed: it tells a damaged
or mixed-up archive, the seal and the chain tell a forged one). Given an older checkpoint you kept (--checkpoint FILE) and the log's consistency proof between the two
(--consistency FILE, the answer of GET /api/v1/log/consistency?from=OLD&to=NEW), it also checks that the log
only grew since: a session deleted or rewritten after that checkpoint shows.

Without --key the verifier uses key.vkey from this archive and says so: that proves the archive agrees with
itself, not that it comes from the organization.
`;
}

export interface BundleCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/** An older checkpoint the verifier kept, and the log's consistency proof (hex) from it to the bundle's. */
export interface OlderCheckpoint {
  checkpoint: string;
  consistency: string[] | null;
}

/**
 * Check a bundle's files against a verifier key; the checks made, in order, stopping at the first that fails. The
 * session is the one the signed seal names: the manifest only helps a reader find their way.
 */
export async function verifyBundle(
  subtle: SubtleCrypto,
  files: ReadonlyMap<string, Uint8Array>,
  key: NoteKey,
  older: OlderCheckpoint | null = null,
): Promise<BundleCheck[]> {
  const checks: BundleCheck[] = [];
  const said = (ok: boolean) => (check: string, detail: string) => {
    checks.push({ check, ok, detail });
    return checks;
  };
  const [pass, fail] = [said(true), said(false)];
  const digest: Digest = async (data) =>
    new Uint8Array(await subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  const text = (name: string) => fromUtf8(files.get(name) ?? new Uint8Array());

  const missing = [BUNDLE_FILES.record, BUNDLE_FILES.seal, BUNDLE_FILES.proof].filter((n) => !files.has(n));
  if (missing.length > 0) return fail("files", `the bundle lacks ${missing.join(", ")}`);
  const note = text(BUNDLE_FILES.seal);
  const proof = readTlogProof(text(BUNDLE_FILES.proof), note);
  if (typeof proof === "string") return fail("proof", proof);
  const sealed = await verifySeal(digest, proof, key);
  if (!sealed.ok) return fail(sealed.failure.split(":")[0] as string, sealed.failure);
  const { seal, checkpoint } = sealed;
  pass("seal", `signed by ${key.name}: session ${seal.sessionId}, seq ${seal.seq}, head ${seal.headHash}`);
  pass("checkpoint", `signed by ${key.name}: a tree of ${checkpoint.size} seals, root ${toHex(checkpoint.root)}`);
  pass("inclusion", `the seal is leaf ${proof.leafIndex} of that tree`);

  let lines: string[];
  try {
    lines = splitRecordLines(text(BUNDLE_FILES.record));
  } catch (error) {
    return fail("record", (error as Error).message);
  }
  const chain = await verifyChainWebCrypto(subtle, seal.sessionId, lines);
  if (!chain.ok) return fail("record", `the hash chain breaks at seq ${chain.seq}: ${chain.reason}`);
  if (chain.head.seq !== seal.seq || chain.head.hash !== seal.headHash)
    return fail(
      "record",
      `the record's recomputed head (seq ${chain.head.seq}, ${chain.head.hash}) is not the sealed head (seq ${seal.seq}, ${seal.headHash})`,
    );
  pass("record", `${chain.count} lines recompute the sealed head`);
  const mismatch = await manifestMismatch(files, digest);
  if (mismatch !== null) return fail("manifest", mismatch);
  pass("manifest", "every file of the bundle has the SHA-256 and length manifest.json lists");

  if (older === null) return checks;
  const opened = await openNote(older.checkpoint, key);
  const kept = typeof opened === "string" ? opened : parseCheckpoint(opened.text);
  if (typeof kept === "string") return fail("consistency", `the older checkpoint: ${kept}`);
  if (kept.origin !== checkpoint.origin)
    return fail("consistency", `the older checkpoint is of the log ${kept.origin}, not ${checkpoint.origin}`);
  if (kept.size > checkpoint.size)
    return fail("consistency", `the older checkpoint (${kept.size}) is newer than the bundle's (${checkpoint.size})`);
  if (older.consistency === null && kept.size !== checkpoint.size)
    return fail(
      "consistency",
      `cannot check offline without the log's proof from ${kept.size} to ${checkpoint.size}: give --consistency (GET /api/v1/log/consistency?from=${kept.size}&to=${checkpoint.size})`,
    );
  let path: Uint8Array[];
  try {
    path = (older.consistency ?? []).map(fromHex);
  } catch {
    return fail("consistency", "the consistency proof is not hex");
  }
  const why = await verifyConsistency(digest, kept.size, checkpoint.size, path, kept.root, checkpoint.root);
  if (why !== null) return fail("consistency", why);
  return pass("consistency", `the log grew from ${kept.size} to ${checkpoint.size} seals without changing one`);
}

/**
 * The first file of the bundle that is not as manifest.json lists it (its SHA-256 and length), a file it lists that
 * is missing or one it does not list; null when they all match. The manifest is not signed: this catches a damaged or
 * mixed-up bundle, while the seal and the chain are what catch a forged one.
 */
async function manifestMismatch(files: ReadonlyMap<string, Uint8Array>, digest: Digest): Promise<string | null> {
  const raw = files.get(BUNDLE_FILES.manifest);
  if (raw === undefined) return `the bundle lacks ${BUNDLE_FILES.manifest}`;
  let listed: unknown;
  try {
    listed = (JSON.parse(fromUtf8(raw)) as { files?: unknown }).files;
  } catch {
    return `${BUNDLE_FILES.manifest} is not JSON`;
  }
  if (!Array.isArray(listed)) return `${BUNDLE_FILES.manifest} lists no files`;
  const names = new Set<string>([BUNDLE_FILES.manifest]);
  for (const entry of listed as unknown[]) {
    const { name, sha256, bytes } = (entry ?? {}) as { name?: unknown; sha256?: unknown; bytes?: unknown };
    if (typeof name !== "string" || typeof sha256 !== "string")
      return `${BUNDLE_FILES.manifest} lists a file without its name and sha256`;
    names.add(name);
    const file = files.get(name);
    if (file === undefined) return `the manifest lists ${name}, which the bundle lacks`;
    const actual = toHex(await digest(file));
    if (actual !== sha256) return `${name} has SHA-256 ${actual}, the manifest lists ${sha256}`;
    if (bytes !== file.length) return `${name} is ${file.length} bytes, the manifest lists ${bytes}`;
  }
  const unlisted = [...files.keys()].find((name) => !names.has(name) && !name.endsWith("/"));
  return unlisted === undefined ? null : `the bundle holds ${unlisted}, which the manifest does not list`;
}

/** The consistency proof file: the JSON answer of `GET /api/v1/log/consistency`, or one hex hash per line. */
export function readConsistencyProof(text: string): string[] | string {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      const proof = (JSON.parse(trimmed) as { proof?: unknown }).proof;
      if (Array.isArray(proof) && proof.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h)))
        return proof as string[];
    } catch {}
    return 'a consistency proof is {"proof":["<hex>",…]}';
  }
  const lines = trimmed === "" ? [] : trimmed.split(/\s+/);
  return lines.every((h) => /^[0-9a-f]{64}$/.test(h)) ? lines : "a consistency proof is one hex hash per line";
}

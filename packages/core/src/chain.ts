// The hash chain of a session record (DESIGN.md):
//   h0 = SHA-256(utf8("caisey-session-v1\n" + sessionId))
//   h_i = SHA-256(h_{i-1} || SHA-256(record_i))   over raw 32-byte digests, shown as lowercase hex.
// Hashing is injected so the server and runtime use native SHA-256 synchronously (the Session object must append
// without yielding), while browsers verify with WebCrypto.

import { concatBytes, fromHex, toHex, utf8 } from "./bytes.ts";
import { decodeRecord, type Head } from "./record.ts";

export type Sha256 = (data: Uint8Array) => Uint8Array;

export const CHAIN_PREFIX = "caisey-session-v1\n";

export function genesisHash(sha256: Sha256, sessionId: string): string {
  return toHex(sha256(utf8(CHAIN_PREFIX + sessionId)));
}

export function nextHash(sha256: Sha256, previousHex: string, recordLine: string | Uint8Array): string {
  const bytes = typeof recordLine === "string" ? utf8(recordLine) : recordLine;
  return chainStep(sha256, previousHex, sha256(bytes));
}

/**
 * The next chain hash from the SHA-256 of the record line rather than the line: the server digests an output line in
 * pieces without ever holding it whole (see the Session's store), and a redacted line carries its digest.
 */
export function chainStep(sha256: Sha256, previousHex: string, lineDigest: Uint8Array): string {
  // A record's step starts from the hash the last step made (the Session appends one after another): its bytes are
  // kept with its text instead of decoding the text again.
  const previous = previousHex === lastStep.hex ? lastStep.bytes : fromHex(previousHex);
  const bytes = sha256(concatBytes(previous, lineDigest));
  lastStep = { hex: toHex(bytes), bytes };
  return lastStep.hex;
}

/** The last hash chainStep made, as text and as bytes (never changed: sha256 gives new bytes each time). */
let lastStep: { hex: string; bytes: Uint8Array } = { hex: "", bytes: new Uint8Array(0) };

const REDACTED = /^\{"seq":(\d+),"redacted":"([0-9a-f]{64})"\}$/;

/** A line's seq and, for a redacted line, the digest it stands for (a record line's digest is computed from it). */
function readLine(line: string): { seq: number; digest: Uint8Array | null } {
  const redacted = REDACTED.exec(line);
  if (redacted) return { seq: Number(redacted[1]), digest: fromHex(redacted[2] as string) };
  return { seq: decodeRecord(line).seq, digest: null };
}

export type ChainCheck = { ok: true; head: Head; count: number } | { ok: false; seq: number; reason: string };

/**
 * Recompute a whole chain from its record lines (a redacted line counts by its digest); reports the first line that
 * breaks it.
 */
export function verifyChain(sha256: Sha256, sessionId: string, lines: Iterable<string>): ChainCheck {
  let hash = genesisHash(sha256, sessionId);
  let expected = 1;
  for (const line of lines) {
    let read: ReturnType<typeof readLine>;
    try {
      read = readLine(line);
    } catch (error) {
      return { ok: false, seq: expected, reason: (error as Error).message };
    }
    if (read.seq !== expected)
      return { ok: false, seq: expected, reason: `expected seq ${expected}, found ${read.seq}` };
    hash = chainStep(sha256, hash, read.digest ?? sha256(utf8(line)));
    expected++;
  }
  return { ok: true, head: { seq: expected - 1, hash }, count: expected - 1 };
}

/** Split an NDJSON export into record lines (every line ends with "\n"). */
export function splitRecordLines(ndjson: string): string[] {
  if (ndjson === "") return [];
  if (!ndjson.endsWith("\n")) throw new Error("record export must end with a newline");
  return ndjson.slice(0, -1).split("\n");
}

/** WebCrypto variant for browsers and the CLI: same chain, asynchronous digests. */
export async function verifyChainWebCrypto(
  subtle: SubtleCrypto,
  sessionId: string,
  lines: Iterable<string>,
): Promise<ChainCheck> {
  const digest = async (data: Uint8Array) =>
    new Uint8Array(await subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  let hash = await digest(utf8(CHAIN_PREFIX + sessionId));
  let expected = 1;
  for (const line of lines) {
    let read: ReturnType<typeof readLine>;
    try {
      read = readLine(line);
    } catch (error) {
      return { ok: false, seq: expected, reason: (error as Error).message };
    }
    if (read.seq !== expected)
      return { ok: false, seq: expected, reason: `expected seq ${expected}, found ${read.seq}` };
    hash = await digest(concatBytes(hash, read.digest ?? (await digest(utf8(line)))));
    expected++;
  }
  return { ok: true, head: { seq: expected - 1, hash: toHex(hash) }, count: expected - 1 };
}

// A seal: the tenant's log key signs the head of a closed session, and the signed note is a leaf of the tenant's
// log (DESIGN.md, Evidence). Its text is
//
//   caisey-seal/v1\n<tenantId>\n<sessionId>\n<seq>\n<head hash hex>\n<closedAt>\n
//
// `verifySeal` is the whole offline check of a seal against one verifier key: the note's signature, the checkpoint's
// signature, and the inclusion of the note's exact bytes in the tree the checkpoint names. Whether the seal's head is
// the record's own head is the chain's question (`verifyChain`), asked by whoever holds the record.

import { concatBytes, fromHex, utf8 } from "../bytes.ts";
import { type Checkpoint, parseCheckpoint } from "./checkpoint.ts";
import { type Digest, verifyInclusion } from "./merkle.ts";
import { type NoteKey, openNote } from "./note.ts";

export const SEAL_FORMAT = "caisey-seal/v1";

export interface Seal {
  tenantId: string;
  sessionId: string;
  seq: number;
  /** The chain hash of the session's last event (lowercase hex). */
  headHash: string;
  /** The RFC 3339 time of the `session.closed` event. */
  closedAt: string;
}

/** What `GET …/seal` answers: the signed note, where it is in the log, and the proof of it. */
export interface SealProof {
  note: string;
  leafIndex: number;
  treeSize: number;
  /** The inclusion proof, leaf to root, as lowercase hex. */
  inclusion: string[];
  /** The signed checkpoint of the tree of `treeSize` leaves. */
  checkpoint: string;
}

export function sealText(s: Seal): string {
  return `${SEAL_FORMAT}\n${s.tenantId}\n${s.sessionId}\n${s.seq}\n${s.headHash}\n${s.closedAt}\n`;
}

export function parseSealText(text: string): Seal | string {
  const lines = text.split("\n");
  if (lines.length !== 7 || lines[6] !== "" || lines[0] !== SEAL_FORMAT) return `the note is not a ${SEAL_FORMAT} seal`;
  const [, tenantId, sessionId, seq, headHash, closedAt] = lines as [string, string, string, string, string, string];
  if (!/^[1-9][0-9]*$/.test(seq)) return "the seal's seq is not a positive number";
  if (!/^[0-9a-f]{64}$/.test(headHash)) return "the seal's head hash is not 64 lowercase hex digits";
  if (tenantId === "" || sessionId === "" || Number.isNaN(Date.parse(closedAt)))
    return "the seal's lines are not all set";
  return { tenantId, sessionId, seq: Number(seq), headHash, closedAt };
}

/** The log's leaf for a seal: RFC 6962's leaf hash of the signed note's exact bytes. */
export async function sealLeafHash(digest: Digest, note: string): Promise<Uint8Array> {
  return new Uint8Array(await digest(concatBytes(Uint8Array.of(0), utf8(note))));
}

export type SealCheck = { ok: true; seal: Seal; checkpoint: Checkpoint } | { ok: false; failure: string };

/** Check a seal and its proof against the log's verifier key; the first failure is named. */
export async function verifySeal(digest: Digest, proof: SealProof, key: NoteKey): Promise<SealCheck> {
  const failed = (failure: string): SealCheck => ({ ok: false, failure });
  const opened = await openNote(proof.note, key);
  if (typeof opened === "string") return failed(`seal: ${opened}`);
  const seal = parseSealText(opened.text);
  if (typeof seal === "string") return failed(`seal: ${seal}`);
  const signed = await openNote(proof.checkpoint, key);
  if (typeof signed === "string") return failed(`checkpoint: ${signed}`);
  const checkpoint = parseCheckpoint(signed.text);
  if (typeof checkpoint === "string") return failed(`checkpoint: ${checkpoint}`);
  if (checkpoint.origin !== key.name)
    return failed(`checkpoint: it is of the log ${checkpoint.origin}, not ${key.name}`);
  if (checkpoint.size !== proof.treeSize)
    return failed(`checkpoint: it is of a tree of ${checkpoint.size}, the proof of a tree of ${proof.treeSize}`);
  let path: Uint8Array[];
  try {
    path = proof.inclusion.map(fromHex);
  } catch {
    return failed("inclusion: the proof is not hex");
  }
  const why = await verifyInclusion(
    digest,
    proof.leafIndex,
    proof.treeSize,
    await sealLeafHash(digest, proof.note),
    path,
    checkpoint.root,
  );
  return why === null ? { ok: true, seal, checkpoint } : failed(`inclusion: ${why}`);
}

// What a share link opens, and how its reader's browser checks it: the record's lines as disclosed (withheld ones as
// digests) recompute to the session's head, and the head is the one the seal signs.

import { type ChainCheck, verifyChainWebCrypto } from "../chain.ts";
import { encodeRecord, type Head, type RecordEvent, redactedLine } from "../record.ts";
import type { SealProof } from "./seal.ts";
import type { ActorNames, RedactedRecord } from "./timeline.ts";

/** The seal of a closed session as `GET …/seal` answers it (DESIGN.md, Evidence); null until the session is sealed. */
export type SessionSeal = SealProof;

/** The session as a share link's reader sees it: who, where, when, and what the link discloses. */
export interface SharedSession {
  id: string;
  organization: string;
  client: string;
  hostname: string;
  technicians: string[];
  state: string;
  openedAt: string;
  closedAt: string | null;
  head: Head;
  /** Names of the record's actors, for the timeline. */
  names: ActorNames;
  includeOutput: boolean;
  includeNotes: boolean;
  expiresAt: string;
}

/** An event of a shared record: as disclosed, with the chain hash after it. */
export type SharedEvent = (RecordEvent | RedactedRecord) & { hash: string };

/** `GET /api/v1/shares/:token`: a page of the record; `next` is the `after` of the next page, null at the end. */
export interface SharedRecord {
  session: SharedSession;
  events: SharedEvent[];
  seal: SessionSeal | null;
  /** The log's verifier key with the seal (null without one), so an outsider's browser can check it. */
  vkey: string | null;
  next: number | null;
}

/** The record line an event was served from (the exact bytes its chain hash covers, or its redacted form). */
export function sharedLine(event: SharedEvent): string {
  if ("redacted" in event) return redactedLine(event.seq, event.redacted);
  const { seq, ts, type, actor, data } = event;
  return encodeRecord({ seq, ts, type, actor, data });
}

/** Recompute the chain of a shared record in the browser (WebCrypto) and hold it against the session's head. */
export async function verifySharedRecord(
  subtle: SubtleCrypto,
  session: Pick<SharedSession, "id" | "head">,
  events: readonly SharedEvent[],
): Promise<ChainCheck> {
  const check: ChainCheck = await verifyChainWebCrypto(subtle, session.id, events.map(sharedLine));
  if (!check.ok) return check;
  if (check.head.seq !== session.head.seq || check.head.hash !== session.head.hash)
    return {
      ok: false,
      seq: check.head.seq,
      reason: `the record ends at ${check.head.seq} ${check.head.hash}, not at the head ${session.head.seq} ${session.head.hash}`,
    };
  return check;
}

/** What a seal's note says it seals: `caisey-seal/v1`, tenant, session, seq, head hash, close time. */
export function sealedHead(note: string): { sessionId: string; seq: number; hash: string; closedAt: string } | null {
  const lines = note.split("\n");
  if (lines[0] !== "caisey-seal/v1" || lines.length < 6) return null;
  const seq = Number(lines[3]);
  if (!Number.isSafeInteger(seq) || !/^[0-9a-f]{64}$/.test(lines[4] ?? "")) return null;
  return { sessionId: lines[2] as string, seq, hash: lines[4] as string, closedAt: lines[5] as string };
}

// Search over session records, the pure part: which documents an event contributes to the index (and how command
// output is decoded, cleaned and capped), the FTS5 MATCH expression built from what a user typed (never letting the
// input act as FTS5 syntax), snippets with their highlights, cursors, and the merge of answers from several shards.
//
// The index (packages/server/src/objects/search-index.ts) keeps one document per searchable piece: a command's text,
// a piece of its output (≤ OUTPUT_PART_BYTES, cut at a line end where possible), a chat message or a note. Each
// document has a time key `key = tsMs * 1024 + k` (k disambiguates documents of the same millisecond), so FTS5's rowid
// order is time order and "newest first" never sorts.

import { base64DecodedLength, fromBase64 } from "./bytes.ts";
import type { RecordEvent } from "./record.ts";

/** Output bytes indexed per command (stdout and stderr together, in record order). The record itself is never capped. */
export const OUTPUT_INDEX_CAP = 1024 * 1024;
/** Largest piece of output one document holds: small enough that a snippet is cheap to compute. */
export const OUTPUT_PART_BYTES = 16 * 1024;
/** Documents of one millisecond in one shard: the low bits of a time key. */
export const KEY_SLOTS = 1024;
/** Longest search query accepted, in characters, and the most terms one may hold. */
export const SEARCH_QUERY_MAX = 500;
export const SEARCH_TERMS_MAX = 16;
/** Highlight markers in raw FTS5 snippets. Control characters never survive into indexed text, so they cannot clash. */
export const HIGHLIGHT_START = "\u0002";
export const HIGHLIGHT_END = "\u0003";

export const SEARCH_KINDS = ["command", "output", "chat", "note"] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];
export const APPROVAL_STATES = ["pending", "granted", "declined", "expired", "none"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** One searchable document produced by an event. */
export interface IndexDoc {
  seq: number;
  /** Index of the piece within the event (output is split into pieces; everything else is part 0). */
  part: number;
  kind: SearchKind;
  ts: string;
  commandId: string | null;
  stream: "stdout" | "stderr" | null;
  /** Byte offset of the piece in its output stream (output only). */
  offset: number | null;
  text: string;
  /** A command's document, of a command classified as a change. */
  change?: boolean;
}

/** What an event changes in the facts kept per command (absent fields are unchanged). */
export interface CommandFactUpdate {
  commandId: string;
  requestedBy?: string | null;
  state?: string;
  exitCode?: number | null;
  approval?: ApprovalState;
  /** Output bytes of this command counted against the cap so far. */
  outputIndexed?: number;
}

export interface IndexEntries {
  docs: IndexDoc[];
  command: CommandFactUpdate | null;
  /** The session's technician, when the event names one (session.opened, session.assigned). */
  technicianId: string | null;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

// ESC-introduced sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ST), DCS/SOS/PM/APC strings, other two-character
// escapes; and the 8-bit CSI. Then every control character but tab and newline becomes a space (NUL included).
const ESC = String.fromCharCode(0x1b);
const BEL = String.fromCharCode(0x07);
const CSI8 = String.fromCharCode(0x9b);
const ANSI = new RegExp(
  [
    `${ESC}\\[[0-?]*[ -/]*[@-~]`,
    `${ESC}\\][^${BEL}${ESC}]*(?:${BEL}|${ESC}\\\\)?`,
    `${ESC}[PX^_][^${ESC}]*(?:${ESC}\\\\)?`,
    `${ESC}[@-Z\\\\-_]`,
    `${CSI8}[0-?]*[ -/]*[@-~]`,
  ].join("|"),
  "g",
);
const CONTROL = new RegExp(`[${String.fromCharCode(0)}-\\u0008\\u000b-\\u001f\\u007f-\\u009f]`, "g");

/** Text as the index holds it: no terminal escapes, no control characters (so highlight markers are unambiguous). */
export function cleanText(text: string): string {
  return text.replace(ANSI, "").replace(/\r\n?/g, "\n").replace(CONTROL, " ");
}

const lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Output bytes as indexed text: UTF-8 (invalid sequences become U+FFFD), escapes stripped, NUL and controls → space. */
export function decodeOutputText(bytes: Uint8Array): string {
  return cleanText(lossy.decode(bytes));
}

/**
 * More than one character in this many decoded as U+FFFD: the piece is binary (an archive, an image, random bytes),
 * not text. Text in another single-byte encoding (Latin-1 accents) stays far below it; random bytes decode about half.
 */
const BINARY_REPLACEMENT_RATIO = 8;

/**
 * A piece of output as indexed text, or null when it is binary: its words would be noise, and cleaning and indexing
 * the first MiB of a binary stream cost the server as much as committing several MiB of it.
 */
export function outputText(bytes: Uint8Array): string | null {
  const decoded = lossy.decode(bytes);
  const limit = decoded.length / BINARY_REPLACEMENT_RATIO;
  let replaced = 0;
  for (let at = decoded.indexOf("\ufffd"); at !== -1; at = decoded.indexOf("\ufffd", at + 1)) {
    if (++replaced > limit) return null;
  }
  return cleanText(decoded);
}

/**
 * Cut output bytes into pieces of at most `max` bytes, at the last line end of each window when there is one in its
 * second half, else at a UTF-8 character boundary. Returns [start, end) pairs.
 */
export function splitOutput(bytes: Uint8Array, max = OUTPUT_PART_BYTES): [number, number][] {
  const parts: [number, number][] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + max);
    if (end < bytes.length) {
      const nl = bytes.lastIndexOf(0x0a, end - 1);
      if (nl >= start + max / 2) end = nl + 1;
      else {
        let cut = end;
        while (cut > start + 1 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
        end = cut;
      }
    }
    parts.push([start, end]);
    start = end;
  }
  return parts;
}

/**
 * The documents and fact changes one record event contributes. `indexedSoFar` is how many output bytes of that
 * command have already been counted against `cap` (from the index's own command facts).
 */
export function indexEntries(
  event: RecordEvent,
  indexedSoFar: (commandId: string) => number,
  cap = OUTPUT_INDEX_CAP,
): IndexEntries {
  const d = event.data as Record<string, unknown>;
  const base = { seq: event.seq, ts: event.ts, part: 0, stream: null, offset: null };
  const none: IndexEntries = { docs: [], command: null, technicianId: null };
  const commandId = str(d.commandId);
  switch (event.type) {
    case "session.opened":
      return { ...none, technicianId: str(d.technicianId) };
    case "session.assigned":
      // The Session records a hand-over as { from, to, … }.
      return { ...none, technicianId: str(d.to) ?? str(d.technicianId) };
    case "chat.message":
    case "note.added": {
      const text = cleanText(str(d.text) ?? "");
      const kind = event.type === "chat.message" ? "chat" : "note";
      return { ...none, docs: text.trim() ? [{ ...base, kind, commandId: null, text }] : [] };
    }
    case "command.requested": {
      if (!commandId) return none;
      const reason = str(d.reason);
      // A rollback is found by the word: "rollback" finds every one, "rollback DisableRestart" the one undoing that.
      const said = [str(d.command) ?? "", ...(reason ? [reason] : []), ...(d.rollbackOf ? ["rollback"] : [])];
      const text = cleanText(said.join("\n"));
      const requestedBy = str(d.requestedBy) ?? (event.actor.startsWith("user:") ? event.actor.slice(5) : null);
      return {
        ...none,
        docs: [{ ...base, kind: "command", commandId, text, change: d.classification === "change" }],
        command: { commandId, requestedBy, state: "queued" },
      };
    }
    case "command.started":
      return commandId ? { ...none, command: { commandId, state: "running" } } : none;
    case "command.finished": {
      if (!commandId) return none;
      const exitCode = typeof d.exitCode === "number" && Number.isSafeInteger(d.exitCode) ? d.exitCode : null;
      return { ...none, command: { commandId, state: str(d.state) ?? "finished", exitCode } };
    }
    case "approval.requested":
    case "approval.granted":
    case "approval.declined":
    case "approval.expired": {
      if (!commandId) return none;
      const approval = (
        { requested: "pending", granted: "granted", declined: "declined", expired: "expired" } as const
      )[event.type.slice(9) as "requested" | "granted" | "declined" | "expired"];
      return { ...none, command: { commandId, approval } };
    }
    case "command.output": {
      const stream = d.stream === "stderr" ? "stderr" : d.stream === "stdout" ? "stdout" : null;
      const data = str(d.data);
      if (!commandId || !stream || data === null) return none;
      const before = indexedSoFar(commandId);
      // Only the part under the cap is decoded: past it, output is in the record but not in the index.
      const take = Math.max(0, Math.min(base64DecodedLength(data), cap - before));
      if (take === 0) return none;
      let bytes: Uint8Array;
      try {
        bytes = fromBase64(data.length % 4 === 0 ? data.slice(0, Math.ceil(take / 3) * 4) : data);
      } catch {
        return none;
      }
      if (bytes.length < take) return none;
      const offset = typeof d.offset === "number" ? d.offset : 0;
      const kept = bytes.subarray(0, take);
      const docs: IndexDoc[] = [];
      for (const [start, end] of splitOutput(kept)) {
        // A binary piece still counts against the cap (below): the cap is of output bytes, not of indexed text.
        const text = outputText(kept.subarray(start, end));
        if (text?.trim())
          docs.push({ ...base, part: docs.length, kind: "output", commandId, stream, offset: offset + start, text });
      }
      return { ...none, docs, command: { commandId, outputIndexed: before + take } };
    }
    default:
      return none;
  }
}

// ---- queries

export type MatchResult = { ok: true; match: string; terms: string[] } | { ok: false; reason: string };

/** Does a piece of text hold anything the unicode61 tokenizer keeps (letters, digits, private use)? */
const TOKEN = /[\p{L}\p{N}\p{Co}]/u;

const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;

/**
 * Turn what a user typed into an FTS5 expression over the `body` column: bare words and "quoted phrases" (all must
 * match), a trailing `*` on a word or phrase for a prefix. Every piece is emitted as an FTS5 string, so operators,
 * parentheses, column names, NEAR and quotes in the input are only ever text; the result is bound as a parameter.
 */
export function buildMatch(input: string): MatchResult {
  if (input.length > SEARCH_QUERY_MAX) return { ok: false, reason: `q must be at most ${SEARCH_QUERY_MAX} characters` };
  const terms: string[] = [];
  const pieces: string[] = [];
  const re = /"([^"]*)("?)(\**)|([^\s"]+)/g;
  for (let m = re.exec(input); m !== null; m = re.exec(input)) {
    let text: string;
    let prefix: boolean;
    if (m[4] !== undefined) {
      const word = m[4];
      prefix = word.endsWith("*");
      text = word.replace(/\*+$/, "");
    } else {
      text = m[1] ?? "";
      prefix = (m[3] ?? "").length > 0;
    }
    text = cleanText(text).trim();
    if (!TOKEN.test(text)) continue;
    // A prefix applies to the phrase's last token; one that ends in punctuation has none to extend.
    if (prefix && !TOKEN.test(text.slice(-1))) prefix = false;
    terms.push(text);
    pieces.push(prefix ? `${quote(text)}*` : quote(text));
  }
  if (pieces.length === 0) return { ok: false, reason: "q has no words to search for" };
  if (pieces.length > SEARCH_TERMS_MAX) return { ok: false, reason: `q may hold at most ${SEARCH_TERMS_MAX} terms` };
  return { ok: true, match: `{body} : (${pieces.join(" AND ")})`, terms };
}

/** Filter tokens kept in the index's `tags` column (letters and digits only, so each is one token). */
const alnum = (id: string) => id.replace(/[^A-Za-z0-9]/g, "");
export const tag = {
  kind: (kind: SearchKind) => `zk${kind}`,
  client: (id: string) => `zc${alnum(id)}`,
  machine: (id: string) => `zm${alnum(id)}`,
  session: (id: string) => `zs${alnum(id)}`,
  /** The session's current technician. */
  technician: (id: string) => `zt${alnum(id)}`,
  /** Any non-zero exit code (a command that finished with exit code 0, or not yet, has no exit tag). */
  failed: "zxnz",
  /** One non-zero exit code: `zx5`, `zxn1` for -1. */
  exit: (code: number) => `zx${code < 0 ? `n${-code}` : code}`,
  /** An approval state other than none. */
  approval: (state: Exclude<ApprovalState, "none">) => `za${state}`,
};

/**
 * The facts a document's tags reflect besides where it belongs: its session's technician, its command's exit code and
 * approval. They change after the document is written (a command finishes, a session is handed over), and the index
 * re-tags the document then, so that these filters are answered by FTS5 itself rather than by scanning matches.
 */
export interface DocFacts {
  technicianId?: string | null;
  exitCode?: number | null;
  approval?: ApprovalState | null;
}

/** The fact tags of a document (empty when there are none). */
export function factTags(facts: DocFacts): string[] {
  const out: string[] = [];
  if (facts.technicianId) out.push(tag.technician(facts.technicianId));
  if (typeof facts.exitCode === "number" && facts.exitCode !== 0) out.push(tag.failed, tag.exit(facts.exitCode));
  if (facts.approval && facts.approval !== "none") out.push(tag.approval(facts.approval));
  return out;
}

export function docTags(
  doc: { kind: SearchKind },
  session: { sessionId: string; machineId: string; clientId: string },
  facts: DocFacts = {},
) {
  return [
    tag.kind(doc.kind),
    tag.client(session.clientId),
    tag.machine(session.machineId),
    tag.session(session.sessionId),
    ...factTags(facts),
  ].join(" ");
}

export interface TagFilter {
  kinds?: readonly SearchKind[];
  clientId?: string | null;
  machineId?: string | null;
  sessionId?: string | null;
  technicianId?: string | null;
  exit?: "nonzero" | number | null;
  approval?: ApprovalState | null;
}

/**
 * The whole MATCH: the user's terms (if any) and the filters that live in the index as tags. Null: nothing to match.
 * `exit=0` and `approval=none` are "a command's document without that tag" (the index still checks the exit code,
 * since a command that has not finished has no exit tag either).
 */
export function composeMatch(userMatch: string | null, filter: TagFilter): string | null {
  const parts: string[] = userMatch ? [`(${userMatch})`] : [];
  const tags: string[] = [];
  const not: string[] = [];
  if (filter.kinds && filter.kinds.length > 0 && filter.kinds.length < SEARCH_KINDS.length)
    tags.push(`(${filter.kinds.map((k) => quote(tag.kind(k))).join(" OR ")})`);
  if (filter.clientId) tags.push(quote(tag.client(filter.clientId)));
  if (filter.machineId) tags.push(quote(tag.machine(filter.machineId)));
  if (filter.sessionId) tags.push(quote(tag.session(filter.sessionId)));
  if (filter.technicianId) tags.push(quote(tag.technician(filter.technicianId)));
  const commandDocs = `(${quote(tag.kind("command"))} OR ${quote(tag.kind("output"))})`;
  if (filter.exit === "nonzero") tags.push(quote(tag.failed));
  else if (typeof filter.exit === "number") {
    if (filter.exit !== 0) tags.push(quote(tag.exit(filter.exit)));
    else {
      tags.push(commandDocs);
      not.push(quote(tag.failed));
    }
  }
  if (filter.approval && filter.approval !== "none") tags.push(quote(tag.approval(filter.approval)));
  else if (filter.approval === "none") {
    tags.push(commandDocs);
    not.push(...(["pending", "granted", "declined"] as const).map((a) => quote(tag.approval(a))));
  }
  if (tags.length > 0) parts.push(`({tags} : (${tags.join(" AND ")}))`);
  if (parts.length === 0) return null;
  const match = parts.join(" AND ");
  return not.length > 0 ? `(${match}) NOT ({tags} : (${not.join(" OR ")}))` : match;
}

// ---- time keys

/** The time key of a document: rowid order is time order. */
export function timeKey(tsMs: number, slot = 0): number {
  return tsMs * KEY_SLOTS + slot;
}

export function keyTime(key: number): number {
  return Math.floor(key / KEY_SLOTS);
}

/** A UTC timestamp as records write it, on a day every month has: its month is its first seven characters. */
const PLAIN_UTC = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z$/;

/** `YYYY-MM` (UTC) of a timestamp: the index shard an event belongs to. */
export function shardMonth(ts: string | number): string {
  // Every record event asks this; building a Date for each was a measurable part of indexing.
  if (typeof ts === "string" && PLAIN_UTC.test(ts)) return ts.slice(0, 7);
  return new Date(ts).toISOString().slice(0, 7);
}

/** Every month from `from` to `to` inclusive, as `YYYY-MM`. */
export function monthsBetween(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  const d = new Date(fromMs);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  const end = new Date(toMs);
  const endY = end.getUTCFullYear();
  const endM = end.getUTCMonth();
  while (y < endY || (y === endY && m <= endM)) {
    out.push(`${String(y).padStart(4, "0")}-${String(m + 1).padStart(2, "0")}`);
    m++;
    if (m === 12) {
      m = 0;
      y++;
    }
  }
  return out;
}

// ---- snippets

/** A raw FTS5 snippet (markers HIGHLIGHT_START/END) as plain text plus [start, end) highlight offsets (UTF-16). */
export function parseSnippet(raw: string): { snippet: string; highlights: [number, number][] } {
  let snippet = "";
  const highlights: [number, number][] = [];
  let open = -1;
  for (const ch of raw) {
    if (ch === HIGHLIGHT_START) open = snippet.length;
    else if (ch === HIGHLIGHT_END) {
      if (open >= 0 && snippet.length > open) highlights.push([open, snippet.length]);
      open = -1;
    } else snippet += ch;
  }
  return { snippet, highlights };
}

// ---- cursors and merging

export type SearchOrder = "newest" | "best";

/** Where a page ended: the last hit's time key, and for "best" its rank (bm25: lower is better). */
export type SearchCursor = { order: "newest"; key: number } | { order: "best"; rank: number; key: number };

export function encodeCursor(cursor: SearchCursor): string {
  const body = cursor.order === "newest" ? `n.${cursor.key}` : `b.${cursor.key}.${cursor.rank}`;
  return btoa(body).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A cursor from a query string, or null when it is not one this server issued. */
export function decodeCursor(text: string): SearchCursor | null {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return null;
  let body: string;
  try {
    const std = text.replace(/-/g, "+").replace(/_/g, "/");
    body = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
  } catch {
    return null;
  }
  const m = /^(n)\.(\d{1,17})$|^(b)\.(\d{1,17})\.(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(body);
  if (!m) return null;
  if (m[1]) {
    const key = Number(m[2]);
    return Number.isSafeInteger(key) ? { order: "newest", key } : null;
  }
  const key = Number(m[4]);
  const rank = Number(m[5]);
  return Number.isSafeInteger(key) && Number.isFinite(rank) ? { order: "best", key, rank } : null;
}

export interface RankedHit {
  key: number;
  rank: number;
}

/** Order of hits: newest by time key; best by rank, then newest. */
export function compareHits(order: SearchOrder, a: RankedHit, b: RankedHit): number {
  if (order === "best" && a.rank !== b.rank) return a.rank - b.rank;
  return b.key - a.key;
}

/** Is a hit strictly after the cursor in the page order? (Shards apply the same rule in SQL.) */
export function afterCursor(cursor: SearchCursor, hit: RankedHit): boolean {
  if (cursor.order === "best" && hit.rank !== cursor.rank) return hit.rank > cursor.rank;
  return hit.key < cursor.key;
}

/**
 * Merge the pages several shards answered (each sorted, each already after the cursor, each at most `limit + 1`
 * long so that one more than a page tells there is more) into one page of `limit`, and the cursor for the next page
 * (null when every shard is exhausted).
 */
export function mergeHits<T extends RankedHit>(
  pages: readonly (readonly T[])[],
  order: SearchOrder,
  limit: number,
): { hits: T[]; next: SearchCursor | null } {
  const all = pages.flat().sort((a, b) => compareHits(order, a, b));
  const hits = all.slice(0, limit);
  const more = all.length > limit;
  const last = hits.at(-1);
  if (!more || !last) return { hits, next: null };
  return {
    hits,
    next: order === "newest" ? { order, key: last.key } : { order, key: last.key, rank: last.rank },
  };
}

/**
 * The kinds a reader may search, from the kinds asked for (null: all). A client contact never finds the MSP's internal
 * notes; an empty list means nothing they may read was asked for.
 */
export function searchableKinds(asked: readonly SearchKind[] | null, contact: boolean): SearchKind[] | null {
  if (!contact) return asked === null ? null : [...asked];
  return (asked ?? SEARCH_KINDS).filter((k) => k !== "note");
}

// The session record: one JSON line per event. The exact UTF-8 bytes of the line are what is hashed, stored and
// exported; a line is produced once by encodeRecord and never re-serialized.

export const EVENT_TYPES = [
  "session.opened",
  "participant.joined",
  "participant.left",
  "command.requested",
  "approval.requested",
  "approval.granted",
  "approval.declined",
  "approval.expired",
  "command.started",
  "command.output",
  "command.finished",
  "chat.message",
  "note.added",
  "session.closed",
  "session.assigned",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const COMMAND_STATES = [
  "queued",
  "awaiting_approval",
  "declined",
  "running",
  "finished",
  "cancelled",
  "timed_out",
  "interrupted",
  "failed",
] as const;

export type CommandState = (typeof COMMAND_STATES)[number];

/** States after which a command never changes again. */
export const FINAL_COMMAND_STATES: ReadonlySet<CommandState> = new Set([
  "declined",
  "finished",
  "cancelled",
  "timed_out",
  "interrupted",
  "failed",
]);

/**
 * A command the session list counts as failed: it ended in failure, or finished with a non-zero exit code (an
 * unknown exit code is not a failure). The Session keeps the count as its commands finish, so this is asked once per
 * command instead of counting every command of the session on each step.
 */
export function countsAsFailed(state: CommandState, exitCode: number | null): boolean {
  return (
    state === "failed" ||
    state === "timed_out" ||
    state === "interrupted" ||
    (state === "finished" && exitCode !== null && exitCode !== 0)
  );
}

export type Actor = `user:${string}` | `contact:${string}` | `machine:${string}` | "system";

export interface RecordEvent<T = Record<string, unknown>> {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  data: T;
}

/** An event as served by the API: the record's fields plus its chain hash. */
export interface ChainedEvent extends RecordEvent {
  hash: string;
}

export interface Head {
  seq: number;
  hash: string;
}

/** The last timestamp made, and its time: a step's events share one, and the row each one changes writes it again. */
let lastTimestamp = { ms: Number.NaN, text: "" };

/**
 * RFC 3339 UTC with milliseconds, the only timestamp form in a record. The last one is reused for the same time: the
 * Session asks twice per event (its line, and the row it changes), and a Date with its ISO text was 1.2% of workerd's
 * CPU samples per echo (bench:profile --echo).
 */
export function recordTimestamp(ms: number): string {
  if (ms !== lastTimestamp.ms) lastTimestamp = { ms, text: new Date(ms).toISOString() };
  return lastTimestamp.text;
}

const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ACTOR_PATTERN = /^(system|(user|contact|machine):[A-Za-z0-9_-]{1,64})$/;

/** Serialize an event to its record line (no trailing newline), fixing the key order of the contract. */
export function encodeRecord(event: RecordEvent): string {
  if (!Number.isSafeInteger(event.seq) || event.seq < 1) throw new Error("seq must be a positive integer");
  if (!TS_PATTERN.test(event.ts)) throw new Error("ts must be RFC 3339 UTC with milliseconds");
  if (!ACTOR_PATTERN.test(event.actor)) throw new Error(`invalid actor: ${event.actor}`);
  if (!/^[a-z]+\.[a-z_]+$/.test(event.type)) throw new Error(`invalid event type: ${event.type}`);
  if (event.data === null || typeof event.data !== "object" || Array.isArray(event.data)) {
    throw new Error("data must be an object");
  }
  return JSON.stringify({ seq: event.seq, ts: event.ts, type: event.type, actor: event.actor, data: event.data });
}

/**
 * The record line of a `command.output` event: the same bytes encodeRecord gives, joined around the base64 data
 * (which never needs escaping) instead of scanning it with JSON.stringify, because output is nearly all the bytes a
 * record holds. `data` must already be valid base64 (the Session checks it when it decodes the frame).
 */
export function encodeOutputRecord(
  seq: number,
  ts: string,
  actor: string,
  output: { commandId: string; stream: "stdout" | "stderr"; offset: number; data: string },
): string {
  if (!Number.isSafeInteger(output.offset) || output.offset < 0) throw new Error("offset must be a whole number");
  const head = encodeRecord({
    seq,
    ts,
    type: "command.output",
    actor,
    data: { commandId: output.commandId, stream: output.stream, offset: output.offset, data: "" },
  });
  return withOutputData(head, output.data);
}

/**
 * A `command.output` line from its form with empty data (`"data":""}}` at its end) and the base64 data that goes
 * between those quotes: the Session stores output rows that way (the bytes beside the line) and rebuilds the line.
 */
export function withOutputData(emptyLine: string, data: string): string {
  return `${outputLineHead(emptyLine)}${data}${OUTPUT_LINE_END}`;
}

/** What follows the base64 data in a `command.output` line: the data's closing quote, then `data`'s and the line's. */
export const OUTPUT_LINE_END = '"}}';

/**
 * What precedes the base64 data in a `command.output` line, from the line with its data left empty: with the data and
 * OUTPUT_LINE_END it is the exact line (withOutputData), which lets the server hash the line in pieces.
 */
export function outputLineHead(emptyLine: string): string {
  if (!emptyLine.endsWith(`"data":""}}`)) throw new Error("not a command.output line with its data left empty");
  return emptyLine.slice(0, -OUTPUT_LINE_END.length);
}

/** Parse and check a record line. Throws with a readable reason on anything that is not a well-formed record. */
export function decodeRecord(line: string): RecordEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error("record is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("record is not an object");
  const keys = Object.keys(value);
  if (keys.join(",") !== "seq,ts,type,actor,data") throw new Error("record keys must be seq,ts,type,actor,data");
  const event = value as RecordEvent;
  if (encodeRecord(event) !== line) throw new Error("record is not in canonical form");
  return event;
}

/** Event types that are the MSP's internal words: a client contact reads them only as redacted lines. */
export const INTERNAL_EVENT_TYPES: ReadonlySet<string> = new Set(["note.added"]);

/**
 * A record line withheld from its reader: its seq and the SHA-256 (hex) of the exact line. The chain is built from
 * each line's digest (h_i = SHA-256(h_{i-1} || SHA-256(line_i))), so a reader verifies the whole chain with it.
 */
export function redactedLine(seq: number, lineSha256Hex: string): string {
  return `{"seq":${seq},"redacted":"${lineSha256Hex}"}`;
}

/** Who reads a record: staff read every line; a client contact reads internal lines redacted. */
export type RecordReader = "staff" | "contact";

/** What a reader of an export or a shared link is shown: notes and output each in full or as digests. */
export interface Disclosure {
  notes: boolean;
  output: boolean;
}

/** What a reader sees by default: a client contact never sees the MSP's internal notes. */
export function disclosureFor(reader: RecordReader): Disclosure {
  return { notes: reader === "staff", output: true };
}

/** A line as disclosed: withheld lines become their redacted form, so the chain still verifies. */
export function disclosedLine(
  disclosure: Disclosure,
  seq: number,
  type: string,
  line: string,
  sha256Hex: (text: string) => string,
): string {
  const withheld =
    (!disclosure.notes && INTERNAL_EVENT_TYPES.has(type)) || (!disclosure.output && type === "command.output");
  return withheld ? redactedLine(seq, sha256Hex(line)) : line;
}

/** A line as `reader` may read it. */
export function lineFor(
  reader: RecordReader,
  seq: number,
  type: string,
  line: string,
  sha256Hex: (text: string) => string,
): string {
  return disclosedLine(disclosureFor(reader), seq, type, line, sha256Hex);
}

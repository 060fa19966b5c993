// The outbox on disk: an append-only journal that every started/output/finished frame reaches (fsync'd) before it is
// sent, so that whatever happens to the network, the server or this process, the record can hold every byte a command
// wrote, exactly once and in order, or say precisely what was lost.
//
// Files. <data-dir>/outbox/segment-<12 digits>.journal, numbered upwards. Only the newest (active) segment is
// appended to; it rolls to a new one past `segmentBytes` (32 MiB), and every start of the runtime opens a new one (an
// old segment is never appended to after a crash). A segment other than the active one is deleted once every frame
// in it is acknowledged (and the records saying so are on disk).
//
// Record. One line per record:
//
//     <length: 8 lowercase hex> SP <crc32: 8 lowercase hex> SP <payload: JSON, `length` bytes of UTF-8> LF
//
// `crc32` is CRC-32 (ISO-HDLC, as zlib) of the payload bytes. The payload is JSON, or for an output frame JSON, LF and
// the frame's raw bytes (JSON never holds a raw LF, so the first LF ends it): output is nearly all a journal holds, and
// as base64 inside JSON it cost a third more disk and an encoding per byte. A journal written before raw output
// (output frames with base64 `data`) is read as ever. After a damaged record the reader resynchronises at the next LF
// (within raw output that may take a few tries, each refused by its header or checksum). Payloads:
//
//     {"k":"checkpoint","v":1,"seq":N,"commands":[CommandState…],"settled":[commandId…]}
//         first record of every segment: the state of every live command (phase, pid, acknowledged counts) and the
//         recently settled ids, as of the end of the previous segments; replaces whatever was read before it.
//     {"k":"starting","sessionId":…,"commandId":…}            fsync'd before the command is spawned
//     {"k":"frame","seq":N,"frame":{prestate|started|finished},"proc":…}   before it is sent (proc: started only)
//     {"k":"frame","seq":N,"frame":{"t":"output",…header, no data}} LF <bytes>   likewise, for output
//     {"k":"ack","commandId":…,"started":b,"stdout":n,"stderr":n,"finished":b}   what the server has committed
//     {"k":"settled","commandId":…}                            all acknowledged: the command leaves the state
//
// Durability. Records are batched: a batch is written and synced (O_DSYNC, see APPEND_FLAGS) once it holds `flushBytes`
// (1 MiB) or once its most urgent record is due, whichever comes first. `starting` and a finished frame are due at once
// (the spawn, and the technician, wait for them; after a finished frame nothing of its command follows to share the
// batch); output, prestate and checkpoints `flushDelayMs` (1 ms) after they came; a started frame STARTED_WAIT_MS after
// (a short command's output and finish come first and take it along: one synced write instead of two); an ack or
// settled record ACK_WAIT_MS after, or with whatever is written first (nothing is sent after it; losing it costs a
// resend). A frame's `durable` callback (which hands it to the socket) runs only after its batch's synced write
// returned. A write or sync error never retries on the same file (after a failed fsync the page cache cannot be
// trusted): the journal cuts the failed batch's partial write off the file, rolls to a new segment and writes the
// unsynced batches there again (frames are deduplicated by seq on reading), the new segment's checkpoint first, on its
// own.
//
// Disk space. A durable checkpoint stands for every record before it (it carries the state they built), so a segment
// whose frames are all acknowledged is deleted once the records saying so, or a later checkpoint, are on disk; after
// a failed write the lone checkpoint is what lets acknowledged segments go before the frames can be written again.
// The journal keeps to a byte budget (a quarter of the free space at open, at most 256 MiB; segments at most a
// quarter of it) and reports itself full (watchSpace) while it is over the budget with segments still waiting for
// acknowledgements, or while the disk answers ENOSPC: the outbox then pauses every command's output. A 64 KiB file,
// `reserve`, is given up when the disk is full so that the checkpoint always fits, and made again once there is room.
//
// Reading (on open). A record cut short at the end of a segment (the process or machine died while writing it), or
// trailing bytes with no valid record after them, is a torn tail: it is discarded, the segment truncated, and the log
// says so; such a frame was never sent. A bad record followed by good ones is damage: the log says where and how
// many bytes, and reading resumes at the next LF. Per command and stream, the high-water mark is the larger of what
// the server acknowledged and the end of the last journalled frame; it therefore never exceeds what is on disk.
//
// Memory. Unacknowledged frames are also kept in memory, which the backpressure window bounds (4 MiB per command);
// acknowledged output is never held. Reading a segment at start holds one segment (≤ 32 MiB + one record) at a time.

import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statfsSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import type { AckFrame, FinishedFrame } from "@caisey/core";
import {
  frameJson,
  MemoryOutboxStore,
  type OutboxEntry,
  type OutboxFrame,
  type OutboxStore,
  outputBytes,
  outputFrame,
  outputLength,
  RECENTLY_SETTLED,
  type RecoveredCommand,
} from "./outbox.ts";

export interface JournalOptions {
  log?: (line: string) => void;
  /** Roll to a new segment once the active one would grow past this. */
  segmentBytes?: number;
  /** Write and sync a batch once it holds this many bytes… */
  flushBytes?: number;
  /** …or this long after its first record. */
  flushDelayMs?: number;
  /** Platform, for the process identity read on Linux. */
  platform?: NodeJS.Platform;
  /** Bytes of disk the journal keeps to (see "Disk space"). Default: from the free space at open. */
  budgetBytes?: number;
  /**
   * Fault injection for tests: runs before each batch of `bytes` is written (and before the reserve file is made);
   * throwing fails that write; returning n < bytes writes the first n bytes, then fails with ENOSPC, as a full disk.
   */
  beforeWrite?: (file: string, bytes: number) => number | undefined;
}

export const JOURNAL_DEFAULTS = {
  segmentBytes: 32 * 1024 * 1024,
  flushBytes: 1024 * 1024,
  flushDelayMs: 1,
  maxBudgetBytes: 256 * 1024 * 1024,
  reserveBytes: 64 * 1024,
} as const;

/** How long a started frame may wait for more records of its (usually short) command to share its fdatasync. */
export const STARTED_WAIT_MS = 10;
/** How long an ack or settled record may wait for a batch to join: it only saves resending what the server holds. */
export const ACK_WAIT_MS = 50;

/** The file given up when the disk is full, so a checkpoint can still be written. */
export const RESERVE_FILE = "reserve";

/**
 * How a segment is opened for appending: with O_DSYNC where the platform has it (Linux, macOS), so a batch's write
 * returns once its data is on disk — one trip to libuv's thread pool and back per batch instead of two (the write,
 * then an fdatasync), and the spawn and the technician wait for two batches per command. Elsewhere (Windows) the write
 * is followed by an fdatasync, as the same guarantee.
 */
const SYNCED_WRITES = constants.O_DSYNC !== undefined;
const APPEND_FLAGS = SYNCED_WRITES
  ? constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC
  : "a";

const HEADER = 18; // "xxxxxxxx xxxxxxxx "
const SEGMENT_RE = /^segment-(\d{12})\.journal$/;
const PHASES = ["starting", "started", "finished"] as const;
type Phase = (typeof PHASES)[number];

interface Acked {
  started: boolean;
  stdout: number;
  stderr: number;
  finished: boolean;
}

/** What the journal knows of one live (not yet settled) command. */
interface CommandState {
  sessionId: string;
  commandId: string;
  phase: Phase;
  pid: number | null;
  proc: string | null;
  acked: Acked;
  /** Bytes journalled per stream (acknowledged or not). */
  hw: { stdout: number; stderr: number };
}

interface Segment {
  n: number;
  file: string;
  /** Bytes appended (or, for a read segment, its valid length). */
  size: number;
  /** Bytes known to be on disk (after the last successful batch): a failed batch is cut back to here. */
  synced: number;
  /** Unacknowledged frames in it. */
  pending: number;
  fh?: FileHandle;
  deleted?: boolean;
}

interface Batch {
  segment: Segment;
  /** Its records, each in one or more parts (an output record: its JSON, the frame's bytes, LF). */
  records: Buffer[][];
  bytes: number;
  /** Frames in it (to move their accounting if the batch is rewritten elsewhere). */
  seqs: number[];
  callbacks: (() => void)[];
  /** Record counter after its last record. */
  upTo: number;
  /** Counter of the checkpoint record it holds (its first), if any. */
  checkpoint?: number;
  /** Only the checkpoint of a segment made after a failed write. */
  lone?: boolean;
}

/** Where recovery found something amiss. */
export interface JournalDamage {
  segment: string;
  at: number;
  bytes: number;
  kind: "torn" | "damaged";
  why: string;
}

export interface JournalRecovery {
  segments: number;
  frames: number;
  damage: JournalDamage[];
}

type Payload =
  | { k: "checkpoint"; v: 1; seq: number; commands: CommandState[]; settled: string[] }
  | { k: "starting"; sessionId: string; commandId: string }
  | { k: "frame"; seq: number; frame: OutboxFrame; proc?: string | null }
  | ({ k: "ack"; commandId: string } & Acked)
  | { k: "settled"; commandId: string };

export function encodeRecord(payload: unknown): Buffer {
  return encodeJsonRecord(JSON.stringify(payload));
}

/** A record from its payload's JSON text, written straight into the record's buffer (no intermediate copy). */
export function encodeJsonRecord(json: string): Buffer {
  const length = Buffer.byteLength(json, "utf8");
  const out = Buffer.allocUnsafe(HEADER + length + 1);
  out.write(json, HEADER, "utf8");
  out.write(`${hex8(length)} ${hex8(crc32(out.subarray(HEADER, HEADER + length)))} `, 0, "latin1");
  out[out.length - 1] = 0x0a;
  return out;
}

/**
 * A frame record: its JSON (reusing the frame's wire JSON), and for output the raw bytes after an LF. An output record
 * is three parts, the frame's own bytes in the middle (written with writev, never copied into the record).
 */
function encodeFrameRecord(seq: number, frame: OutboxFrame, proc: string | null | undefined): Buffer[] {
  if (frame.t !== "output") {
    const tail = proc === undefined ? "}" : `,"proc":${JSON.stringify(proc)}}`;
    return [encodeJsonRecord(`{"k":"frame","seq":${JSON.stringify(seq)},"frame":${frameJson(frame)}${tail}`)];
  }
  const { sessionId, commandId, stream, offset } = frame;
  const json = JSON.stringify({ k: "frame", seq, frame: { t: "output", sessionId, commandId, stream, offset } });
  const bytes = outputBytes(frame);
  const jsonLength = Buffer.byteLength(json, "utf8");
  const head = Buffer.allocUnsafe(HEADER + jsonLength + 1);
  head.write(json, HEADER, "utf8");
  head[HEADER + jsonLength] = 0x0a;
  const crc = crc32(bytes, crc32(head.subarray(HEADER)));
  head.write(`${hex8(jsonLength + 1 + bytes.length)} ${hex8(crc)} `, 0, "latin1");
  return [head, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), LF];
}

const LF = Buffer.from("\n");

function partsLength(parts: readonly Buffer[]): number {
  let length = 0;
  for (const part of parts) length += part.length;
  return length;
}

/**
 * A batch's records as the buffers of one writev: output bytes as they are, the small parts between them joined (a
 * batch of small records would otherwise be thousands of buffers).
 */
function writeBuffers(records: readonly Buffer[][]): Buffer[] {
  const out: Buffer[] = [];
  let small: Buffer[] = [];
  const join = () => {
    if (small.length > 0) out.push(small.length === 1 ? (small[0] as Buffer) : Buffer.concat(small));
    small = [];
  };
  for (const parts of records) {
    for (const part of parts) {
      if (part.length < 16 * 1024) small.push(part);
      else {
        join();
        out.push(part);
      }
    }
  }
  join();
  return out;
}

/** The first `bytes` bytes of `buffers`. */
function firstBytes(buffers: Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, rest = bytes; rest > 0 && at < buffers.length; at++) {
    const buffer = buffers[at] as Buffer;
    out.push(buffer.length <= rest ? buffer : buffer.subarray(0, rest));
    rest -= buffer.length;
  }
  return out;
}

/** What is left of `buffers` after their first `bytes` bytes. */
function dropBytes(buffers: Buffer[], bytes: number): Buffer[] {
  let rest = bytes;
  let at = 0;
  while (at < buffers.length && rest >= (buffers[at] as Buffer).length) rest -= (buffers[at++] as Buffer).length;
  const left = buffers.slice(at);
  if (rest > 0 && left.length > 0) left[0] = (left[0] as Buffer).subarray(rest);
  return left;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

type Parsed = { ok: true; payload: Payload; end: number } | { ok: false; why: string };

/** Parse the record at `at`. */
function parseRecord(buf: Buffer, at: number): Parsed {
  if (buf.length - at < HEADER + 1) return { ok: false, why: "record cut short" };
  const header = buf.toString("latin1", at, at + HEADER);
  if (!/^[0-9a-f]{8} [0-9a-f]{8} $/.test(header)) return { ok: false, why: "bad record header" };
  const length = Number.parseInt(header.slice(0, 8), 16);
  const end = at + HEADER + length + 1;
  if (end > buf.length) return { ok: false, why: "record cut short" };
  if (buf[end - 1] !== 0x0a) return { ok: false, why: "record not terminated" };
  if (crc32(buf.subarray(at + HEADER, end - 1)) !== Number.parseInt(header.slice(9, 17), 16)) {
    return { ok: false, why: "checksum mismatch" };
  }
  // An LF before the record's own ends the JSON of an output frame; its raw bytes follow.
  const lf = buf.indexOf(0x0a, at + HEADER);
  const raw = lf < end - 1 ? buf.subarray(lf + 1, end - 1) : null;
  let payload: Payload;
  try {
    payload = JSON.parse(buf.toString("utf8", at + HEADER, raw ? lf : end - 1));
  } catch {
    return { ok: false, why: "payload is not JSON" };
  }
  if (typeof payload !== "object" || payload === null || typeof (payload as { k?: unknown }).k !== "string") {
    return { ok: false, why: "payload of unknown kind" };
  }
  if (raw) {
    if (payload.k !== "frame" || payload.frame?.t !== "output" || raw.length === 0) {
      return { ok: false, why: "raw bytes after a payload that is not output" };
    }
    payload.frame = outputFrame(payload.frame, raw);
  }
  return { ok: true, payload, end };
}

/** Frames as found on disk, before we know which are still unacknowledged. */
interface FrameRef {
  seq: number;
  segment: Segment;
  at: number;
  end: number;
  commandId: string;
  t: OutboxFrame["t"];
  stream?: "stdout" | "stderr";
  offset?: number;
  bytes: number;
}

export class Journal implements OutboxStore {
  readonly dir: string;
  readonly recovery: JournalRecovery;
  readonly #log: (line: string) => void;
  readonly #segmentBytes: number;
  readonly #flushBytes: number;
  readonly #flushDelayMs: number;
  /** How long a started frame, and an ack or settled record, may wait for its batch (never less than flushDelayMs). */
  readonly #startedWaitMs: number;
  readonly #ackWaitMs: number;
  readonly #platform: NodeJS.Platform;
  readonly #beforeWrite: (file: string, bytes: number) => number | undefined;
  readonly #budget: number;
  readonly #memory = new MemoryOutboxStore();
  readonly #commands = new Map<string, CommandState>();
  readonly #recent = new Set<string>();
  readonly #segments = new Map<number, Segment>();
  /** Segment of each unacknowledged frame. */
  readonly #segmentOf = new Map<number, Segment>();
  readonly #unfinished: RecoveredCommand[];
  #active: Segment;
  #lastSeq = 0;
  #batch: Batch | null = null;
  readonly #queue: Batch[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** When #timer fires (performance.now()). */
  #timerAt = Number.POSITIVE_INFINITY;
  #draining: Promise<void> | null = null;
  /** Records appended, and records durable (a counter, in append order). */
  #appended = 0;
  #durable = 0;
  /** Counter of the newest durable checkpoint: the state of every record before it is on disk. */
  #checkpointed = 0;
  /** The disk answered ENOSPC, and no batch has been written since. */
  #diskFull = false;
  /** Whether the journal reports itself full (see "Disk space"). */
  #full = false;
  #onSpace: (full: boolean) => void = () => {};
  #reserved = false;
  /** Wakes the writer from its wait after a failure (an acknowledgement freed a segment). */
  #wake: (() => void) | null = null;
  /** Segments to delete once the records up to `after` are durable. */
  #toDelete: { segment: Segment; after: number }[] = [];
  /** Segment deletions under way (flush and close wait for them). */
  readonly #deleting = new Set<Promise<void>>();
  #closed = false;
  #failures = 0;

  /** Open (creating if needed) the journal in `dir`, reading back whatever an earlier run left. */
  static async open(dir: string, options: JournalOptions = {}): Promise<Journal> {
    const journal = new Journal(dir, options);
    await journal.flush();
    return journal;
  }

  private constructor(dir: string, options: JournalOptions) {
    this.dir = dir;
    this.#log = options.log ?? (() => {});
    this.#segmentBytes = options.segmentBytes ?? JOURNAL_DEFAULTS.segmentBytes;
    this.#flushBytes = options.flushBytes ?? JOURNAL_DEFAULTS.flushBytes;
    this.#flushDelayMs = options.flushDelayMs ?? JOURNAL_DEFAULTS.flushDelayMs;
    this.#startedWaitMs = Math.max(this.#flushDelayMs, STARTED_WAIT_MS);
    this.#ackWaitMs = Math.max(this.#flushDelayMs, ACK_WAIT_MS);
    this.#platform = options.platform ?? process.platform;
    this.#beforeWrite = options.beforeWrite ?? (() => undefined);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { recovery, lastSegment } = this.#read();
    this.recovery = recovery;
    this.#makeReserve();
    this.#budget = options.budgetBytes ?? defaultBudget(dir, this.#bytes());
    // Small segments on a small disk: only whole segments are ever freed.
    this.#segmentBytes = Math.min(this.#segmentBytes, Math.max(16 * 1024, Math.floor(this.#budget / 4)));
    this.#unfinished = [];
    for (const state of this.#commands.values()) {
      if (state.phase !== "finished") {
        this.#unfinished.push({
          sessionId: state.sessionId,
          commandId: state.commandId,
          phase: state.phase,
          pid: state.pid,
          proc: state.proc,
          stdoutBytes: state.hw.stdout,
          stderrBytes: state.hw.stderr,
        });
      }
    }
    this.#active = this.#newSegment(lastSegment + 1);
    this.#writeCheckpoint();
    // A finished command whose finish the server already holds, with nothing left to send: settled.
    for (const state of [...this.#commands.values()]) {
      if (state.acked.finished && !this.#hasPending(state.commandId)) this.settled(state.commandId);
    }
    for (const segment of this.#segments.values()) {
      if (segment !== this.#active && segment.pending === 0) this.#deleteLater(segment);
    }
    this.#kick();
  }

  // ---- OutboxStore

  append(entry: OutboxEntry, durable?: () => void): void {
    const frame = entry.frame;
    const proc = frame.t === "started" ? processIdentity(frame.pid, this.#platform) : undefined;
    // Written first, state updated after: a checkpoint opening a new segment for this record describes what precedes it.
    const within = frame.t === "finished" ? 0 : frame.t === "started" ? this.#startedWaitMs : this.#flushDelayMs;
    const segment = this.#write(encodeFrameRecord(entry.seq, frame, proc), "frame", durable, entry.seq, within);
    segment.pending++;
    this.#segmentOf.set(entry.seq, segment);
    this.#memory.append(entry);
    this.#lastSeq = Math.max(this.#lastSeq, entry.seq);
    const state = this.#state(frame.sessionId, frame.commandId);
    if (frame.t === "started") {
      state.phase = "started";
      state.pid = frame.pid;
      state.proc = proc ?? null;
    } else if (frame.t === "finished") {
      state.phase = "finished";
    } else if (frame.t === "output") {
      state.hw[frame.stream] = Math.max(state.hw[frame.stream], frame.offset + entry.bytes);
    }
  }

  remove(seqs: ReadonlySet<number>, ack?: AckFrame): void {
    if (ack) {
      const state = this.#commands.get(ack.commandId);
      if (state) {
        const a = state.acked;
        const next: Acked = {
          started: a.started || ack.started,
          stdout: Math.max(a.stdout, ack.stdout),
          stderr: Math.max(a.stderr, ack.stderr),
          finished: a.finished || ack.finished,
        };
        if (
          next.started !== a.started ||
          next.stdout !== a.stdout ||
          next.stderr !== a.stderr ||
          next.finished !== a.finished
        ) {
          state.acked = next;
          for (const stream of ["stdout", "stderr"] as const)
            state.hw[stream] = Math.max(state.hw[stream], next[stream]);
          this.#write(
            encodeRecord({ k: "ack", commandId: ack.commandId, ...next }),
            "ack",
            undefined,
            undefined,
            this.#ackWaitMs,
          );
        }
      }
    }
    this.#memory.remove(seqs);
    for (const seq of seqs) {
      const segment = this.#segmentOf.get(seq);
      if (!segment) continue;
      this.#segmentOf.delete(seq);
      segment.pending--;
      if (segment.pending === 0 && segment !== this.#active) this.#deleteLater(segment);
    }
    if (this.#diskFull && this.#toDelete.length > 0) this.#wake?.();
  }

  entries(): Iterable<OutboxEntry> {
    return this.#memory.entries();
  }

  watchSpace(listener: (full: boolean) => void): void {
    this.#onSpace = listener;
  }

  /** Whether the journal is full right now (see "Disk space"). */
  get full(): boolean {
    return this.#full;
  }

  /** The byte budget it keeps to. */
  get budgetBytes(): number {
    return this.#budget;
  }

  entriesFor(commandId: string): Iterable<OutboxEntry> {
    return this.#memory.entriesFor(commandId);
  }

  starting(sessionId: string, commandId: string): Promise<void> {
    const state = this.#state(sessionId, commandId);
    if (state.phase !== "starting") throw new Error(`${commandId} is already ${state.phase}`);
    return new Promise<void>((resolve) => {
      this.#write(encodeRecord({ k: "starting", sessionId, commandId }), "starting", resolve);
      this.#kick(); // one record per command, and the spawn waits for it: no point batching
    });
  }

  settled(commandId: string): void {
    if (!this.#commands.delete(commandId)) return;
    // The entries' store tracks each command it was given as live until told it settled: without this it kept every
    // command id the runtime ever ran (a set growing by one per command, in a process that forks per command).
    this.#memory.settled(commandId);
    this.#remember(commandId);
    this.#write(encodeRecord({ k: "settled", commandId }), "settled", undefined, undefined, this.#ackWaitMs);
  }

  knows(commandId: string): boolean {
    return this.#commands.has(commandId) || this.#recent.has(commandId);
  }

  unfinished(): RecoveredCommand[] {
    return this.#unfinished.map((c) => ({ ...c }));
  }

  /** Resolves once everything appended so far is on disk. */
  async flush(): Promise<void> {
    const target = this.#appended;
    while (this.#durable < target) {
      this.#kick();
      await this.#draining;
    }
    await Promise.all(this.#deleting);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const segment of this.#segments.values()) {
      await segment.fh?.close().catch(() => {});
      segment.fh = undefined;
    }
  }

  // ---- introspection (tests, diagnostics)

  /** Segment files currently on disk. */
  segmentFiles(): string[] {
    return readdirSync(this.dir)
      .filter((name) => SEGMENT_RE.test(name))
      .sort();
  }

  /** Commands its in-memory entries are held for as live (diagnostics, tests): none once every command settled. */
  liveCommands(): number {
    return this.#memory.liveCommands();
  }

  /** Bytes journalled per stream for a live command (acknowledged or not). */
  highWater(commandId: string): { stdout: number; stderr: number } | null {
    const state = this.#commands.get(commandId);
    return state ? { ...state.hw } : null;
  }

  // ---- writing

  #state(sessionId: string, commandId: string): CommandState {
    let state = this.#commands.get(commandId);
    if (!state) {
      state = {
        sessionId,
        commandId,
        phase: "starting",
        pid: null,
        proc: null,
        acked: { started: false, stdout: 0, stderr: 0, finished: false },
        hw: { stdout: 0, stderr: 0 },
      };
      this.#commands.set(commandId, state);
    }
    return state;
  }

  #remember(commandId: string): void {
    this.#recent.delete(commandId);
    this.#recent.add(commandId);
    if (this.#recent.size > RECENTLY_SETTLED) {
      const oldest = this.#recent.values().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }

  /** Append a record (whole, or in pieces written in order) to the active segment's current batch, to be on disk within `within` ms; returns its segment. */
  #write(
    record: Buffer | Buffer[],
    kind: Payload["k"],
    durable?: () => void,
    seq?: number,
    within = this.#flushDelayMs,
  ): Segment {
    if (this.#closed) {
      this.#log(`outbox journal: a ${kind} record arrived after the journal was closed; not written`);
      return this.#active;
    }
    const parts = Array.isArray(record) ? record : [record];
    if (this.#active.size > 0 && this.#active.size + partsLength(parts) > this.#segmentBytes) this.#roll();
    this.#add(parts, durable, seq, false, within);
    return this.#active;
  }

  #add(record: Buffer[], durable?: () => void, seq?: number, checkpoint = false, within = this.#flushDelayMs): void {
    let batch = this.#batch;
    if (!batch || batch.segment !== this.#active) {
      if (batch) this.#queue.push(batch);
      batch = { segment: this.#active, records: [], bytes: 0, seqs: [], callbacks: [], upTo: 0 };
      this.#batch = batch;
    }
    const length = partsLength(record);
    batch.records.push(record);
    batch.bytes += length;
    if (seq !== undefined) batch.seqs.push(seq);
    if (durable) batch.callbacks.push(durable);
    batch.upTo = ++this.#appended;
    if (checkpoint) batch.checkpoint = batch.upTo;
    this.#active.size += length;
    this.#checkSpace();
    if (batch.bytes >= this.#flushBytes || within <= 0) this.#kick();
    else this.#due(within);
  }

  /** Make sure the current batch is written within `ms`: sooner than its timer says, if need be. */
  #due(ms: number): void {
    const at = performance.now() + ms;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#kick(), ms);
  }

  #newSegment(n: number): Segment {
    const segment: Segment = { n, file: path.join(this.dir, segmentName(n)), size: 0, synced: 0, pending: 0 };
    this.#segments.set(n, segment);
    return segment;
  }

  #writeCheckpoint(): void {
    this.#add(
      [
        encodeRecord({
          k: "checkpoint",
          v: 1,
          seq: this.#lastSeq,
          commands: [...this.#commands.values()].map(({ hw: _, ...rest }) => rest),
          settled: [...this.#recent],
        }),
      ],
      undefined,
      undefined,
      true,
    );
  }

  /** Start a new segment, whose first record is the state so far. */
  #roll(): Segment {
    const previous = this.#active;
    this.#active = this.#newSegment(previous.n + 1);
    this.#writeCheckpoint();
    if (previous.pending === 0) this.#deleteLater(previous);
    return previous;
  }

  #deleteLater(segment: Segment): void {
    if (segment.deleted || this.#toDelete.some((d) => d.segment === segment)) return;
    this.#toDelete.push({ segment, after: this.#appended });
  }

  /** Close the current batch and make sure the writer runs. */
  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#batch) {
      this.#queue.push(this.#batch);
      this.#batch = null;
    }
    if (!this.#draining && this.#queue.length > 0) {
      this.#draining = this.#drain().finally(() => {
        this.#draining = null;
        if (this.#queue.length > 0) this.#kick();
      });
    }
  }

  async #drain(): Promise<void> {
    for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
      try {
        await this.#writeBatch(batch);
        if (!batch.lone) this.#failures = 0;
      } catch (error) {
        this.#failures++;
        const code = (error as NodeJS.ErrnoException).code;
        const noSpace = code === "ENOSPC" || code === "EDQUOT";
        const segment = batch.segment;
        // Cut the partial write off: the file ends with its last whole batch, and the space is free again.
        await segment.fh?.truncate(segment.synced).catch(() => {});
        await segment.fh?.close().catch(() => {});
        segment.fh = undefined;
        segment.size = segment.synced;
        // Said once per full disk, not at every retry (it may stay full for as long as the server is unreachable).
        const quiet = noSpace && this.#diskFull;
        if (noSpace) {
          this.#diskFull = true;
          this.#releaseReserve();
        }
        this.#checkSpace();
        // A full disk frees up as acknowledgements arrive (remove() wakes the writer), so it is retried sooner.
        const wait = Math.min(noSpace ? 1000 : 30_000, 100 * 2 ** Math.min(this.#failures, 9));
        if (!quiet) {
          this.#log(
            `outbox journal: writing ${path.basename(segment.file)} failed (${(error as Error).message}); ` +
              `nothing is sent until it is on disk; retrying in a new segment in ${wait}ms` +
              (noSpace ? "; output is paused until acknowledged segments free the space" : ""),
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = null;
        // After the wait, so the new checkpoint carries the acknowledgements that came meanwhile.
        this.#rewriteElsewhere(batch);
        continue;
      }
      this.#durable = Math.max(this.#durable, batch.upTo);
      if (batch.checkpoint !== undefined) this.#checkpointed = Math.max(this.#checkpointed, batch.checkpoint);
      if (this.#diskFull && !batch.lone && this.#queue.length === 0) {
        this.#diskFull = false; // everything that waited for the disk is on it: there is room again
        this.#log("outbox journal: the disk has room again");
        this.#checkSpace();
      }
      for (const callback of batch.callbacks) callback();
      this.#deleteDue();
    }
  }

  async #writeBatch(batch: Batch): Promise<void> {
    const segment = batch.segment;
    const room = this.#beforeWrite(segment.file, batch.bytes);
    if (!segment.fh) {
      for (const other of this.#segments.values()) {
        if (other !== segment && other.fh) {
          await other.fh.close().catch(() => {});
          other.fh = undefined;
        }
      }
      segment.fh = await open(segment.file, APPEND_FLAGS, 0o600);
      syncDirectory(this.dir);
    }
    const end = room === undefined ? batch.bytes : Math.min(room, batch.bytes);
    let left = firstBytes(writeBuffers(batch.records), end);
    while (left.length > 0) {
      const { bytesWritten } = await segment.fh.writev(left);
      left = dropBytes(left, bytesWritten);
    }
    if (end < batch.bytes) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    if (!SYNCED_WRITES) await segment.fh.datasync();
    segment.synced += batch.bytes;
  }

  /** A batch could not be made durable where it was: write it (and everything after it) to a fresh segment. */
  #rewriteElsewhere(failed: Batch): void {
    const later = [failed, ...this.#queue.splice(0)];
    if (this.#batch) later.push(this.#batch);
    this.#batch = null;
    const fresh = this.#newSegment(Math.max(...this.#segments.keys()) + 1);
    this.#active = fresh;
    this.#writeCheckpoint(); // opens this.#batch for the fresh segment
    const head = this.#batch as Batch | null;
    this.#batch = null;
    // The checkpoint alone first: small enough to fit where the frames did not, and once it is on disk the
    // acknowledged segments can go. It makes no earlier record durable (upTo stays).
    const checkpoint: Batch = {
      segment: fresh,
      records: head?.records ?? [],
      bytes: head?.bytes ?? 0,
      seqs: [],
      callbacks: [],
      upTo: this.#durable,
      checkpoint: head?.checkpoint,
      lone: true,
    };
    // Then every record on its own (a batch may be larger than the room a full disk has left, even than the whole
    // disk), without the checkpoints the batches began with: an older state must not follow the fresh one.
    const moved: Batch[] = [];
    for (const batch of later) {
      if (batch.segment !== fresh) batch.segment.size = batch.segment.synced;
      for (const seq of batch.seqs) {
        const from = this.#segmentOf.get(seq);
        if (!from) continue;
        from.pending--;
        fresh.pending++;
        this.#segmentOf.set(seq, fresh);
      }
      if (batch.segment !== fresh && batch.segment.pending === 0) this.#deleteLater(batch.segment);
      const records = batch.records.slice(batch.checkpoint === undefined ? 0 : 1);
      if (records.length === 0 && batch.callbacks.length === 0) continue;
      const pieces = records.length === 0 ? [[]] : records;
      pieces.forEach((record, i) => {
        // The batch's frames count as durable (and are sent) once its last record is.
        const last = i === pieces.length - 1;
        moved.push({
          segment: fresh,
          records: [record],
          bytes: partsLength(record),
          seqs: last ? batch.seqs : [],
          callbacks: last ? batch.callbacks : [],
          upTo: last ? batch.upTo : 0,
        });
      });
    }
    // The checkpoint is the newest record counted, so once the last batch is durable, everything appended is.
    const last = moved.at(-1);
    if (last) last.upTo = this.#appended;
    else checkpoint.upTo = this.#appended;
    fresh.size = checkpoint.bytes + moved.reduce((sum, b) => sum + b.bytes, 0);
    this.#queue.unshift(checkpoint, ...moved);
  }

  #deleteDue(): void {
    const onDisk = Math.max(this.#durable, this.#checkpointed);
    const due = this.#toDelete.filter((d) => d.after <= onDisk && d.segment !== this.#active && !d.segment.fh);
    if (due.length === 0) return;
    this.#toDelete = this.#toDelete.filter((d) => !due.includes(d));
    for (const { segment } of due) {
      if (segment.pending > 0) continue; // (re)filled meanwhile: cannot happen for a non-active segment, but be sure
      // Off the event loop: unlinking a full 32 MiB segment took ~50 ms here, a stall in the middle of streaming.
      segment.deleted = true;
      const deleting = unlink(segment.file)
        .then(
          () => {
            this.#segments.delete(segment.n);
            this.#freed();
          },
          (error: NodeJS.ErrnoException) => {
            if (error.code === "ENOENT") {
              this.#segments.delete(segment.n);
              this.#freed();
              return;
            }
            segment.deleted = false; // still on disk: it stays a segment of the journal
            this.#log(`outbox journal: could not delete ${segment.file}: ${error.message}`);
          },
        )
        .finally(() => this.#deleting.delete(deleting));
      this.#deleting.add(deleting);
    }
  }

  // ---- disk space

  /** Bytes the journal's segments take (or will, once their batches are written). */
  #bytes(): number {
    let bytes = 0;
    for (const segment of this.#segments.values()) if (!segment.deleted) bytes += segment.size;
    return bytes;
  }

  /** Full while the disk refuses writes, or while over budget with segments that acknowledgements will free. */
  #checkSpace(): void {
    let waiting = false;
    for (const segment of this.#segments.values()) if (segment !== this.#active && !segment.deleted) waiting = true;
    const bytes = this.#bytes();
    const over = this.#full ? bytes > (this.#budget * 3) / 4 : bytes > this.#budget;
    const full = this.#diskFull || (waiting && over);
    if (full === this.#full) return;
    this.#full = full;
    this.#onSpace(full);
  }

  #freed(): void {
    this.#checkSpace();
    if (!this.#reserved && !this.#diskFull) this.#makeReserve();
  }

  /** Keep `reserve` on disk (best effort: on a full disk there is none until space is freed). */
  #makeReserve(): void {
    if (this.#reserved || this.#closed) return;
    const file = path.join(this.dir, RESERVE_FILE);
    try {
      const size = JOURNAL_DEFAULTS.reserveBytes;
      const room = this.#beforeWrite(file, size);
      if (room !== undefined && room < size) throw Object.assign(new Error("ENOSPC"), { code: "ENOSPC" });
      writeFileSync(file, Buffer.alloc(size), { mode: 0o600 });
      this.#reserved = true;
    } catch {
      try {
        unlinkSync(file);
      } catch {}
    }
  }

  #releaseReserve(): void {
    if (!this.#reserved) return;
    try {
      unlinkSync(path.join(this.dir, RESERVE_FILE));
      this.#log(`outbox journal: the disk is full; gave up the ${JOURNAL_DEFAULTS.reserveBytes}-byte reserve`);
    } catch {}
    this.#reserved = false;
  }

  #hasPending(commandId: string): boolean {
    for (const _ of this.#memory.entriesFor(commandId)) return true;
    return false;
  }

  // ---- reading

  #read(): { recovery: JournalRecovery; lastSegment: number } {
    const names = readdirSync(this.dir)
      .map((name) => SEGMENT_RE.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const damage: JournalDamage[] = [];
    const refs = new Map<number, FrameRef>();
    for (const n of names) {
      const segment = this.#newSegment(n);
      const buf = readFileSync(segment.file);
      let at = 0;
      let bad: { at: number; why: string } | null = null;
      const report = (kind: JournalDamage["kind"], end: number) => {
        if (!bad) return;
        damage.push({ segment: segmentName(n), at: bad.at, bytes: end - bad.at, kind, why: bad.why });
        bad = null;
      };
      while (at < buf.length) {
        const parsed = parseRecord(buf, at);
        if (parsed.ok) {
          report("damaged", at);
          this.#replay(parsed.payload, segment, at, parsed.end, refs);
          at = parsed.end;
          continue;
        }
        bad ??= { at, why: parsed.why };
        const lf = buf.indexOf(0x0a, at);
        at = lf === -1 ? buf.length : lf + 1;
      }
      if (bad) {
        const start = (bad as { at: number }).at;
        report("torn", buf.length);
        truncateSync(segment.file, start);
        segment.size = start;
      } else {
        segment.size = buf.length;
      }
    }
    for (const d of damage) {
      if (d.kind === "torn") {
        this.#log(
          `outbox journal: discarded a torn record at the end of ${d.segment} (${d.bytes} bytes at byte ${d.at}, ${d.why}): ` +
            "the runtime stopped while writing it, so it was never sent",
        );
      } else {
        this.#log(
          `outbox journal: ${d.segment} is damaged at byte ${d.at} (${d.why}): ${d.bytes} bytes skipped; ` +
            "a frame in them is lost",
        );
      }
    }

    // Which frames are still unacknowledged: load those (and only those) back.
    let frames = 0;
    const open = new Map<number, number>();
    const fdOf = (segment: Segment) => {
      let fd = open.get(segment.n);
      if (fd === undefined) {
        fd = openSync(segment.file, "r");
        open.set(segment.n, fd);
      }
      return fd;
    };
    const ordered = [...refs.values()].sort((a, b) => a.seq - b.seq);
    try {
      for (const ref of ordered) {
        const state = this.#commands.get(ref.commandId);
        if (!state) continue; // settled
        if (ref.t === "output" && ref.stream !== undefined && ref.offset !== undefined) {
          state.hw[ref.stream] = Math.max(state.hw[ref.stream], ref.offset + ref.bytes);
        }
        const acked =
          ref.t === "started"
            ? state.acked.started
            : ref.t === "finished"
              ? state.acked.finished
              : ref.t === "prestate"
                ? state.acked.started || state.acked.finished
                : (ref.offset ?? 0) + ref.bytes <= state.acked[ref.stream ?? "stdout"];
        if (acked) continue;
        const buf = Buffer.allocUnsafe(ref.end - ref.at);
        readSync(fdOf(ref.segment), buf, 0, buf.length, ref.at);
        const parsed = parseRecord(buf, 0);
        if (!parsed.ok || parsed.payload.k !== "frame") throw new Error(`journal changed while reading: ${ref.seq}`);
        this.#memory.append({ seq: ref.seq, frame: parsed.payload.frame, bytes: ref.bytes, durable: true });
        ref.segment.pending++;
        this.#segmentOf.set(ref.seq, ref.segment);
        frames++;
      }
    } finally {
      for (const fd of open.values()) closeSync(fd);
    }
    for (const state of this.#commands.values()) {
      for (const stream of ["stdout", "stderr"] as const) {
        state.hw[stream] = Math.max(state.hw[stream], state.acked[stream]);
      }
    }
    this.#checkContiguous();
    if (names.length > 0) {
      this.#log(
        `outbox journal: read ${names.length} segment(s), ${frames} unacknowledged frame(s), ` +
          `${this.#commands.size} live command(s)`,
      );
    }
    return { recovery: { segments: names.length, frames, damage }, lastSegment: names.at(-1) ?? 0 };
  }

  #replay(payload: Payload, segment: Segment, at: number, end: number, refs: Map<number, FrameRef>): void {
    switch (payload.k) {
      case "checkpoint": {
        this.#commands.clear();
        for (const c of payload.commands) this.#commands.set(c.commandId, { ...c, hw: { stdout: 0, stderr: 0 } });
        this.#recent.clear();
        for (const id of payload.settled) this.#recent.add(id);
        this.#lastSeq = Math.max(this.#lastSeq, payload.seq);
        break;
      }
      case "starting":
        this.#state(payload.sessionId, payload.commandId);
        break;
      case "frame": {
        const frame = payload.frame;
        this.#lastSeq = Math.max(this.#lastSeq, payload.seq);
        const state = this.#state(frame.sessionId, frame.commandId);
        const rank = PHASES.indexOf(frame.t === "output" || frame.t === "prestate" ? "starting" : frame.t);
        if (rank > PHASES.indexOf(state.phase)) state.phase = PHASES[rank] as Phase;
        if (frame.t === "started") {
          state.pid = frame.pid;
          state.proc = payload.proc ?? null;
        }
        if (refs.has(payload.seq)) break; // written twice (a batch rewritten after an I/O error): first copy wins
        const bytes = frame.t === "output" ? outputLength(frame) : 0;
        refs.set(payload.seq, {
          seq: payload.seq,
          segment,
          at,
          end,
          commandId: frame.commandId,
          t: frame.t,
          stream: frame.t === "output" ? frame.stream : undefined,
          offset: frame.t === "output" ? frame.offset : undefined,
          bytes,
        });
        break;
      }
      case "ack": {
        const state = this.#commands.get(payload.commandId);
        if (!state) break;
        const a = state.acked;
        state.acked = {
          started: a.started || payload.started,
          stdout: Math.max(a.stdout, payload.stdout),
          stderr: Math.max(a.stderr, payload.stderr),
          finished: a.finished || payload.finished,
        };
        break;
      }
      case "settled":
        this.#commands.delete(payload.commandId);
        this.#remember(payload.commandId);
        break;
    }
  }

  /** Unacknowledged output must continue where the acknowledged part ends, without gaps; say so if not. */
  #checkContiguous(): void {
    const next = new Map<string, number>();
    for (const entry of this.#memory.entries()) {
      const frame = entry.frame;
      if (frame.t !== "output") continue;
      const key = `${frame.commandId}\0${frame.stream}`;
      const expected = next.get(key) ?? this.#commands.get(frame.commandId)?.acked[frame.stream] ?? 0;
      if (frame.offset > expected) {
        this.#log(
          `outbox journal: ${frame.commandId} ${frame.stream} bytes ${expected}–${frame.offset} are missing from the journal`,
        );
      }
      next.set(key, Math.max(expected, frame.offset + entry.bytes));
    }
  }
}

/** A quarter of what the journal could have (free space plus what it already holds), at most maxBudgetBytes. */
function defaultBudget(dir: string, holds: number): number {
  try {
    const { bavail, bsize } = statfsSync(dir);
    return Math.min(JOURNAL_DEFAULTS.maxBudgetBytes, Math.floor((bavail * bsize + holds) / 4));
  } catch {
    return JOURNAL_DEFAULTS.maxBudgetBytes;
  }
}

function segmentName(n: number): string {
  return `segment-${String(n).padStart(12, "0")}.journal`;
}

function syncDirectory(dir: string): void {
  if (process.platform === "win32") return; // directories cannot be opened for fsync there
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // best effort: some filesystems refuse fsync on a directory
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// ---- after a crash

export const LOST_COMMAND_REASON = "the runtime lost this command (restarted without a record of it)";

export function interruptedReason(command: RecoveredCommand): string {
  return command.phase === "started"
    ? `the runtime stopped while this command was running (pid ${command.pid}); output up to that point is kept`
    : "the runtime stopped while starting this command; it may not have run";
}

/** The finish reported for a command the runtime was running when it died. */
export function interruptedFinish(command: RecoveredCommand): FinishedFrame {
  return {
    t: "finished",
    sessionId: command.sessionId,
    commandId: command.commandId,
    state: "interrupted",
    exitCode: null,
    signal: null,
    reason: interruptedReason(command),
    stdoutBytes: command.stdoutBytes,
    stderrBytes: command.stderrBytes,
    stdoutSha256: null,
    stderrSha256: null,
    durationMs: 0,
  };
}

let bootId: string | undefined;

/**
 * Linux: "<boot id>:<start time in clock ticks>" of a process, which tells it apart from a later process that reuses
 * its pid. Null elsewhere or when unreadable.
 */
export function processIdentity(pid: number, platform: NodeJS.Platform = process.platform): string | null {
  if (platform !== "linux") return null;
  try {
    // The same until the machine reboots, which this process does not outlive: read once, not per command.
    bootId ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const boot = bootId;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return start ? `${boot}:${start}` : null;
  } catch {
    return null;
  }
}

/**
 * A command whose runtime died keeps running in its own process group. Kill that group, but only when its leader is
 * verifiably the same process (same boot, same start time); never a stranger that reused the pid.
 */
export function stopOrphan(
  command: RecoveredCommand,
  log: (line: string) => void,
  platform: NodeJS.Platform = process.platform,
): boolean {
  if (command.pid === null || command.proc === null || platform === "win32") return false;
  if (processIdentity(command.pid, platform) !== command.proc) return false;
  try {
    process.kill(-command.pid, "SIGKILL");
    log(`${command.commandId}: killed process group ${command.pid} left running by the previous runtime`);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
      log(`${command.commandId}: could not kill process group ${command.pid}: ${(error as Error).message}`);
    }
    return false;
  }
}

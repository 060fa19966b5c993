// The outbox: every started/output/finished frame stays here until an ack from the server says the Session object has
// committed it, and is resent, in original order, after every (re)connect.
//
// Storage sits behind OutboxStore. `run` uses the disk journal (journal.ts): a frame is handed to the socket only once
// the journal has fsync'd it, so the server never holds a byte the journal could lose. MemoryOutboxStore (durable at
// once, gone with the process) serves tests and embedders that do not need crash safety.

import {
  type AckFrame,
  base64DecodedLength,
  encodeOutputFrame,
  encodeOutputHead,
  type FinishedFrame,
  LIMITS,
  type OutputFrame,
  type OutputHeader,
  type PrestateFrame,
  type StartedFrame,
} from "@caisey/core";

export type OutboxFrame = PrestateFrame | StartedFrame | OutputFrame | FinishedFrame;

const frameTexts = new WeakMap<OutboxFrame, string>();

/**
 * A frame as JSON text (the journal's form). Started and finished frames are made once and kept (they are also sent
 * as text). An output frame is joined around its base64, which never needs escaping, instead of scanned by
 * JSON.stringify (~2 ms per 256 KiB frame; `npm run bench:profile` showed it); it is written once, so not kept.
 */
export function frameJson(frame: OutboxFrame): string {
  if (frame.t === "output") {
    return `{"t":"output","sessionId":${JSON.stringify(frame.sessionId)},"commandId":${JSON.stringify(frame.commandId)},"stream":${JSON.stringify(frame.stream)},"offset":${JSON.stringify(frame.offset)},"data":"${frame.data}"}`;
  }
  let text = frameTexts.get(frame);
  if (text === undefined) {
    text = JSON.stringify(frame);
    frameTexts.set(frame, text);
  }
  return text;
}

const rawOutput = new WeakMap<OutputFrame, Uint8Array>();

/**
 * An output frame of raw bytes. Output is journalled and sent as bytes; its base64 `data` (the frame's JSON form, which
 * a journal written before raw records holds) is made only if something reads it.
 */
export function outputFrame(header: OutputHeader, bytes: Uint8Array): OutputFrame {
  const { sessionId, commandId, stream, offset } = header;
  const frame = { t: "output", sessionId, commandId, stream, offset } as OutputFrame;
  Object.defineProperty(frame, "data", {
    enumerable: true,
    get: () => {
      const raw = rawBytes(frame);
      return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64");
    },
  });
  rawOutput.set(frame, bytes);
  if (spareable(bytes)) holders.set(frame, 1); // the outbox's hold, from its push until the ack that drops it
  return frame;
}

/** The raw bytes of a frame made by outputFrame; reading them after they went back to the spares is a bug, said loudly. */
function rawBytes(frame: OutputFrame): Uint8Array {
  const raw = rawOutput.get(frame);
  if (!raw)
    throw new Error(`output ${frame.commandId} ${frame.stream}@${frame.offset} was read after its buffer was reused`);
  return raw;
}

/** The bytes an output frame carries (decoded only for a frame read from a journal's base64 form). */
export function outputBytes(frame: OutputFrame): Uint8Array {
  return rawOutput.get(frame) ?? Buffer.from(frame.data, "base64");
}

/** How many bytes an output frame carries, without decoding them. */
export function outputLength(frame: OutputFrame): number {
  return rawOutput.get(frame)?.length ?? base64DecodedLength(frame.data);
}

/** Bytes kept free before output made by outputBuffer: its wire header (~130 bytes) goes there. */
const WIRE_ROOM = 256;
/** Output bytes with WIRE_ROOM free bytes of their own before them. */
const roomy = new WeakSet<Uint8Array>();

/**
 * A buffer for `length` bytes of output, to fill and then frame with outputFrame. It has room for the frame's wire
 * header before the bytes, so the bytes are copied once (from the pipe into it): the same buffer is journalled and sent.
 * A whole frame's buffer is a spare one when there is one (see holdOutput).
 */
export function outputBuffer(length: number): Buffer {
  const spare = length === LIMITS.outputChunkBytes ? spares.pop() : undefined;
  const bytes = spare ?? Buffer.allocUnsafe(WIRE_ROOM + length).subarray(WIRE_ROOM);
  roomy.add(bytes);
  return bytes;
}

/**
 * Whole-frame buffers are used again once nothing can read them any more. Fresh from malloc, each 512 KiB buffer was
 * page-faulted in as it was filled, and counted towards V8's external memory, which started a full mark-compact every
 * ~16 MiB streamed. A frame's buffer has holders: the outbox, from the push until the ack that drops the frame (only
 * once the journal has written it: until then the journal holds it), and each send of it, from being queued until its
 * socket write is done. When the last lets go, the buffer joins a few spares for the next frames; a hold never let go
 * (frames queued on a socket that died) only leaves that buffer to the garbage collector.
 */
const SPARE_BUFFERS = 8;
const spares: Buffer[] = [];
/** Whether a frame's bytes are a whole-frame buffer made by outputBuffer: the only ones that become spares. */
const spareable = (bytes: Uint8Array) => bytes.length === LIMITS.outputChunkBytes && roomy.has(bytes);
/** How many holders each frame in a spareable buffer has. */
const holders = new WeakMap<OutputFrame, number>();

/** A send takes hold of a frame's buffer before it is queued; releaseOutput once its socket write is done (or dropped). */
export function holdOutput(frame: OutboxFrame): void {
  if (frame.t !== "output") return;
  const held = holders.get(frame);
  if (held !== undefined) holders.set(frame, held + 1);
}

/** A holder of a frame's buffer lets go; the last one makes it a spare, and the frame can no longer be read. */
export function releaseOutput(frame: OutboxFrame): void {
  if (frame.t !== "output") return;
  const held = holders.get(frame);
  if (held === undefined) return;
  if (held > 1) {
    holders.set(frame, held - 1);
    return;
  }
  const bytes = rawOutput.get(frame) as Buffer;
  holders.delete(frame);
  rawOutput.delete(frame);
  if (spares.length < SPARE_BUFFERS) spares.push(bytes);
}

/**
 * A frame as the WebSocket message it travels in: JSON text, or a binary frame for output (see core's protocol). For
 * bytes from outputBuffer the header is written into the room before them (the same header at every resend, and the
 * bytes are never written), so ws sends them as they are; any other output is copied into a new frame.
 */
export function frameMessage(frame: OutboxFrame): string | Uint8Array {
  if (frame.t !== "output") return frameJson(frame);
  const bytes = outputBytes(frame);
  if (roomy.has(bytes)) {
    const head = encodeOutputHead(frame);
    if (head.length <= WIRE_ROOM) {
      const message = new Uint8Array(bytes.buffer, bytes.byteOffset - head.length, head.length + bytes.length);
      message.set(head);
      return message;
    }
  }
  return encodeOutputFrame(frame, bytes);
}

/** Raw output bytes a frame carries (0 for started, prestate and finished). */
export function frameBytes(frame: OutboxFrame): number {
  return frame.t === "output" ? outputLength(frame) : 0;
}

/** Whether an ack says the server has committed this frame; `bytes` is the output it carries (frameBytes). */
export function ackCovers(ack: AckFrame, frame: OutboxFrame, bytes: number): boolean {
  if (frame.t === "started") return ack.started;
  // Recorded with the started frame; dropped unrecorded when the command ends without starting.
  if (frame.t === "prestate") return ack.started || ack.finished;
  if (frame.t === "finished") return ack.finished;
  return frame.offset + bytes <= ack[frame.stream];
}

export interface OutboxEntry {
  /** Monotonic sequence number: the order frames were produced in, and the order they are (re)sent in. */
  seq: number;
  frame: OutboxFrame;
  /** Raw output bytes the frame carries (0 for started/finished). */
  bytes: number;
  /** Whether the store has made it crash-safe; only durable entries are sent. */
  durable?: boolean;
}

/** A command the store knew as started (or starting) but never finished: the runtime died while it ran. */
export interface RecoveredCommand {
  sessionId: string;
  commandId: string;
  /** "starting": journalled before spawn, no started frame; "started": it was running. */
  phase: "starting" | "started";
  pid: number | null;
  /** Identity of the process (Linux: boot id and start time) to tell it from a reused pid; null if unknown. */
  proc: string | null;
  /** Everything journalled for each stream (acknowledged or not): the byte counts its finish reports. */
  stdoutBytes: number;
  stderrBytes: number;
}

/** Where unacknowledged frames live: in memory (MemoryOutboxStore) or in the disk journal (journal.ts). */
export interface OutboxStore {
  /** Keep an entry; `durable` runs once it would survive a crash, in append order (at once for memory). */
  append(entry: OutboxEntry, durable?: () => void): void;
  /** The server committed these entries; `ack` is what it said. */
  remove(seqs: ReadonlySet<number>, ack?: AckFrame): void;
  /** Every entry, oldest first. */
  entries(): Iterable<OutboxEntry>;
  /** Entries of one command, oldest first. */
  entriesFor(commandId: string): Iterable<OutboxEntry>;
  /** Durably note that a command is about to be spawned; resolves once that note would survive a crash. */
  starting(sessionId: string, commandId: string): Promise<void>;
  /**
   * Everything of this command is acknowledged, its finish included. Called before `remove` of the entries the
   * settling ack covers (that remove's `ack` then concerns a command the store no longer holds).
   */
  settled(commandId: string): void;
  /** Whether the store has a record of this command (live, or recently settled). */
  knows(commandId: string): boolean;
  /** Commands found unfinished when the store was opened (a crash): each needs an `interrupted` finish. */
  unfinished(): RecoveredCommand[];
  /** Resolves once everything appended so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Tell `listener` when the store becomes full (every command's output must pause) and when it has room again. */
  watchSpace?(listener: (full: boolean) => void): void;
}

export class MemoryOutboxStore implements OutboxStore {
  readonly #all = new Map<number, OutboxEntry>(); // Map keeps insertion order = seq order
  readonly #byCommand = new Map<string, Map<number, OutboxEntry>>();
  readonly #live = new Set<string>();
  readonly #settled = new Set<string>();

  append(entry: OutboxEntry, durable?: () => void): void {
    this.#live.add(entry.frame.commandId);
    this.#all.set(entry.seq, entry);
    let perCommand = this.#byCommand.get(entry.frame.commandId);
    if (!perCommand) {
      perCommand = new Map();
      this.#byCommand.set(entry.frame.commandId, perCommand);
    }
    perCommand.set(entry.seq, entry);
    durable?.();
  }

  remove(seqs: ReadonlySet<number>): void {
    for (const seq of seqs) {
      const entry = this.#all.get(seq);
      if (!entry) continue;
      this.#all.delete(seq);
      const perCommand = this.#byCommand.get(entry.frame.commandId);
      perCommand?.delete(seq);
      if (perCommand?.size === 0) this.#byCommand.delete(entry.frame.commandId);
    }
  }

  entries(): Iterable<OutboxEntry> {
    return [...this.#all.values()];
  }

  entriesFor(commandId: string): Iterable<OutboxEntry> {
    return [...(this.#byCommand.get(commandId)?.values() ?? [])];
  }

  async starting(_sessionId: string, commandId: string): Promise<void> {
    this.#live.add(commandId);
  }

  settled(commandId: string): void {
    this.#live.delete(commandId);
    this.#settled.add(commandId);
    if (this.#settled.size > RECENTLY_SETTLED) {
      const oldest = this.#settled.values().next().value;
      if (oldest !== undefined) this.#settled.delete(oldest);
    }
  }

  knows(commandId: string): boolean {
    return this.#live.has(commandId) || this.#settled.has(commandId);
  }

  /** How many commands it holds as live (not yet settled): diagnostics and tests. */
  liveCommands(): number {
    return this.#live.size;
  }

  unfinished(): RecoveredCommand[] {
    return [];
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** How many settled command ids a store remembers, so a late redispatch is refused rather than run again. */
export const RECENTLY_SETTLED = 1000;

export type Send = (frame: OutboxFrame) => void;

/** What the executor needs from the outbox (and what tests can fake). */
export interface FrameSink {
  push(frame: OutboxFrame): void;
  /** Send again whatever is still unacknowledged for this command (a redispatch). Returns how many frames. */
  resend(commandId: string): number;
  /** Whether the command's output is over the backpressure window right now. */
  isPaused(commandId: string): boolean;
  /** Durably note that a command is about to be spawned (before spawn, so a crash cannot hide that it may have run). */
  starting(sessionId: string, commandId: string): Promise<void>;
  /** Whether the outbox's store has a record of this command (so it must never run again). */
  knows(commandId: string): boolean;
}

export interface OutboxOptions {
  store?: OutboxStore;
  /** Pause a command's output above this many unacknowledged bytes; resume below half. */
  windowBytes: number;
  /** Called when a command's output must pause (true) or may resume (false). */
  onFlow?: (commandId: string, paused: boolean) => void;
  /** Called once a command's finished frame and everything before it are acknowledged. */
  onSettled?: (commandId: string) => void;
  /** Called when the store becomes full (every command's output is paused) or has room again. */
  onSpace?: (full: boolean) => void;
  log?: (line: string) => void;
}

interface CommandAccount {
  unackedBytes: number;
  paused: boolean;
  /** End offset of the output already dropped, per stream (everything below it was acknowledged). */
  dropped: { stdout: number; stderr: number };
  hasFinished: boolean;
}

export class Outbox implements FrameSink {
  readonly #store: OutboxStore;
  readonly #window: number;
  readonly #onFlow: (commandId: string, paused: boolean) => void;
  readonly #onSettled: (commandId: string) => void;
  readonly #onSpace: (full: boolean) => void;
  readonly #log: (line: string) => void;
  readonly #accounts = new Map<string, CommandAccount>();
  #seq = 0;
  #send: Send | null = null;
  #storeFull = false;

  constructor(options: OutboxOptions) {
    this.#store = options.store ?? new MemoryOutboxStore();
    this.#window = options.windowBytes;
    this.#onFlow = options.onFlow ?? (() => {});
    this.#onSettled = options.onSettled ?? (() => {});
    this.#onSpace = options.onSpace ?? (() => {});
    this.#log = options.log ?? (() => {});
    // A store opened from disk already holds frames: account for them (they resend on connect).
    for (const entry of this.#store.entries()) {
      this.#seq = Math.max(this.#seq, entry.seq);
      const account = this.#account(entry.frame.commandId);
      if (entry.frame.t === "finished") account.hasFinished = true;
      account.unackedBytes += entry.bytes;
    }
    this.#store.watchSpace?.((full) => {
      this.#storeFull = full;
      for (const [commandId, account] of this.#accounts) this.#flow(commandId, account);
      this.#onSpace(full);
    });
  }

  /** The store, for recovery and shutdown. */
  get store(): OutboxStore {
    return this.#store;
  }

  /**
   * The server acknowledged our hello: send everything pending and durable, in order; entries not yet durable go
   * out as their batch reaches the disk (always after every durable one, so the order holds).
   */
  connected(send: Send): void {
    this.#send = send;
    for (const entry of this.#store.entries()) {
      if (this.#send !== send) return; // the socket went away while resending
      if (!entry.durable) return;
      send(entry.frame);
    }
  }

  /** Whether frames currently go out (between welcome and disconnect). */
  get online(): boolean {
    return this.#send !== null;
  }

  disconnected(): void {
    this.#send = null;
  }

  push(frame: OutboxFrame): void {
    const bytes = frameBytes(frame);
    const entry: OutboxEntry = { seq: ++this.#seq, frame, bytes, durable: false };
    const account = this.#account(frame.commandId);
    if (frame.t === "finished") account.hasFinished = true;
    account.unackedBytes += bytes;
    this.#flow(frame.commandId, account);
    this.#store.append(entry, () => {
      entry.durable = true;
      this.#send?.(frame);
    });
  }

  resend(commandId: string): number {
    let count = 0;
    for (const entry of this.#store.entriesFor(commandId)) {
      if (!this.#send || !entry.durable) break;
      this.#send(entry.frame);
      count++;
    }
    return count;
  }

  starting(sessionId: string, commandId: string): Promise<void> {
    return this.#store.starting(sessionId, commandId);
  }

  knows(commandId: string): boolean {
    return this.#accounts.has(commandId) || this.#store.knows(commandId);
  }

  /** Make everything pushed so far durable and close the store. */
  async close(): Promise<void> {
    await this.#store.close();
  }

  isPaused(commandId: string): boolean {
    return this.#accounts.get(commandId)?.paused ?? false;
  }

  unackedBytes(commandId: string): number {
    return this.#accounts.get(commandId)?.unackedBytes ?? 0;
  }

  /** Frames waiting for an ack, oldest first. */
  pending(): OutboxFrame[] {
    return [...this.#store.entries()].map((e) => e.frame);
  }

  hasPending(commandId: string): boolean {
    for (const _ of this.#store.entriesFor(commandId)) return true;
    return false;
  }

  /** Drop every frame the ack covers; resume output that fell under half the window. */
  ack(ack: AckFrame): void {
    const account = this.#accounts.get(ack.commandId);
    if (!account) return; // nothing of ours (already settled, or from before a restart)
    for (const stream of ["stdout", "stderr"] as const) {
      if (ack[stream] < account.dropped[stream]) {
        this.#log(
          `ack for ${ack.commandId} says the server holds ${ack[stream]} ${stream} bytes, but ${account.dropped[stream]} were already acknowledged and dropped`,
        );
      }
    }
    const covered = new Set<number>();
    let freed = 0;
    let left = 0;
    for (const entry of this.#store.entriesFor(ack.commandId)) {
      const frame = entry.frame;
      const isCovered = ackCovers(ack, frame, entry.bytes);
      if (isCovered && frame.t === "output") {
        const end = frame.offset + entry.bytes;
        if (end > account.dropped[frame.stream]) account.dropped[frame.stream] = end;
      }
      if (isCovered) {
        covered.add(entry.seq);
        freed += entry.bytes;
        // The outbox lets go of the frame's buffer; one the journal has not written yet stays the journal's.
        if (entry.durable) releaseOutput(frame);
      } else left++;
    }
    // The ack that settles the command (its finish and everything before it): the store forgets the command first,
    // so a journal writes its settled record alone — an ack record for a command about to be forgotten says nothing
    // a reopen would use (one record per command fewer, the last ack of nearly every command) — and a segment this
    // ack frees is deleted only after the settled record is on disk.
    const settles = account.hasFinished && left === 0;
    if (settles) this.#store.settled(ack.commandId);
    if (covered.size > 0) this.#store.remove(covered, ack);
    account.unackedBytes -= freed;
    this.#flow(ack.commandId, account);
    if (settles) {
      this.#accounts.delete(ack.commandId);
      this.#onSettled(ack.commandId);
    }
  }

  /** Pause a command's output above the window (resume below half of it), and every command's while the store is full. */
  #flow(commandId: string, account: CommandAccount): void {
    const over = account.paused ? account.unackedBytes >= this.#window / 2 : account.unackedBytes > this.#window;
    const paused = this.#storeFull || over;
    if (paused === account.paused) return;
    account.paused = paused;
    this.#onFlow(commandId, paused);
  }

  #account(commandId: string): CommandAccount {
    let account = this.#accounts.get(commandId);
    if (!account) {
      account = { unackedBytes: 0, paused: false, dropped: { stdout: 0, stderr: 0 }, hasFinished: false };
      this.#accounts.set(commandId, account);
    }
    return account;
  }
}

// The runtime's health: how many frames the outbox holds unacknowledged, the output bytes they carry, since when the
// oldest has waited, and the last thing that went wrong. `status` prints it (via status.json) and the server hears it
// in the hello and then in health frames, sent when it changed and at most every REPORT_EVERY_MS.
//
// Read-only over the outbox: entries carry no time, so each look at the outbox marks the highest sequence number it
// saw with the time it saw it, and the oldest entry dates from the first mark that covers it (at most one look late).
// Frames found in the journal at start date from that start.

import type { HealthFrame, RuntimeHealth } from "@caisey/core";
import type { OutboxStore } from "./outbox.ts";
import { isErrorLine } from "./status.ts";

export const REPORT_EVERY_MS = 2000;
/** Long enough for any error line the runtime writes, short enough for a health frame. */
const ERROR_CHARS = 512;

export interface Backlog {
  frames: number;
  /** Output bytes the waiting frames carry. */
  bytes: number;
  /** When the oldest waiting frame was journalled (ms), null when none waits. */
  oldestAt: number | null;
  lastError: { at: number; message: string } | null;
}

export class HealthWatch {
  readonly #now: () => number;
  #store: Pick<OutboxStore, "entries"> | null = null;
  /** Highest sequence number seen at each look, oldest first; pruned below the oldest waiting entry. */
  #marks: { seq: number; at: number }[] = [];
  #lastError: Backlog["lastError"] = null;
  #send: ((frame: HealthFrame) => void) | null = null;
  /** What the server last heard (in the hello or a health frame). */
  #told = "";
  #timer: NodeJS.Timeout | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Every line the runtime logs passes here: an error line becomes the last error. */
  noteLine(line: string): void {
    if (isErrorLine(line)) this.#lastError = { at: this.#now(), message: line.slice(0, ERROR_CHARS) };
  }

  watch(store: Pick<OutboxStore, "entries">): void {
    this.#store = store;
  }

  /** The outbox and the last error, now. */
  backlog(): Backlog {
    const now = this.#now();
    let frames = 0;
    let bytes = 0;
    let first: number | null = null;
    let last = -1;
    for (const entry of this.#store?.entries() ?? []) {
      frames++;
      bytes += entry.bytes;
      first ??= entry.seq;
      last = entry.seq;
    }
    if (last > (this.#marks.at(-1)?.seq ?? -1)) this.#marks.push({ seq: last, at: now });
    let oldestAt: number | null = null;
    if (first === null) this.#marks = [];
    else {
      const from = first;
      this.#marks = this.#marks.filter((mark) => mark.seq >= from);
      oldestAt = this.#marks[0]?.at ?? now;
    }
    return { frames, bytes, oldestAt, lastError: this.#lastError };
  }

  /** The report the hello carries; the server then knows this much. */
  hello(): RuntimeHealth {
    const backlog = this.backlog();
    this.#told = JSON.stringify(backlog);
    return this.#report(backlog);
  }

  /** Welcomed: health frames go out on `send` until disconnected. */
  connected(send: (frame: HealthFrame) => void): void {
    this.#send = send;
    this.#tell();
  }

  disconnected(): void {
    this.#send = null;
  }

  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#tell(), REPORT_EVERY_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Send a health frame if the server's picture is out of date. */
  #tell(): void {
    if (!this.#send) return;
    const backlog = this.backlog();
    const key = JSON.stringify(backlog);
    if (key === this.#told) return;
    this.#told = key;
    this.#send({ t: "health", ...this.#report(backlog) });
  }

  #report(backlog: Backlog): RuntimeHealth {
    const now = this.#now();
    const age = (at: number) => Math.max(0, now - at);
    return {
      backlogFrames: backlog.frames,
      backlogBytes: backlog.bytes,
      oldestAgeMs: backlog.oldestAt === null ? null : age(backlog.oldestAt),
      lastError: backlog.lastError ? { ageMs: age(backlog.lastError.at), message: backlog.lastError.message } : null,
    };
  }
}

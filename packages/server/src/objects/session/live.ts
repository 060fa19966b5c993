// The browsers watching a session live. Each socket has a cursor (the last seq it was sent) kept in its hibernation
// attachment, and a token bucket: new events go straight out while a socket keeps up, and a socket that is behind
// (a reconnect with a long backlog, or a command writing faster than the pace) is fed from SQLite on a timer.
// That bounds what the object buffers per socket, whatever the command writes.

import { type Bucket, LIVE_PACE, type Pace, type RecordReader, refill, waitFor } from "@caisey/core";

export const LIVE_TAG = "live";

export interface LiveAttachment {
  kind: "live";
  actor: string;
  /** The watcher's name, for presence ("Olivia is watching"). */
  name: string;
  cursor: number;
}

/** Reads events after a seq, in order, as the messages the socket is sent (as its reader may read them). */
export type EventReader = (
  after: number,
  limit: number,
  reader: RecordReader,
) => Iterable<{ seq: number; message: string }>;

/** A client contact's socket is sent internal lines redacted. */
const readerOf = (a: LiveAttachment): RecordReader => (a.actor.startsWith("contact:") ? "contact" : "staff");

interface FeedState {
  bucket: Bucket;
  timer: ReturnType<typeof setTimeout> | null;
}

const BATCH_ROWS = 64;

export class LiveFeed {
  private readonly states = new Map<WebSocket, FeedState>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly read: EventReader,
    private readonly head: () => number,
    private readonly pace: Pace = LIVE_PACE,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new watcher: everything after `after` is sent, paced, then it follows live. */
  accept(ws: WebSocket, actor: string, name: string, after: number): void {
    this.ctx.acceptWebSocket(ws, [LIVE_TAG]);
    ws.serializeAttachment({ kind: "live", actor, name, cursor: after } satisfies LiveAttachment);
    this.pump(ws);
  }

  /** Who is watching: the actors of the open live sockets, except `except` (a socket that is closing). */
  watchers(except: WebSocket | null = null): { actor: string; name: string }[] {
    const seen = new Map<string, string>();
    for (const ws of this.ctx.getWebSockets(LIVE_TAG)) {
      if (ws === except || ws.readyState !== WebSocket.OPEN) continue;
      const a = ws.deserializeAttachment() as LiveAttachment | null;
      if (a) seen.set(a.actor, a.name);
    }
    return [...seen].map(([actor, name]) => ({ actor, name }));
  }

  /** A new event was appended: send it where the socket is up to date and has budget, else let the timer catch up. */
  published(seq: number, staffMessage: () => string, contactMessage: () => string | null): void {
    for (const ws of this.ctx.getWebSockets(LIVE_TAG)) {
      const attachment = ws.deserializeAttachment() as LiveAttachment | null;
      if (!attachment) continue;
      const state = this.state(ws);
      if (state.timer === null && attachment.cursor === seq - 1) {
        state.bucket = refill(state.bucket, this.now(), this.pace);
        if (state.bucket.tokens > 0) {
          // Made only here: a socket that catches up later reads the line from storage.
          const message = readerOf(attachment) === "contact" ? (contactMessage() ?? staffMessage()) : staffMessage();
          if (!this.send(ws, message)) continue;
          state.bucket.tokens -= message.length;
          ws.serializeAttachment({ ...attachment, cursor: seq });
          continue;
        }
      }
      this.schedule(ws, state);
    }
  }

  closed(ws: WebSocket): void {
    const state = this.states.get(ws);
    if (state?.timer) clearTimeout(state.timer);
    this.states.delete(ws);
  }

  private state(ws: WebSocket): FeedState {
    let state = this.states.get(ws);
    if (!state) {
      state = { bucket: { tokens: this.pace.burst, at: this.now() }, timer: null };
      this.states.set(ws, state);
    }
    return state;
  }

  private send(ws: WebSocket, message: string): boolean {
    try {
      ws.send(message);
      return true;
    } catch {
      this.closed(ws);
      return false;
    }
  }

  private schedule(ws: WebSocket, state: FeedState): void {
    if (state.timer !== null) return;
    const wait = waitFor(state.bucket, 1, this.pace);
    state.timer = setTimeout(() => {
      state.timer = null;
      this.pump(ws);
    }, wait);
  }

  /** Send from the socket's cursor while the bucket allows; come back later for the rest. */
  private pump(ws: WebSocket): void {
    const attachment = ws.deserializeAttachment() as LiveAttachment | null;
    if (!attachment || ws.readyState !== WebSocket.OPEN) {
      this.closed(ws);
      return;
    }
    const state = this.state(ws);
    let cursor = attachment.cursor;
    for (;;) {
      state.bucket = refill(state.bucket, this.now(), this.pace);
      if (state.bucket.tokens <= 0) break;
      let sent = 0;
      for (const row of this.read(cursor, BATCH_ROWS, readerOf(attachment))) {
        if (!this.send(ws, row.message)) return;
        state.bucket.tokens -= row.message.length;
        cursor = row.seq;
        sent++;
        if (state.bucket.tokens <= 0) break;
      }
      if (sent === 0) break;
    }
    ws.serializeAttachment({ ...attachment, cursor });
    if (cursor < this.head()) this.schedule(ws, state);
  }
}

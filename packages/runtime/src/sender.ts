// The order frames leave on the one socket. The server works through a socket's frames one after another, so whatever
// is on the wire is a queue every frame behind it waits in. Frames therefore wait here instead, one queue per session,
// and go out round-robin, one frame of each session in turn, while less than a window of bytes is sent and not yet
// acknowledged. A small frame with nothing of its session ahead of it goes at once, window or not: a small command's
// started, output and finished frames pass a big command's backlog instead of waiting behind it. Within a session the
// order is the outbox's, so each record keeps its order.

import type { AckFrame } from "@caisey/core";
import { ackCovers, frameBytes, frameJson, type OutboxFrame } from "./outbox.ts";

/**
 * Bytes sent and not yet acknowledged, over all sessions: enough frames to keep the server busy, few enough to wait.
 * Four frames of a stream: while the server commits one, the Machine holds the next three and sends them in one call,
 * one commit for them (with 1 MiB, one frame at a time waited and went alone: a commit each).
 */
export const SEND_WINDOW_BYTES = 2 * 1024 * 1024;
/** A frame this small never waits for the window (a started or finished frame, a line of output). */
export const SMALL_FRAME_BYTES = 16 * 1024;

interface Sent {
  frame: OutboxFrame;
  /** Output bytes the frame carries (the ack counts these). */
  bytes: number;
  /** What it counts against the window: its output bytes, or its JSON's length. */
  cost: number;
}

export class FairSender {
  readonly #write: (frame: OutboxFrame) => void;
  readonly #window: number;
  /** Frames not yet written, per session; the map's order is the turn order. */
  readonly #waiting = new Map<string, OutboxFrame[]>();
  /** Frames written and not yet acknowledged, per command. */
  readonly #sent = new Map<string, Sent[]>();
  #sentCost = 0;

  constructor(write: (frame: OutboxFrame) => void, windowBytes = SEND_WINDOW_BYTES) {
    this.#write = write;
    this.#window = windowBytes;
  }

  send(frame: OutboxFrame): void {
    const queue = this.#waiting.get(frame.sessionId);
    if (queue) queue.push(frame);
    else if (this.#cost(frame) <= SMALL_FRAME_BYTES) this.#writeNow(frame);
    else {
      this.#waiting.set(frame.sessionId, [frame]);
      this.#pump();
    }
  }

  /**
   * The server committed what the ack says: the frames it covers no longer count against the window. Once it holds
   * the command's end, nothing more of the command will ever be committed (it skips output after the end), so none of
   * it counts any more.
   */
  acked(ack: AckFrame): void {
    const sent = this.#sent.get(ack.commandId);
    if (!sent) return;
    const open = ack.finished ? [] : sent.filter((s) => !ackCovers(ack, s.frame, s.bytes));
    for (const s of sent) if (!open.includes(s)) this.#sentCost -= s.cost;
    if (open.length > 0) this.#sent.set(ack.commandId, open);
    else this.#sent.delete(ack.commandId);
    this.#pump();
  }

  /** The server refused a frame (an error answer): it will never acknowledge it, so nothing written counts any more. */
  refused(): void {
    this.#sent.clear();
    this.#sentCost = 0;
    this.#pump();
  }

  #pump(): void {
    while (this.#sentCost < this.#window) {
      const turn = this.#waiting.entries().next();
      if (turn.done) return;
      const [sessionId, queue] = turn.value;
      const frame = queue.shift() as OutboxFrame;
      this.#waiting.delete(sessionId);
      if (queue.length > 0) this.#waiting.set(sessionId, queue); // to the back of the turn order
      this.#writeNow(frame);
    }
  }

  #cost(frame: OutboxFrame): number {
    return frame.t === "output" ? frameBytes(frame) : frameJson(frame).length;
  }

  #writeNow(frame: OutboxFrame): void {
    const sent = { frame, bytes: frameBytes(frame), cost: this.#cost(frame) };
    const ofCommand = this.#sent.get(frame.commandId);
    if (ofCommand) ofCommand.push(sent);
    else this.#sent.set(frame.commandId, [sent]);
    this.#sentCost += sent.cost;
    this.#write(frame);
  }
}

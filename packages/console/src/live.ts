// The session's live event socket: one event per message, resumed with ?after=<last seq> after any drop.
import { liveSession } from "@caisey/core/routes";
import { type SessionEvent, urlOf } from "./api.ts";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "stopped";

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 5000;

export interface LiveOptions {
  sessionId: string;
  /** The last seq already applied; the socket resumes after it. */
  lastSeq: () => number;
  onEvent: (event: SessionEvent) => void;
  onStatus: (status: LiveStatus, detail?: string) => void;
  /** Asked after a drop; false ends the connection for good (e.g. the session is closed and fully shown). */
  shouldReconnect?: () => boolean;
}

export class LiveConnection {
  private socket: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private backoff = MIN_BACKOFF_MS;
  private stopped = false;
  private attempts = 0;

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.onerror = null;
      socket.close(1000, "leaving");
    }
    this.options.onStatus("stopped");
  }

  private connect(): void {
    const { sessionId, lastSeq, onEvent, onStatus } = this.options;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${urlOf(liveSession, { params: { id: sessionId }, query: { after: lastSeq() } })}`;
    onStatus(this.attempts++ === 0 ? "connecting" : "reconnecting");
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this.scheduleReconnect(String(error));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket === socket) onStatus("live");
    };
    socket.onmessage = (message) => {
      if (this.socket !== socket || typeof message.data !== "string") return;
      let event: SessionEvent;
      try {
        event = JSON.parse(message.data) as SessionEvent;
      } catch {
        return;
      }
      // Real progress: the next drop retries quickly again.
      this.backoff = MIN_BACKOFF_MS;
      onEvent(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.scheduleReconnect(close.reason || undefined);
    };
    socket.onerror = () => {
      // onclose follows and handles the retry.
    };
  }

  private scheduleReconnect(detail?: string): void {
    if (this.stopped) return;
    if (this.options.shouldReconnect && !this.options.shouldReconnect()) {
      this.stopped = true;
      this.options.onStatus("stopped", detail);
      return;
    }
    this.options.onStatus("reconnecting", detail);
    const wait = this.backoff;
    this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, wait);
  }
}

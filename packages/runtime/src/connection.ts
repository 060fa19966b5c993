// The one outbound WebSocket to the Machine object: challenge → hello (Ed25519 signature) → welcome, then frames both
// ways. Reconnects forever: quickly a few times after a healthy connection ends, else with exponential backoff and full
// jitter (reconnectDelay); an app-level keepalive finds dead links.

import { type KeyObject, sign } from "node:crypto";
import {
  type AckFrame,
  authMessage,
  type CancelFrame,
  type DispatchFrame,
  type HealthFrame,
  type HelloFrame,
  type MachineFacts,
  PROTOCOL_VERSION,
  parseFrame,
  type RuntimeHealth,
  ServerFrame,
  toBase64Url,
  type UpdateRefusedFrame,
  utf8,
} from "@caisey/core";
import WebSocket from "ws";
import { frameMessage, holdOutput, type OutboxFrame, releaseOutput } from "./outbox.ts";
import { FairSender } from "./sender.ts";

// ---- pure policy (unit-tested)

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** A connection that stayed up this long was healthy: the attempts after it start over, quickly. */
  healthyAfterMs: number;
  /** How many attempts after a healthy connection wait only quickMinMs–quickMaxMs. */
  quickAttempts: number;
  quickMinMs: number;
  quickMaxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 250,
  capMs: 15_000,
  healthyAfterMs: 3_000,
  quickAttempts: 3,
  quickMinMs: 100,
  quickMaxMs: 500,
};

/** Full jitter: a uniform delay in [0, min(cap, base·2^attempt)). `random` returns [0, 1). */
export function backoffDelay(attempt: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Where reconnecting stands: the exponential attempt count, and how many quick attempts are left. */
export interface ReconnectState {
  attempt: number;
  quick: number;
}

export const FIRST_CONNECT: ReconnectState = { attempt: 0, quick: 0 };

/**
 * After a connection ends (or an attempt fails): the wait before the next attempt, and the state after it. `upForMs`
 * is how long the connection was established, null if it never got past the handshake.
 *
 * A connection that stayed up `healthyAfterMs` ended because the server restarted or the link blinked: the next
 * `quickAttempts` attempts wait quickMinMs–quickMaxMs (jittered, so a fleet spreads out), then full jitter under an
 * exponential ceiling starts over from `baseMs`. A server that stays down, or keeps dropping fresh connections, only
 * ever gets the exponential backoff.
 */
export function reconnectDelay(
  state: ReconnectState,
  upForMs: number | null,
  random: () => number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): { delayMs: number; state: ReconnectState } {
  const healthy = upForMs !== null && upForMs >= policy.healthyAfterMs;
  const { attempt, quick } = healthy ? { attempt: 0, quick: policy.quickAttempts } : state;
  if (quick > 0) {
    const delayMs = policy.quickMinMs + Math.floor(random() * (policy.quickMaxMs - policy.quickMinMs));
    return { delayMs, state: { attempt, quick: quick - 1 } };
  }
  return { delayMs: backoffDelay(attempt, random, policy), state: { attempt: attempt + 1, quick: 0 } };
}

export interface KeepalivePolicy {
  pingEveryMs: number;
  deadAfterMs: number;
}

export const DEFAULT_KEEPALIVE: KeepalivePolicy = { pingEveryMs: 20_000, deadAfterMs: 45_000 };

/** What the keepalive timer should do now, given when we last pinged and last heard anything from the server. */
export function keepaliveAction(
  now: number,
  lastPingAt: number,
  lastHeardAt: number,
  policy: KeepalivePolicy = DEFAULT_KEEPALIVE,
): "dead" | "ping" | "wait" {
  if (now - lastHeardAt >= policy.deadAfterMs) return "dead";
  if (now - lastPingAt >= policy.pingEveryMs) return "ping";
  return "wait";
}

/** `https://x/y/` → `wss://x/y/api/v1/runtime/connect?machineId=…` */
export function connectUrl(server: string, machineId: string): string {
  const url = new URL(server);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new Error(`unsupported server URL: ${server}`);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/api/v1/runtime/connect`;
  url.search = new URLSearchParams({ machineId }).toString();
  url.hash = "";
  return url.toString();
}

/** The hello that answers a challenge: base64url Ed25519 signature over authMessage(machineId, nonce). */
export function helloFrame(
  machineId: string,
  nonce: string,
  privateKey: KeyObject,
  facts: MachineFacts,
  health?: RuntimeHealth,
): HelloFrame {
  const signature = toBase64Url(sign(null, utf8(authMessage(machineId, nonce)), privateKey));
  return { t: "hello", v: PROTOCOL_VERSION, machineId, signature, facts, ...(health ? { health } : {}) };
}

// ---- the connection

export interface ConnectionHandlers {
  /** Authenticated: `send` delivers frames, and `report` health frames, on this socket until onDown. */
  onUp(send: (frame: OutboxFrame) => void, report: (frame: HealthFrame) => void): void;
  onDown(): void;
  /** Signatures are not checked here: the handler verifies them (signing.ts) before acting. */
  onDispatch(frame: DispatchFrame): void;
  onCancel(frame: CancelFrame): void;
  onAck(frame: AckFrame): void;
}

export interface ConnectionOptions {
  server: string;
  machineId: string;
  privateKey: KeyObject;
  facts: MachineFacts;
  /** The outbox's health when saying hello (health.ts). */
  health?: () => RuntimeHealth;
  handlers: ConnectionHandlers;
  log?: (line: string) => void;
  backoff?: BackoffPolicy;
  keepalive?: KeepalivePolicy;
  /** How long to wait for challenge and welcome after the socket opens. */
  handshakeTimeoutMs?: number;
  random?: () => number;
}

const MAX_SERVER_FRAME = 1 << 20;

export class Connection {
  readonly #options: ConnectionOptions;
  readonly #log: (line: string) => void;
  readonly #backoff: BackoffPolicy;
  readonly #keepalive: KeepalivePolicy;
  #ws: WebSocket | null = null;
  /** The socket the server has welcomed, while it is open. */
  #welcomed: WebSocket | null = null;
  #reconnect: ReconnectState = FIRST_CONNECT;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#keepalive = options.keepalive ?? DEFAULT_KEEPALIVE;
  }

  start(): void {
    this.#stopped = false;
    this.#open();
  }

  /** Close for good (no reconnect). Resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, "runtime stopping");
    });
  }

  /** Send a report about the runtime itself (not journalled, not acknowledged); false when not connected. */
  report(frame: UpdateRefusedFrame): boolean {
    const ws = this.#welcomed;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  #open(): void {
    const { server, machineId, privateKey, facts, handlers } = this.#options;
    let ws: WebSocket;
    try {
      // No permessage-deflate: output is often incompressible and compressing it costs more CPU than the link saves.
      ws = new WebSocket(connectUrl(server, machineId), {
        maxPayload: MAX_SERVER_FRAME,
        handshakeTimeout: 15_000,
        perMessageDeflate: false,
        // A zero masking key, so ws skips masking every byte in JavaScript. Masking guards proxies from script a
        // browser runs (RFC 6455 §10.3); the runtime sends only its own frames, and over TLS in deployment.
        generateMask: (mask: Buffer) => mask.fill(0),
      });
    } catch (error) {
      this.#log(`cannot connect: ${(error as Error).message}`);
      this.#scheduleRetry(null);
      return;
    }
    this.#ws = ws;
    let welcomedAt: number | null = null;
    // Per connection: what the last one had written and unacknowledged is resent, from the outbox, on this one. Each
    // send holds its frame's buffer from being queued until ws has written it (or failed to), so it is not reused
    // meanwhile (holdOutput).
    const sender = new FairSender((out) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(frameMessage(out), () => releaseOutput(out));
      else releaseOutput(out);
    });
    let lastHeardAt = Date.now();
    let lastPingAt = Date.now();
    let closed = false;

    const handshakeTimer = setTimeout(() => {
      this.#log("no welcome from the server in time");
      ws.terminate();
    }, this.#options.handshakeTimeoutMs ?? 30_000);
    const keepaliveTimer = setInterval(
      () => {
        const action = keepaliveAction(Date.now(), lastPingAt, lastHeardAt, this.#keepalive);
        if (action === "dead") {
          this.#log(`no word from the server for ${Math.round((Date.now() - lastHeardAt) / 1000)}s`);
          ws.terminate();
        } else if (action === "ping" && ws.readyState === WebSocket.OPEN) {
          lastPingAt = Date.now();
          ws.ping();
        }
      },
      Math.max(100, Math.min(this.#keepalive.pingEveryMs, this.#keepalive.deadAfterMs) / 4),
    );

    const heard = () => {
      lastHeardAt = Date.now();
    };
    ws.on("open", heard);
    ws.on("pong", heard);
    ws.on("ping", heard);
    ws.on("message", (data, isBinary) => {
      heard();
      const parsed = parseFrame(ServerFrame, isBinary ? new Uint8Array() : data.toString("utf8"), MAX_SERVER_FRAME);
      if (!parsed.ok) {
        this.#log(`ignored a frame from the server: ${parsed.message}`);
        return;
      }
      const frame = parsed.frame;
      if (frame.t === "error") {
        this.#log(`server error ${frame.code}: ${frame.message}`);
        sender.refused();
        return;
      }
      if (welcomedAt === null) {
        if (frame.t === "challenge") {
          ws.send(JSON.stringify(helloFrame(machineId, frame.nonce, privateKey, facts, this.#options.health?.())));
        } else if (frame.t === "welcome") {
          if (frame.machineId !== machineId) {
            this.#log(`welcomed as ${frame.machineId}, expected ${machineId}; closing`);
            ws.close(4000, "wrong machine");
            return;
          }
          clearTimeout(handshakeTimer);
          welcomedAt = Date.now();
          this.#welcomed = ws;
          this.#log("connected");
          handlers.onUp(
            (out) => {
              holdOutput(out);
              sender.send(out);
            },
            (report) => {
              if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(report));
            },
          );
        } else {
          this.#log(`ignored ${frame.t} before welcome`);
        }
        return;
      }
      switch (frame.t) {
        case "dispatch":
          handlers.onDispatch(frame);
          break;
        case "cancel":
          handlers.onCancel(frame);
          break;
        case "ack":
          sender.acked(frame);
          handlers.onAck(frame);
          break;
        default:
          this.#log(`ignored ${frame.t} after welcome`);
      }
    });
    let lastError: string | null = null;
    ws.on("error", (error) => {
      lastError = error.message; // "close" follows and reports it
    });
    ws.on("close", (code, reason) => {
      if (closed) return;
      closed = true;
      clearTimeout(handshakeTimer);
      clearInterval(keepaliveTimer);
      if (welcomedAt !== null) handlers.onDown();
      if (this.#ws === ws) this.#ws = null;
      if (this.#welcomed === ws) this.#welcomed = null;
      if (this.#stopped) return;
      const why = lastError
        ? `: ${lastError}`
        : reason.length > 0
          ? ` (${code} ${reason.toString("utf8")})`
          : ` (${code})`;
      this.#scheduleRetry(welcomedAt === null ? null : Date.now() - welcomedAt, why);
    });
  }

  #scheduleRetry(upForMs: number | null, why = ""): void {
    const { delayMs, state } = reconnectDelay(
      this.#reconnect,
      upForMs,
      this.#options.random ?? Math.random,
      this.#backoff,
    );
    this.#reconnect = state;
    const verb = upForMs !== null ? "disconnected" : "connect failed";
    this.#log(`${verb}${why}, retrying in ${(delayMs / 1000).toFixed(1)}s`);
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
  }
}

// One object per endpoint: its identity (public key), presence, and the runtime's single outbound WebSocket.
// It proves the runtime's identity with a fresh challenge per connection, forwards the runtime's frames to their
// Session objects in arrival order, and relays each Session's acknowledgement back to the runtime.

import { DurableObject } from "cloudflare:workers";
import {
  type AckFrame,
  authMessage,
  BulkGate,
  type CancelFrame,
  type DispatchFrame,
  fromBase64Url,
  LIMITS,
  type MachineFacts,
  machineHealth,
  nextRenewal,
  parseOutputFrame,
  parseRuntimeFrame,
  type RuntimeHealth,
  randomBytes,
  Turns,
  toBase64Url,
  utf8,
} from "@caisey/core";
import { type Env, fleet, session } from "../env.ts";
import { migrate } from "../migrations.ts";
import type { Result } from "../result.ts";
import type { RuntimePart } from "./session/index.ts";

export const MACHINE_MIGRATIONS = [
  {
    name: "identity and pending work",
    sql: `CREATE TABLE identity (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, client_id TEXT NOT NULL, public_key TEXT NOT NULL,
            enrolled_at TEXT NOT NULL, revoked_at TEXT);
          CREATE TABLE pending_sessions (session_id TEXT PRIMARY KEY, since TEXT NOT NULL);`,
  },
];

/** A socket that has not answered the challenge within this time is closed. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Output frames larger than this take turns (see Machine.turns); smaller ones, like a line of output, go at once when
 * nothing of their session waits (as the runtime's SMALL_FRAME_BYTES).
 */
const BULK_FRAME_BYTES = 16 * 1024;
/**
 * A turn ends when the Session has answered its frame, or after this long at the latest: a Session that is slow to
 * answer (restarting, far away) delays its own stream, not the machine's other sessions.
 */
const TURN_MAX_MS = 1000;

/**
 * Bulk frames a machine has under way at once (forwarded, not yet answered). With one stream in this isolate, as many
 * as the runtime sends (its send window bounds them): pipelined, the Session commits one while the last one's storage
 * flush completes. With several (on this machine or others), one, and only when the isolate's bulk gate lets it
 * (bulkGate): the thread they share then holds at most one bulk commit ahead of anyone else's frame.
 */
const BULK_SLOTS = { alone: Number.POSITIVE_INFINITY, contended: 1 };
/** A session whose machine forwarded no bulk frame of it for this long no longer counts as streaming. */
const STREAMING_MS = 1000;
/**
 * When a bulk frame of each session was last forwarded in this isolate. Module state on purpose: it is the isolate's
 * one thread the machines share (only session ids and times are kept here, never another object's socket or stub).
 */
const streamingAt = new Map<string, number>();

/** Whether more than one session streams in this isolate (stale entries are dropped on the way). */
function severalStreaming(now: number): boolean {
  let streams = 0;
  for (const [sessionId, at] of streamingAt) {
    if (now - at > STREAMING_MS) streamingAt.delete(sessionId);
    else streams++;
  }
  return streams > 1;
}

/**
 * While several sessions stream in this isolate, one bulk frame at a time across all its machines, each followed by as
 * long a rest for everything else (see BulkGate). Module state for the same reason as streamingAt: the thread is the
 * isolate's (only machine ids and times are kept).
 */
const bulkGate = new BulkGate({ leaseMs: TURN_MAX_MS });

/**
 * How long a session that finished its last command stays on the resume list. A technician's next command usually
 * follows within seconds: keeping the session listed spares a delete and an insert per command, each a commit (an
 * fsync on the object's thread, locally every object's). One idle longer leaves then; one the object was evicted with
 * leaves at the runtime's next connection, where redispatch finds it has nothing to resume.
 */
const IDLE_LISTED_MS = 10_000;

/** A runtime frame waiting for its turn: `run` forwards it and resolves once the Session's answer was relayed. */
type Waiting = { sessionId: string; run: () => Promise<void> };

/** What names a runtime frame in an error about it. */
type FrameRef = { t: string; sessionId: string; commandId: string };

/** A frame on its way to its Session; `relayed` resolves its forwarder once it waited for a call and was answered. */
type Rider = { ws: WebSocket; machineId: string; frame: FrameRef; part: RuntimePart; relayed?: () => void };

/**
 * Small frames of one session that go in one call at most. A Session applies them in one turn: a bound on how long that
 * turn holds the thread (frames are at most BULK_FRAME_BYTES each).
 */
const RIDERS_MAX = 32;
/**
 * Bulk output that goes in one call at most. Bulk frames that come while their session's call is under way wait for it
 * and then go together: one Session turn and one commit for them all instead of one each (a call and a commit have
 * fixed costs: 512 KiB BLOBs stored through calls here cost 4.9 ms CPU per MiB one a commit, 4.2 two, 4.0 four).
 * Three of the runtime's 512 KiB frames: what its send window (2 MiB) has sent besides the frame under way.
 */
const BULK_CALL_BYTES = 3 * LIMITS.outputChunkBytes;

/**
 * Per session: its calls under way, the frames that wait for them (or for a started frame's linger to end), and the
 * linger's timer.
 */
type Carrier = { calls: number; next: Rider[]; linger: ReturnType<typeof setTimeout> | null };

/**
 * How long a started frame with nothing of its session under way waits for the frames behind it. A short command's
 * output and finished frames follow within a few milliseconds and then go with it in one Session turn and commit
 * instead of two; a longer command's start is recorded this much later (the runtime does not wait for its ack).
 */
const STARTED_LINGER_MS = 20;

/**
 * Whether a bulk frame waits for its session's call under way: a lingering start is not a call (the stream's frames go
 * as they come), and what waits stays within BULK_CALL_BYTES.
 */
function bulkJoins(carrier: Carrier, rider: Rider): boolean {
  if (carrier.calls === 0 || carrier.linger !== null) return false;
  let bytes = rider.part.t === "output" ? rider.part.bytes.length : 0;
  for (const r of carrier.next) if (r.part.t === "output") bytes += r.part.bytes.length;
  return bytes <= BULK_CALL_BYTES;
}

type Identity = { id: string; tenant_id: string; client_id: string; public_key: string; revoked_at: string | null };

type RuntimeAttachment =
  | { kind: "runtime"; state: "challenged"; nonce: string; at: number }
  | { kind: "runtime"; state: "authenticated"; machineId: string; at: number };

export class Machine extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /**
   * One stub per session, reused: calls on the same stub are delivered in the order they are made, so frames are
   * forwarded in arrival order without waiting for each answer. Pipelining lets the Session commit many frames per
   * storage flush instead of one round trip and one flush per 64 KiB.
   */
  private readonly sessionStubs = new Map<string, ReturnType<typeof session>>();
  /**
   * The runtime's bulk output frames take turns (BULK_SLOTS under way at once), and after each the event loop gets a
   * turn of its own before the next: socket reads, requests and other objects' frames run between two bulk commits
   * instead of behind a whole send window of them. Locally every object shares workerd's one thread, so this is what lets a
   * small command on another machine through while two machines stream; on Cloudflare it keeps this machine's own
   * small commands ahead of its bulk backlog (their frames go at once, see schedule).
   */
  private readonly turns = new Turns<Waiting>();
  /**
   * Per session with a call under way or a started frame lingering: the frames that came meanwhile, which go together
   * in one call once those are answered or the linger ends (see carry).
   */
  private readonly riders = new Map<string, Carrier>();
  /** When this machine asks the bulk gate again (set while it waits for it). */
  private gateRetry: ReturnType<typeof setTimeout> | null = null;
  /** The sessions on the resume list (pending_sessions), once read; null until then. */
  private resumable: Set<string> | null = null;
  /** Listed sessions that finished their last command, and since when (see IDLE_LISTED_MS). */
  private readonly idleSince = new Map<string, number>();
  private idleSweep: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, MACHINE_MIGRATIONS);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"t":"ping"}', '{"t":"pong"}'));
  }

  private identity(): Identity | null {
    return this.sql.exec<Identity>("SELECT * FROM identity").toArray()[0] ?? null;
  }

  register(input: { machineId: string; tenantId: string; clientId: string; publicKey: string }): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO identity (id, tenant_id, client_id, public_key, enrolled_at) VALUES (?, ?, ?, ?, ?)",
      input.machineId,
      input.tenantId,
      input.clientId,
      input.publicKey,
      new Date().toISOString(),
    );
  }

  /** The owner revoked this machine: disconnect its runtime now and refuse it from then on. */
  async revoke(): Promise<void> {
    this.sql.exec("UPDATE identity SET revoked_at = ? WHERE revoked_at IS NULL", new Date().toISOString());
    for (const ws of this.ctx.getWebSockets("runtime")) {
      try {
        ws.close(4403, "machine revoked");
      } catch {
        // already closed
      }
    }
  }

  private runtimeSockets(): WebSocket[] {
    return this.ctx
      .getWebSockets("runtime")
      .filter((ws) => (ws.deserializeAttachment() as RuntimeAttachment | null)?.state === "authenticated");
  }

  // ---- work from sessions

  /** Deliver a command now if the runtime is connected; remember the session either way so a reconnect resumes it. */
  dispatch(sessionId: string, frame: DispatchFrame): { delivered: boolean } {
    this.resumeLater(sessionId);
    return { delivered: this.sendToRuntime(frame) };
  }

  /** Remember a session with work for this machine: the runtime's next connection resumes it. */
  resumeLater(sessionId: string): void {
    this.idleSince.delete(sessionId);
    const listed = this.resumeList();
    if (listed.has(sessionId)) return; // still listed from its last command: nothing to write
    this.sql.exec(
      "INSERT OR IGNORE INTO pending_sessions (session_id, since) VALUES (?, ?)",
      sessionId,
      new Date().toISOString(),
    );
    listed.add(sessionId);
  }

  /** The resume list as stored (read once per wake-up; every change to it goes through here and leaveResumeList). */
  private resumeList(): Set<string> {
    this.resumable ??= new Set(
      this.sql
        .exec<{ session_id: string }>("SELECT session_id FROM pending_sessions")
        .toArray()
        .map((r) => r.session_id),
    );
    return this.resumable;
  }

  private leaveResumeList(sessionId: string): void {
    this.sql.exec("DELETE FROM pending_sessions WHERE session_id = ?", sessionId);
    this.resumable?.delete(sessionId);
    this.idleSince.delete(sessionId);
  }

  /** A session finished its last command: it leaves the resume list once it stayed idle (see IDLE_LISTED_MS). */
  private idle(sessionId: string): void {
    this.idleSince.set(sessionId, Date.now());
    this.idleSweep ??= setTimeout(() => this.sweepIdle(), IDLE_LISTED_MS);
  }

  private sweepIdle(): void {
    this.idleSweep = null;
    const now = Date.now();
    for (const [sessionId, since] of this.idleSince) {
      if (now - since >= IDLE_LISTED_MS) this.leaveResumeList(sessionId);
    }
    if (this.idleSince.size > 0) this.idleSweep = setTimeout(() => this.sweepIdle(), IDLE_LISTED_MS);
  }

  cancel(_sessionId: string, frame: CancelFrame): { delivered: boolean } {
    return { delivered: this.sendToRuntime(frame) };
  }

  private sendToRuntime(frame: object): boolean {
    const ws = this.runtimeSockets()[0];
    if (!ws) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  online(): boolean {
    return this.runtimeSockets().length > 0;
  }

  // ---- the runtime's socket

  override async fetch(request: Request): Promise<Response> {
    const identity = this.identity();
    if (!identity || identity.revoked_at !== null) {
      return Response.json({ error: { code: "unknown_machine", message: "machine is not enrolled" } }, { status: 404 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, ["runtime"]);
    const nonce = toBase64Url(randomBytes(32));
    server.serializeAttachment({
      kind: "runtime",
      state: "challenged",
      nonce,
      at: Date.now(),
    } satisfies RuntimeAttachment);
    server.send(JSON.stringify({ t: "challenge", nonce }));
    await this.scheduleAlarm(Date.now() + HELLO_TIMEOUT_MS);
    void request;
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as RuntimeAttachment;
    if (typeof message !== "string") {
      // Binary frames carry output, and only from a runtime that has proven itself.
      if (attachment.state !== "authenticated") {
        ws.close(4401, "answer the challenge first");
        return;
      }
      const output = parseOutputFrame(message, LIMITS.runtimeFrameBytes);
      if (!output.ok) {
        ws.send(JSON.stringify({ t: "error", code: output.code, message: output.message }));
        return;
      }
      const { header, bytes } = output;
      this.schedule(ws, attachment.machineId, header, bytes.length > BULK_FRAME_BYTES, { t: "output", header, bytes });
      return;
    }
    const parsed = parseRuntimeFrame(message, LIMITS.runtimeFrameBytes);
    if (!parsed.ok) {
      ws.send(JSON.stringify({ t: "error", code: parsed.code, message: parsed.message }));
      return;
    }
    const frame = parsed.frame;
    if (attachment.state === "challenged") {
      if (frame.t !== "hello") {
        ws.close(4401, "answer the challenge first");
        return;
      }
      await this.authenticate(ws, attachment.nonce, frame.machineId, frame.signature, frame.facts, frame.health);
      return;
    }
    if (frame.t === "hello") {
      ws.send(JSON.stringify({ t: "error", code: "already_authenticated", message: "hello was already accepted" }));
      return;
    }
    if (frame.t === "health") {
      const { t: _, ...report } = frame;
      this.ctx.waitUntil(this.reportHealth(attachment.machineId, report));
      return;
    }
    if (frame.t === "update_refused") {
      const identity = this.identity();
      if (identity) await fleet(this.env, identity.tenant_id).runtimeUpdateRefused(identity.id, frame);
      return;
    }
    this.schedule(ws, attachment.machineId, frame, false, { t: "frame", frame });
  }

  /**
   * Forward a runtime frame now, or when its turn comes (see turns): a bulk frame, and any frame of a session
   * with frames waiting, so that each session's frames reach it in arrival order. A frame whose socket has closed by
   * its turn is dropped: it was never acknowledged, so the runtime sends it again on its next connection.
   */
  private schedule(ws: WebSocket, machineId: string, frame: FrameRef, bulk: boolean, part: RuntimePart): void {
    const run = () =>
      ws.readyState === WebSocket.OPEN ? this.carry({ ws, machineId, frame, part }, bulk) : Promise.resolve();
    if (this.turns.offer(frame.sessionId, { sessionId: frame.sessionId, run }, bulk) === "now") void run();
    else this.nextTurn();
  }

  private nextTurn(): void {
    const now = Date.now();
    const contended = severalStreaming(now);
    const slots = contended ? BULK_SLOTS.contended : BULK_SLOTS.alone;
    const me = this.ctx.id.toString();
    while (this.turns.ready(slots)) {
      if (contended) {
        const wait = bulkGate.enter(me, now);
        if (wait > 0) {
          this.gateRetry ??= setTimeout(() => {
            this.gateRetry = null;
            this.nextTurn();
          }, wait);
          return;
        }
      }
      const turn = this.turns.take(slots) as Waiting;
      streamingAt.set(turn.sessionId, now);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        this.turns.finished();
        if (contended) bulkGate.done(me, now, Date.now());
        // A macrotask, not a microtask: whatever is ready elsewhere runs before the next bulk frame does.
        setTimeout(() => this.nextTurn(), 0);
      };
      const timer = setTimeout(release, TURN_MAX_MS);
      void turn.run().finally(release);
    }
  }

  /**
   * Forward a frame to its Session; resolves once the Session's answer to it was relayed (never rejects). Not awaited
   * by the socket's handler. While a call to the session is under way, its next small frames wait and then go together
   * in one call (see riders): a small command's output and finished frames, sent a few milliseconds apart, are then
   * one Session turn and one commit, not two. A started frame with nothing under way lingers a moment
   * (STARTED_LINGER_MS) for them, and goes at once with a finished frame. A bulk frame waits likewise, up to
   * BULK_CALL_BYTES of them; else it goes at once, after whatever of its session waits (calls on one stub are delivered
   * in the order they are made, see sessionStubs).
   */
  private carry(rider: Rider, bulk: boolean): Promise<void> {
    const sessionId = rider.frame.sessionId;
    const carrier = this.riders.get(sessionId);
    if (carrier && carrier.next.length < RIDERS_MAX && (!bulk || bulkJoins(carrier, rider))) {
      const relayed = this.wait(carrier, rider);
      // Nothing of the command comes after its end: a lingering start goes now, with everything in between.
      if (rider.frame.t === "finished") this.release(sessionId, carrier);
      return relayed;
    }
    if (carrier && carrier.next.length > 0) {
      this.stopLinger(carrier);
      void this.call(sessionId, carrier.next.splice(0));
    }
    if (!carrier && !bulk && rider.frame.t === "started") {
      const lingering = this.carrierOf(sessionId);
      lingering.linger = setTimeout(() => this.release(sessionId, lingering), STARTED_LINGER_MS);
      return this.wait(lingering, rider);
    }
    return this.call(sessionId, [rider]);
  }

  /** The session's carrier, made when it has none. */
  private carrierOf(sessionId: string): Carrier {
    let carrier = this.riders.get(sessionId);
    if (!carrier) {
      carrier = { calls: 0, next: [], linger: null };
      this.riders.set(sessionId, carrier);
    }
    return carrier;
  }

  /** The frame waits in its session's carrier; resolves once it went and was answered. */
  private wait(carrier: Carrier, rider: Rider): Promise<void> {
    return new Promise((relayed) => carrier.next.push({ ...rider, relayed }));
  }

  private stopLinger(carrier: Carrier): void {
    if (carrier.linger === null) return;
    clearTimeout(carrier.linger);
    carrier.linger = null;
  }

  /** A lingering session's frames go now (after the call under way, if any). */
  private release(sessionId: string, carrier: Carrier): void {
    this.stopLinger(carrier);
    this.proceed(sessionId, carrier);
  }

  /** Once nothing of the session is under way or lingering: what waits goes in one call, else the session is let go. */
  private proceed(sessionId: string, carrier: Carrier): void {
    if (carrier.calls > 0 || carrier.linger !== null) return;
    if (carrier.next.length > 0) void this.call(sessionId, carrier.next.splice(0));
    else if (this.riders.get(sessionId) === carrier) this.riders.delete(sessionId);
  }

  /** One call to the Session with these frames, in order; the session's frames that come meanwhile wait for it. */
  private call(sessionId: string, riders: Rider[]): Promise<void> {
    const session = this.carrierOf(sessionId);
    const open = riders.filter((r) => {
      // A frame whose socket closed while it waited is dropped: without its ack, the runtime sends it again.
      if (r.ws.readyState === WebSocket.OPEN) return true;
      r.relayed?.();
      return false;
    });
    const first = open[0];
    if (!first) {
      this.proceed(sessionId, session);
      return Promise.resolve();
    }
    session.calls++;
    return this.sessionStub(sessionId)
      .runtimeFrames(
        first.machineId,
        open.map((r) => r.part),
      )
      .then((answer) => {
        if (!answer.ok) throw new Error(answer.message);
        open.forEach((r, i) => {
          const result = answer.value[i];
          if (result) this.relay(r, result);
          else this.unavailable(r.ws, new Error(`no answer to ${r.frame.t} ${r.frame.commandId}`));
        });
      })
      .catch((error: unknown) => {
        for (const r of open) this.unavailable(r.ws, error);
      })
      .finally(() => {
        for (const r of open) r.relayed?.();
        session.calls--;
        this.proceed(sessionId, session);
      });
  }

  /** Relay the Session's answer to one frame: its ack (the runtime's outbox lets go of what it covers), or why not. */
  private relay(rider: Rider, result: Result<AckFrame & { idle?: true }>): void {
    if (result.ok) {
      const { idle, ...ack } = result.value;
      rider.ws.send(JSON.stringify(ack));
      // The session dispatches its next command itself; it leaves the resume list only when it has none left.
      if (idle) this.idle(rider.frame.sessionId);
    } else {
      rider.ws.send(
        JSON.stringify({
          t: "error",
          code: result.code,
          message: `${rider.frame.t} ${rider.frame.commandId}: ${result.message}`,
        }),
      );
    }
  }

  /** The Session could not be reached (e.g. it is restarting): the runtime keeps the frame and resends it. */
  private unavailable(ws: WebSocket, error: unknown): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    console.error("forwarding a runtime frame failed", error);
    ws.close(1011, "session unavailable; reconnect and resend");
  }

  private sessionStub(sessionId: string): ReturnType<typeof session> {
    let stub = this.sessionStubs.get(sessionId);
    if (!stub) {
      if (this.sessionStubs.size >= 256) this.sessionStubs.clear();
      stub = session(this.env, sessionId);
      this.sessionStubs.set(sessionId, stub);
    }
    return stub;
  }

  private async authenticate(
    ws: WebSocket,
    nonce: string,
    machineId: string,
    signature: string,
    facts: MachineFacts,
    health: RuntimeHealth | undefined,
  ): Promise<void> {
    const identity = this.identity();
    let valid = false;
    if (identity && identity.revoked_at === null && identity.id === machineId) {
      try {
        const key = await crypto.subtle.importKey(
          "raw",
          fromBase64Url(identity.public_key),
          { name: "Ed25519" },
          false,
          ["verify"],
        );
        valid = await crypto.subtle.verify(
          { name: "Ed25519" },
          key,
          fromBase64Url(signature),
          utf8(authMessage(machineId, nonce)),
        );
      } catch {
        valid = false;
      }
    }
    if (!valid || !identity) {
      ws.close(4401, "identity not proven");
      return;
    }
    // One runtime connection per machine: a newer one replaces an older one (e.g. after a silent network drop).
    for (const other of this.runtimeSockets()) {
      if (other !== ws) other.close(4409, "replaced by a newer connection");
    }
    ws.serializeAttachment({
      kind: "runtime",
      state: "authenticated",
      machineId,
      at: Date.now(),
    } satisfies RuntimeAttachment);
    ws.send(JSON.stringify({ t: "welcome", machineId }));
    await fleet(this.env, identity.tenant_id).setPresence(machineId, true, facts);
    if (health) await this.reportHealth(machineId, health);
    // The challenge's alarm is not needed any more: the next wake-up is the lease's renewal (unless another socket
    // waits to answer its challenge), not a renewal 10 s after this one.
    await this.armAlarm(nextRenewal(Date.now(), true, Math.random()));
    // Resume every session that has work for this machine.
    const pending = this.sql
      .exec<{ session_id: string }>("SELECT session_id FROM pending_sessions ORDER BY since")
      .toArray();
    for (const { session_id } of pending) {
      const { active, frame } = await session(this.env, session_id).redispatch(machineId);
      if (frame) ws.send(JSON.stringify(frame));
      if (!active) this.leaveResumeList(session_id);
    }
  }

  /** The machine card shows the runtime's backlog and last error: the Fleet keeps its latest report. */
  private async reportHealth(machineId: string, report: RuntimeHealth): Promise<void> {
    const identity = this.identity();
    if (!identity) return;
    try {
      await fleet(this.env, identity.tenant_id).setRuntimeHealth(machineId, machineHealth(report, Date.now()));
    } catch (error) {
      // The next report (the runtime sends one when anything changes) tells it again.
      console.error("telling the Fleet the runtime's health failed", error);
    }
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * When the earliest socket that has not answered its challenge is to be closed (+Infinity when none waits); only
   * deadlines after `after` (the alarm has just closed the sockets whose deadline has passed).
   */
  private challengeDeadline(after = Number.NEGATIVE_INFINITY): number {
    let deadline = Number.POSITIVE_INFINITY;
    for (const ws of this.ctx.getWebSockets("runtime")) {
      const a = ws.deserializeAttachment() as RuntimeAttachment | null;
      if (a?.state === "challenged" && a.at + HELLO_TIMEOUT_MS > after)
        deadline = Math.min(deadline, a.at + HELLO_TIMEOUT_MS);
    }
    return deadline;
  }

  /**
   * Set the alarm to the lease's renewal at `renewAt`, or to a waiting challenge's deadline when that comes first;
   * no storage write when it is already set there.
   */
  private async armAlarm(renewAt: number): Promise<void> {
    const at = Math.min(renewAt, this.challengeDeadline());
    if ((await this.ctx.storage.getAlarm()) !== at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Close sockets that never answered the challenge; renew the Fleet's presence lease while a runtime is connected,
   * or mark the machine offline when none is (its socket went without a close event, e.g. in a restart). A socket
   * that closes is reported at once (markOfflineIfGone), so this runs once per lease period (PRESENCE_RENEW_MS),
   * not as a heartbeat: each run wakes the object.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets("runtime")) {
      const a = ws.deserializeAttachment() as RuntimeAttachment | null;
      if (a?.state === "challenged" && now - a.at >= HELLO_TIMEOUT_MS) ws.close(4408, "challenge not answered in time");
    }
    const identity = this.identity();
    if (!identity) return;
    const online = this.runtimeSockets().length > 0;
    await fleet(this.env, identity.tenant_id).setPresence(identity.id, online, null);
    const renewAt = online ? nextRenewal(now, false, Math.random()) : Number.POSITIVE_INFINITY;
    const at = Math.min(renewAt, this.challengeDeadline(now));
    if (at !== Number.POSITIVE_INFINITY) await this.ctx.storage.setAlarm(at);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
    await this.markOfflineIfGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.markOfflineIfGone(ws);
  }

  private async markOfflineIfGone(closed: WebSocket): Promise<void> {
    const open = (ws: WebSocket) => ws !== closed && ws.readyState === WebSocket.OPEN;
    // With no socket left, the lease's renewal has nothing to do: cancelled, so it does not wake the object (and keep it
    // in memory) again after workerd has evicted it.
    if (!this.ctx.getWebSockets("runtime").some(open)) await this.ctx.storage.deleteAlarm();
    const identity = this.identity();
    if (!identity) return;
    if (!this.runtimeSockets().some(open))
      await fleet(this.env, identity.tenant_id).setPresence(identity.id, false, null);
  }
}

// Durable effects on other objects (and webhooks): a row written in the same transaction as the change that causes
// it, delivered at once after the commit (the fast path) and by the "outbox" named alarm when that fails (the safety
// net), strictly in order per target, with core's one backoff policy. The receiver applies each effect once
// (see receipts.ts), so delivering a row again after a lost answer is harmless.

import { type DrainPlan, planDrain, retryAt } from "@caisey/core";
import type { AlarmScheduler } from "./alarms.ts";
import type { Later } from "./later.ts";

export const OUTBOX_ALARM = "outbox";
/** The safety net rings this long after an enqueue unless the fast path delivered everything first. */
const SAFETY_NET_MS = 10_000;
/** Effects sent to one target per delivery. */
const BATCH = 100;

/** One effect as it travels: the sender's seq (unique and increasing per sender), what it is, and its data. */
export interface Effect {
  seq: number;
  kind: string;
  key: string;
  payload: string;
}

/** What a delivery achieved: the first `delivered` effects landed; the next one failed with `error`. */
export interface Delivery {
  delivered: number;
  error?: string;
  /** The failed effect can never land (e.g. its webhook was removed): give it up now. */
  final?: boolean;
}

export interface Receiver {
  deliver(target: string, effects: Effect[]): Promise<Delivery>;
  /** Attempts before an effect to this target is given up (Infinity: never). */
  maxAttempts(target: string): number;
  /**
   * Whether a landing at the target may be marked with the sender's next transaction (see later.ts): only where the
   * target ignores an effect delivered again (it keeps receipts).
   */
  marksLater(target: string): boolean;
}

type Row = {
  seq: number;
  target: string;
  kind: string;
  key: string;
  payload: string;
  attempts: number;
  next_at: number;
};

export class Outbox {
  /** The delivery in flight per target: the next one waits for it, so a target's effects never overtake. */
  private readonly flights = new Map<string, Promise<boolean>>();
  /**
   * The delivery per target that waits for the one in flight and has not read its rows yet: a drain meanwhile joins it
   * (it reads every due row when it starts) instead of queueing one more round trip behind it.
   */
  private readonly queued = new Map<string, Promise<boolean>>();
  /** Ends the hold of the target's queued delivery early (see drainSoon). */
  private readonly holds = new Map<string, () => void>();
  /**
   * Effects enqueued by this instance so far: a caller compares it before and after a change to learn whether the
   * change kept anything, without counting the outbox (the alarm delivers what an earlier instance left).
   */
  enqueued = 0;
  /**
   * Per target, every row waiting there as stored, oldest first, while this instance knows them all: from a read that
   * found fewer than a batch, kept by each enqueue and each landed delivery. A delivery then sends from it instead of
   * reading back the rows it just wrote (a command's reports are written and sent a few milliseconds apart). Dropped
   * for the target by a failed delivery (its backoff is storage's to say) and for all by forget().
   */
  private readonly known = new Map<string, Row[]>();
  /**
   * Per target, the rows that landed and are not marked delivered in storage yet (seq range, and when the last landed):
   * marked with the object's next transaction (see later.ts). A target's deliveries land strictly in order, so every
   * row of it in the range that was not given up has landed, and one UPDATE marks them all.
   */
  private readonly landed = new Map<string, { from: number; to: number; at: number }>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly alarms: AlarmScheduler,
    private readonly later: Later,
    private readonly receiver: Receiver,
  ) {}

  /**
   * Add an effect. Call it inside the transactionSync that makes the change causing it, so both commit or neither;
   * then call drain() after the commit.
   */
  enqueue(target: string, kind: string, key: string, payload: unknown): void {
    const now = Date.now();
    const json = JSON.stringify(payload);
    const { seq } = this.storage.sql
      .exec<{ seq: number }>(
        "INSERT INTO outbox (target, kind, key, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
        target,
        kind,
        key,
        json,
        new Date(now).toISOString(),
        now,
      )
      .one();
    this.known.get(target)?.push({ seq, target, kind, key, payload: json, attempts: 0, next_at: now });
    this.enqueued++;
    this.alarms.setEarliest(OUTBOX_ALARM, now + SAFETY_NET_MS);
  }

  /** Storage may hold something else than this instance knows (a rollback, storage emptied): read it again. */
  forget(): void {
    this.known.clear();
    this.landed.clear();
  }

  pending(target?: string): number {
    this.later.flush(); // what landed is marked before storage is asked what waits
    return this.storage.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL AND given_up = 0 AND (? IS NULL OR target = ?)",
        target ?? null,
        target ?? null,
      )
      .one().n;
  }

  /**
   * Deliver what is due (only to `target` when given), then set the safety net for what still waits. A drain of one
   * target that emptied it changed nothing the alarm must know (the safety net set at enqueue stays), so it neither
   * plans nor re-arms: two outbox reads fewer per step on the fast path.
   */
  async drain(target?: string): Promise<void> {
    if (target !== undefined) {
      if (!(await this.fly(target))) this.rearm();
      return;
    }
    await Promise.all(this.plan().batches.map((b) => this.fly(b.target)));
    this.rearm();
  }

  /**
   * Deliver what is due to `target` after holding `holdMs` for the effects right behind it: a command's steps (sent,
   * started, finished) come a few milliseconds apart, and each would otherwise cost the sender a read, an RPC and a
   * settle, and the receiver its receipt transaction. Everything the target's queue holds when the hold ends goes in
   * one delivery (up to BATCH), and a drain meanwhile joins it. The rows are durable from their enqueue, so a hold
   * that never ends (the object evicted) loses nothing: the safety net set at enqueue delivers them.
   */
  async drainSoon(target: string, holdMs: number): Promise<void> {
    if (!(await this.fly(target, holdMs))) this.rearm();
  }

  private plan(target?: string): DrainPlan {
    this.later.flush();
    const rows = this.storage.sql
      .exec<{ seq: number; target: string; next_at: number }>(
        "SELECT seq, target, next_at FROM outbox WHERE delivered_at IS NULL AND given_up = 0 AND (? IS NULL OR target = ?)",
        target ?? null,
        target ?? null,
      )
      .toArray();
    return planDrain(
      rows.map((r) => ({ seq: r.seq, target: r.target, nextAt: r.next_at })),
      Date.now(),
      BATCH,
    );
  }

  /** Point the "outbox" alarm at the earliest waiting effect. */
  private rearm(): void {
    const { batches, wakeAt } = this.plan();
    // Due but not sent by this drain (another delivery to that target is in flight): the safety net covers it.
    if (batches.length > 0) this.alarms.set(OUTBOX_ALARM, Date.now() + SAFETY_NET_MS);
    else if (wakeAt !== null) this.alarms.set(OUTBOX_ALARM, wakeAt);
    // Nothing waits: the safety net set at enqueue stays and rings once for nothing. Clearing it here and setting it
    // again at the next enqueue would cost two storage alarm writes per effect on a busy session.
  }

  /**
   * One delivery to `target` after the one in flight (and, when `holdMs` is given, not before it has passed); true
   * when it left nothing due or waiting there.
   */
  private fly(target: string, holdMs = 0): Promise<boolean> {
    const waiting = this.queued.get(target);
    if (waiting) {
      // A drain that will not wait ends the hold of the delivery it joins: it goes now, with everything queued.
      if (holdMs === 0) this.holds.get(target)?.();
      return waiting;
    }
    const previous = this.flights.get(target) ?? Promise.resolve(true);
    const ready = holdMs > 0 ? Promise.all([previous, this.hold(target, holdMs)]) : previous;
    const flight: Promise<boolean> = ready
      .then(() => {
        if (this.queued.get(target) === flight) this.queued.delete(target);
        return this.send(target);
      })
      .catch((error: unknown) => {
        console.error(`outbox: delivery to ${target} failed; the alarm tries again`, error);
        return false;
      });
    this.flights.set(target, flight);
    this.queued.set(target, flight);
    void flight.finally(() => {
      if (this.flights.get(target) === flight) this.flights.delete(target);
    });
    return flight;
  }

  /** Resolves after `ms`, or at once when a drain to `target` that will not wait comes first. */
  private hold(target: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        if (this.holds.get(target) === end) this.holds.delete(target);
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.holds.set(target, end);
    });
  }

  /**
   * Send the target's due effects, oldest first, batch after batch, until one fails or none is due. True when the
   * target has nothing left waiting.
   */
  private async send(target: string): Promise<boolean> {
    for (;;) {
      const rows = this.waiting(target);
      const head = rows[0];
      if (!head) return true;
      if (head.next_at > Date.now()) return false;
      let result: Delivery;
      try {
        result = await this.receiver.deliver(
          target,
          rows.map((r) => ({ seq: r.seq, kind: r.kind, key: r.key, payload: r.payload })),
        );
      } catch (error) {
        result = { delivered: 0, error: error instanceof Error ? error.message : String(error) };
      }
      this.settle(target, rows, result);
      // What this instance knows follows: the landed rows (the oldest) leave it; after a failure storage says.
      const known = this.known.get(target);
      if (result.error !== undefined) this.known.delete(target);
      else if (known) this.known.set(target, known.slice(rows.length));
      // A failure waits out its backoff (and holds the rows behind it); one given up for good lets them go now.
      if (result.error !== undefined && !result.final) return false;
      if (result.error === undefined && rows.length < BATCH) return true;
    }
  }

  /** Rows of `target` from `from` through `to` landed (by `at`). */
  private markLanded(target: string, from: number, to: number, at: number): void {
    this.storage.sql.exec(
      "UPDATE outbox SET attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE target = ? AND seq BETWEEN ? AND ? AND delivered_at IS NULL AND given_up = 0",
      new Date(at).toISOString(),
      target,
      from,
      to,
    );
  }

  /** The first rows waiting at `target` (at most a batch), oldest first. */
  private waiting(target: string): Row[] {
    const known = this.known.get(target);
    if (known) return known.slice(0, BATCH);
    this.later.flush();
    const rows = this.storage.sql
      .exec<Row>(
        `SELECT seq, target, kind, key, payload, attempts, next_at FROM outbox
         WHERE target = ? AND delivered_at IS NULL AND given_up = 0 ORDER BY seq LIMIT ?`,
        target,
        BATCH,
      )
      .toArray();
    // All that waits there, none of it waiting out a backoff (when it is due is storage's to say): kept from now on
    // (the enqueues after this read add to it).
    if (rows.length < BATCH && rows.every((r) => r.attempts === 0)) this.known.set(target, [...rows]);
    return rows;
  }

  private settle(target: string, rows: Row[], result: Delivery): void {
    const now = Date.now();
    const landed = rows.slice(0, result.delivered);
    if (result.error === undefined && landed.length > 0 && this.receiver.marksLater(target)) {
      // The answer's turn writes nothing: the mark goes with the object's next transaction. Lost with the object, the
      // rows are delivered again, and the target ignores them.
      const before = this.landed.get(target);
      const range = { from: before?.from ?? (landed[0] as Row).seq, to: (landed.at(-1) as Row).seq, at: now };
      this.landed.set(target, range);
      this.later.defer(`outbox:${target}`, () => {
        this.landed.delete(target);
        this.markLanded(target, range.from, range.to, range.at);
      });
      return;
    }
    this.storage.transactionSync(() => {
      if (landed.length > 0) this.markLanded(target, (landed[0] as Row).seq, (landed.at(-1) as Row).seq, now);
      const failed = rows[result.delivered];
      if (result.error === undefined || !failed) return;
      const attempts = failed.attempts + 1;
      const next = result.final ? null : retryAt(attempts, now, this.receiver.maxAttempts(target));
      this.storage.sql.exec(
        "UPDATE outbox SET attempts = ?, next_at = ?, last_error = ?, given_up = ? WHERE seq = ?",
        attempts,
        next ?? now,
        result.error.slice(0, 500),
        next === null ? 1 : 0,
        failed.seq,
      );
    });
  }
}

// The rules of durable cross-object effects, apart from any storage: when a failed delivery is tried again, which
// outbox rows go out now (in order per target, the oldest first), and which named alarms are due. The Durable
// Objects' outbox and alarm scheduler (packages/server/src/durable/) keep the rows; these decide.

/** Seconds to wait after the 1st, 2nd, … failed attempt: 5 s, 30 s, 2 min, 10 min, 1 h, then every 6 h. */
export const RETRY_SCHEDULE_S = [5, 30, 120, 600, 3600, 21600, 21600, 21600, 21600] as const;

/** An HTTP receiver (a webhook) is tried this many times, then given up; another Durable Object is never given up. */
export const HTTP_ATTEMPTS = RETRY_SCHEDULE_S.length + 1;

/**
 * When to try again after `attempts` failed attempts (1 or more), or null when `maxAttempts` are spent. The one
 * backoff policy for every outbox delivery.
 */
export function retryAt(attempts: number, now: number, maxAttempts = Number.POSITIVE_INFINITY): number | null {
  if (attempts >= maxAttempts) return null;
  const wait = RETRY_SCHEDULE_S[Math.min(Math.max(attempts, 1), RETRY_SCHEDULE_S.length) - 1] as number;
  return now + wait * 1000;
}

/** An undelivered outbox row, as the plan sees it. */
export interface PendingEffect {
  seq: number;
  target: string;
  nextAt: number;
}

export interface DrainPlan {
  /** Per target whose oldest row is due: its oldest rows, in seq order (at most `batch`). */
  batches: { target: string; seqs: number[] }[];
  /** When the earliest waiting target is due, or null when nothing waits. */
  wakeAt: number | null;
}

/**
 * Which effects to deliver now. A target's rows go strictly in order: while its oldest row waits out a backoff, the
 * rows behind it wait too, so a receiver never applies a later effect before an earlier one.
 */
export function planDrain(pending: readonly PendingEffect[], now: number, batch: number): DrainPlan {
  const byTarget = new Map<string, PendingEffect[]>();
  for (const row of [...pending].sort((a, b) => a.seq - b.seq)) {
    const rows = byTarget.get(row.target);
    if (rows) rows.push(row);
    else byTarget.set(row.target, [row]);
  }
  const batches: DrainPlan["batches"] = [];
  let wakeAt: number | null = null;
  for (const [target, rows] of byTarget) {
    const head = rows[0] as PendingEffect;
    if (head.nextAt <= now) batches.push({ target, seqs: rows.slice(0, batch).map((r) => r.seq) });
    else wakeAt = wakeAt === null ? head.nextAt : Math.min(wakeAt, head.nextAt);
  }
  return { batches, wakeAt };
}

/** A named deadline kept by an object's alarm scheduler. */
export interface NamedAlarm {
  name: string;
  at: number;
}

/** The alarms that ring now (earliest first), and when the object's one alarm must ring next (null: never). */
export function dueAlarms(alarms: readonly NamedAlarm[], now: number): { due: string[]; next: number | null } {
  const sorted = [...alarms].sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : 1));
  const due = sorted.filter((a) => a.at <= now).map((a) => a.name);
  const later = sorted.find((a) => a.at > now);
  return { due, next: later ? later.at : null };
}

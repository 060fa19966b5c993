// The figures a dispatcher and an owner read (GET /api/v1/metrics): computed from the session list, never from what
// anyone reports. Each figure is defined once, in FIGURES, in the words the README and the Figures page use.

import type { SessionState, Verdict } from "./session/review.ts";

export const METRIC_GROUPS = ["technician", "client", "week"] as const;
export type MetricGroup = (typeof METRIC_GROUPS)[number];

/** The callback window unless the organization sets its own (`callbackDays`, 1 to 90). */
export const DEFAULT_CALLBACK_DAYS = 7;

/** What the session list knows of one session: enough for every figure. */
export interface SessionFacts {
  id: string;
  machineId: string;
  clientId: string;
  technicianId: string;
  state: SessionState;
  openedAt: string;
  /** When it closed (for a reviewed session: when the review accepted it); null while open or awaiting review. */
  closedAt: string | null;
  /** The last verdict recorded in the session, if any. */
  lastVerdict: Verdict | null;
  /** How many times a reviewer returned it to its technician. */
  returns: number;
}

export interface MetricsRow {
  /** The technician's or client's id, or the week's Monday (YYYY-MM-DD, UTC). */
  key: string;
  sessions: number;
  closed: number;
  verified: number;
  callbacks: number;
  verificationRate: number | null;
  callbackRate: number | null;
  firstContactResolution: number | null;
  medianMinutesToClose: number | null;
}

/** One sentence per figure: the definitions shown on the Figures page and in the README. */
export const FIGURES = {
  sessions: "Sessions: the sessions opened in the period.",
  closed: "Closed: of those, the sessions that are closed (under review, only an accepted close counts).",
  verified: "Verified: of the closed sessions, those whose last verdict says the fix was verified as fixed.",
  verificationRate: "Verification rate: verified sessions divided by closed sessions.",
  callbacks:
    "Callbacks: closed sessions after which another session was opened on the same machine within the organization's callback window (callbackDays after the close).",
  callbackRate: "Callback rate: callbacks divided by closed sessions.",
  firstContactResolution:
    "First-contact resolution: the share of closed sessions that stayed resolved, with no callback and never returned by a reviewer.",
  medianMinutesToClose: "Median time to close: the median number of minutes from opening to the (accepted) close.",
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/** The Monday (UTC) of the week an instant falls in, as YYYY-MM-DD. */
export function weekOf(iso: string): string {
  const day = new Date(Date.parse(iso));
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  const monday = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()) - sinceMonday * DAY_MS;
  return new Date(monday).toISOString().slice(0, 10);
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const ratio = (part: number, whole: number) => (whole === 0 ? null : part / whole);

/**
 * The figures of the sessions opened in [fromMs, toMs), grouped. `sessions` must include every session that may be a
 * callback of one of them (those opened after `fromMs`, however late): a callback is found among all sessions, whoever
 * opened it and whenever. Rows are ordered by key.
 */
export function sessionFigures(
  sessions: readonly SessionFacts[],
  options: { fromMs: number; toMs: number; groupBy: MetricGroup; callbackDays: number },
): MetricsRow[] {
  const windowMs = options.callbackDays * DAY_MS;
  const opensByMachine = new Map<string, number[]>();
  for (const s of sessions) {
    const opens = opensByMachine.get(s.machineId) ?? [];
    opens.push(Date.parse(s.openedAt));
    opensByMachine.set(s.machineId, opens);
  }
  const calledBack = (s: SessionFacts): boolean => {
    if (s.state !== "closed" || s.closedAt === null) return false;
    const closed = Date.parse(s.closedAt);
    return (opensByMachine.get(s.machineId) ?? []).some((at) => at > closed && at <= closed + windowMs);
  };
  const groups = new Map<string, SessionFacts[]>();
  for (const s of sessions) {
    const opened = Date.parse(s.openedAt);
    if (opened < options.fromMs || opened >= options.toMs) continue;
    const key =
      options.groupBy === "technician"
        ? s.technicianId
        : options.groupBy === "client"
          ? s.clientId
          : weekOf(s.openedAt);
    const group = groups.get(key) ?? [];
    group.push(s);
    groups.set(key, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, group]) => {
      const closed = group.filter((s) => s.state === "closed" && s.closedAt !== null);
      const verified = closed.filter((s) => s.lastVerdict === "fixed").length;
      const callbacks = closed.filter(calledBack);
      const resolved = closed.filter((s) => s.returns === 0 && !callbacks.includes(s)).length;
      const minutes = closed.map((s) => (Date.parse(s.closedAt as string) - Date.parse(s.openedAt)) / 60_000);
      const mid = median(minutes);
      return {
        key,
        sessions: group.length,
        closed: closed.length,
        verified,
        callbacks: callbacks.length,
        verificationRate: ratio(verified, closed.length),
        callbackRate: ratio(callbacks.length, closed.length),
        firstContactResolution: ratio(resolved, closed.length),
        medianMinutesToClose: mid === null ? null : Math.round(mid * 10) / 10,
      };
    });
}

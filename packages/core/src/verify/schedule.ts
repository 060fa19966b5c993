// The rules of a verification: which command can be re-run as one, and when a re-check may be scheduled.

import type { CommandState } from "../record.ts";

/** A re-check is at most this far ahead: an intermittent fault is checked within the month, or not by this session. */
export const CHECK_MAX_AHEAD_MS = 30 * 24 * 60 * 60 * 1000;

/** Why a scheduled re-check did not run: the session closed first (closing cancels it, in the record). */
export const CHECK_CANCELLED_BY_CLOSE = "the session was closed before the re-check was due";

export interface Refusal {
  status: 404 | 409 | 422;
  code: string;
  message: string;
}

/**
 * A baseline is a command that ran to an end: re-running one that is still waiting or running compares nothing,
 * and one that never started (declined, cancelled before it started) has no output to compare against.
 */
export function baselineRefusal(baseline: { state: CommandState; started: boolean }): Refusal | null {
  if (baseline.state === "queued" || baseline.state === "running" || baseline.state === "awaiting_approval")
    return { status: 409, code: "baseline_not_finished", message: `the command is still ${baseline.state}` };
  if (!baseline.started)
    return { status: 409, code: "baseline_never_ran", message: `the command never ran (${baseline.state})` };
  return null;
}

/** A re-check's time must be ahead, and at most CHECK_MAX_AHEAD_MS ahead. */
export function checkTimeRefusal(atMs: number, nowMs: number): Refusal | null {
  if (atMs <= nowMs) return { status: 422, code: "invalid_time", message: "a re-check must be in the future" };
  if (atMs > nowMs + CHECK_MAX_AHEAD_MS)
    return { status: 422, code: "invalid_time", message: "a re-check can be at most 30 days ahead" };
  return null;
}

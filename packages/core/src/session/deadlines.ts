// How long a command may wait, and what the record says when it waited too long.

/** How long a client contact has to decide, unless the technician says otherwise. */
export const APPROVAL_TTL_MS = 30 * 60_000;

export const APPROVAL_EXPIRED_REASON = "the client's approval was not given before it expired";

export function formatSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** The reason a queued command fails when its machine stayed offline for its whole queue time. */
export function queueExpiryReason(requestedAt: string, expiresAt: string): string {
  const waited = Math.round((Date.parse(expiresAt) - Date.parse(requestedAt)) / 1000);
  return `expired: the machine did not come online within ${formatSeconds(waited)}`;
}

export type ApprovalRequestState = "pending" | "granted" | "declined" | "expired" | "withdrawn";

/**
 * Whether a client contact may decide now: only a pending, unexpired approval whose command still matches what was
 * approved (same digest, still waiting) can be decided, once. An approval found expired is expired on the spot.
 */
export function decisionRefusal(
  approval: { state: ApprovalRequestState; expiresAt: string; digestMatches: boolean },
  commandWaiting: boolean,
  nowMs: number,
): { code: "approval_decided" | "approval_mismatch"; message: string; expire: boolean } | null {
  if (approval.state !== "pending")
    return { code: "approval_decided", message: `approval already ${approval.state}`, expire: false };
  if (Date.parse(approval.expiresAt) <= nowMs)
    return { code: "approval_decided", message: "approval already expired", expire: true };
  if (!approval.digestMatches || !commandWaiting)
    return {
      code: "approval_mismatch",
      message: "the command no longer matches what approval was requested for",
      expire: false,
    };
  return null;
}

/** What `session.closed` records when a session closed itself (a technician's close records `{}`). */
export interface IdleClosed {
  reason: "idle";
  /** How long nothing had happened: from the last event to the close, in whole seconds. */
  idleSeconds: number;
  /** The organization's setting the session was closed under. */
  idleCloseSeconds: number;
}

/**
 * Whether an open session closes itself now, else when to look again. Activity is any event of the record (a command
 * and its output, chat, a note, a watcher coming or going). A session with a command queued, awaiting the client's
 * approval or running is never idle: it is looked at again a whole idle period later (its command's events will have
 * moved the last activity on by then).
 */
export function idleClose(input: {
  lastEventAtMs: number;
  waitingCommands: number;
  idleCloseSeconds: number;
  nowMs: number;
}): { close: IdleClosed } | { lookAgainAt: number } {
  const period = input.idleCloseSeconds * 1000;
  if (input.waitingCommands > 0) return { lookAgainAt: input.nowMs + period };
  const due = input.lastEventAtMs + period;
  if (due > input.nowMs) return { lookAgainAt: due };
  return {
    close: {
      reason: "idle",
      idleSeconds: Math.floor((input.nowMs - input.lastEventAtMs) / 1000),
      idleCloseSeconds: input.idleCloseSeconds,
    },
  };
}

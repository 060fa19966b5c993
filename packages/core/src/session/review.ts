// Verify before you close: a technician's verdict on a before/after pair, the organization's close policy, and the
// dispatcher's review gate. A session is `open`, `review_pending` (sent for review: nothing runs, nothing is added
// but notes, until a dispatcher or owner accepts or returns it) or `closed` (final).

import { firstLines, printableText } from "../evidence/report.ts";

export const CLOSE_POLICIES = ["none", "verdict", "review"] as const;
/** `none`: close at will; `verdict`: closing needs a verdict; `review`: closing sends the session for review. */
export type ClosePolicy = (typeof CLOSE_POLICIES)[number];

export const VERDICTS = ["fixed", "not_fixed", "unverifiable"] as const;
export type Verdict = (typeof VERDICTS)[number];

export const SESSION_STATES = ["open", "review_pending", "closed"] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const REVIEW_DECISIONS = ["accept", "return"] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

export interface ReviewRefusal {
  status: 403 | 409 | 422;
  code:
    | "session_closed"
    | "review_pending"
    | "commands_active"
    | "verification_required"
    | "not_pending"
    | "own_session"
    | "unknown_command"
    | "command_not_finished";
  message: string;
}

/**
 * Why nothing may be added to a session in this state (a command, a chat message, a verdict, a handoff), or null when
 * it is open. A session awaiting review is frozen so the reviewer judges exactly what they see.
 */
export function notOpen(state: SessionState): ReviewRefusal | null {
  if (state === "open") return null;
  if (state === "review_pending")
    return {
      status: 409,
      code: "review_pending",
      message:
        "the session is waiting for a dispatcher's review: nothing runs or changes until it is accepted or returned",
    };
  return { status: 409, code: "session_closed", message: "session is closed" };
}

/**
 * What closing does under the organization's policy: close now, send for review, or refuse. Used for a person's close
 * and for the idle close alike, so walking away never gets around the gate (an idle session without a verdict stays
 * open under `verdict` and `review`; with one, under `review`, it is sent for review by `system`).
 */
export function closeOutcome(input: {
  state: SessionState;
  policy: ClosePolicy;
  verdicts: number;
  activeCommands: number;
}): { refused: ReviewRefusal } | { to: "closed" | "review_pending" } {
  if (input.state === "closed")
    return { refused: { status: 409, code: "session_closed", message: "session is already closed" } };
  const frozen = notOpen(input.state);
  if (frozen) return { refused: frozen };
  if (input.activeCommands > 0)
    return {
      refused: {
        status: 409,
        code: "commands_active",
        message: `${input.activeCommands} command(s) still queued or running; cancel them first`,
      },
    };
  if (input.policy !== "none" && input.verdicts === 0)
    return {
      refused: {
        status: 409,
        code: "verification_required",
        message:
          "the organization's close policy needs a verdict first: record whether the fix is verified (fixed, not fixed, or cannot verify with a note) on a before/after pair",
      },
    };
  return { to: input.policy === "review" ? "review_pending" : "closed" };
}

/**
 * A dispatcher's or owner's decision on a session awaiting review: accept closes it, return reopens it for its
 * technician. Nobody reviews a session they hold: the gate is a second pair of eyes.
 */
export function reviewOutcome(input: {
  state: SessionState;
  holderId: string;
  reviewerId: string;
  decision: ReviewDecision;
}): { refused: ReviewRefusal } | { to: "closed" | "open" } {
  if (input.state !== "review_pending")
    return { refused: { status: 409, code: "not_pending", message: "the session is not waiting for review" } };
  if (input.holderId === input.reviewerId)
    return {
      refused: {
        status: 403,
        code: "own_session",
        message: "a session is reviewed by someone other than the technician who holds it",
      },
    };
  return { to: input.decision === "accept" ? "closed" : "open" };
}

/** The commands a verdict names, as the session holds them (null: not in this session). */
export interface VerdictCommands {
  baseline: { state: string } | null;
  verify: { state: string } | null | undefined;
}

/**
 * Why a verdict cannot be recorded, or null. It judges a pair the record holds: the baseline and (when named) the
 * verification must be commands of this session that finished, so the reviewer can compare their outputs.
 */
export function verdictRefusal(state: SessionState, commands: VerdictCommands): ReviewRefusal | null {
  const frozen = notOpen(state);
  if (frozen) return frozen;
  for (const [role, c] of [
    ["baseline", commands.baseline],
    ["verify", commands.verify],
  ] as const) {
    if (c === undefined) continue;
    if (c === null)
      return { status: 422, code: "unknown_command", message: `the ${role} command is not a command of this session` };
    if (c.state !== "finished")
      return {
        status: 422,
        code: "command_not_finished",
        message: `the ${role} command is ${c.state}: a verdict compares commands that finished`,
      };
  }
  return null;
}

/**
 * The opening of a command's output as a reviewer glances at it: at most `lines` lines and `chars` characters (the
 * report's `firstLines`, printable text, CRLF as LF), with `truncated` when there is more. Invalid UTF-8 is shown as
 * U+FFFD (the exact bytes stay in the record).
 */
export function outputOpening(
  bytes: Uint8Array,
  totalBytes: number,
  lines = 12,
  chars = 2000,
): { firstLines: string; truncated: boolean } {
  const text = new TextDecoder().decode(bytes);
  const kept = firstLines(text, lines, chars).join("\n").slice(0, chars);
  const whole = printableText(text).replace(/\n+$/, "");
  return { firstLines: kept, truncated: kept.length < whole.length || bytes.length < totalBytes };
}

// Who holds a session: the technician who opened it, until a handoff gives it to a colleague. Only the holder runs
// commands, so two people never type into one machine at once and the record never has to say whose command it
// was. A colleague who has to step in (the holder went home sick, a dispatcher moves work) takes the session over,
// which is a handoff like any other: recorded, and announced to both.

import type { Role } from "../api.ts";
import { RUNNERS } from "../routes/define.ts";

export interface HolderRefusal {
  status: 403 | 409 | 422;
  code: "not_assigned" | "session_closed" | "invalid_assignee" | "already_assigned";
  message: string;
}

/**
 * Why `callerId` may not run a command in a session held by `holder`, or null when they hold it. `holder.name` is
 * null when the caller could not learn it in time (the session changed hands meanwhile).
 */
export function commandRefusal(holder: { id: string; name: string | null }, callerId: string): HolderRefusal | null {
  if (holder.id === callerId) return null;
  const who = holder.name ?? "Another technician";
  return {
    status: 403,
    code: "not_assigned",
    message: `${who} holds this session: only the session's technician runs commands here. Take the session over to run commands.`,
  };
}

/** A handoff `by` one staff member `to` another (or to themselves: a takeover). */
export interface Handoff {
  by: { id: string };
  to: { id: string; name: string; role: Role };
}

/**
 * Why a handoff is refused, or null. Any staff member hands a session on (a dispatcher too); it goes to someone who
 * can run commands, and never to the one already holding it.
 */
export function handoffRefusal(session: { open: boolean; holderId: string }, handoff: Handoff): HolderRefusal | null {
  if (!session.open) return { status: 409, code: "session_closed", message: "session is closed" };
  if (!(RUNNERS as readonly Role[]).includes(handoff.to.role))
    return {
      status: 422,
      code: "invalid_assignee",
      message:
        handoff.by.id === handoff.to.id
          ? "only someone who can run commands takes a session over"
          : "a session is assigned to someone who can run commands",
    };
  if (handoff.to.id === session.holderId)
    return { status: 409, code: "already_assigned", message: `the session is already assigned to ${handoff.to.name}` };
  return null;
}

/** A takeover: someone who does not hold the session gives it to themselves. */
export function isTakeover(holderId: string, handoff: Handoff): boolean {
  return handoff.by.id === handoff.to.id && holderId !== handoff.to.id;
}

// Rolling back a change as a new, approved, linked step (issue 12). The reverse itself is command knowledge
// (commands/rollback.ts); these are the rules around it: which commands can be rolled back, what the contact is asked,
// and which earlier rollback still stands in the way of another.

import { lowerFirst, summarizeCommand } from "../commands/summary.ts";
import type { Prestate } from "../commands/types.ts";
import type { CommandState } from "../record.ts";
import type { Shell } from "../shells.ts";

/**
 * What a rollback undoes, as its `command.requested` carries it: the original command and its `command.finished`
 * event (seq, and the chain hash at that event), so the link is checked against the original record.
 */
export interface RollbackOf {
  sessionId: string;
  commandId: string;
  seq: number;
  hash: string;
}

/** A rollback of a change, as the machine card shows it on the change. */
export interface RollbackLink {
  sessionId: string;
  commandId: string;
  state: CommandState;
}

/** A recorded command as a rollback needs it, read from its session. */
export interface ChangeToUndo {
  sessionId: string;
  machineId: string;
  os: string;
  ticket: string | null;
  commandId: string;
  command: string;
  shell: Shell;
  state: CommandState;
  classification: "read" | "change" | null;
  requestedBy: string;
  startedAt: string | null;
  /** Its `command.finished` event; null while it has not ended. */
  finished: { seq: number; hash: string } | null;
  /** The `probes` of its `command.prestate` event; empty when none was recorded. */
  prestate: Prestate[];
}

/** Why this command cannot be rolled back (409), or null: only a change that ran and ended can be. */
export function rollbackRefusal(
  c: Pick<ChangeToUndo, "classification" | "startedAt" | "finished" | "state">,
): { code: string; message: string } | null {
  if (c.classification !== "change")
    return { code: "not_a_change", message: "this command only reads: there is nothing to roll back" };
  if (c.finished === null)
    return { code: "not_finished", message: `this command is ${c.state.replace("_", " ")}: roll it back once it ends` };
  if (c.startedAt === null)
    return { code: "never_ran", message: `this command never ran (${c.state}): there is nothing to roll back` };
  return null;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/**
 * The sentence the contact approves: what the rollback undoes, when, by whom, then what it does (its summary's
 * first line, first letter lowered). The time is UTC, as the record's.
 */
export function rollbackApprovalSummary(original: { startedAt: string; technicianName: string }, summary: string) {
  const at = new Date(original.startedAt);
  const hhmm = `${String(at.getUTCHours()).padStart(2, "0")}:${String(at.getUTCMinutes()).padStart(2, "0")}`;
  const what = lowerFirst(summary.split("\n")[0] ?? "");
  return `Reverse a change made on ${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} at ${hhmm} by ${original.technicianName}: ${what}`;
}

/**
 * What the rollback of `command` asks the contact to approve: the proposed reverse's own summary when the command is
 * that reverse unchanged, else the command described afresh (a hand-written or edited reverse is never described by
 * what it replaced).
 */
export function rollbackSummary(
  shell: Shell,
  command: string,
  proposed: { command: string; shell: Shell; summary: string } | null,
): string {
  if (proposed && proposed.command === command && proposed.shell === shell) return proposed.summary;
  return summarizeCommand(shell, command).summary;
}

/**
 * Whether a rollback still stands in the way of another of the same change: one declined, expired (failed) or
 * cancelled before it ran changed nothing, so the change may be rolled back again without force.
 */
export function rollbackStands(state: CommandState, ran: boolean): boolean {
  return ran || !(state === "declined" || state === "failed" || state === "cancelled");
}

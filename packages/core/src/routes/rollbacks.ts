// Rollback: the reverse Caisey proposes for a recorded change, and the rollback itself, a new approved command linked
// to the change it undoes (issue 12).

import type { Prestate } from "../commands/types.ts";
import type { CommandState } from "../record.ts";
import type { Shell } from "../shells.ts";
import { answer, defineRoute, RUNNERS, STAFF } from "./define.ts";

/** The answer of the reverse route: the contract's `{reverse, reason}`, and what the console's dialog shows with it. */
export interface ReverseView {
  reverse: { command: string; shell: Shell; summary: string; basis: "prestate" | "inferred" } | null;
  reason: string;
  /** What was recorded before the change ran (empty: nothing was). */
  prestate: Prestate[];
  /** The change, as the approval names it. */
  change: {
    sessionId: string;
    commandId: string;
    command: string;
    shell: Shell;
    state: CommandState;
    startedAt: string | null;
    requestedBy: string;
    requestedByName: string;
  };
  /** Why this change cannot be rolled back at all (read-only, never ran, still running); null when it can. */
  refusal: { code: string; message: string } | null;
  /** What the contact will be asked to approve for the proposed reverse; null without one. */
  approvalSummary: string | null;
}

export const commandReverse = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/commands/:cid/reverse",
  access: STAFF,
  params: { id: "ses", cid: "cmd" },
  answer: answer<ReverseView>(),
});

export const requestRollback = defineRoute({
  method: "post",
  path: "/api/v1/rollbacks",
  access: RUNNERS,
  body: "RollbackBody",
  answer: answer<{ sessionId: string; commandId: string; approvalId: string; state: CommandState }>(),
});

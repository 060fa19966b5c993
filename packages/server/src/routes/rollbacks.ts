// Rollback: the reverse Caisey proposes for a recorded change, and the rollback itself — a new command on the same
// machine, always approved by the client, whose `command.requested` names the change's `command.finished` event.
// The rules are core's (reverseCommand, rollbackRefusal, rollbackApprovalSummary); the link's tenant-wide view and the
// "already rolled back" check are the Fleet's.

import {
  type ChangeToUndo,
  newId,
  type ReverseAnswer,
  reverseCommand,
  rollbackApprovalSummary,
  rollbackRefusal,
  rollbackSummary,
  shellsFor,
} from "@caisey/core";
import { commandReverse, requestRollback } from "@caisey/core/routes";
import type { Context, Hono } from "hono";
import { type AppEnv, scope } from "../auth.ts";
import { fleet, session, tenant } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import { openSessionOn } from "./sessions.ts";
import { route } from "./table.ts";

/** The change, the reverse proposed for it, and the name of the technician who made it (for the approval). */
async function reverseOf(c: Context<AppEnv>, sessionId: string, commandId: string) {
  const change: ChangeToUndo = unwrap(await session(c.env, sessionId).changeToUndo(scope(c), commandId));
  const proposed: ReverseAnswer = reverseCommand(change.shell, change.command, change.prestate);
  const technicianName = (await tenant(c.env, c.var.principal.tenantId).userName(change.requestedBy)) ?? "a technician";
  return { change, proposed, technicianName };
}

export function rollbackRoutes(app: Hono<AppEnv>): void {
  route(app, commandReverse, async (c, { params }) => {
    const { change, proposed, technicianName } = await reverseOf(c, params.id, params.cid);
    return c.json({
      ...proposed,
      prestate: change.prestate,
      change: {
        sessionId: change.sessionId,
        commandId: change.commandId,
        command: change.command,
        shell: change.shell,
        state: change.state,
        startedAt: change.startedAt,
        requestedBy: change.requestedBy,
        requestedByName: technicianName,
      },
      refusal: rollbackRefusal(change),
      approvalSummary:
        proposed.reverse && change.startedAt
          ? rollbackApprovalSummary({ startedAt: change.startedAt, technicianName }, proposed.reverse.summary)
          : null,
    });
  });

  route(app, requestRollback, async (c, { body }) => {
    const p = c.var.principal;
    const view = scope(c);
    const { change, proposed, technicianName } = await reverseOf(c, body.sessionId, body.commandId);
    const refusal = rollbackRefusal(change);
    if (refusal) throw new HttpError(409, refusal.code, refusal.message);
    const startedAt = change.startedAt as string; // it ran: rollbackRefusal says so
    const finished = change.finished as { seq: number; hash: string };
    let command: string;
    let shell = proposed.reverse?.shell ?? change.shell;
    if (body.command !== undefined) {
      command = body.command;
      shell = body.shell ?? shell;
    } else if (proposed.reverse) {
      command = proposed.reverse.command;
    } else {
      throw new HttpError(409, "no_reverse", `${proposed.reason}. Write the command that undoes it, in "command".`);
    }
    if (!shellsFor(change.os).includes(shell))
      throw new HttpError(422, "shell_unavailable", `${shell} is not available on a ${change.os} machine`);
    const summary = rollbackApprovalSummary(
      { startedAt, technicianName },
      rollbackSummary(shell, command, proposed.reverse),
    );

    if (body.sessionIdInto !== undefined) {
      const into = unwrap(await session(c.env, body.sessionIdInto).summary(view)).session;
      if (into.machineId !== change.machineId)
        throw new HttpError(
          422,
          "other_machine",
          "that session is on another machine: a rollback runs where the change ran",
        );
      if (into.state !== "open") throw new HttpError(409, "session_closed", "that session is closed");
    }
    const sessionId = body.sessionIdInto ?? newId("ses");
    const commandId = newId("cmd");
    const of = { sessionId: change.sessionId, commandId: change.commandId, seq: finished.seq, hash: finished.hash };
    const f = fleet(c.env, view.tenantId);
    unwrap(
      await f.claimRollback(
        {
          commandId,
          sessionId,
          machineId: change.machineId,
          of,
          state: "awaiting_approval",
          ran: false,
          requestedAt: new Date().toISOString(),
        },
        body.force === true,
      ),
    );
    try {
      if (body.sessionIdInto === undefined) await openSessionOn(c, change.machineId, change.ticket, sessionId);
      const requested = unwrap(
        await session(c.env, sessionId).requestCommand(
          view,
          { id: p.userId, name: p.name },
          { command, shell, ...(body.reason ? { reason: body.reason } : {}) },
          { commandId, of, summary },
        ),
      );
      return c.json({ sessionId, commandId, approvalId: requested.approvalId as string, state: requested.state }, 202);
    } catch (error) {
      await f.releaseRollback(commandId);
      throw error;
    }
  });
}

// The one seam through which a Session reaches other objects. Each effect is a plain value, computed from the
// session's rows inside the transaction of the event that caused it. `keep` writes the ones meant for the Fleet (the
// approval list, the session list, the timeline of changes, the machine card's user) to the Session's outbox in that
// same transaction, so an effect exists exactly when its event does; the outbox delivers them in order and the Fleet
// takes each once (see ../../durable/). `send` carries out what is not a write to another object's state: asking the
// runtime to cancel (if that message is lost, the command's next dispatch carries the cancel).

import { type CommandEffect, cancelMessage, type RollbackOf } from "@caisey/core";
import { target } from "../../durable/base.ts";
import type { Outbox } from "../../durable/outbox.ts";
import { type Env, machine, tenant } from "../../env.ts";
import type { SessionEffect, SessionHandoff } from "../fleet.ts";
import type { SessionStore } from "./store.ts";

/** Asking the runtime to end a command in its hands: a message, not a write to another object's state. */
export type RuntimeCancel = {
  kind: "runtime.cancel";
  payload: { tenantId: string; sessionId: string; machineId: string; commandId: string };
};

/** What a step causes elsewhere: a report to the Fleet (in the Fleet's own words), or a cancel for the runtime. */
export type Effect = SessionEffect | RuntimeCancel;

/**
 * The effects of a step, computed from the rows as they stand now (call it inside the step's transaction, after its
 * events are appended). The session's counters go out once per step, however many of its parts changed them.
 * `rollback` says whether the command rolls back a change (fixed when it is queued, so the caller knows it from the row
 * it holds): only then is the command read again for its `rollback.changed`, not on every step of every command.
 */
export function effectsOf(
  store: SessionStore,
  commandId: string | null,
  wanted: readonly CommandEffect[],
  rollback = true,
): Effect[] {
  const s = store.row();
  if (!s) return [];
  const out: Effect[] = [];
  let sessionChanged = false;
  for (const e of wanted) {
    if (e.kind === "session_changed") sessionChanged = true;
    else if (e.kind === "approval_changed") {
      const a = store.approval(e.approvalId);
      const c = a && store.command(a.command_id);
      if (!a || !c) continue;
      out.push({
        kind: "approval.changed",
        payload: {
          id: a.id,
          sessionId: s.id,
          commandId: a.command_id,
          clientId: s.client_id,
          machineId: s.machine_id,
          hostname: s.hostname,
          command: c.command,
          shell: c.shell,
          summary: a.summary,
          reason: c.reason,
          requestedBy: c.requested_by,
          requestedAt: a.requested_at,
          expiresAt: a.expires_at,
          state: a.state,
          decidedBy: a.decided_by,
          decidedAt: a.decided_at,
          comment: a.comment,
        },
      });
    } else if (e.kind === "machine_user") {
      out.push({ kind: "machine.user", payload: { machineId: s.machine_id, user: e.user } });
    } else if (e.kind === "change_recorded" && commandId) {
      const c = store.command(commandId);
      if (!c || c.started_at === null) continue;
      out.push({
        kind: "change.recorded",
        payload: {
          commandId: c.id,
          machineId: s.machine_id,
          sessionId: s.id,
          command: c.command,
          shell: c.shell,
          requestedBy: c.requested_by,
          startedAt: c.started_at,
          state: c.state,
          exitCode: c.exit_code,
          approvalId: c.approval_id,
        },
      });
    } else if (e.kind === "ask_runtime_to_cancel" && commandId) {
      out.push({
        kind: "runtime.cancel",
        payload: { tenantId: s.tenant_id, sessionId: s.id, machineId: s.machine_id, commandId },
      });
    }
  }
  const rolledBack = rollback && commandId && wanted.length > 0 ? rollbackChanged(store, commandId) : null;
  if (rolledBack) out.push(rolledBack);
  if (sessionChanged) out.push(sessionChange(store));
  return out;
}

/** A rollback's state, for the link on the machine card and the check against rolling a change back twice. */
function rollbackChanged(store: SessionStore, commandId: string): SessionEffect | null {
  const s = store.row();
  const c = store.command(commandId);
  if (!s || !c?.rollback_of) return null;
  return {
    kind: "rollback.changed",
    payload: {
      commandId: c.id,
      sessionId: s.id,
      machineId: s.machine_id,
      of: JSON.parse(c.rollback_of) as RollbackOf,
      state: c.state,
      ran: c.started_at !== null,
      requestedAt: c.requested_at,
    },
  };
}

/** The session's line in the session list: state, counters (kept on the session's row), head. */
export function sessionChange(store: SessionStore): SessionEffect {
  const s = store.row() as NonNullable<ReturnType<SessionStore["row"]>>;
  return {
    kind: "session.updated",
    payload: {
      sessionId: s.id,
      update: {
        state: s.state,
        closedAt: s.closed_at,
        commandCount: s.command_count,
        failedCount: s.failed_count,
        approvalCount: s.approval_count,
        headSeq: store.seq,
        technicianId: s.technician_id,
        lastVerdict: s.last_verdict,
        returns: s.returns,
        reviewRequestedAt: s.review_requested_at,
      },
    },
  };
}

/** The session's line in the session list, from the session row: sent once, when the session opens. */
export function sessionOpened(store: SessionStore): SessionEffect {
  const s = store.row() as NonNullable<ReturnType<SessionStore["row"]>>;
  return {
    kind: "session.opened",
    payload: {
      id: s.id,
      machineId: s.machine_id,
      clientId: s.client_id,
      technicianId: s.technician_id,
      ticket: s.ticket,
      openedAt: s.opened_at,
    },
  };
}

/** A handoff or takeover, for the Fleet to announce (the `session.assigned` webhook). */
export function sessionAssigned(sessionId: string, handoff: SessionHandoff): SessionEffect {
  return { kind: "session.assigned", payload: { sessionId, ...handoff } };
}

/** Keep the effects meant for the Fleet in the outbox. Call it inside the transaction of the events causing them. */
export function keep(outbox: Outbox, tenantId: string, effects: readonly Effect[]): void {
  for (const e of effects) {
    if (e.kind !== "runtime.cancel") outbox.enqueue(target.fleet(tenantId), e.kind, keyOf(e), e.payload);
  }
}

function keyOf(e: SessionEffect): string {
  switch (e.kind) {
    case "approval.changed":
      return e.payload.id;
    case "change.recorded":
    case "rollback.changed":
      return e.payload.commandId;
    case "machine.user":
      return e.payload.machineId;
    case "session.opened":
      return e.payload.id;
    case "session.updated":
    case "session.assigned":
    case "session.outcome":
      return e.payload.sessionId;
  }
}

/** After the commit: ask the runtime to cancel what a step cancelled in its hands. Not awaited. */
export function send(env: Env, effects: readonly Effect[]): void {
  for (const e of effects) {
    if (e.kind !== "runtime.cancel") continue;
    // Signed by the tenant's key: the runtime ends the whole process tree and records the end itself.
    const { tenantId, sessionId, machineId, commandId } = e.payload;
    const ref = { sessionId, commandId };
    void tenant(env, tenantId)
      .sign(cancelMessage(machineId, ref))
      .then((signed) => {
        if (!signed.ok) throw new Error(signed.message);
        return machine(env, machineId).cancel(sessionId, { t: "cancel", ...ref, signature: signed.value });
      })
      .catch((error: unknown) =>
        console.error("cancel not delivered; the next dispatch of this command records it", error),
      );
  }
}

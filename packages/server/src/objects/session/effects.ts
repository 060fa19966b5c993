// The one seam through which a Session writes to other objects. Each effect is a plain value, computed from the
// session's rows inside the transaction of the event that caused it and stamped with that event's seq: with the
// session's id, (source, seq, kind) is what a receiver will key on to take each effect exactly once. `send` delivers
// them; today it calls the Tenant (and, for a cancel, the Machine) without waiting, as before. A durable outbox
// replaces `send` alone: the values it would store are already made in the right transaction.

import { type CommandEffect, cancelMessage } from "@caisey/core";
import { type Env, machine, tenant } from "../../env.ts";
import type { ApprovalSummary, Tenant } from "../tenant.ts";
import type { SessionStore } from "./store.ts";

export type Effect = { seq: number; sessionId: string; tenantId: string } & (
  | { kind: "approval.changed"; payload: ApprovalSummary }
  | { kind: "machine.user"; payload: { machineId: string; user: string } }
  | { kind: "change.recorded"; payload: Parameters<Tenant["recordChange"]>[0] }
  | { kind: "session.changed"; payload: Parameters<Tenant["updateSession"]>[1] }
  | { kind: "runtime.cancel"; payload: { machineId: string; commandId: string } }
);

/**
 * The effects of a step, computed from the rows as they stand now (call it inside the step's transaction, after its
 * events are appended). The session's counters go out once per step, however many of its parts changed them.
 */
export function effectsOf(store: SessionStore, commandId: string | null, wanted: readonly CommandEffect[]): Effect[] {
  const s = store.row();
  if (!s) return [];
  const base = { seq: store.seq, sessionId: s.id, tenantId: s.tenant_id };
  const out: Effect[] = [];
  let sessionChanged = false;
  for (const e of wanted) {
    if (e.kind === "session_changed") sessionChanged = true;
    else if (e.kind === "approval_changed") {
      const a = store.approval(e.approvalId);
      const c = a && store.command(a.command_id);
      if (!a || !c) continue;
      out.push({
        ...base,
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
      out.push({ ...base, kind: "machine.user", payload: { machineId: s.machine_id, user: e.user } });
    } else if (e.kind === "change_recorded" && commandId) {
      const c = store.command(commandId);
      if (!c || c.started_at === null) continue;
      out.push({
        ...base,
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
      out.push({ ...base, kind: "runtime.cancel", payload: { machineId: s.machine_id, commandId } });
    }
  }
  if (sessionChanged) out.push(sessionChange(store));
  return out;
}

/** The session's line in the session list: state, counters, head. */
export function sessionChange(store: SessionStore): Effect {
  const s = store.row() as NonNullable<ReturnType<SessionStore["row"]>>;
  const counts = store.sql
    .exec<{ n: number; failed: number }>(
      "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN state IN ('failed','timed_out','interrupted') OR (state = 'finished' AND exit_code != 0) THEN 1 ELSE 0 END), 0) AS failed FROM commands",
    )
    .one();
  return {
    seq: store.seq,
    sessionId: s.id,
    tenantId: s.tenant_id,
    kind: "session.changed",
    payload: {
      state: s.state,
      closedAt: s.closed_at,
      commandCount: counts.n,
      failedCount: counts.failed,
      approvalCount: store.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM approvals").one().n,
      headSeq: store.seq,
      technicianId: s.technician_id,
    },
  };
}

/** Deliver effects to the objects they are for. Nothing here is awaited: the session never waits on another object. */
export function send(env: Env, effects: readonly Effect[]): void {
  for (const e of effects) {
    const to = tenant(env, e.tenantId);
    switch (e.kind) {
      case "approval.changed":
        // The Tenant keeps the pending list, the portal's view and the webhooks.
        void to.trackApproval(e.payload).catch(logged("approval not announced to the tenant"));
        break;
      case "machine.user":
        // The machine card shows the user context commands last ran as.
        void to.machineUser(e.payload.machineId, e.payload.user).catch(logged("machine user not recorded"));
        break;
      case "change.recorded":
        void to.recordChange(e.payload).catch(logged("change not added to the machine timeline"));
        break;
      case "session.changed":
        void to.updateSession(e.sessionId, e.payload).catch(logged("session list not updated"));
        break;
      case "runtime.cancel": {
        // Signed by the tenant's key: the runtime ends the whole process tree and records the end itself.
        const { machineId, commandId } = e.payload;
        const ref = { sessionId: e.sessionId, commandId };
        void to
          .sign(cancelMessage(machineId, ref))
          .then((signature) => machine(env, machineId).cancel(e.sessionId, { t: "cancel", ...ref, signature }))
          .catch(logged("cancel not delivered; the next dispatch of this command records it"));
        break;
      }
    }
  }
}

const logged = (what: string) => (error: unknown) => console.error(what, error);

// The command lifecycle of a session, as pure rules. A command is requested (queued, or awaiting the client's
// approval), handed to the machine, runs, and ends in exactly one final state. `transition` says, for one thing that
// happens to a command, its state afterwards, the record events to append (in order) and what the shell must do.
// It never reads storage; the Session object applies the step inside one transaction.

import type { ApprovalPolicy } from "../approvals.ts";
import { describeChanges } from "../commands/changes.ts";
import { summarizeCommand } from "../commands/summary.ts";
import type { Prestate } from "../commands/types.ts";
import type { FinishedFrame, StartedFrame } from "../protocol.ts";
import { type CommandState, FINAL_COMMAND_STATES, recordTimestamp } from "../record.ts";
import type { Shell } from "../shells.ts";
import { APPROVAL_EXPIRED_REASON, APPROVAL_TTL_MS, queueExpiryReason } from "./deadlines.ts";
import { settlesAsCancelled } from "./dispatch.ts";
import { type ClaimedStreams, finishedData, type Outcome, outputComplete, type RecordedStreams } from "./finish.ts";
import type { RollbackOf } from "./rollbacks.ts";

/** A command as its rules see it. */
export interface SessionCommand {
  id: string;
  state: CommandState;
  /** In the machine's hands, or on its way there: a cancel then has to ask the runtime. */
  delivered: boolean;
  cancelRequested: boolean;
  started: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  approvalId: string | null;
  classification: "read" | "change" | null;
}

/** Who asks for a command or decides on one: the id and the name shown in the record. */
export interface PersonRef {
  id: string;
  name: string;
}

/** A record event to append: the Session adds seq, timestamp and chain hash. */
export interface EventDraft {
  type: string;
  actor: string;
  data: Record<string, unknown>;
}

/** What the shell must do after applying a step. */
export type CommandEffect =
  /** Hand the next command to the machine if none is in flight. */
  | { kind: "dispatch_next" }
  /** The command is in the machine's hands: ask its runtime to end the process tree (the runtime records the end). */
  | { kind: "ask_runtime_to_cancel" }
  /** The approval request is withdrawn: it leaves the client's pending list and can no longer be decided. */
  | { kind: "approval_withdrawn"; approvalId: string }
  /** The approval's state changed: the tenant's pending list, the portal and webhooks learn it. */
  | { kind: "approval_changed"; approvalId: string }
  /** A change ran on the machine: it goes on the machine's timeline. */
  | { kind: "change_recorded" }
  /** The user context commands last ran as, for the machine card. */
  | { kind: "machine_user"; user: string }
  /** The session's counters in the session list changed. */
  | { kind: "session_changed" }
  /** A new deadline (queue or approval expiry): wake the session for it. */
  | { kind: "arm_deadline" };

export interface Step {
  state: CommandState;
  events: EventDraft[];
  effects: CommandEffect[];
  /** The thing asked for cannot happen; nothing changed. */
  refused?: { code: string; message: string };
}

export type CommandEvent =
  /** A client contact approved or declined (the approval was checked with `decisionRefusal`). */
  | {
      type: "decided";
      granted: boolean;
      approvalId: string;
      digest: string;
      contact: PersonRef;
      channel: "portal" | "link" | "api";
      comment: string | null;
    }
  | { type: "approval_expired"; approvalId: string }
  | { type: "queue_expired"; requestedAt: string; expiresAt: string }
  | { type: "cancel"; actor: string }
  /** The machine turned out offline after a cancel was asked for on the way: settle it. */
  | { type: "settle_cancel" }
  | {
      type: "started";
      actor: string;
      frame: StartedFrame;
      /** What the change's targets were before it ran, as the runtime sent it ahead of the start (or why it is not). */
      prestate?: { probes: Prestate[]; error?: string };
    }
  | { type: "finished"; actor: string; frame: FinishedFrame };

/** The record's byte counts come from the command; its hashes are computed only when a step finishes the command. */
export type Digests = () => { stdoutSha256: string; stderrSha256: string };

const CANCELLED_BEFORE_START = "cancelled before it started";

const unchanged = (c: SessionCommand): Step => ({ state: c.state, events: [], effects: [] });

function finish(
  c: SessionCommand,
  actor: string,
  outcome: Outcome,
  claimed: ClaimedStreams | null,
  digests: Digests,
  before: EventDraft[] = [],
  effects: CommandEffect[] = [],
): Step {
  const recorded: RecordedStreams = { stdoutBytes: c.stdoutBytes, stderrBytes: c.stderrBytes, ...digests() };
  const finished = { type: "command.finished", actor, data: finishedData(c.id, outcome, claimed, recorded) };
  return {
    state: outcome.state,
    events: [...before, finished],
    effects: [
      ...(c.classification === "change" && c.started ? [{ kind: "change_recorded" } as const] : []),
      { kind: "dispatch_next" },
      { kind: "session_changed" },
      ...effects,
    ],
  };
}

const notRun = (state: Outcome["state"], reason: string): Outcome => ({
  state,
  exitCode: null,
  signal: null,
  reason,
  durationMs: 0,
});

export function transition(c: SessionCommand, event: CommandEvent, digests: Digests): Step {
  if (FINAL_COMMAND_STATES.has(c.state)) {
    if (event.type !== "cancel") return unchanged(c);
    return { ...unchanged(c), refused: { code: "command_finished", message: `command already ${c.state}` } };
  }
  switch (event.type) {
    case "decided": {
      if (c.state !== "awaiting_approval") return unchanged(c);
      const { approvalId, digest, contact, channel, comment } = event;
      const decision = {
        type: event.granted ? "approval.granted" : "approval.declined",
        actor: `contact:${contact.id}`,
        data: {
          approvalId,
          commandId: c.id,
          digest,
          contactId: contact.id,
          contactName: contact.name,
          channel,
          comment,
        },
      };
      const changed = { kind: "approval_changed", approvalId } as const;
      if (event.granted)
        return {
          state: "queued",
          events: [decision],
          effects: [changed, { kind: "dispatch_next" }, { kind: "session_changed" }],
        };
      const reason = `declined by ${contact.name}${comment ? `: ${comment}` : ""}`;
      return finish(c, "system", notRun("declined", reason), null, digests, [decision], [changed]);
    }
    case "approval_expired": {
      if (c.state !== "awaiting_approval") return unchanged(c);
      const expired = {
        type: "approval.expired",
        actor: "system",
        data: { approvalId: event.approvalId, commandId: c.id },
      };
      return finish(
        c,
        "system",
        notRun("failed", APPROVAL_EXPIRED_REASON),
        null,
        digests,
        [expired],
        [{ kind: "approval_changed", approvalId: event.approvalId }],
      );
    }
    case "queue_expired": {
      if (c.state !== "queued" || c.delivered) return unchanged(c);
      const reason = queueExpiryReason(event.requestedAt, event.expiresAt);
      return finish(c, "system", notRun("failed", reason), null, digests);
    }
    case "cancel": {
      if (c.state === "awaiting_approval" || (c.state === "queued" && !c.delivered)) {
        // The machine never received it: nothing can be running, so the cancel is recorded here and now.
        const withdrawn =
          c.state === "awaiting_approval" && c.approvalId
            ? [
                { kind: "approval_withdrawn", approvalId: c.approvalId } as const,
                { kind: "approval_changed", approvalId: c.approvalId } as const,
              ]
            : [];
        return finish(c, event.actor, notRun("cancelled", CANCELLED_BEFORE_START), null, digests, [], withdrawn);
      }
      return { ...unchanged(c), effects: [{ kind: "ask_runtime_to_cancel" }] };
    }
    case "settle_cancel":
      if (!settlesAsCancelled(c)) return unchanged(c);
      return finish(c, "system", notRun("cancelled", CANCELLED_BEFORE_START), null, digests);
    case "started": {
      if (c.state !== "queued") return unchanged(c);
      const { t: _t, sessionId: _s, ...data } = event.frame;
      // The pre-state goes in just before the start, in the same commit: it was read before the process existed.
      const before: EventDraft[] = event.prestate
        ? [{ type: "command.prestate", actor: event.actor, data: { commandId: c.id, ...event.prestate } }]
        : [];
      return {
        state: "running",
        events: [...before, { type: "command.started", actor: event.actor, data }],
        effects: [{ kind: "machine_user", user: event.frame.user }],
      };
    }
    case "finished": {
      const f = event.frame;
      if (!outputComplete(c, f)) return unchanged(c); // output still missing: the runtime resends it first
      const outcome = {
        state: f.state,
        exitCode: f.exitCode,
        signal: f.signal,
        reason: f.reason,
        durationMs: f.durationMs,
      };
      return finish(c, event.actor, outcome, f, digests);
    }
  }
}

/** A technician's request for a command, with what decides whether the client must approve it first. */
export interface CommandRequest {
  commandId: string;
  /** Set when the command needs approval (see `approvalRequired`). */
  approval: { id: string; digest: string; timeoutSeconds: number | null; policy: ApprovalPolicy } | null;
  command: string;
  shell: Shell;
  timeoutSeconds: number | null;
  queueTimeoutSeconds: number;
  reason: string | null;
  requireApproval: boolean;
  technician: PersonRef;
  classification: { kind: "read" | "change"; reasons: string[] };
  session: { id: string; machineId: string; hostname: string };
  /** The time of the request event. */
  atMs: number;
  /** The baseline command this one re-runs as its verification (a `verifies` link in the record). */
  verifies?: string;
  /**
   * Set when the command rolls back an earlier change: recorded as `rollbackOf`, and the contact is asked with
   * `summary` (what it undoes; see rollbackApprovalSummary). A rollback always needs approval.
   */
  rollback?: { of: RollbackOf; summary: string };
}

/** A new command: queued, or awaiting the client's approval with a request bound to its exact text. */
export function requestCommand(r: CommandRequest): Step {
  const actor = `user:${r.technician.id}`;
  const requested: EventDraft = {
    type: "command.requested",
    actor,
    data: {
      commandId: r.commandId,
      command: r.command,
      shell: r.shell,
      timeoutSeconds: r.timeoutSeconds,
      queueTimeoutSeconds: r.queueTimeoutSeconds,
      reason: r.reason,
      requestedBy: r.technician.id,
      classification: r.classification.kind,
      approvalRequired: r.approval !== null,
      ...(r.verifies ? { verifies: r.verifies } : {}),
      ...(r.rollback ? { rollbackOf: r.rollback.of } : {}),
    },
  };
  const effects: CommandEffect[] = [{ kind: "arm_deadline" }, { kind: "dispatch_next" }, { kind: "session_changed" }];
  if (!r.approval) return { state: "queued", events: [requested], effects };
  const described = summarizeCommand(r.shell, r.command);
  const { lines } = described;
  const summary = r.rollback?.summary ?? described.summary;
  const ttlMs = r.approval.timeoutSeconds ? r.approval.timeoutSeconds * 1000 : APPROVAL_TTL_MS;
  const approval: EventDraft = {
    type: "approval.requested",
    actor,
    data: {
      approvalId: r.approval.id,
      commandId: r.commandId,
      command: r.command,
      shell: r.shell,
      summary,
      lines,
      // what the contact is asked to approve, change by change (the approval views show the same list)
      changes: describeChanges(r.shell, r.command),
      reason: r.reason,
      technicianId: r.technician.id,
      technicianName: r.technician.name,
      machineId: r.session.machineId,
      hostname: r.session.hostname,
      sessionId: r.session.id,
      digest: r.approval.digest,
      expiresAt: recordTimestamp(r.atMs + ttlMs),
      because: r.rollback
        ? "a rollback is always approved by the client"
        : r.requireApproval
          ? "the technician asked for approval"
          : r.approval.policy === "always"
            ? "the client approves every command"
            : r.classification.reasons.join("; "),
    },
  };
  return {
    state: "awaiting_approval",
    events: [requested, approval],
    effects: [{ kind: "approval_changed", approvalId: r.approval.id }, ...effects],
  };
}

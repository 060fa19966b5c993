// The session's record. This object is the single writer of the session's event log: it appends every event with
// the hash chain, holds the browsers' live sockets, queues commands and hands them to the machine one at a time,
// and acknowledges runtime output only once it is committed. Nothing else writes a session's events.
//
// It is a shell: the rules of a command's life are core's (`transition`, `requestCommand`, `nextDispatch`,
// `acceptOutput`); this class checks who is asking, applies each step in one transaction and carries out its effects.

import {
  type AckFrame,
  type ApprovalPolicy,
  acceptOutput,
  approvalRequired,
  approvalSubject,
  baselineRefusal,
  CHECK_CANCELLED_BY_CLOSE,
  type ChangeToUndo,
  type ClosePolicy,
  type CommandBody,
  type CommandEffect,
  type CommandEvent,
  type CommandState,
  checkTimeRefusal,
  classifyCommand,
  closeOutcome,
  commandRefusal,
  type Disclosure,
  type DispatchFrame,
  decisionRefusal,
  defaultShell,
  disclosureFor,
  dispatchMessage,
  FINAL_COMMAND_STATES,
  type FinishedFrame,
  type Handoff,
  type Head,
  handoffRefusal,
  idleClose,
  isTakeover,
  LIMITS,
  newId,
  nextDispatch,
  notOpen,
  type OutputHeader,
  type PersonRef,
  type Prestate,
  type PrestateFrame,
  type RecordReader,
  type ReviewDecision,
  type Role,
  type RollbackOf,
  recordTimestamp,
  requestCommand,
  resumeDispatch,
  reviewOutcome,
  type Seal,
  type SealProof,
  type Shell,
  type StartedFrame,
  type Step,
  shellsFor,
  transition,
  type VerdictBody,
  type VerdictView,
  verdictRefusal,
} from "@caisey/core";
import { sha256Hex } from "../../crypto.ts";
import { DurableBase, target } from "../../durable/base.ts";
import { OUTBOX_ALARM } from "../../durable/outbox.ts";
import { type Env, machine, tenant, transparencyLog } from "../../env.ts";
import { fail, notFound, ok, type Result } from "../../result.ts";
import { type CommandAsked, scopeOf } from "../tenant.ts";
import { SEAL_REQUESTED } from "../transparency-log.ts";
import { CHECKS_ALARM, ScheduledChecks } from "./checks.ts";
import { type Effect, effectsOf, keep, send, sessionAssigned, sessionOpened } from "./effects.ts";
import { SEARCH_FEED_ALARM, SearchFeed } from "./feed.ts";
import { type LiveAttachment, LiveFeed } from "./live.ts";
import { PrestateParts } from "./prestate.ts";
import { sessionOutcome, verdictsOf } from "./review.ts";
import { type ApprovalRow, type CommandRow, lifecycleOf, MIGRATIONS, type SessionRow, SessionStore } from "./store.ts";

/** The named alarm of the session's deadlines: a queued command's expiry, a pending approval's. */
const DEADLINES_ALARM = "deadlines";
/** The named alarm that looks whether the open session has been idle for the organization's idle time. */
const IDLE_ALARM = "idle";
/**
 * How long a command step's reports to the Fleet wait for the steps behind it: a short command's sent, started and
 * finished (about 50 ms POST to finished on an idle machine) then cost one delivery instead of three.
 */
const FLEET_HOLD_MS = 50;
/** The reports that may wait for that: what the session list, the timeline and the machine card's user show. */
const HELD: ReadonlySet<Effect["kind"]> = new Set(["session.updated", "change.recorded", "machine.user"]);

/** Whose view a call is made in: the tenant, and for a client contact, their client. */
export interface Scope {
  tenantId: string;
  clientId: string | null;
}

/** The `reason` an outcome's webhook names, when the record's data gives one (an idle close). */
const reasonOf = (data: Record<string, unknown>) => (typeof data.reason === "string" ? { reason: data.reason } : {});

/** A view scoped to a client is a client contact's: internal lines reach them redacted. */
const readerOf = (scope: Scope): RecordReader => (scope.clientId === null ? "staff" : "contact");

export interface OpenSession {
  sessionId: string;
  tenantId: string;
  machineId: string;
  clientId: string;
  hostname: string;
  os: string;
  technicianId: string;
  ticket: string | null;
}

function commandView(c: CommandRow) {
  return {
    id: c.id,
    command: c.command,
    shell: c.shell,
    state: c.state,
    requestedBy: c.requested_by,
    requestedAt: c.requested_at,
    reason: c.reason,
    timeoutSeconds: c.timeout_seconds,
    startedAt: c.started_at,
    finishedAt: c.finished_at,
    pid: c.pid,
    exitCode: c.exit_code,
    stdoutBytes: c.stdout_committed,
    stderrBytes: c.stderr_committed,
    stdoutSha256: c.stdout_sha256,
    stderrSha256: c.stderr_sha256,
    durationMs: c.duration_ms,
    finalReason: c.reason_final,
    verifies: c.verifies,
  };
}

/** A baseline re-run verbatim: the same text, shell and time limit. */
const rerunOf = (baseline: CommandRow): CommandBody => ({
  command: baseline.command,
  shell: baseline.shell,
  ...(baseline.timeout_seconds === null ? {} : { timeoutSeconds: baseline.timeout_seconds }),
});

/** What the Tenant is asked about a new command (Tenant.commandPolicy), and the shell it names. */
function commandAsked(s: SessionRow, body: CommandBody, asking: Asking): { command: CommandAsked; shell0: Shell } {
  const shell0 = body.shell ?? defaultShell(s.os);
  const dispatch = {
    subject: {
      sessionId: s.id,
      commandId: asking.commandId,
      command: body.command,
      shell: shell0,
      timeoutSeconds: body.timeoutSeconds ?? null,
      approvalRequired: false,
      approval: null,
    },
    kind: classifyCommand(shell0, body.command).kind,
    requireApproval: body.requireApproval === true,
  };
  // A rollback always waits for the client's approval: its policy only.
  const command = {
    clientId: s.client_id,
    machineId: s.machine_id,
    dispatch: asking.rollback !== undefined ? null : dispatch,
  };
  return { command, shell0 };
}

/** Who asks for a command: a caller the Worker authenticated, or one it knows by token only (requestCommandByToken). */
type Caller =
  | { scope: Scope; technician: PersonRef }
  | { token: { tenantId: string; hash: string }; roles: readonly Role[] };

/** What a new command is recorded with (Session.ask). */
interface Asked {
  scope: Scope;
  technician: PersonRef;
  /** The session as the Tenant was asked about it. */
  s0: SessionRow;
  shell0: Shell;
  policy: ApprovalPolicy;
  signature: string | null;
}

/** How a command is asked for: its id, and the baseline it verifies; `due`: a scheduled check its holder asked for. */
interface Asking {
  commandId: string;
  verifies?: string;
  due?: boolean;
  /** What a rollback undoes and the sentence the contact approves (always asked). */
  rollback?: { of: RollbackOf; summary: string };
}

/** One frame of a runtime for its Session, as the Machine forwards it (parsed and validated there). */
export type RuntimePart =
  | { t: "frame"; frame: PrestateFrame | StartedFrame | FinishedFrame }
  | { t: "output"; header: OutputHeader; bytes: Uint8Array };

export class Session extends DurableBase {
  private readonly store: SessionStore;
  private readonly live: LiveFeed;
  private readonly feed: SearchFeed;
  private readonly prestate: PrestateParts;
  private readonly checks: ScheduledChecks;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, MIGRATIONS);
    this.prestate = new PrestateParts(ctx.storage.sql);
    // Every append goes out to the live sockets and, soon after, to the search index.
    this.store = new SessionStore(ctx.storage, (seq, message, forContact) => {
      this.live.published(seq, message, forContact);
      this.feed.appended();
    });
    this.live = new LiveFeed(
      ctx,
      (after, limit, reader) => this.store.served(after, limit, reader),
      () => this.store.seq,
    );
    this.feed = new SearchFeed(env, this.store, this.alarms, this.later);
    this.checks = new ScheduledChecks(ctx.storage.sql, this.alarms);
    // A session opened before sessions closed themselves has no idle deadline yet: it looks at once.
    if (this.store.row()?.state === "open") this.alarms.setUnlessSet(IDLE_ALARM, Date.now());
    // A closed session whose seal waits (one closed before sessions were sealed) sends it now.
    const s = this.store.row();
    if (s?.state === "closed" && this.outbox.pending(target.log(s.tenant_id)) > 0)
      this.alarms.set(OUTBOX_ALARM, Date.now());
  }

  protected override forgetHeld(): void {
    this.store.forget();
    this.feed.forget();
  }

  /** A command's reports to the Fleet: marked delivered with the session's next step, not in a commit of their own. */
  protected override marksLater(to: string): boolean {
    return to.startsWith("fleet:");
  }

  /** As a sender of effects: the Fleet keys its receipts on it. */
  protected override source(): string | null {
    const s = this.store.row();
    return s ? `session:${s.id}` : null;
  }

  /** The one scope guard: another tenant, or a contact of another client, finds no session here. */
  private scoped(scope: Scope): Result<SessionRow> {
    const row = this.store.row();
    if (!row || row.tenant_id !== scope.tenantId) return notFound("session");
    if (scope.clientId !== null && row.client_id !== scope.clientId) return notFound("session");
    return ok(row);
  }

  private within<T>(scope: Scope, then: (s: SessionRow) => Result<T>): Result<T> {
    const s = this.scoped(scope);
    return s.ok ? then(s.value) : s;
  }

  // ---- applying core's steps

  /**
   * One thing happened to a command: core's step is applied in one transaction (its events, the rows they change,
   * and the effects they cause), then the effects are carried out.
   */
  private step(commandId: string, event: CommandEvent): Step | null {
    const applied = this.ctx.storage.transactionSync(() => {
      const c = this.store.command(commandId);
      if (!c) return null;
      const step = transition(lifecycleOf(c), event, () => this.store.digests(c));
      if (step.refused) return { step, outgoing: [] };
      this.store.apply(step.events);
      for (const e of step.effects) {
        if (e.kind === "approval_withdrawn") this.store.withdrawApproval(e.approvalId);
        else if (e.kind === "ask_runtime_to_cancel") this.store.markCancelRequested(c.id);
      }
      return { step, outgoing: this.kept(effectsOf(this.store, c.id, step.effects, c.rollback_of !== null)) };
    });
    if (!applied) return null;
    this.follow(applied.step.effects, applied.outgoing, commandId);
    return applied.step;
  }

  /** Effects made in a transaction: the Fleet's go into the outbox in that same transaction. */
  private kept(effects: Effect[]): Effect[] {
    const s = this.store.row();
    if (s) keep(this.outbox, s.tenant_id, effects);
    return effects;
  }

  /**
   * After the commit: deliver what this step kept (older rows waiting out a backoff are the alarm's), and ask the
   * runtime what is the runtime's to do. No outbox query for a step that kept nothing, as most output frames do.
   */
  private sent(outgoing: readonly Effect[], only?: string): void {
    send(this.env, outgoing);
    if (!outgoing.some((e) => e.kind !== "runtime.cancel")) return;
    // A command step's reports wait a moment for the next steps' (sent, started and finished of a short command go to
    // the Fleet in one delivery, not three); the session list and the timeline are that much later, the record not at
    // all. An approval or a rollback goes at once (with whatever waits): someone acts on it, and the API reads it back.
    if (only !== undefined && outgoing.every((e) => HELD.has(e.kind))) void this.outbox.drainSoon(only, FLEET_HOLD_MS);
    else void this.outbox.drain(only);
  }

  /**
   * What a step asks of the shell once it is committed. A command's step keeps effects for the Fleet only, so only
   * the Fleet's queue is drained (no plan over every target, no re-arm when it empties).
   */
  private follow(effects: readonly CommandEffect[], outgoing: readonly Effect[], commandId: string): void {
    const s = this.store.row();
    this.sent(outgoing, s ? target.fleet(s.tenant_id) : undefined);
    if (effects.some((e) => e.kind === "arm_deadline")) this.armDeadline(commandId);
    if (effects.some((e) => e.kind === "dispatch_next")) this.pump();
  }

  // ---- the record

  /** Open the session; it is on the session list when this returns (or, if the Fleet is down, once it is back). */
  async open(input: OpenSession): Promise<Result<{ openedAt: string }>> {
    if (this.store.row()) return fail(409, "session_exists", "session already exists");
    const { idleCloseSeconds } = await tenant(this.env, input.tenantId).settings();
    const openedAt = recordTimestamp(Date.now());
    this.ctx.storage.transactionSync(() => {
      this.store.insertSession({
        id: input.sessionId,
        tenant_id: input.tenantId,
        machine_id: input.machineId,
        client_id: input.clientId,
        hostname: input.hostname,
        os: input.os,
        technician_id: input.technicianId,
        ticket: input.ticket,
        opened_at: openedAt,
      });
      this.store.append("session.opened", `user:${input.technicianId}`, {
        sessionId: input.sessionId,
        machineId: input.machineId,
        clientId: input.clientId,
        hostname: input.hostname,
        technicianId: input.technicianId,
        ticket: input.ticket,
      });
      keep(this.outbox, input.tenantId, [sessionOpened(this.store)]);
      this.alarms.set(IDLE_ALARM, Date.parse(openedAt) + idleCloseSeconds * 1000);
    });
    await this.outbox.drain();
    return ok({ openedAt });
  }

  summary(scope: Scope) {
    return this.within(scope, (s) =>
      ok({
        session: {
          id: s.id,
          machineId: s.machine_id,
          clientId: s.client_id,
          hostname: s.hostname,
          os: s.os,
          technicianId: s.technician_id,
          ticket: s.ticket,
          state: s.state,
          openedAt: s.opened_at,
          closedAt: s.closed_at,
          head: this.store.head as Head,
          participants: this.live.watchers(),
        },
        commands: this.store.commands().map(commandView),
        checks: this.checks.waiting().map((c) => ({
          commandId: c.command_id,
          baselineId: c.baseline_id,
          at: c.at,
          requestedBy: c.requested_by,
        })),
      }),
    );
  }

  commandDetail(scope: Scope, commandId: string) {
    return this.within(scope, () => {
      const c = this.store.command(commandId);
      return c ? ok({ command: commandView(c) }) : notFound("command");
    });
  }

  /** A command as a rollback reads it: the change, its finish in the record, and what was recorded before it ran. */
  changeToUndo(scope: Scope, commandId: string): Result<ChangeToUndo> {
    return this.within(scope, (s) => {
      const c = this.store.command(commandId);
      if (!c) return notFound("command");
      const finished = this.store.commandEvent("command.finished", c.id);
      const prestate = this.store.commandEvent("command.prestate", c.id)?.data.probes;
      return ok({
        sessionId: s.id,
        machineId: s.machine_id,
        os: s.os,
        ticket: s.ticket,
        commandId: c.id,
        command: c.command,
        shell: c.shell,
        state: c.state,
        classification: c.classification,
        requestedBy: c.requested_by,
        startedAt: c.started_at,
        finished: finished && { seq: finished.seq, hash: finished.hash },
        prestate: Array.isArray(prestate) ? (prestate as Prestate[]) : [],
      });
    });
  }

  events(scope: Scope, after: number, limit: number): Result<{ events: string[]; head: Head }> {
    return this.within(scope, () =>
      ok({
        events: this.store.served(after, limit, readerOf(scope)).map((e) => e.message),
        head: this.store.head as Head,
      }),
    );
  }

  /**
   * A page of record lines (for the NDJSON export, the other exports and share links), bounded in bytes so a huge
   * session streams page by page. Notes and output are disclosed as asked, but never a note to a client contact.
   */
  recordPage(
    scope: Scope,
    after: number,
    asked: Disclosure = disclosureFor(readerOf(scope)),
    hashed = false,
  ): Result<{ lines: string[]; last: number; done: boolean }> {
    const disclosure = { notes: asked.notes && readerOf(scope) === "staff", output: asked.output };
    return this.within(scope, () => ok(this.store.recordPage(after, disclosure, hashed)));
  }

  /** A page of one stream's output from byte `from`, its chunks' bytes in order. */
  outputPage(
    scope: Scope,
    commandId: string,
    stream: "stdout" | "stderr",
    from: number,
  ): Result<{ chunks: Uint8Array[]; next: number; done: boolean }> {
    return this.within(scope, () =>
      this.store.command(commandId) ? ok(this.store.outputPage(commandId, stream, from)) : notFound("command"),
    );
  }

  /**
   * The two commands of a before/after comparison, the earlier one first (whichever the caller named first). Both must
   * have ended: a running command's output is still growing.
   */
  comparison(
    scope: Scope,
    commandId: string,
    againstId: string,
  ): Result<{ before: ReturnType<typeof commandView>; after: ReturnType<typeof commandView> }> {
    return this.within(scope, () => {
      const pair = [this.store.command(commandId), this.store.command(againstId)];
      const [one, other] = pair;
      if (!one || !other) return notFound("command");
      const open = pair.find((c) => !FINAL_COMMAND_STATES.has(c?.state as CommandState));
      if (open) return fail(409, "command_not_finished", `command ${open.id} is still ${open.state}`);
      const [before, after] = one.position <= other.position ? [one, other] : [other, one];
      return ok({ before: commandView(before), after: commandView(after) });
    });
  }

  // ---- technician actions

  /**
   * Queue a command. When the client's approval policy (or the technician) requires it, the command waits in
   * `awaiting_approval` with an approval request bound to its exact text, shell, machine, session and technician.
   * A rollback (`rollback`: the id its route claimed, what it undoes and the sentence the contact approves) always
   * waits for the client's approval, whatever the client's policy.
   */
  requestCommand(
    scope: Scope,
    technician: PersonRef,
    body: CommandBody,
    rollback?: { commandId: string; of: RollbackOf; summary: string },
  ): Promise<Result<{ commandId: string; state: CommandState; approvalId: string | null }>> {
    return this.queue({ scope, technician }, body, {
      commandId: rollback?.commandId ?? newId("cmd"),
      ...(rollback ? { rollback: { of: rollback.of, summary: rollback.summary } } : {}),
    });
  }

  /**
   * requestCommand for a caller the Worker knows by their token only (`token`: its tenant and hash; `roles`: the
   * route's): the Tenant authenticates it in the call this command makes there anyway (see ask).
   */
  requestCommandByToken(
    token: { tenantId: string; hash: string },
    roles: readonly Role[],
    body: CommandBody,
  ): Promise<Result<{ commandId: string; state: CommandState; approvalId: string | null }>> {
    return this.queue({ token, roles }, body, { commandId: newId("cmd") });
  }

  /**
   * Who asks for a new command, the session as it stood, and the Tenant's answer: the client's policy and, when it lets
   * the command run without approval, its dispatch's signature (a rollback always waits for approval), in one Tenant
   * call, so the dispatch goes out without another round trip. A caller known by token only is authenticated in that
   * same call, before anything about the session is said (401 or 403 before 404, as the Worker's own check answers).
   */
  private async ask(caller: Caller, body: CommandBody, asking: Asking): Promise<Result<Asked>> {
    if ("scope" in caller) {
      const first = this.scoped(caller.scope);
      if (!first.ok) return first;
      if (!asking.due) {
        const refused = await this.holderRefusal(first.value, caller.technician.id);
        if (!refused.ok) return refused;
      }
      const s0 = first.value;
      const { command, shell0 } = commandAsked(s0, body, asking);
      const answer = await tenant(this.env, s0.tenant_id).commandPolicy(caller.technician.id, command);
      return answer.ok ? ok({ ...caller, s0, shell0, ...answer.value }) : answer;
    }
    const row = this.store.row();
    const s0 = row?.tenant_id === caller.token.tenantId ? row : null;
    const about = s0 && commandAsked(s0, body, asking);
    const answer = await tenant(this.env, caller.token.tenantId).commandAuthority(
      caller.token.hash,
      caller.roles,
      about?.command ?? null,
    );
    if (!answer.ok) return answer;
    const { principal, policy, signature } = answer.value;
    const scope = scopeOf(principal);
    const technician = { id: principal.userId, name: principal.name };
    // Not this tenant's session when the Tenant was asked: not found, whatever the row says now.
    if (s0 === null || about === null) return notFound("session");
    const first = this.scoped(scope);
    if (!first.ok) return first;
    if (!asking.due) {
      const refused = await this.holderRefusal(first.value, technician.id);
      if (!refused.ok) return refused;
    }
    return ok({ scope, technician, s0, shell0: about.shell0, policy, signature });
  }

  /** Only the session's technician runs commands; the refusal names them (their name is the Tenant's). */
  private async holderRefusal(s: SessionRow, technicianId: string): Promise<Result<null>> {
    const holder = s.technician_id;
    if (!commandRefusal({ id: holder, name: null }, technicianId)) return ok(null);
    const name = holder === null ? null : await tenant(this.env, s.tenant_id).userName(holder);
    const refusal = commandRefusal({ id: holder, name }, technicianId);
    return refusal ? fail(refusal.status, refusal.code, refusal.message) : ok(null);
  }

  private async queue(
    caller: Caller,
    body: CommandBody,
    asking: Asking,
  ): Promise<Result<{ commandId: string; state: CommandState; approvalId: string | null }>> {
    const { commandId, rollback } = asking;
    const asked = await this.ask(caller, body, asking);
    if (!asked.ok) return asked;
    const { scope, technician, s0, shell0, policy, signature } = asked.value;
    // Checked again after the await: the session may have closed or changed hands meanwhile.
    return this.within(scope, (s) => {
      const frozen = notOpen(s.state);
      if (frozen) return fail(frozen.status, frozen.code, frozen.message);
      const refusal = asking.due ? null : commandRefusal({ id: s.technician_id, name: null }, technician.id);
      if (refusal) return fail(refusal.status, refusal.code, refusal.message);
      const shell = body.shell ?? defaultShell(s.os);
      if (!shellsFor(s.os).includes(shell))
        return fail(422, "shell_unavailable", `${shell} is not available on a ${s.os} machine`);
      const classification = classifyCommand(shell, body.command);
      const gate =
        rollback !== undefined || approvalRequired(policy, classification.kind, body.requireApproval === true);
      const approvalId = gate ? newId("apr") : null;
      const subject = { shell, command: body.command, machineId: s.machine_id, sessionId: s.id };
      const atMs = this.store.clock();
      const step = requestCommand({
        commandId,
        approval: approvalId
          ? {
              id: approvalId,
              digest: sha256Hex(approvalSubject({ ...subject, technicianId: technician.id })),
              timeoutSeconds: body.approvalTimeoutSeconds ?? null,
              policy,
            }
          : null,
        command: body.command,
        shell,
        timeoutSeconds: body.timeoutSeconds ?? null,
        queueTimeoutSeconds: body.queueTimeoutSeconds ?? LIMITS.defaultQueueSeconds,
        reason: body.reason ?? null,
        requireApproval: body.requireApproval === true,
        technician,
        classification,
        session: { id: s.id, machineId: s.machine_id, hostname: s.hostname },
        atMs,
        ...(asking.verifies ? { verifies: asking.verifies } : {}),
        ...(rollback ? { rollback } : {}),
      });
      // The signature covers what was asked of the Tenant; it is kept only if that is what is recorded.
      const presigned = !gate && signature !== null && shell === shell0 && s.machine_id === s0.machine_id;
      const outgoing = this.ctx.storage.transactionSync(() => {
        // A presigned dispatch's signature is stored with the command's row (one write, not a second UPDATE).
        this.store.apply(step.events, atMs, presigned ? signature : null);
        return this.kept(effectsOf(this.store, commandId, step.effects, rollback !== undefined));
      });
      this.follow(step.effects, outgoing, commandId);
      return ok({ commandId, state: step.state, approvalId });
    });
  }

  /**
   * Re-run a command that ran to an end, verbatim, as its verification: now (queued like any command, under the same
   * approval rules), or at `at`, kept as a scheduled check (`check.scheduled`) that the "checks" alarm requests when
   * due. Either way its `command.requested` carries `verifies: <baseline>`.
   */
  async verify(
    scope: Scope,
    technician: PersonRef,
    baselineId: string,
    at: string | undefined,
  ): Promise<Result<{ commandId: string; state: CommandState | "scheduled"; approvalId: string | null; at?: string }>> {
    const first = this.scoped(scope);
    if (!first.ok) return first;
    const baseline = this.store.command(baselineId);
    if (!baseline) return notFound("command");
    const refusal = baselineRefusal({ state: baseline.state, started: baseline.started_at !== null });
    if (refusal) return fail(refusal.status, refusal.code, refusal.message);
    if (at === undefined)
      return this.queue({ scope, technician }, rerunOf(baseline), { commandId: newId("cmd"), verifies: baseline.id });
    const atMs = Date.parse(at);
    const early = checkTimeRefusal(atMs, Date.now());
    if (early) return fail(early.status, early.code, early.message);
    const refused = await this.holderRefusal(first.value, technician.id);
    if (!refused.ok) return refused;
    return this.within(scope, (s) => {
      if (s.state !== "open") return fail(409, "session_closed", "session is closed");
      const holder = commandRefusal({ id: s.technician_id, name: null }, technician.id);
      if (holder) return fail(holder.status, holder.code, holder.message);
      const commandId = newId("cmd");
      const when = recordTimestamp(atMs);
      this.ctx.storage.transactionSync(() => {
        this.checks.add({
          command_id: commandId,
          baseline_id: baseline.id,
          at: when,
          requested_by: technician.id,
          requested_by_name: technician.name,
        });
        this.store.append("check.scheduled", `user:${technician.id}`, {
          commandId: baseline.id,
          at: when,
          checkCommandId: commandId,
          requestedBy: technician.id,
          requestedByName: technician.name,
        });
      });
      return ok({ commandId, state: "scheduled" as const, approvalId: null, at: when });
    });
  }

  /**
   * Scheduled checks now due are requested as the technician who scheduled them asked (they held the session then;
   * a handoff since does not cancel the check). A check whose command is already recorded is only marked requested.
   */
  private async requestDueChecks(): Promise<void> {
    for (const check of this.checks.due(recordTimestamp(Date.now()))) {
      const s = this.store.row();
      const baseline = this.store.command(check.baseline_id);
      if (!s || !baseline) return;
      if (!this.store.command(check.command_id)) {
        const asked = await this.queue(
          {
            scope: { tenantId: s.tenant_id, clientId: null },
            technician: { id: check.requested_by, name: check.requested_by_name },
          },
          rerunOf(baseline),
          { commandId: check.command_id, verifies: baseline.id, due: true },
        );
        if (!asked.ok) {
          this.ctx.storage.transactionSync(() => {
            this.checks.settle(check.command_id, "cancelled");
            this.store.append("check.cancelled", "system", {
              commandId: baseline.id,
              checkCommandId: check.command_id,
              at: check.at,
              reason: asked.message,
            });
          });
          continue;
        }
      }
      this.checks.settle(check.command_id, "requested");
    }
    this.checks.arm();
  }

  /**
   * A client contact's decision. Only a pending, unexpired approval of this session can be decided, once; granting
   * queues exactly the command it was requested for.
   */
  decide(
    scope: Scope,
    contact: PersonRef,
    approvalId: string,
    decision: "approve" | "decline",
    comment: string | null,
    channel: "portal" | "link" | "api",
  ): Result<{ state: string; commandState: CommandState }> {
    return this.within(scope, (s) => {
      const a = this.store.approval(approvalId);
      if (!a) return notFound("approval");
      const c = this.store.command(a.command_id) as CommandRow;
      const digest = sha256Hex(
        approvalSubject({
          shell: c.shell,
          command: c.command,
          machineId: s.machine_id,
          sessionId: s.id,
          technicianId: c.requested_by,
        }),
      );
      const refusal = decisionRefusal(
        { state: a.state, expiresAt: a.expires_at, digestMatches: digest === a.digest },
        c.state === "awaiting_approval",
        Date.now(),
      );
      if (refusal) {
        if (refusal.expire) this.expireApproval(a);
        return fail(409, refusal.code, refusal.message);
      }
      const granted = decision === "approve";
      this.step(c.id, { type: "decided", granted, approvalId, digest, contact, channel, comment });
      return ok({ state: granted ? "granted" : "declined", commandState: granted ? "queued" : "declined" });
    });
  }

  private expireApproval(a: ApprovalRow): void {
    this.step(a.command_id, { type: "approval_expired", approvalId: a.id });
  }

  cancel(scope: Scope, userId: string, commandId: string): Result<{ state: CommandState }> {
    return this.within(scope, () => {
      const step = this.step(commandId, { type: "cancel", actor: `user:${userId}` });
      if (!step) return notFound("command");
      if (step.refused) return fail(409, step.refused.code, step.refused.message);
      return ok({ state: step.state });
    });
  }

  addText(scope: Scope, actor: string, kind: "chat.message" | "note.added", text: string): Result<{ seq: number }> {
    return this.within(scope, (s) => {
      if (s.state === "closed" && kind === "note.added")
        return fail(409, "session_closed", "session is closed and sealed: its record is final");
      const frozen = notOpen(s.state);
      if (frozen && kind === "chat.message") return fail(frozen.status, frozen.code, frozen.message);
      return ok({ seq: this.store.append(kind, actor, { text }).seq });
    });
  }

  /**
   * Hand the session to a colleague, or take it over (`to` is the caller): recorded, shown in the transcript, and
   * announced to the new holder (and, for a takeover, the previous one); they see everything, running or waiting.
   */
  assign(scope: Scope, by: PersonRef, to: Handoff["to"], note: string | null): Result<{ seq: number }> {
    return this.within(scope, (s) => {
      const handoff: Handoff = { by, to };
      const refusal = handoffRefusal({ open: s.state === "open", holderId: s.technician_id }, handoff);
      if (refusal) return fail(refusal.status, refusal.code, refusal.message);
      const takeover = isTakeover(s.technician_id, handoff);
      const atMs = this.store.clock();
      const assigned = { from: s.technician_id, to: to.id, by: by.id, note, takeover, at: recordTimestamp(atMs) };
      return ok({
        seq: this.sessionEvent(() => {
          this.store.assignTo(to.id);
          const data = { from: s.technician_id, to: to.id, toName: to.name, byName: by.name, note };
          return this.store.append("session.assigned", `user:${by.id}`, takeover ? { ...data, takeover } : data, atMs);
        }, [sessionAssigned(s.id, assigned)]),
      });
    });
  }

  /**
   * Close under the organization's policy (core's `closeOutcome`): closed now, or sent for review (`review_pending`,
   * recorded as `session.review_requested`), or refused (409 `verification_required` without a verdict).
   */
  async close(scope: Scope, userId: string): Promise<Result<{ seq: number; state: "closed" | "review_pending" }>> {
    const first = this.scoped(scope);
    if (!first.ok) return first;
    const { closePolicy } = await tenant(this.env, first.value.tenant_id).settings();
    const closed = this.within(scope, (s) => {
      const outcome = this.closeUnder(s, closePolicy);
      if ("refused" in outcome) return fail(outcome.refused.status, outcome.refused.code, outcome.refused.message);
      const actor = `user:${userId}`;
      const seq = outcome.to === "closed" ? this.closeNow(actor, {}) : this.requestReview(actor, {});
      return ok({ seq, state: outcome.to });
    });
    // Sealed when the answer goes out (or, if the log is down, once it is back).
    if (closed.ok && closed.value.state === "closed") await this.outbox.drain(target.log(scope.tenantId));
    return closed;
  }

  private closeUnder(s: SessionRow, policy: ClosePolicy) {
    return closeOutcome({ state: s.state, policy, verdicts: s.verdicts, activeCommands: this.store.waitingCount() });
  }

  /**
   * The one way a session becomes closed (a technician's close, the idle close, an accepted review), inside the
   * caller's transaction: re-checks still to run are cancelled in the record, `session.closed` is the last event, and
   * the tenant's log is asked to seal that head (the outbox delivers it until it lands; the log appends it once).
   * Nothing is appended after it: the store refuses.
   */
  private closing(actor: string, data: Record<string, unknown>, atMs: number): Head {
    for (const check of this.checks.waiting()) {
      this.checks.settle(check.command_id, "cancelled");
      this.store.append("check.cancelled", actor, {
        commandId: check.baseline_id,
        checkCommandId: check.command_id,
        at: check.at,
        reason: CHECK_CANCELLED_BY_CLOSE,
      });
    }
    const head = this.store.append("session.closed", actor, data, atMs);
    const s = this.store.row() as SessionRow;
    const closedAt = recordTimestamp(atMs);
    this.store.moveTo("closed", closedAt);
    this.alarms.clear(IDLE_ALARM);
    const seal: Seal = { tenantId: s.tenant_id, sessionId: s.id, seq: head.seq, headHash: head.hash, closedAt };
    this.outbox.enqueue(target.log(s.tenant_id), SEAL_REQUESTED, s.id, seal);
    return head;
  }

  private closeNow(actor: string, data: Record<string, unknown>): number {
    const atMs = this.store.clock();
    const at = recordTimestamp(atMs);
    return this.sessionEvent(
      () => this.closing(actor, data, atMs),
      () => [sessionOutcome(this.store, { event: "session.closed", at, by: actor, ...reasonOf(data) })],
    );
  }

  /** The session's seal and its proof in the tenant's log; 404 `not_sealed` while it is open or not yet appended. */
  async seal(scope: Scope): Promise<Result<SealProof>> {
    const s = this.scoped(scope);
    if (!s.ok) return s;
    if (s.value.state !== "closed") return fail(404, "not_sealed", "the session is sealed when it closes");
    const log = transparencyLog(this.env, s.value.tenant_id);
    const found = await log.sealOf(s.value.tenant_id, s.value.id);
    const to = target.log(s.value.tenant_id);
    if (found.ok || found.code !== "not_sealed" || this.outbox.pending(to) === 0) return found;
    // Still in the outbox (the log was out of reach when the session closed): one more try, now.
    await this.outbox.drain(to);
    return log.sealOf(s.value.tenant_id, s.value.id);
  }

  /** Sent for review: frozen until a dispatcher or owner decides, so it never closes itself meanwhile. */
  private requestReview(actor: string, data: Record<string, unknown>): number {
    const at = recordTimestamp(this.store.clock());
    return this.sessionEvent(
      () => {
        this.store.moveTo("review_pending", at);
        this.alarms.clear(IDLE_ALARM);
        return this.store.append("session.review_requested", actor, data);
      },
      () => [sessionOutcome(this.store, { event: "session.review_requested", at, by: actor, ...reasonOf(data) })],
    );
  }

  /**
   * The technician's verdict on a before/after pair (`verification.recorded`, with the fields as given). Only the
   * session's holder records one, on commands of this session that finished.
   */
  recordVerdict(scope: Scope, technicianId: string, body: VerdictBody): Result<{ seq: number }> {
    return this.within(scope, (s) => {
      const holder = commandRefusal({ id: s.technician_id, name: null }, technicianId);
      if (holder) return fail(holder.status, holder.code, "only the session's technician records its verdicts");
      const refusal = verdictRefusal(s.state, {
        baseline: this.store.command(body.baselineCommandId),
        verify: body.verifyCommandId === undefined ? undefined : this.store.command(body.verifyCommandId),
      });
      if (refusal) return fail(refusal.status, refusal.code, refusal.message);
      const data = {
        baselineCommandId: body.baselineCommandId,
        ...(body.verifyCommandId === undefined ? {} : { verifyCommandId: body.verifyCommandId }),
        verdict: body.verdict,
        note: body.note,
      };
      return ok({
        seq: this.sessionEvent(() => {
          this.store.countVerdict(body.verdict);
          return this.store.append("verification.recorded", `user:${technicianId}`, data);
        }),
      });
    });
  }

  /** A reviewer accepts (the session closes) or returns it (it reopens for its technician, who is told). */
  async review(
    scope: Scope,
    reviewerId: string,
    decision: ReviewDecision,
    comment: string | null,
  ): Promise<Result<{ seq: number; state: "closed" | "open" }>> {
    const reviewed = this.within(scope, (s): Result<{ seq: number; state: "closed" | "open" }> => {
      const outcome = reviewOutcome({ state: s.state, holderId: s.technician_id, reviewerId, decision });
      if ("refused" in outcome) return fail(outcome.refused.status, outcome.refused.code, outcome.refused.message);
      const actor = `user:${reviewerId}`;
      const atMs = this.store.clock();
      const at = recordTimestamp(atMs);
      let seq = 0;
      this.sessionEvent(
        () => {
          seq = this.store.append("session.reviewed", actor, { decision, comment }, atMs).seq;
          if (outcome.to === "closed") return this.closing(actor, { review: "accepted" }, atMs);
          this.store.moveTo(outcome.to, at);
          this.alarms.set(IDLE_ALARM, atMs); // it looks at once, then a whole idle period after the last activity
          return this.store.head as Head;
        },
        () => [
          sessionOutcome(this.store, { event: "session.reviewed", at, by: actor, decision, comment }),
          ...(outcome.to === "closed"
            ? [sessionOutcome(this.store, { event: "session.closed", at, by: actor, reason: "review_accepted" })]
            : []),
        ],
      );
      return ok({ seq, state: outcome.to });
    });
    // An accepted review closed it: sealed when the answer goes out, as a technician's close is.
    if (reviewed.ok && reviewed.value.state === "closed") await this.outbox.drain(target.log(scope.tenantId));
    return reviewed;
  }

  /** The verdicts, each with the opening of both commands' output: what the review page shows first. */
  verdicts(scope: Scope): Result<VerdictView[]> {
    return this.within(scope, () => ok(verdictsOf(this.store)));
  }

  /**
   * A change to the session itself, recorded; the session list learns it, then the Fleet what else it is told (`told`
   * is computed after the change, so it sees it).
   */
  private sessionEvent(record: () => Head, told: Effect[] | (() => Effect[]) = []): number {
    const { head, outgoing } = this.ctx.storage.transactionSync(() => {
      const head = record();
      const changed = effectsOf(this.store, null, [{ kind: "session_changed" }]);
      const others = typeof told === "function" ? told() : told;
      return { head, outgoing: this.kept([...changed, ...others]) };
    });
    this.sent(outgoing);
    return head.seq;
  }

  // ---- deadlines

  /**
   * A command was queued: the alarm need only come no later than its expiry. It is never later than the earliest
   * deadline (it is set to exactly that, or earlier for one met since), and one that rings early finds nothing due and
   * is set to the next: so no query for the next deadline, and no write when an earlier one is set (every command of
   * a session but the first queued on an idle session).
   */
  private armDeadline(commandId: string): void {
    const c = this.store.command(commandId);
    if (c?.state === "queued" && c.delivered === 0 && c.queue_expires_at !== null)
      this.alarms.setEarliest(DEADLINES_ALARM, Date.parse(c.queue_expires_at));
    else this.scheduleAlarm();
  }

  /** The "deadlines" alarm rings at the next deadline: a queued command's expiry or a pending approval's. */
  private scheduleAlarm(): void {
    const next = this.store.nextDeadline();
    if (next === null) this.alarms.clear(DEADLINES_ALARM);
    else this.alarms.set(DEADLINES_ALARM, Date.parse(next));
  }

  protected override async onAlarm(name: string): Promise<void> {
    if (name === SEARCH_FEED_ALARM) await this.feed.alarm();
    else if (name === DEADLINES_ALARM) this.expireDeadlines();
    else if (name === IDLE_ALARM) await this.closeIfIdle();
    else if (name === CHECKS_ALARM) await this.requestDueChecks();
    else console.error(`session: no alarm named ${name}`);
  }

  /** Commands that waited too long for an offline machine, or for a client's approval, fail with the reason. */
  private expireDeadlines(): void {
    const now = recordTimestamp(Date.now());
    for (const c of this.store.expiredInQueue(now)) {
      this.step(c.id, {
        type: "queue_expired",
        requestedAt: c.requested_at,
        expiresAt: c.queue_expires_at as string,
      });
    }
    for (const a of this.store.expiredApprovals(now)) this.expireApproval(a);
    this.scheduleAlarm();
  }

  /**
   * Nothing recorded for the organization's idle time (and no command waiting): the session closes itself, recorded
   * as `session.closed` by `system` with `{reason: "idle", idleSeconds, idleCloseSeconds}`. Else it looks again when
   * core's `idleClose` says. The setting is read as it stands now, so a change reaches sessions already open.
   */
  private async closeIfIdle(): Promise<void> {
    const s = this.store.row();
    if (s?.state !== "open") return;
    const { idleCloseSeconds, closePolicy } = await tenant(this.env, s.tenant_id).settings();
    const now = this.store.row();
    if (now?.state !== "open") return; // closed while the setting was read
    const decision = idleClose({
      lastEventAtMs: this.store.lastEventAtMs,
      // A scheduled re-check waits too: an idle close would cancel what the technician left to run.
      waitingCommands: this.store.waitingCount() + this.checks.count(),
      idleCloseSeconds,
      nowMs: Date.now(),
    });
    if (!("close" in decision)) return this.alarms.set(IDLE_ALARM, decision.lookAgainAt);
    // Walking away does not get around the close policy: without a verdict it stays open (and looks again later).
    const outcome = this.closeUnder(now, closePolicy);
    if ("refused" in outcome) this.alarms.set(IDLE_ALARM, Date.now() + idleCloseSeconds * 1000);
    else if (outcome.to === "review_pending") this.requestReview("system", { ...decision.close });
    else this.closeNow("system", { ...decision.close });
  }

  /** Rebuild: push the whole record to the index again (the index ignores what it already holds). */
  reindex(): Promise<{ through: number }> {
    return this.feed.reindex();
  }

  // ---- the machine side

  /** Hand the next command to the machine when none is in flight (see core's `nextDispatch`). */
  private pump(): void {
    const s = this.store.row();
    if (!s) return;
    const next = nextDispatch(this.store.firstWaiting().map(lifecycleOf));
    if (next === null) return; // one at a time; redispatch() covers reconnects
    // Signed already (signed when it was requested, or before): handed over in this turn, so dispatched and delivered
    // are one write. Else it is delivered once signed.
    const c = this.store.command(next);
    const frame = c?.signature ? this.dispatchFrame(s, c) : null;
    this.store.markDispatched(next, frame !== null);
    void (frame ? this.handOver(s, next, frame) : this.deliver(s, next));
  }

  /**
   * Sign the command (once) and hand it to the Machine. It counts as delivered from the moment it is handed over, so a
   * cancel racing the hand-over goes to the runtime; if the machine turns out to be offline it is undelivered again.
   */
  private async deliver(s: SessionRow, commandId: string): Promise<void> {
    try {
      const frame = await this.signedDispatch(s, commandId);
      if (!frame) return;
      this.store.markDelivered(commandId);
      await this.handOver(s, commandId, frame);
    } catch (error) {
      console.error("dispatch failed; the machine's next connection resumes it", error);
    }
  }

  /** The dispatch to the Machine, counted as delivered already. */
  private async handOver(s: SessionRow, commandId: string, frame: DispatchFrame): Promise<void> {
    try {
      const { delivered } = await machine(this.env, s.machine_id).dispatch(s.id, frame);
      if (!delivered) {
        this.store.markUndelivered(commandId);
        this.step(commandId, { type: "settle_cancel" });
        this.scheduleAlarm();
      } else this.feed.handedOver();
    } catch (error) {
      console.error("dispatch failed; the machine's next connection resumes it", error);
    }
  }

  /**
   * The dispatch frame of a signed command as it stands, or null when it must not go out (ended, or waiting for the
   * client's yes).
   */
  private dispatchFrame(s: SessionRow, c: CommandRow): DispatchFrame | null {
    if (FINAL_COMMAND_STATES.has(c.state) || c.signature === null) return null;
    const gate = this.gateOf(c);
    return gate && this.frameOf(s, c, gate, c.signature);
  }

  /** Who asked and the client's yes the dispatch carries; null while a required yes is missing. */
  private gateOf(c: CommandRow) {
    const approval = c.approval_id ? this.store.approval(c.approval_id) : null;
    if (c.approval_required === 1 && approval?.state !== "granted") return null; // never without the client's yes
    return {
      technicianId: c.requested_by,
      approvalRequired: c.approval_required === 1,
      approval: approval ? { id: approval.id, digest: approval.digest } : null,
    };
  }

  private frameOf(
    s: SessionRow,
    c: CommandRow,
    gate: NonNullable<ReturnType<Session["gateOf"]>>,
    signature: string,
  ): DispatchFrame {
    return {
      t: "dispatch",
      sessionId: s.id,
      commandId: c.id,
      command: c.command,
      shell: c.shell,
      timeoutSeconds: c.timeout_seconds,
      resume: c.started_at !== null,
      ...gate,
      signature,
    };
  }

  /** The dispatch frame, signed by the tenant's key (the Tenant holds it; the signature is kept for redispatch). */
  private async signedDispatch(s: SessionRow, commandId: string): Promise<DispatchFrame | null> {
    let c = this.store.command(commandId);
    if (!c || FINAL_COMMAND_STATES.has(c.state)) return null;
    const gate = this.gateOf(c);
    if (!gate) return null;
    if (c.signature === null) {
      const message = dispatchMessage(s.machine_id, {
        sessionId: s.id,
        commandId: c.id,
        command: c.command,
        shell: c.shell,
        timeoutSeconds: c.timeout_seconds,
        ...gate,
      });
      const signed = await tenant(this.env, s.tenant_id).sign(message);
      if (!signed.ok) {
        // Nothing goes out unsigned. Said clearly; the machine's next connection (say, once the server runs with the
        // right CAISEY_KEY_SECRET) tries again.
        console.error(`the dispatch of ${c.id} cannot be signed: ${signed.message}`);
        await machine(this.env, s.machine_id).resumeLater(s.id);
        return null;
      }
      // The row as it stands after the write (it may have been cancelled or expired while signing), read by the write.
      c = this.store.signOnce(c.id, signed.value) ?? this.store.command(commandId);
      if (!c || FINAL_COMMAND_STATES.has(c.state)) return null; // cancelled or expired while signing
    }
    return this.frameOf(s, c, gate, c.signature as string);
  }

  /** The machine's runtime (re)connected: send the command in flight again (the runtime ignores one it knows). */
  async redispatch(machineId: string): Promise<{ active: boolean; frame: DispatchFrame | null }> {
    const s = this.store.row();
    if (!s || s.machine_id !== machineId) return { active: false, frame: null };
    for (;;) {
      const resume = resumeDispatch(this.store.firstWaiting().map(lifecycleOf));
      if (resume.kind === "idle") return { active: false, frame: null };
      if (resume.kind === "awaiting_approval") return { active: true, frame: null }; // waits for the client, in order
      if (resume.kind === "settle_cancel") {
        this.step(resume.id, { type: "settle_cancel" });
        continue; // settled: look again
      }
      this.store.markDispatched(resume.id, true);
      // The Machine sends it on the socket that just proved itself.
      return { active: true, frame: await this.signedDispatch(s, resume.id) };
    }
  }

  /** What is committed for a command, from its row as it stands after this frame. */
  private ack(c: CommandRow): AckFrame {
    return {
      t: "ack",
      sessionId: (this.store.row() as SessionRow).id,
      commandId: c.id,
      started: c.started_at !== null,
      stdout: c.stdout_committed,
      stderr: c.stderr_committed,
      finished: FINAL_COMMAND_STATES.has(c.state),
    };
  }

  /**
   * A frame from this session's machine. Returns what is committed for the command, for the runtime's outbox; after a
   * finish, `idle` says the session has nothing left for the machine (it leaves the Machine's resume list), so the
   * Machine does not make a second call to ask.
   */
  runtimeFrame(
    machineId: string,
    frame: PrestateFrame | StartedFrame | FinishedFrame,
  ): Result<AckFrame & { idle?: true }> {
    const found = this.machineCommand(machineId, frame);
    if (!found.ok) return found;
    const c = found.value;
    const actor = `machine:${machineId}`;
    if (frame.t === "prestate") {
      // Kept until the start; a part of a command already started or ended is recorded already, or never will be.
      if (c.state === "queued" && c.started_at === null) this.prestate.keep(frame);
      return ok(this.ack(c));
    }
    const step =
      frame.t === "started"
        ? this.step(c.id, { type: "started", actor, frame, prestate: this.prestate.take(c.id) })
        : this.step(c.id, { type: "finished", actor, frame });
    const after = step?.events.length ? (this.store.command(c.id) as CommandRow) : c;
    if (after.started_at !== null || FINAL_COMMAND_STATES.has(after.state)) this.prestate.drop(c.id);
    const ack = this.ack(after);
    return ok(ack.finished && this.store.firstWaiting().length === 0 ? { ...ack, idle: true } : ack);
  }

  /**
   * Frames of this session's machine that came while its previous call here was under way, applied in arrival order in
   * this one call: one turn, so one commit, instead of one per frame. Each is answered as its own call would be (a
   * refusal is that frame's alone; the next frames still apply), and the answers leave only once all are committed.
   * A frame that throws ends the call: what came before it stays committed, the Machine closes the socket, and the
   * runtime sends again what has no ack (the Session skips what it holds), as with a single frame.
   */
  runtimeFrames(machineId: string, frames: readonly RuntimePart[]): Result<Result<AckFrame & { idle?: true }>[]> {
    return ok(
      frames.map((f) =>
        f.t === "output" ? this.runtimeOutput(machineId, f.header, f.bytes) : this.runtimeFrame(machineId, f.frame),
      ),
    );
  }

  /** Output bytes from this session's machine (a binary frame). Returns what is committed, for the runtime's outbox. */
  runtimeOutput(machineId: string, header: OutputHeader, bytes: Uint8Array): Result<AckFrame> {
    const found = this.machineCommand(machineId, header);
    if (!found.ok) return found;
    const c = found.value;
    const decision = acceptOutput(lifecycleOf(c), {
      stream: header.stream,
      offset: header.offset,
      length: bytes.length,
    });
    if (decision.kind === "refuse") return fail(409, decision.code, decision.message);
    if (decision.kind === "skip") return ok(this.ack(c)); // duplicate, or a gap the runtime fills on resend
    return ok(this.ack(this.store.commitOutput(c, header.stream, decision, bytes, `machine:${machineId}`)));
  }

  private machineCommand(machineId: string, frame: { sessionId: string; commandId: string }): Result<CommandRow> {
    const s = this.store.row();
    if (!s || s.machine_id !== machineId || frame.sessionId !== s.id) return notFound("session");
    const c = this.store.command(frame.commandId);
    return c ? ok(c) : notFound("command");
  }

  // ---- live sockets (hibernatable)

  override async fetch(request: Request): Promise<Response> {
    // Only the Worker reaches this; it has authenticated the caller and scoped the tenant.
    const clientHeader = request.headers.get("x-caisey-client");
    const scope: Scope = {
      tenantId: request.headers.get("x-caisey-tenant") ?? "",
      clientId: clientHeader && clientHeader.length > 0 ? clientHeader : null,
    };
    const actor = request.headers.get("x-caisey-actor") ?? "";
    const name = decodeURIComponent(request.headers.get("x-caisey-name") ?? "");
    const after = Number(new URL(request.url).searchParams.get("after") ?? "0");
    const scoped = this.scoped(scope);
    if (!scoped.ok)
      return Response.json({ error: { code: "not_found", message: "session not found" } }, { status: 404 });
    const present = this.live.watchers().some((w) => w.actor === actor);
    const pair = new WebSocketPair();
    this.live.accept(pair[1], actor, name, Math.min(after, this.store.seq));
    // Presence is part of the record: who watched, from when to when (once per person, however many tabs).
    if (!present && scoped.value.state === "open") this.store.append("participant.joined", actor, { name });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {
    // The live socket is one-way; anything a browser sends is refused without effect.
    ws.send(JSON.stringify({ error: { code: "read_only", message: "the live socket only streams events" } }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    const leaving = ws.deserializeAttachment() as LiveAttachment | null;
    this.live.closed(ws);
    if (
      leaving &&
      this.store.row()?.state === "open" &&
      !this.live.watchers(ws).some((w) => w.actor === leaving.actor)
    ) {
      this.store.append("participant.left", leaving.actor, { name: leaving.name });
    }
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "bye");
    } catch {
      // already closed
    }
  }
}

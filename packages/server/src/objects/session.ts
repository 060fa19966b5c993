// The session's record. This object is the single writer of the session's event log: it appends every event with
// the hash chain, holds the browsers' live sockets, queues commands and hands them to the machine one at a time,
// and acknowledges runtime output only once it is committed. Nothing else writes a session's events.

import { DurableObject } from "cloudflare:workers";
import { createHash, type Hash } from "node:crypto";
import {
  type AckFrame,
  type ApprovalPolicy,
  approvalRequired,
  approvalSubject,
  base64DecodedLength,
  type CommandBody,
  type CommandState,
  cancelMessage,
  classifyCommand,
  type DispatchFrame,
  defaultShell,
  dispatchMessage,
  encodeOutputRecord,
  encodeRecord,
  FINAL_COMMAND_STATES,
  type FinishedFrame,
  genesisHash,
  type Head,
  LIMITS,
  newId,
  nextHash,
  type OutputHeader,
  recordTimestamp,
  type Shell,
  type StartedFrame,
  shellsFor,
  summarizeCommand,
} from "@caisey/core";
import { decodeBase64, encodeBase64, sha256, sha256Hex } from "../crypto.ts";
import { type Env, fleet, machine, outputIndexCap, searchIndex, tenant } from "../env.ts";
import { migrate } from "../migrations.ts";
import { fail, notFound, ok, type Result } from "../result.ts";
import { type LiveAttachment, LiveFeed } from "./live-feed.ts";

const MIGRATIONS = [
  {
    name: "session, events, commands",
    sql: `CREATE TABLE session (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, machine_id TEXT NOT NULL, client_id TEXT NOT NULL,
            hostname TEXT NOT NULL, os TEXT NOT NULL, technician_id TEXT NOT NULL, ticket TEXT, state TEXT NOT NULL,
            opened_at TEXT NOT NULL, closed_at TEXT);
          CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, record TEXT NOT NULL, hash TEXT NOT NULL,
            command_id TEXT, stream TEXT, offset INTEGER);
          CREATE INDEX events_output ON events(command_id, stream, offset) WHERE type = 'command.output';
          CREATE TABLE commands (id TEXT PRIMARY KEY, position INTEGER NOT NULL, command TEXT NOT NULL, shell TEXT NOT NULL,
            state TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, reason TEXT, timeout_seconds INTEGER,
            dispatched INTEGER NOT NULL DEFAULT 0, started_at TEXT, finished_at TEXT, exit_code INTEGER,
            stdout_committed INTEGER NOT NULL DEFAULT 0, stderr_committed INTEGER NOT NULL DEFAULT 0,
            stdout_sha256 TEXT, stderr_sha256 TEXT, duration_ms INTEGER, pid INTEGER, reason_final TEXT);
          CREATE INDEX commands_position ON commands(position);`,
  },
  {
    name: "command delivery and queue expiry",
    sql: `ALTER TABLE commands ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN queue_expires_at TEXT;`,
  },
  {
    name: "signed dispatch and pending cancel",
    sql: `ALTER TABLE commands ADD COLUMN signature TEXT;
          ALTER TABLE commands ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    name: "client approvals",
    sql: `ALTER TABLE commands ADD COLUMN approval_required INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN approval_id TEXT;
          ALTER TABLE commands ADD COLUMN classification TEXT;
          CREATE TABLE approvals (id TEXT PRIMARY KEY, command_id TEXT NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL,
            summary TEXT NOT NULL, requested_at TEXT NOT NULL, expires_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT,
            channel TEXT, comment TEXT);
          CREATE INDEX approvals_pending ON approvals(state, expires_at);`,
  },
  {
    name: "search index feed watermark",
    sql: `CREATE TABLE index_feed (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL);
          INSERT INTO index_feed (id, through) VALUES (1, 0);`,
  },
];

/** Bounds of one push to the search index: events, and record bytes. */
const INDEX_BATCH_EVENTS = 256;
const INDEX_BATCH_BYTES = 4 * 1024 * 1024;
/** A session behind on indexing wakes itself within this time, even after a crash (the alarm is durable). */
const INDEX_GUARD_MS = 5_000;

/** How long a client contact has to decide, unless the technician says otherwise. */
const APPROVAL_TTL_MS = 30 * 60_000;

const OUTPUT_PAGE_BYTES = 2 * 1024 * 1024;

/** The data of a `command.output` event. */
type OutputData = { commandId: string; stream: "stdout" | "stderr"; offset: number; data: string };

type SessionRow = {
  id: string;
  tenant_id: string;
  machine_id: string;
  client_id: string;
  hostname: string;
  os: string;
  technician_id: string;
  ticket: string | null;
  state: "open" | "closed";
  opened_at: string;
  closed_at: string | null;
};

type CommandRow = {
  id: string;
  position: number;
  command: string;
  shell: Shell;
  state: CommandState;
  requested_by: string;
  requested_at: string;
  reason: string | null;
  timeout_seconds: number | null;
  dispatched: number;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  stdout_committed: number;
  stderr_committed: number;
  stdout_sha256: string | null;
  stderr_sha256: string | null;
  duration_ms: number | null;
  pid: number | null;
  reason_final: string | null;
  delivered: number;
  queue_expires_at: string | null;
  signature: string | null;
  cancel_requested: number;
  approval_required: number;
  approval_id: string | null;
  classification: "read" | "change" | null;
};

type ApprovalRow = {
  id: string;
  command_id: string;
  digest: string;
  state: "pending" | "granted" | "declined" | "expired" | "withdrawn";
  summary: string;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  channel: string | null;
  comment: string | null;
};

/** Who asks for a command or decides on one: the id and the name shown in the record. */
export interface Person {
  id: string;
  name: string;
}

/** Whose view a call is made in: the tenant, and for a client contact, their client. */
export interface Scope {
  tenantId: string;
  clientId: string | null;
}

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

export function commandView(c: CommandRow) {
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
  };
}

/** "YYYY-MM" of a record line (its ts is always at the same place: {"seq":N,"ts":"YYYY-MM-…). */
function monthOf(record: string): string {
  const at = record.indexOf('"ts":"') + 6;
  return record.slice(at, at + 7);
}

function formatSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** An event as the API serves it: the record with its chain hash spliced in, never re-serialized. */
function withHash(record: string, hash: string): string {
  return `${record.slice(0, -1)},"hash":"${hash}"}`;
}

export class Session extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private head: Head | null = null;
  private lastTsMs = 0;
  private readonly live: LiveFeed;
  /** The search index feed: one push at a time, a short timer after appends, a durable alarm as the safety net. */
  private feeding = false;
  private feedTimer: ReturnType<typeof setTimeout> | null = null;
  private indexGuardArmed = false;
  /** Running SHA-256 of each stream's committed bytes, while this object stays in memory (else recomputed). */
  private readonly streamHashes = new Map<string, { hash: Hash; bytes: number }>();
  private readonly outputIndexCap: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.outputIndexCap = outputIndexCap(env);
    migrate(ctx.storage, MIGRATIONS);
    this.live = new LiveFeed(
      ctx,
      (after, limit) =>
        this.sql
          .exec<{ seq: number; record: string; hash: string }>(
            "SELECT seq, record, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            after,
            limit,
          )
          .toArray()
          .map((r) => ({ seq: r.seq, message: withHash(r.record, r.hash) })),
      () => this.head?.seq ?? 0,
    );
    const last = this.sql
      .exec<{ seq: number; hash: string; record: string }>(
        "SELECT seq, hash, record FROM events ORDER BY seq DESC LIMIT 1",
      )
      .toArray()[0];
    if (last) {
      this.head = { seq: last.seq, hash: last.hash };
      this.lastTsMs = Date.parse((JSON.parse(last.record) as { ts: string }).ts);
    }
  }

  // ---- the record

  /** The session's own row, cached: it is read on every runtime frame and changes only on open and close. */
  private cachedRow: SessionRow | null = null;

  private row(): SessionRow | null {
    this.cachedRow ??= this.sql.exec<SessionRow>("SELECT * FROM session").toArray()[0] ?? null;
    return this.cachedRow;
  }

  /** The session as seen by the caller: another tenant, or a contact of another client, gets "not found". */
  private scoped(scope: Scope): Result<SessionRow> {
    const row = this.row();
    if (!row || row.tenant_id !== scope.tenantId) return notFound("session");
    if (scope.clientId !== null && row.client_id !== scope.clientId) return notFound("session");
    return ok(row);
  }

  /** Append one event: next seq, monotonic timestamp, chain hash; then push it to every live socket. */
  private append(type: string, actor: string, data: Record<string, unknown>): Head {
    return this.appendLine(type, (seq, ts) => encodeRecord({ seq, ts, type, actor, data }));
  }

  /** Append a `command.output` event (its own encoder: output is nearly every byte of a record). */
  private appendOutput(actor: string, output: OutputData): Head {
    return this.appendLine("command.output", (seq, ts) => encodeOutputRecord(seq, ts, actor, output), output);
  }

  private appendLine(
    type: string,
    encode: (seq: number, ts: string) => string,
    output?: { commandId: string; stream: string; offset: number },
  ): Head {
    const head = this.head ?? { seq: 0, hash: genesisHash(sha256, (this.row() as SessionRow).id) };
    const tsMs = Math.max(Date.now(), this.lastTsMs);
    const seq = head.seq + 1;
    const record = encode(seq, recordTimestamp(tsMs));
    const hash = nextHash(sha256, head.hash, record);
    this.sql.exec(
      "INSERT INTO events (seq, type, record, hash, command_id, stream, offset) VALUES (?, ?, ?, ?, ?, ?, ?)",
      seq,
      type,
      record,
      hash,
      output?.commandId ?? null,
      output?.stream ?? null,
      output?.offset ?? null,
    );
    this.head = { seq, hash };
    this.lastTsMs = tsMs;
    this.live.published(seq, withHash(record, hash));
    this.scheduleFeed();
    return this.head;
  }

  open(input: OpenSession): Result<{ openedAt: string }> {
    if (this.row()) return fail(409, "session_exists", "session already exists");
    const openedAt = recordTimestamp(Date.now());
    this.sql.exec(
      `INSERT INTO session (id, tenant_id, machine_id, client_id, hostname, os, technician_id, ticket, state, opened_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
      input.sessionId,
      input.tenantId,
      input.machineId,
      input.clientId,
      input.hostname,
      input.os,
      input.technicianId,
      input.ticket,
      openedAt,
    );
    this.append("session.opened", `user:${input.technicianId}`, {
      sessionId: input.sessionId,
      machineId: input.machineId,
      clientId: input.clientId,
      hostname: input.hostname,
      technicianId: input.technicianId,
      ticket: input.ticket,
    });
    return ok({ openedAt });
  }

  private commands(): CommandRow[] {
    return this.sql.exec<CommandRow>("SELECT * FROM commands ORDER BY position").toArray();
  }

  private command(commandId: string): CommandRow | null {
    return this.sql.exec<CommandRow>("SELECT * FROM commands WHERE id = ?", commandId).toArray()[0] ?? null;
  }

  summary(scope: Scope) {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const s = scoped.value;
    return ok({
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
        head: this.head as Head,
        participants: this.live.watchers(),
      },
      commands: this.commands().map(commandView),
    });
  }

  commandDetail(scope: Scope, commandId: string) {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const c = this.command(commandId);
    return c ? ok({ command: commandView(c) }) : notFound("command");
  }

  events(scope: Scope, after: number, limit: number): Result<{ events: string[]; head: Head }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const rows = this.sql
      .exec<{ record: string; hash: string }>(
        "SELECT record, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        after,
        limit,
      )
      .toArray();
    return ok({ events: rows.map((r) => withHash(r.record, r.hash)), head: this.head as Head });
  }

  /** A page of record lines (for the NDJSON export), bounded in bytes so a huge session streams page by page. */
  recordPage(scope: Scope, after: number): Result<{ lines: string[]; last: number; done: boolean }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const lines: string[] = [];
    let last = after;
    let bytes = 0;
    for (const row of this.sql.exec<{ seq: number; record: string }>(
      "SELECT seq, record FROM events WHERE seq > ? ORDER BY seq",
      after,
    )) {
      if (bytes > OUTPUT_PAGE_BYTES) return ok({ lines, last, done: false });
      lines.push(row.record);
      bytes += row.record.length;
      last = row.seq;
    }
    return ok({ lines, last, done: true });
  }

  /** A page of one stream's output from byte `from`, as base64 chunks in order. */
  outputPage(
    scope: Scope,
    commandId: string,
    stream: "stdout" | "stderr",
    from: number,
  ): Result<{ chunks: string[]; next: number; done: boolean }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    if (!this.command(commandId)) return notFound("command");
    const chunks: string[] = [];
    let next = from;
    let bytes = 0;
    const rows = this.sql.exec<{ record: string; offset: number }>(
      "SELECT record, offset FROM events WHERE type = 'command.output' AND command_id = ? AND stream = ? AND offset >= ? ORDER BY offset",
      commandId,
      stream,
      from,
    );
    for (const row of rows) {
      if (bytes >= OUTPUT_PAGE_BYTES) return ok({ chunks, next, done: false });
      const data = (JSON.parse(row.record) as { data: { data: string } }).data.data;
      chunks.push(data);
      const length = base64DecodedLength(data);
      next = row.offset + length;
      bytes += length;
    }
    return ok({ chunks, next, done: true });
  }

  // ---- technician actions

  /**
   * Queue a command. When the client's approval policy (or the technician) requires it, the command waits in
   * `awaiting_approval` with an approval request bound to its exact text, shell, machine, session and technician.
   */
  async requestCommand(
    scope: Scope,
    technician: Person,
    body: CommandBody,
  ): Promise<Result<{ commandId: string; state: CommandState; approvalId: string | null }>> {
    const first = this.scoped(scope);
    if (!first.ok) return first;
    const policy: ApprovalPolicy = await tenant(this.env, first.value.tenant_id).clientPolicy(first.value.client_id);
    const scoped = this.scoped(scope); // read again after the await: the session may have closed meanwhile
    if (!scoped.ok) return scoped;
    const s = scoped.value;
    if (s.state !== "open") return fail(409, "session_closed", "session is closed");
    const shell = body.shell ?? defaultShell(s.os);
    if (!shellsFor(s.os).includes(shell))
      return fail(422, "shell_unavailable", `${shell} is not available on a ${s.os} machine`);
    const classification = classifyCommand(shell, body.command);
    const gate = approvalRequired(policy, classification.kind, body.requireApproval === true);
    const commandId = newId("cmd");
    const approvalId = gate ? newId("apr") : null;
    const position = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM commands").one().n + 1;
    const timeoutSeconds = body.timeoutSeconds ?? null;
    const queueSeconds = body.queueTimeoutSeconds ?? LIMITS.defaultQueueSeconds;
    const actor = `user:${technician.id}`;
    this.ctx.storage.transactionSync(() => {
      this.append("command.requested", actor, {
        commandId,
        command: body.command,
        shell,
        timeoutSeconds,
        queueTimeoutSeconds: queueSeconds,
        reason: body.reason ?? null,
        requestedBy: technician.id,
        classification: classification.kind,
        approvalRequired: gate,
      });
      this.sql.exec(
        `INSERT INTO commands (id, position, command, shell, state, requested_by, requested_at, reason, timeout_seconds, queue_expires_at,
           approval_required, approval_id, classification)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        commandId,
        position,
        body.command,
        shell,
        gate ? "awaiting_approval" : "queued",
        technician.id,
        recordTimestamp(this.lastTsMs),
        body.reason ?? null,
        timeoutSeconds,
        recordTimestamp(this.lastTsMs + queueSeconds * 1000),
        gate ? 1 : 0,
        approvalId,
        classification.kind,
      );
      if (approvalId) {
        const { summary, lines } = summarizeCommand(shell, body.command);
        const digest = sha256Hex(
          approvalSubject({
            shell,
            command: body.command,
            machineId: s.machine_id,
            sessionId: s.id,
            technicianId: technician.id,
          }),
        );
        const expiresAt = recordTimestamp(
          this.lastTsMs + (body.approvalTimeoutSeconds ? body.approvalTimeoutSeconds * 1000 : APPROVAL_TTL_MS),
        );
        this.append("approval.requested", actor, {
          approvalId,
          commandId,
          command: body.command,
          shell,
          summary,
          lines,
          reason: body.reason ?? null,
          technicianId: technician.id,
          technicianName: technician.name,
          machineId: s.machine_id,
          hostname: s.hostname,
          sessionId: s.id,
          digest,
          expiresAt,
          because: body.requireApproval
            ? "the technician asked for approval"
            : policy === "always"
              ? "the client approves every command"
              : classification.reasons.join("; "),
        });
        this.sql.exec(
          "INSERT INTO approvals (id, command_id, digest, state, summary, requested_at, expires_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
          approvalId,
          commandId,
          digest,
          summary,
          recordTimestamp(this.lastTsMs),
          expiresAt,
        );
      }
    });
    if (approvalId) this.announceApproval(approvalId);
    void this.scheduleAlarm();
    this.pump();
    this.reportToTenant();
    return ok({ commandId, state: gate ? "awaiting_approval" : "queued", approvalId });
  }

  /** Tell the Tenant (for the pending list, the portal and webhooks) about an approval's current state. */
  private announceApproval(approvalId: string): void {
    const s = this.row();
    const a = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", approvalId).toArray()[0];
    if (!s || !a) return;
    const c = this.command(a.command_id) as CommandRow;
    void fleet(this.env, s.tenant_id)
      .trackApproval({
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
      })
      .catch((error: unknown) => console.error("approval not announced to the tenant", error));
  }

  /**
   * A client contact's decision. Only a pending, unexpired approval of this session can be decided, once; granting
   * queues exactly the command it was requested for.
   */
  decide(
    scope: Scope,
    contact: Person,
    approvalId: string,
    decision: "approve" | "decline",
    comment: string | null,
    channel: "portal" | "link" | "api",
  ): Result<{ state: string; commandState: CommandState }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const a = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", approvalId).toArray()[0];
    if (!a) return notFound("approval");
    if (a.state !== "pending") return fail(409, "approval_decided", `approval already ${a.state}`);
    if (Date.parse(a.expires_at) <= Date.now()) {
      this.expireApproval(a);
      return fail(409, "approval_decided", "approval already expired");
    }
    const c = this.command(a.command_id) as CommandRow;
    const s = scoped.value;
    const digest = sha256Hex(
      approvalSubject({
        shell: c.shell,
        command: c.command,
        machineId: s.machine_id,
        sessionId: s.id,
        technicianId: c.requested_by,
      }),
    );
    if (digest !== a.digest || c.state !== "awaiting_approval")
      return fail(409, "approval_mismatch", "the command no longer matches what approval was requested for");
    const granted = decision === "approve";
    const decidedAt = recordTimestamp(Date.now());
    this.ctx.storage.transactionSync(() => {
      this.append(granted ? "approval.granted" : "approval.declined", `contact:${contact.id}`, {
        approvalId,
        commandId: c.id,
        digest,
        contactId: contact.id,
        contactName: contact.name,
        channel,
        comment,
      });
      this.sql.exec(
        "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, channel = ?, comment = ? WHERE id = ?",
        granted ? "granted" : "declined",
        contact.id,
        decidedAt,
        channel,
        comment,
        approvalId,
      );
      if (granted) this.sql.exec("UPDATE commands SET state = 'queued' WHERE id = ?", c.id);
    });
    if (!granted) {
      this.finishCommand(
        c,
        "system",
        {
          state: "declined",
          exitCode: null,
          signal: null,
          reason: `declined by ${contact.name}${comment ? `: ${comment}` : ""}`,
          durationMs: 0,
        },
        null,
      );
    }
    this.announceApproval(approvalId);
    this.pump();
    this.reportToTenant();
    return ok({ state: granted ? "granted" : "declined", commandState: granted ? "queued" : "declined" });
  }

  private expireApproval(a: ApprovalRow): void {
    const c = this.command(a.command_id) as CommandRow;
    this.ctx.storage.transactionSync(() => {
      this.append("approval.expired", "system", { approvalId: a.id, commandId: a.command_id });
      this.sql.exec("UPDATE approvals SET state = 'expired' WHERE id = ?", a.id);
    });
    this.finishCommand(
      c,
      "system",
      {
        state: "failed",
        exitCode: null,
        signal: null,
        reason: "the client's approval was not given before it expired",
        durationMs: 0,
      },
      null,
    );
    this.announceApproval(a.id);
  }

  cancel(scope: Scope, userId: string, commandId: string): Result<{ state: CommandState }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const c = this.command(commandId);
    if (!c) return notFound("command");
    if (FINAL_COMMAND_STATES.has(c.state)) return fail(409, "command_finished", `command already ${c.state}`);
    if (c.state === "awaiting_approval" || (c.state === "queued" && c.delivered === 0)) {
      // The machine never received it: nothing can be running, so the cancel is recorded here and now.
      this.finishCommand(
        c,
        `user:${userId}`,
        { state: "cancelled", exitCode: null, signal: null, reason: "cancelled before it started", durationMs: 0 },
        null,
      );
      if (c.approval_id && c.state === "awaiting_approval") {
        // The request is withdrawn: it leaves the client's pending list and can no longer be decided.
        this.sql.exec("UPDATE approvals SET state = 'withdrawn' WHERE id = ? AND state = 'pending'", c.approval_id);
        this.announceApproval(c.approval_id);
      }
      return ok({ state: "cancelled" });
    }
    // In the machine's hands (or on its way): ask the runtime to end the whole process tree; it records the end.
    this.sql.exec("UPDATE commands SET cancel_requested = 1 WHERE id = ?", c.id);
    const s = scoped.value;
    void tenant(this.env, s.tenant_id)
      .sign(cancelMessage(s.machine_id, { sessionId: s.id, commandId }))
      .then((signature) =>
        machine(this.env, s.machine_id).cancel(s.id, { t: "cancel", sessionId: s.id, commandId, signature }),
      )
      .catch((error) => console.error("cancel not delivered; the next dispatch of this command records it", error));
    return ok({ state: c.state });
  }

  addText(scope: Scope, actor: string, kind: "chat.message" | "note.added", text: string): Result<{ seq: number }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    if (scoped.value.state !== "open" && kind === "chat.message")
      return fail(409, "session_closed", "session is closed");
    return ok({ seq: this.append(kind, actor, { text }).seq });
  }

  /** Hand the session to a colleague: recorded, shown in the transcript; they see everything, running or waiting. */
  assign(scope: Scope, by: Person, to: Person, note: string | null): Result<{ seq: number }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    const s = scoped.value;
    if (s.state !== "open") return fail(409, "session_closed", "session is closed");
    if (s.technician_id === to.id)
      return fail(409, "already_assigned", `the session is already assigned to ${to.name}`);
    const head = this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE session SET technician_id = ?", to.id);
      this.cachedRow = null;
      return this.append("session.assigned", `user:${by.id}`, {
        from: s.technician_id,
        to: to.id,
        toName: to.name,
        byName: by.name,
        note,
      });
    });
    this.reportToTenant();
    return ok({ seq: head.seq });
  }

  close(scope: Scope, userId: string): Result<{ seq: number }> {
    const scoped = this.scoped(scope);
    if (!scoped.ok) return scoped;
    if (scoped.value.state === "closed") return fail(409, "session_closed", "session is already closed");
    const active = this.commands().filter((c) => !FINAL_COMMAND_STATES.has(c.state));
    if (active.length > 0)
      return fail(409, "commands_active", `${active.length} command(s) still queued or running; cancel them first`);
    const closedAt = recordTimestamp(Date.now());
    this.sql.exec("UPDATE session SET state = 'closed', closed_at = ?", closedAt);
    this.cachedRow = null;
    const head = this.append("session.closed", `user:${userId}`, {});
    this.reportToTenant();
    return ok({ seq: head.seq });
  }

  // ---- deadlines

  /** The alarm wakes the session for the next deadline: a queued command's expiry or a pending approval's. */
  private async scheduleAlarm(): Promise<void> {
    const next = this.sql
      .exec<{ at: string | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(queue_expires_at) AS at FROM commands WHERE state = 'queued' AND delivered = 0
           UNION ALL SELECT MIN(expires_at) AS at FROM approvals WHERE state = 'pending')`,
      )
      .one().at;
    if (next !== null) await this.armAlarm(Date.parse(next));
  }

  /** Commands that waited too long for an offline machine, or for a client's approval, fail with the reason. */
  override async alarm(): Promise<void> {
    this.indexGuardArmed = false;
    if (this.row() && this.indexedThrough() < (this.head?.seq ?? 0)) await this.feedIndex();
    const now = recordTimestamp(Date.now());
    const expired = this.sql
      .exec<CommandRow>(
        "SELECT * FROM commands WHERE state = 'queued' AND delivered = 0 AND queue_expires_at <= ? ORDER BY position",
        now,
      )
      .toArray();
    for (const c of expired) {
      const waited = Math.round((Date.parse(c.queue_expires_at as string) - Date.parse(c.requested_at)) / 1000);
      this.finishCommand(
        c,
        "system",
        {
          state: "failed",
          exitCode: null,
          signal: null,
          reason: `expired: the machine did not come online within ${formatSeconds(waited)}`,
          durationMs: 0,
        },
        null,
      );
    }
    for (const a of this.sql
      .exec<ApprovalRow>("SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= ?", now)
      .toArray()) {
      this.expireApproval(a);
    }
    await this.scheduleAlarm();
  }

  // ---- the machine side

  /** Hand the next command to the machine when none is in flight. Commands of a session run strictly in order. */
  private pump(): void {
    const s = this.row();
    if (!s) return;
    const inFlight = this.sql
      .exec("SELECT 1 FROM commands WHERE state = 'running' OR (state = 'queued' AND dispatched = 1) LIMIT 1")
      .toArray();
    if (inFlight.length > 0) return; // one at a time; redispatch() covers reconnects
    // Strict order: a command waiting for the client's approval holds back the ones after it.
    const next = this.sql
      .exec<CommandRow>(
        "SELECT * FROM commands WHERE state IN ('queued', 'awaiting_approval') ORDER BY position LIMIT 1",
      )
      .toArray()[0];
    if (!next || next.state === "awaiting_approval") return;
    this.sql.exec("UPDATE commands SET dispatched = 1 WHERE id = ?", next.id);
    void this.deliver(s, next.id);
  }

  /**
   * Sign the command (once) and hand it to the Machine. It counts as delivered from the moment it is handed over, so a
   * cancel racing the hand-over goes to the runtime; if the machine turns out to be offline it is undelivered again.
   */
  private async deliver(s: SessionRow, commandId: string): Promise<void> {
    try {
      const frame = await this.signedDispatch(s, commandId);
      if (!frame) return;
      this.sql.exec("UPDATE commands SET delivered = 1 WHERE id = ?", commandId);
      const { delivered } = await machine(this.env, s.machine_id).dispatch(s.id, frame);
      if (!delivered) {
        this.sql.exec("UPDATE commands SET delivered = 0 WHERE id = ? AND state = 'queued'", commandId);
        this.settleCancelled(commandId);
        void this.scheduleAlarm();
      }
    } catch (error) {
      console.error("dispatch failed; the machine's next connection resumes it", error);
    }
  }

  /** A cancel asked for while the command was on its way to an offline machine: nothing ran, record it. */
  private settleCancelled(commandId: string): boolean {
    const c = this.command(commandId);
    if (c?.state !== "queued" || c.delivered !== 0 || c.cancel_requested !== 1) return false;
    this.finishCommand(
      c,
      "system",
      { state: "cancelled", exitCode: null, signal: null, reason: "cancelled before it started", durationMs: 0 },
      null,
    );
    return true;
  }

  /** The dispatch frame, signed by the tenant's key (the Tenant holds it; the signature is kept for redispatch). */
  private async signedDispatch(s: SessionRow, commandId: string): Promise<DispatchFrame | null> {
    let c = this.command(commandId);
    if (!c || FINAL_COMMAND_STATES.has(c.state)) return null;
    const approval = c.approval_id
      ? this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", c.approval_id).toArray()[0]
      : undefined;
    if (c.approval_required === 1 && approval?.state !== "granted") return null; // never without the client's yes
    const gate = {
      technicianId: c.requested_by,
      approvalRequired: c.approval_required === 1,
      approval: approval ? { id: approval.id, digest: approval.digest } : null,
    };
    if (c.signature === null) {
      const message = dispatchMessage(s.machine_id, {
        sessionId: s.id,
        commandId: c.id,
        command: c.command,
        shell: c.shell,
        timeoutSeconds: c.timeout_seconds,
        ...gate,
      });
      const signature = await tenant(this.env, s.tenant_id).sign(message);
      this.sql.exec("UPDATE commands SET signature = ? WHERE id = ? AND signature IS NULL", signature, c.id);
      c = this.command(commandId);
      if (!c || FINAL_COMMAND_STATES.has(c.state)) return null; // cancelled or expired while signing
    }
    return {
      t: "dispatch",
      sessionId: s.id,
      commandId: c.id,
      command: c.command,
      shell: c.shell,
      timeoutSeconds: c.timeout_seconds,
      resume: c.started_at !== null,
      ...gate,
      signature: c.signature as string,
    };
  }

  /** Whether this session still has commands for the machine (queued, awaiting approval or running). */
  hasWork(machineId: string): boolean {
    const s = this.row();
    if (!s || s.machine_id !== machineId) return false;
    return (
      this.sql
        .exec("SELECT 1 FROM commands WHERE state IN ('queued', 'running', 'awaiting_approval') LIMIT 1")
        .toArray().length > 0
    );
  }

  /** The machine's runtime (re)connected: send the command in flight again (the runtime ignores one it knows). */
  async redispatch(machineId: string): Promise<{ active: boolean; frame: DispatchFrame | null }> {
    const s = this.row();
    if (!s || s.machine_id !== machineId) return { active: false, frame: null };
    for (;;) {
      const c = this.sql
        .exec<CommandRow>(
          "SELECT * FROM commands WHERE state IN ('queued', 'running', 'awaiting_approval') ORDER BY position LIMIT 1",
        )
        .toArray()[0];
      if (!c) return { active: false, frame: null };
      if (c.state === "awaiting_approval") return { active: true, frame: null }; // waits for the client, in order
      if (c.state === "queued" && c.delivered === 0 && this.settleCancelled(c.id)) continue; // settled: look again
      this.sql.exec("UPDATE commands SET dispatched = 1, delivered = 1 WHERE id = ?", c.id);
      // The Machine sends it on the socket that just proved itself.
      return { active: true, frame: await this.signedDispatch(s, c.id) };
    }
  }

  /** What is committed for a command, from its row as it stands after this frame. */
  private ack(c: CommandRow): AckFrame {
    return {
      t: "ack",
      sessionId: (this.row() as SessionRow).id,
      commandId: c.id,
      started: c.started_at !== null,
      stdout: c.stdout_committed,
      stderr: c.stderr_committed,
      finished: FINAL_COMMAND_STATES.has(c.state),
    };
  }

  /** A frame from this session's machine. Returns what is committed for the command, for the runtime's outbox. */
  runtimeFrame(machineId: string, frame: StartedFrame | FinishedFrame): Result<AckFrame> {
    const found = this.machineCommand(machineId, frame);
    if (!found.ok) return found;
    const { s, c } = found.value;
    const actor = `machine:${machineId}`;
    if (frame.t === "started") {
      if (c.state === "queued") {
        this.ctx.storage.transactionSync(() => {
          const { t: _t, sessionId: _s, ...data } = frame;
          this.append("command.started", actor, data);
          this.sql.exec(
            "UPDATE commands SET state = 'running', delivered = 1, started_at = ?, pid = ? WHERE id = ?",
            recordTimestamp(this.lastTsMs),
            frame.pid,
            c.id,
          );
        });
        // The machine card shows the user context commands last ran as.
        void fleet(this.env, s.tenant_id)
          .machineUser(s.machine_id, frame.user)
          .catch((error: unknown) => console.error("machine user not recorded", error));
        return ok(this.ack(this.command(c.id) as CommandRow));
      }
      return ok(this.ack(c));
    }
    if (FINAL_COMMAND_STATES.has(c.state)) return ok(this.ack(c));
    if (c.stdout_committed < frame.stdoutBytes || c.stderr_committed < frame.stderrBytes) {
      return ok(this.ack(c)); // output still missing: the runtime resends it before finishing again
    }
    this.finishCommand(c, actor, frame, frame);
    return ok(this.ack(this.command(c.id) as CommandRow));
  }

  /** Output bytes from this session's machine (a binary frame). Returns what is committed, for the runtime's outbox. */
  runtimeOutput(machineId: string, header: OutputHeader, bytes: Uint8Array): Result<AckFrame> {
    const found = this.machineCommand(machineId, header);
    if (!found.ok) return found;
    const { c } = found.value;
    if (FINAL_COMMAND_STATES.has(c.state)) return ok(this.ack(c));
    if (c.state !== "running") return fail(409, "not_started", "output before command.started");
    return ok(this.ack(this.commitOutput(c, header, bytes, `machine:${machineId}`)));
  }

  private machineCommand(
    machineId: string,
    frame: { sessionId: string; commandId: string },
  ): Result<{ s: SessionRow; c: CommandRow }> {
    const s = this.row();
    if (!s || s.machine_id !== machineId || frame.sessionId !== s.id) return notFound("session");
    const c = this.command(frame.commandId);
    if (!c) return notFound("command");
    return ok({ s, c });
  }

  /**
   * Exactly-once output: bytes below the committed length are already in the record and are skipped. Returns the
   * command's row as it stands afterwards (the ack is made from it without reading it again).
   */
  private commitOutput(c: CommandRow, header: OutputHeader, received: Uint8Array, actor: string): CommandRow {
    const committed = header.stream === "stdout" ? c.stdout_committed : c.stderr_committed;
    const end = header.offset + received.length;
    if (end <= committed || header.offset > committed) return c; // duplicate, or a gap the runtime fills on resend
    const bytes = received.subarray(committed - header.offset);
    const column = header.stream === "stdout" ? "stdout_committed" : "stderr_committed";
    this.ctx.storage.transactionSync(() => {
      this.appendOutput(actor, {
        commandId: c.id,
        stream: header.stream,
        offset: committed,
        data: encodeBase64(bytes),
      });
      this.sql.exec(`UPDATE commands SET ${column} = ? WHERE id = ?`, end, c.id);
    });
    this.hashOutput(c.id, header.stream, committed, bytes);
    return { ...c, [column]: end };
  }

  private hashOutput(commandId: string, stream: string, before: number, bytes: Uint8Array): void {
    const key = `${commandId}:${stream}`;
    let entry = this.streamHashes.get(key);
    if (!entry && before === 0) {
      entry = { hash: createHash("sha256"), bytes: 0 };
      this.streamHashes.set(key, entry);
    }
    if (entry && entry.bytes === before) {
      entry.hash.update(bytes);
      entry.bytes += bytes.length;
    } else {
      this.streamHashes.delete(key); // out of step (object was evicted mid-stream): recomputed at finish
    }
  }

  /** SHA-256 of a stream exactly as the record holds it. */
  private streamDigest(commandId: string, stream: "stdout" | "stderr", committed: number): string {
    const key = `${commandId}:${stream}`;
    const entry = this.streamHashes.get(key);
    this.streamHashes.delete(key);
    if (entry && entry.bytes === committed) return entry.hash.digest("hex");
    const hash = createHash("sha256");
    const rows = this.sql.exec<{ record: string }>(
      "SELECT record FROM events WHERE type = 'command.output' AND command_id = ? AND stream = ? ORDER BY offset",
      commandId,
      stream,
    );
    for (const row of rows) hash.update(decodeBase64((JSON.parse(row.record) as { data: { data: string } }).data.data));
    return hash.digest("hex");
  }

  /**
   * Record the end of a command. Byte counts and hashes are those of the record itself; when the endpoint reported
   * something else (it wrote bytes the record does not hold), the reason says so precisely.
   */
  private finishCommand(
    c: CommandRow,
    actor: string,
    f: Pick<FinishedFrame, "exitCode" | "signal" | "reason" | "durationMs"> & {
      state: FinishedFrame["state"] | "declined";
    },
    claimed: Pick<FinishedFrame, "stdoutBytes" | "stderrBytes" | "stdoutSha256" | "stderrSha256"> | null,
  ): void {
    const fresh = this.command(c.id) as CommandRow;
    const stdoutSha256 = this.streamDigest(c.id, "stdout", fresh.stdout_committed);
    const stderrSha256 = this.streamDigest(c.id, "stderr", fresh.stderr_committed);
    const notes: string[] = f.reason ? [f.reason] : [];
    if (claimed) {
      for (const [stream, bytes, sha, recorded, recordedSha] of [
        ["stdout", claimed.stdoutBytes, claimed.stdoutSha256, fresh.stdout_committed, stdoutSha256],
        ["stderr", claimed.stderrBytes, claimed.stderrSha256, fresh.stderr_committed, stderrSha256],
      ] as const) {
        if (bytes !== recorded)
          notes.push(`the endpoint reported ${bytes} ${stream} bytes; the record holds ${recorded}`);
        else if (sha !== null && sha !== recordedSha)
          notes.push(`the endpoint's ${stream} SHA-256 ${sha} differs from the record's`);
      }
    }
    const reason = notes.length > 0 ? notes.join("; ") : null;
    this.ctx.storage.transactionSync(() => {
      this.append("command.finished", actor, {
        commandId: c.id,
        state: f.state,
        exitCode: f.exitCode,
        signal: f.signal,
        reason,
        stdoutBytes: fresh.stdout_committed,
        stderrBytes: fresh.stderr_committed,
        stdoutSha256,
        stderrSha256,
        durationMs: f.durationMs,
      });
      this.sql.exec(
        "UPDATE commands SET state = ?, finished_at = ?, exit_code = ?, stdout_sha256 = ?, stderr_sha256 = ?, duration_ms = ?, reason_final = ? WHERE id = ?",
        f.state,
        recordTimestamp(this.lastTsMs),
        f.exitCode,
        stdoutSha256,
        stderrSha256,
        f.durationMs,
        reason,
        c.id,
      );
    });
    const done = this.command(c.id) as CommandRow;
    const s = this.row() as SessionRow;
    if (done.classification === "change" && done.started_at !== null) {
      void fleet(this.env, s.tenant_id)
        .recordChange({
          commandId: done.id,
          machineId: s.machine_id,
          sessionId: s.id,
          command: done.command,
          shell: done.shell,
          requestedBy: done.requested_by,
          startedAt: done.started_at,
          state: done.state,
          exitCode: done.exit_code,
          approvalId: done.approval_id,
        })
        .catch((error: unknown) => console.error("change not added to the machine timeline", error));
    }
    this.pump();
    this.reportToTenant();
  }

  private reportToTenant(): void {
    const s = this.row();
    if (!s) return;
    const counts = this.sql
      .exec<{ n: number; failed: number }>(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN state IN ('failed','timed_out','interrupted') OR (state = 'finished' AND exit_code != 0) THEN 1 ELSE 0 END), 0) AS failed FROM commands",
      )
      .one();
    void fleet(this.env, s.tenant_id).updateSession(s.id, {
      state: s.state,
      closedAt: s.closed_at,
      commandCount: counts.n,
      failedCount: counts.failed,
      approvalCount: this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM approvals").one().n,
      headSeq: this.head?.seq ?? 0,
      technicianId: s.technician_id,
    });
  }

  // ---- the search index feed (asynchronous: the record never waits on the index)

  private indexedThrough(): number {
    return this.sql.exec<{ through: number }>("SELECT through FROM index_feed").one().through;
  }

  private scheduleFeed(delayMs = Number(this.env.CAISEY_INDEX_DELAY_MS ?? 250)): void {
    if (!this.indexGuardArmed) {
      // Durable safety net: if this object dies before the index catches up, the alarm brings it back to finish.
      this.indexGuardArmed = true;
      void this.armAlarm(Date.now() + INDEX_GUARD_MS);
    }
    if (this.feedTimer !== null || this.feeding) return;
    this.feedTimer = setTimeout(() => {
      this.feedTimer = null;
      void this.feedIndex();
    }, delayMs);
  }

  /** One alarm serves every deadline: set it only if it would ring earlier than the one already set. */
  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** Push every event after the watermark to its month's index shard, in order, until caught up. */
  private async feedIndex(): Promise<void> {
    if (this.feeding) return;
    const s = this.row();
    if (!s) return;
    this.feeding = true;
    try {
      for (;;) {
        // Output past the index's cap is left in the record: the index would only decode and drop it.
        const rows = this.sql
          .exec<{ seq: number; record: string | null }>(
            `SELECT seq, CASE WHEN type = 'command.output' AND offset >= ? THEN NULL ELSE record END AS record
             FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
            this.outputIndexCap,
            this.indexedThrough(),
            INDEX_BATCH_EVENTS,
          )
          .toArray();
        if (rows.length === 0) break;
        const events: { seq: number; line: string }[] = [];
        let month: string | null = null;
        let bytes = 0;
        let considered = 0;
        for (const row of rows) {
          if (row.record !== null) {
            const rowMonth = monthOf(row.record);
            month ??= rowMonth;
            if (rowMonth !== month || (events.length > 0 && bytes + row.record.length > INDEX_BATCH_BYTES)) break;
            events.push({ seq: row.seq, line: row.record });
            bytes += row.record.length;
          }
          considered = row.seq;
        }
        if (month === null) {
          this.sql.exec("UPDATE index_feed SET through = MAX(through, ?)", considered);
          continue;
        }
        const { through } = await searchIndex(this.env, s.tenant_id, month).ingest({
          session: {
            sessionId: s.id,
            tenantId: s.tenant_id,
            machineId: s.machine_id,
            clientId: s.client_id,
            hostname: s.hostname,
            technicianId: s.technician_id,
          },
          events,
        });
        const last = events.at(-1)?.seq ?? 0;
        if (through < last) throw new Error(`index shard ${month} took events only through ${through} of ${last}`);
        this.sql.exec("UPDATE index_feed SET through = MAX(through, ?)", considered);
      }
    } catch (error) {
      console.error("search index behind; retrying", error);
      await this.armAlarm(Date.now() + INDEX_GUARD_MS);
    } finally {
      this.feeding = false;
    }
  }

  /** Rebuild: push the whole record to the index again (the index ignores what it already holds). */
  async reindex(): Promise<{ through: number }> {
    this.sql.exec("UPDATE index_feed SET through = 0");
    await this.feedIndex();
    return { through: this.indexedThrough() };
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
    this.live.accept(pair[1], actor, name, Math.min(after, this.head?.seq ?? 0));
    // Presence is part of the record: who watched, from when to when (once per person, however many tabs).
    if (!present && scoped.value.state === "open") this.append("participant.joined", actor, { name });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {
    // The live socket is one-way; anything a browser sends is refused without effect.
    ws.send(JSON.stringify({ error: { code: "read_only", message: "the live socket only streams events" } }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    const leaving = ws.deserializeAttachment() as LiveAttachment | null;
    this.live.closed(ws);
    if (leaving && this.row()?.state === "open" && !this.live.watchers(ws).some((w) => w.actor === leaving.actor)) {
      this.append("participant.left", leaving.actor, { name: leaving.name });
    }
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "bye");
    } catch {
      // already closed
    }
  }
}

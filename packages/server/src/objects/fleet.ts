// One object per MSP organization for what its machines and sessions report all day: the machine list with each
// machine's presence, facts and last user; the session list; the timeline of changes; the approval list. The Tenant
// keeps who may do what (people, tokens, keys, clients, policy, audit); it tells the Fleet about enrolled machines,
// client names and people's names through its outbox, and the Fleet tells it back (audit entries, approval
// webhooks) through its own. Presence renewals, the session list and the timeline never queue behind sign-ins.

import {
  type CommandState,
  describeChanges,
  type MachineFacts,
  type MachineHealth,
  type MachineSummary,
  type PendingReview,
  type ReviewDecision,
  type RollbackLink,
  type RollbackOf,
  rollbackStands,
  type SessionFacts,
  type SessionSummary,
  type Shell,
  shownOnline,
  type Verdict,
  type VerdictView,
} from "@caisey/core";
import { DurableBase, target } from "../durable/base.ts";
import type { Effect } from "../durable/outbox.ts";
import { DURABLE_EFFECTS_SQL } from "../durable/schema.ts";
import { consoleUrl, type Env } from "../env.ts";
import { fail, notFound, ok, type Result } from "../result.ts";
import type { ApprovalSummary, By } from "./tenant.ts";

export const FLEET_MIGRATIONS = [
  {
    name: "machines, sessions, timeline of changes, approvals, names of clients and people",
    sql: `CREATE TABLE clients (id TEXT PRIMARY KEY, name TEXT NOT NULL);
          CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL);
          CREATE TABLE machines (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, hostname TEXT NOT NULL, os TEXT NOT NULL,
            os_version TEXT NOT NULL, arch TEXT NOT NULL, runtime_version TEXT NOT NULL, public_key TEXT NOT NULL,
            enrolled_at TEXT NOT NULL, last_seen_at TEXT, online INTEGER NOT NULL DEFAULT 0, presence_at TEXT,
            revoked_at TEXT, last_user TEXT);
          CREATE TABLE sessions (id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, client_id TEXT NOT NULL,
            technician_id TEXT NOT NULL, ticket TEXT, state TEXT NOT NULL, opened_at TEXT NOT NULL, closed_at TEXT,
            command_count INTEGER NOT NULL DEFAULT 0, failed_count INTEGER NOT NULL DEFAULT 0, head_seq INTEGER NOT NULL DEFAULT 0,
            approval_count INTEGER NOT NULL DEFAULT 0);
          CREATE INDEX sessions_machine ON sessions(machine_id, opened_at);
          CREATE TABLE machine_changes (command_id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, session_id TEXT NOT NULL,
            command TEXT NOT NULL, shell TEXT NOT NULL, requested_by TEXT NOT NULL, started_at TEXT NOT NULL, state TEXT NOT NULL,
            exit_code INTEGER, approval_id TEXT);
          CREATE INDEX machine_changes_time ON machine_changes(machine_id, started_at);
          CREATE TABLE approvals (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, command_id TEXT NOT NULL, client_id TEXT NOT NULL,
            machine_id TEXT NOT NULL, hostname TEXT NOT NULL, command TEXT NOT NULL, shell TEXT NOT NULL, summary TEXT NOT NULL,
            requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, expires_at TEXT NOT NULL, state TEXT NOT NULL,
            decided_by TEXT, decided_at TEXT, comment TEXT);
          CREATE INDEX approvals_client ON approvals(client_id, state);
          CREATE TABLE fleet (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL);`,
  },
  { name: "durable effects: named alarms, outbox, receipts", sql: DURABLE_EFFECTS_SQL },
  // (the changes the contact approves are read from the command itself: describeChanges is pure, like the command)
  { name: "approvals carry the technician's reason", sql: "ALTER TABLE approvals ADD COLUMN reason TEXT;" },
  {
    name: "rollbacks: which command undoes which change",
    sql: `CREATE TABLE rollbacks (command_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, machine_id TEXT NOT NULL,
            of_session_id TEXT NOT NULL, of_command_id TEXT NOT NULL, of_seq INTEGER NOT NULL, of_hash TEXT NOT NULL,
            state TEXT NOT NULL, ran INTEGER NOT NULL DEFAULT 0, requested_at TEXT NOT NULL);
          CREATE INDEX rollbacks_of ON rollbacks(of_command_id, requested_at);`,
  },
  {
    // The figures and the review list read these: what the Session tells with each change of the session.
    name: "sessions' verdicts and review",
    sql: `ALTER TABLE sessions ADD COLUMN last_verdict TEXT;
          ALTER TABLE sessions ADD COLUMN returns INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE sessions ADD COLUMN review_requested_at TEXT;
          CREATE INDEX sessions_state ON sessions(state, opened_at);`,
  },
  // The runtime's last health report (MachineHealth as JSON), forwarded by the Machine object.
  { name: "machines' runtime health", sql: "ALTER TABLE machines ADD COLUMN runtime_health TEXT;" },
];

/**
 * The Tenant's rows a Fleet takes over when a deployment upgrades: the Tenant's hand-over migration is built from
 * these lists and the Fleet reads them back, so they are frozen (a column added later is not handed over).
 */
export const HANDOVER_COLUMNS = {
  clients: ["id", "name"],
  people: ["id", "name"],
  machines: [
    "id",
    "client_id",
    "hostname",
    "os",
    "os_version",
    "arch",
    "runtime_version",
    "public_key",
    "enrolled_at",
    "last_seen_at",
    "online",
    "presence_at",
    "revoked_at",
    "last_user",
  ],
  sessions: [
    "id",
    "machine_id",
    "client_id",
    "technician_id",
    "ticket",
    "state",
    "opened_at",
    "closed_at",
    "command_count",
    "failed_count",
    "head_seq",
    "approval_count",
  ],
  machine_changes: [
    "command_id",
    "machine_id",
    "session_id",
    "command",
    "shell",
    "requested_by",
    "started_at",
    "state",
    "exit_code",
    "approval_id",
  ],
  approvals: [
    "id",
    "session_id",
    "command_id",
    "client_id",
    "machine_id",
    "hostname",
    "command",
    "shell",
    "summary",
    "requested_by",
    "requested_at",
    "expires_at",
    "state",
    "decided_by",
    "decided_at",
    "comment",
  ],
} as const satisfies Record<string, readonly string[]>;

/** What the Tenant tells the Fleet (source `tenant:<tenantId>`). */
export type FleetEffect =
  | { kind: "client.named"; payload: { id: string; name: string } }
  | { kind: "person.named"; payload: { id: string; name: string } }
  | {
      kind: "machine.enrolled";
      payload: { id: string; clientId: string; publicKey: string; facts: MachineFacts; enrolledAt: string };
    };

/**
 * What a Session tells the Fleet (source `session:<sessionId>`, seq = the Session's outbox seq), received idempotently
 * through receive(): the only way the session list, the approval list, the timeline and the last user change.
 */
export type SessionEffect =
  | { kind: "session.opened"; payload: SessionListed }
  | { kind: "approval.changed"; payload: ApprovalSummary }
  | { kind: "session.updated"; payload: { sessionId: string; update: SessionUpdate } }
  | { kind: "session.assigned"; payload: { sessionId: string } & SessionHandoff }
  | { kind: "session.outcome"; payload: SessionOutcome }
  | { kind: "change.recorded"; payload: MachineChange }
  | { kind: "rollback.changed"; payload: Rollback }
  | { kind: "machine.user"; payload: { machineId: string; user: string } };

/** A command that rolls back an earlier change, and where it stands. */
export interface Rollback {
  commandId: string;
  sessionId: string;
  machineId: string;
  of: RollbackOf;
  state: CommandState;
  /** It started on the machine: then, whatever its end, it may have changed something. */
  ran: boolean;
  requestedAt: string;
}

/** A session as the session list first shows it. */
export interface SessionListed {
  id: string;
  machineId: string;
  clientId: string;
  technicianId: string;
  ticket: string | null;
  openedAt: string;
}

/** A handoff as recorded (`session.assigned`): `takeover` when `by` took the session from its holder `from`. */
export interface SessionHandoff {
  from: string;
  to: string;
  by: string;
  note: string | null;
  takeover: boolean;
  at: string;
}

/** A session closed, was sent for review or was reviewed: announced by webhook with its verdicts. */
export interface SessionOutcome {
  sessionId: string;
  event: "session.closed" | "session.review_requested" | "session.reviewed";
  at: string;
  /** The actor: `user:<id>` or `system` (an idle close or review request). */
  by: string;
  decision?: ReviewDecision;
  comment?: string | null;
  reason?: string;
  verdicts: VerdictView[];
}

/** Summary counters pushed by the Session object as its record grows. */
export interface SessionUpdate {
  state: string;
  closedAt: string | null;
  commandCount: number;
  failedCount: number;
  approvalCount: number;
  headSeq: number;
  technicianId: string;
  /** (Absent from updates kept before verdicts existed.) */
  lastVerdict?: Verdict | null;
  returns?: number;
  reviewRequestedAt?: string | null;
}

/** A command classified as a change that ran on a machine. */
export interface MachineChange {
  commandId: string;
  machineId: string;
  sessionId: string;
  command: string;
  shell: string;
  requestedBy: string;
  startedAt: string;
  state: string;
  exitCode: number | null;
  approvalId: string | null;
}

type MachineRow = {
  id: string;
  client_id: string;
  client_name: string;
  hostname: string;
  os: string;
  os_version: string;
  arch: string;
  runtime_version: string;
  online: number;
  presence_at: string | null;
  last_seen_at: string | null;
  enrolled_at: string;
  revoked_at: string | null;
  last_user: string | null;
  runtime_health: string | null;
};

export class Fleet extends DurableBase {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, FLEET_MIGRATIONS);
  }

  /**
   * The tenant this fleet belongs to: its name (fleet(env, tenantId)), where the runtime tells an object its name;
   * else as learned from the Tenant's first effect (its outbox names it).
   */
  private tenantId(): string | null {
    return (
      this.ctx.id.name ??
      this.sql.exec<{ tenant_id: string }>("SELECT tenant_id FROM fleet").toArray()[0]?.tenant_id ??
      null
    );
  }

  protected override source(): string | null {
    const id = this.tenantId();
    return id === null ? null : target.fleet(id);
  }

  private now(): string {
    return new Date().toISOString();
  }

  /** Tell the Tenant something (an audit entry, an approval webhook) in the transaction that caused it. */
  private tellTenant(kind: string, key: string, payload: unknown): void {
    const id = this.tenantId();
    if (id === null) throw new Error("this fleet has not heard from its tenant yet");
    this.outbox.enqueue(target.tenant(id), kind, key, payload);
  }

  private audit(by: By, action: string, machineId: string, detail: Record<string, unknown>): void {
    this.tellTenant("audit", machineId, { at: this.now(), by, action, target: machineId, detail });
  }

  protected override applyEffect(source: string, effect: Effect): void {
    if (source.startsWith("session:")) {
      this.applySessionEffect(effect);
      return;
    }
    if (source.startsWith("tenant:"))
      this.sql.exec("INSERT OR IGNORE INTO fleet (id, tenant_id) VALUES (1, ?)", source.slice("tenant:".length));
    if (source !== target.tenant(this.tenantId() ?? "")) throw new Error(`effects from ${source} are not taken`);
    const payload = JSON.parse(effect.payload) as Record<string, unknown>;
    if (effect.kind.startsWith("handover.")) {
      this.takeOver(effect.kind.slice("handover.".length), payload);
      return;
    }
    const e = { kind: effect.kind, payload } as FleetEffect;
    switch (e.kind) {
      case "client.named":
        this.sql.exec(
          "INSERT INTO clients (id, name) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name",
          e.payload.id,
          e.payload.name,
        );
        return;
      case "person.named":
        this.sql.exec(
          "INSERT INTO people (id, name) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name",
          e.payload.id,
          e.payload.name,
        );
        return;
      case "machine.enrolled": {
        const f = e.payload.facts;
        this.sql.exec(
          `INSERT INTO machines (id, client_id, hostname, os, os_version, arch, runtime_version, public_key, enrolled_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
          e.payload.id,
          e.payload.clientId,
          f.hostname,
          f.os,
          f.osVersion,
          f.arch,
          f.runtimeVersion,
          e.payload.publicKey,
          e.payload.enrolledAt,
        );
        return;
      }
      default:
        throw new Error(`unknown effect ${effect.kind}`);
    }
  }

  private applySessionEffect(effect: Effect): void {
    const e = { kind: effect.kind, payload: JSON.parse(effect.payload) } as SessionEffect;
    switch (e.kind) {
      case "session.opened":
        this.recordSession(e.payload);
        return;
      case "approval.changed":
        this.applyApproval(e.payload);
        return;
      // An update to a row not here yet (the Tenant's hand-over is still on its way) is refused, so it comes again.
      case "session.updated":
        this.updateSession(e.payload.sessionId, e.payload.update);
        return;
      case "session.assigned":
        this.mustHave("sessions", e.payload.sessionId);
        this.announceHandoff(e.payload);
        return;
      case "session.outcome":
        this.mustHave("sessions", e.payload.sessionId);
        this.announceOutcome(e.payload);
        return;
      case "change.recorded":
        this.recordChange(e.payload);
        return;
      case "rollback.changed":
        this.recordRollback(e.payload);
        return;
      case "machine.user":
        this.machineUser(e.payload.machineId, e.payload.user);
        return;
      default:
        throw new Error(`unknown effect ${effect.kind}`);
    }
  }

  private mustHave(table: "sessions" | "machines", id: string): void {
    if (this.sql.exec(`SELECT 1 FROM ${table} WHERE id = ?`, id).toArray().length === 0)
      throw new Error(`${table} ${id} is not known here yet`);
  }

  /** One row of the Tenant's tables from before the split; a row the Fleet already has (newer) is kept. */
  private takeOver(table: string, row: Record<string, unknown>): void {
    const columns: readonly string[] | undefined = HANDOVER_COLUMNS[table as keyof typeof HANDOVER_COLUMNS];
    if (!columns) throw new Error(`no hand-over of ${table}`);
    this.sql.exec(
      `INSERT OR IGNORE INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
      ...columns.map((c) => (row[c] ?? null) as string | number | null),
    );
  }

  // ---- machines

  private machineRows(where: string, ...params: (string | null)[]): MachineSummary[] {
    const now = Date.now();
    return this.sql
      .exec<MachineRow>(
        `SELECT m.*, c.name AS client_name FROM machines m JOIN clients c ON c.id = m.client_id ${where} ORDER BY m.hostname, m.id`,
        ...params,
      )
      .toArray()
      .map((m) => ({
        id: m.id,
        hostname: m.hostname,
        clientId: m.client_id,
        clientName: m.client_name,
        os: m.os,
        osVersion: m.os_version,
        arch: m.arch,
        runtimeVersion: m.runtime_version,
        online: shownOnline({ online: m.online === 1, presenceAt: m.presence_at, revoked: m.revoked_at !== null }, now),
        lastSeenAt: m.last_seen_at,
        enrolledAt: m.enrolled_at,
        revoked: m.revoked_at !== null,
        lastUser: m.last_user,
        health: m.runtime_health === null ? null : (JSON.parse(m.runtime_health) as MachineHealth),
      }));
  }

  /** Every machine, or only one client's (a contact's view). */
  listMachines(clientId: string | null = null): MachineSummary[] {
    return this.machineRows("WHERE ? IS NULL OR m.client_id = ?", clientId, clientId);
  }

  getMachine(machineId: string, clientId: string | null = null): MachineSummary | null {
    return (
      this.machineRows("WHERE m.id = ? AND (? IS NULL OR m.client_id = ?)", machineId, clientId, clientId)[0] ?? null
    );
  }

  /** The machine's runtime refused a build it was offered (a bad signature or hash): the owners' audit log says so. */
  async runtimeUpdateRefused(machineId: string, refused: { version: string; reason: string }): Promise<Result<null>> {
    const m = this.getMachine(machineId);
    if (!m) return notFound("machine");
    this.ctx.storage.transactionSync(() =>
      this.audit({ actor: `machine:${machineId}`, address: null }, "runtime.update_refused", machineId, {
        hostname: m.hostname,
        version: refused.version,
        reason: refused.reason,
      }),
    );
    await this.outbox.drain();
    return ok(null);
  }

  async revokeMachine(machineId: string, by: By): Promise<Result<null>> {
    const m = this.getMachine(machineId);
    if (!m) return notFound("machine");
    if (!m.revoked) {
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("UPDATE machines SET revoked_at = ?, online = 0 WHERE id = ?", this.now(), machineId);
        this.audit(by, "machine.revoked", machineId, { hostname: m.hostname, clientId: m.clientId });
      });
      await this.outbox.drain();
    }
    return ok(null);
  }

  async moveMachine(machineId: string, clientId: string, by: By): Promise<Result<null>> {
    const m = this.getMachine(machineId);
    if (!m) return notFound("machine");
    if (this.sql.exec("SELECT 1 FROM clients WHERE id = ?", clientId).toArray().length === 0) return notFound("client");
    if (m.clientId !== clientId) {
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("UPDATE machines SET client_id = ? WHERE id = ?", clientId, machineId);
        this.audit(by, "machine.moved", machineId, { hostname: m.hostname, from: m.clientId, to: clientId });
      });
      await this.outbox.drain();
    }
    return ok(null);
  }

  /**
   * Called by the Machine object when its runtime connects, renews its presence lease (core's PRESENCE_RENEW_MS) or
   * goes away. Not an outbox effect: each renewal states the whole presence again, and a lease not renewed for
   * PRESENCE_LEASE_MS shows as offline (shownOnline).
   */
  setPresence(machineId: string, online: boolean, facts: MachineFacts | null): void {
    const now = this.now();
    this.sql.exec(
      "UPDATE machines SET online = ?, presence_at = ?, last_seen_at = ? WHERE id = ?",
      online ? 1 : 0,
      now,
      now,
      machineId,
    );
    if (facts) {
      this.sql.exec(
        "UPDATE machines SET hostname = ?, os = ?, os_version = ?, arch = ?, runtime_version = ? WHERE id = ?",
        facts.hostname,
        facts.os,
        facts.osVersion,
        facts.arch,
        facts.runtimeVersion,
        machineId,
      );
    }
  }

  /**
   * Called by the Machine object with each health report of its runtime (the hello's, then each health frame). Kept
   * after the runtime goes away: the card shows what was waiting on the machine when it was last heard. An older
   * report arriving late does not replace a newer one.
   */
  setRuntimeHealth(machineId: string, health: MachineHealth): void {
    this.sql.exec(
      `UPDATE machines SET runtime_health = ?
        WHERE id = ? AND (runtime_health IS NULL OR json_extract(runtime_health, '$.reportedAt') <= ?)`,
      JSON.stringify(health),
      machineId,
      health.reportedAt,
    );
  }

  /**
   * The user context a command last ran as on this machine (shown on the machine card). Refused (as mustHave refuses)
   * when the machine is not here yet: the write says so, without a read before it (one per command).
   */
  private machineUser(machineId: string, user: string): void {
    const updated = this.sql.exec("UPDATE machines SET last_user = ? WHERE id = ?", user, machineId);
    updated.toArray();
    if (updated.rowsWritten === 0) throw new Error(`machines ${machineId} is not known here yet`);
  }

  // ---- sessions

  private recordSession(s: SessionListed): void {
    this.sql.exec(
      "INSERT INTO sessions (id, machine_id, client_id, technician_id, ticket, state, opened_at) VALUES (?, ?, ?, ?, ?, 'open', ?) ON CONFLICT(id) DO NOTHING",
      s.id,
      s.machineId,
      s.clientId,
      s.technicianId,
      s.ticket,
      s.openedAt,
    );
  }

  /**
   * Summary counters pushed by the Session object as its record grows. Refused (as mustHave refuses) when the row is
   * not here yet; told by the update itself, not by a read before it (two of these arrive per command).
   */
  private updateSession(sessionId: string, update: SessionUpdate): void {
    const updated = this.sql.exec(
      `UPDATE sessions SET state = ?, closed_at = ?, command_count = ?, failed_count = ?, approval_count = ?, head_seq = MAX(head_seq, ?),
         technician_id = ?, last_verdict = ?, returns = ?, review_requested_at = ? WHERE id = ?`,
      update.state,
      update.closedAt,
      update.commandCount,
      update.failedCount,
      update.approvalCount,
      update.headSeq,
      update.technicianId,
      update.lastVerdict ?? null,
      update.returns ?? 0,
      update.reviewRequestedAt ?? null,
      sessionId,
    );
    updated.toArray();
    if (updated.rowsWritten === 0) throw new Error(`sessions ${sessionId} is not known here yet`);
  }

  /** The session's machine, client, ticket and technician, with names: what a reviewer and a PSA need to place it. */
  private placed(sessionId: string) {
    return this.sql
      .exec<{
        id: string;
        machine_id: string;
        hostname: string | null;
        client_id: string;
        client_name: string | null;
        technician_id: string;
        technician_name: string | null;
        ticket: string | null;
        state: string;
        opened_at: string;
        closed_at: string | null;
        review_requested_at: string | null;
        returns: number;
      }>(
        `SELECT s.id, s.machine_id, m.hostname, s.client_id, c.name AS client_name, s.technician_id, p.name AS technician_name,
           s.ticket, s.state, s.opened_at, s.closed_at, s.review_requested_at, s.returns
         FROM sessions s LEFT JOIN machines m ON m.id = s.machine_id LEFT JOIN clients c ON c.id = s.client_id
           LEFT JOIN people p ON p.id = s.technician_id WHERE s.id = ?`,
        sessionId,
      )
      .one();
  }

  /** A close, review request or review goes out to the webhooks with the verdicts and the ticket. */
  private announceOutcome(o: SessionOutcome): void {
    const r = this.placed(o.sessionId);
    const by = o.by.startsWith("user:") ? o.by.slice("user:".length) : null;
    const byName =
      by === null
        ? null
        : (this.sql.exec<{ name: string }>("SELECT name FROM people WHERE id = ?", by).toArray()[0]?.name ?? null);
    const data = {
      sessionId: o.sessionId,
      url: consoleUrl(this.env, o.event === "session.review_requested" ? "/reviews" : `/sessions/${o.sessionId}`),
      machineId: r.machine_id,
      hostname: r.hostname,
      clientId: r.client_id,
      clientName: r.client_name,
      ticket: r.ticket,
      technicianId: r.technician_id,
      technicianName: r.technician_name,
      state: r.state,
      openedAt: r.opened_at,
      closedAt: r.closed_at,
      at: o.at,
      by: o.by,
      byName,
      ...(o.decision ? { decision: o.decision, comment: o.comment ?? null } : {}),
      ...(o.reason ? { reason: o.reason } : {}),
      verdicts: o.verdicts,
    };
    this.tellTenant("webhook.event", o.sessionId, { event: o.event, data });
  }

  /** Sessions awaiting review, the longest waiting first (verdicts are the Sessions'). */
  pendingReviews(clientId: string | null): Omit<PendingReview, "verdicts">[] {
    return this.sql
      .exec<{ id: string }>(
        "SELECT id FROM sessions WHERE state = 'review_pending' AND (? IS NULL OR client_id = ?) ORDER BY review_requested_at, id LIMIT 200",
        clientId,
        clientId,
      )
      .toArray()
      .map(({ id }) => {
        const r = this.placed(id);
        return {
          sessionId: r.id,
          machineId: r.machine_id,
          hostname: r.hostname,
          clientId: r.client_id,
          clientName: r.client_name,
          technicianId: r.technician_id,
          technicianName: r.technician_name,
          ticket: r.ticket,
          openedAt: r.opened_at,
          requestedAt: r.review_requested_at,
          returns: r.returns,
        };
      });
  }

  /**
   * What the figures need of every session opened since `from` (later ones too: a callback may come after the
   * period), with the names their rows are labelled by.
   */
  sessionFacts(from: string): { sessions: SessionFacts[]; names: Record<string, string> } {
    const sessions = this.sql
      .exec(
        `SELECT id, machine_id AS machineId, client_id AS clientId, technician_id AS technicianId, state, opened_at AS openedAt,
           closed_at AS closedAt, last_verdict AS lastVerdict, returns FROM sessions WHERE opened_at >= ?`,
        from,
      )
      .toArray() as unknown as SessionFacts[];
    const names: Record<string, string> = {};
    for (const table of ["people", "clients"] as const)
      for (const r of this.sql.exec<{ id: string; name: string }>(`SELECT id, name FROM ${table}`))
        names[r.id] = r.name;
    return { sessions, names };
  }

  /** The Tenant announces a handoff to the new holder (and, for a takeover, the previous one) by webhook. */
  private announceHandoff(h: { sessionId: string } & SessionHandoff): void {
    const r = this.sql
      .exec<{ machine_id: string; hostname: string; client_id: string; client_name: string; ticket: string | null }>(
        `SELECT s.machine_id, m.hostname, s.client_id, c.name AS client_name, s.ticket FROM sessions s
           JOIN machines m ON m.id = s.machine_id JOIN clients c ON c.id = s.client_id WHERE s.id = ?`,
        h.sessionId,
      )
      .one();
    const name = (id: string) =>
      this.sql.exec<{ name: string }>("SELECT name FROM people WHERE id = ?", id).toArray()[0]?.name ?? null;
    const data = {
      sessionId: h.sessionId,
      url: consoleUrl(this.env, `/sessions/${h.sessionId}`),
      machineId: r.machine_id,
      hostname: r.hostname,
      clientId: r.client_id,
      clientName: r.client_name,
      ticket: r.ticket,
      from: h.from,
      fromName: name(h.from),
      to: h.to,
      toName: name(h.to),
      by: h.by,
      byName: name(h.by),
      note: h.note,
      takeover: h.takeover,
      assignedAt: h.at,
    };
    this.tellTenant("webhook.event", h.sessionId, { event: "session.assigned", data });
  }

  listSessions(filter: {
    machineId?: string;
    clientId?: string | null;
    technicianId?: string;
    state?: string;
    limit: number;
    before?: string;
  }): SessionSummary[] {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    const equal = {
      machine_id: filter.machineId,
      technician_id: filter.technicianId,
      state: filter.state,
      client_id: filter.clientId,
    };
    for (const [column, value] of Object.entries(equal)) {
      if (!value) continue;
      clauses.push(`${column} = ?`);
      params.push(value);
    }
    if (filter.before) {
      clauses.push("opened_at < ?");
      params.push(filter.before);
    }
    const where = clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
    return this.sql
      .exec(
        `SELECT id, machine_id AS machineId, client_id AS clientId, technician_id AS technicianId, ticket, state,
           opened_at AS openedAt, closed_at AS closedAt, command_count AS commandCount, failed_count AS failedCount,
           approval_count AS approvalCount, returns
         FROM sessions ${where} ORDER BY opened_at DESC, id DESC LIMIT ?`,
        ...params,
        filter.limit,
      )
      .toArray() as unknown as SessionSummary[];
  }

  // ---- the timeline of changes

  /** A command classified as a change ran on a machine: it goes on the machine's timeline of changes. */
  private recordChange(change: MachineChange): void {
    this.sql.exec(
      `INSERT INTO machine_changes (command_id, machine_id, session_id, command, shell, requested_by, started_at, state, exit_code, approval_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(command_id) DO UPDATE SET state = excluded.state, exit_code = excluded.exit_code`,
      change.commandId,
      change.machineId,
      change.sessionId,
      change.command,
      change.shell,
      change.requestedBy,
      change.startedAt,
      change.state,
      change.exitCode,
      change.approvalId,
    );
  }

  machineChanges(machineId: string, limit: number) {
    return this.sql
      .exec(
        `SELECT m.command_id AS commandId, m.session_id AS sessionId, m.command, m.shell, m.requested_by AS requestedBy,
           u.name AS requestedByName, m.started_at AS startedAt, m.state, m.exit_code AS exitCode, m.approval_id AS approvalId
         FROM machine_changes m LEFT JOIN people u ON u.id = m.requested_by
         WHERE m.machine_id = ? ORDER BY m.started_at DESC LIMIT ?`,
        machineId,
        limit,
      )
      .toArray() as unknown as (Omit<MachineChange, "machineId"> & { requestedByName: string | null })[];
  }

  // ---- rollbacks (the Sessions hold the link in their records; this is the tenant-wide view of it)

  /**
   * The machine card's links, for each change on the machine: `rollback`, the latest rollback of it that still stands
   * (see rollbackStands), and `rollbackOf`, what it undid. A rollback runs where its change ran, so the machine's own
   * rows hold both directions.
   */
  rollbackLinks(machineId: string): Map<string, { rollback: RollbackLink | null; rollbackOf: RollbackOf | null }> {
    const links = new Map<string, { rollback: RollbackLink | null; rollbackOf: RollbackOf | null }>();
    const at = (id: string) => {
      const link = links.get(id) ?? { rollback: null, rollbackOf: null };
      links.set(id, link);
      return link;
    };
    for (const r of this.rollbackRows("machine_id = ?", machineId)) {
      at(r.command_id).rollbackOf = {
        sessionId: r.of_session_id,
        commandId: r.of_command_id,
        seq: r.of_seq,
        hash: r.of_hash,
      };
      const undone = at(r.of_command_id);
      if (undone.rollback === null && rollbackStands(r.state, r.ran === 1))
        undone.rollback = { sessionId: r.session_id, commandId: r.command_id, state: r.state };
    }
    return links;
  }

  /** Rollback rows, newest first. */
  private rollbackRows(where: string, value: string) {
    return this.sql
      .exec<{
        command_id: string;
        session_id: string;
        of_session_id: string;
        of_command_id: string;
        of_seq: number;
        of_hash: string;
        state: CommandState;
        ran: number;
      }>(`SELECT * FROM rollbacks WHERE ${where} ORDER BY requested_at DESC, command_id DESC`, value)
      .toArray();
  }

  /** The latest rollback of a change that still stands (see rollbackStands), if any. */
  private standingRollback(commandId: string): RollbackLink | null {
    const r = this.rollbackRows("of_command_id = ?", commandId).find((row) => rollbackStands(row.state, row.ran === 1));
    return r ? { sessionId: r.session_id, commandId: r.command_id, state: r.state } : null;
  }

  /**
   * Put a rollback of a change on record before its command is requested, so that a second one at the same moment is
   * refused: 409 already_rolled_back while an earlier rollback stands, unless `force`.
   */
  claimRollback(rollback: Rollback, force: boolean): Result<null> {
    const standing = this.standingRollback(rollback.of.commandId);
    if (standing && !force)
      return fail(
        409,
        "already_rolled_back",
        `this change is already rolled back by command ${standing.commandId} in session ${standing.sessionId} (${standing.state.replace("_", " ")}); send force: true to roll it back again`,
      );
    this.recordRollback(rollback);
    return ok(null);
  }

  /** The claimed rollback was never requested (its session refused it): it no longer stands in the way. */
  releaseRollback(commandId: string): void {
    this.sql.exec("DELETE FROM rollbacks WHERE command_id = ? AND ran = 0", commandId);
  }

  private recordRollback(r: Rollback): void {
    this.sql.exec(
      `INSERT INTO rollbacks (command_id, session_id, machine_id, of_session_id, of_command_id, of_seq, of_hash, state, ran, requested_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(command_id) DO UPDATE SET state = excluded.state, ran = excluded.ran`,
      r.commandId,
      r.sessionId,
      r.machineId,
      r.of.sessionId,
      r.of.commandId,
      r.of.seq,
      r.of.hash,
      r.state,
      r.ran ? 1 : 0,
      r.requestedAt,
    );
  }

  // ---- approvals (the Session holds the record; this is the tenant-wide list for the portal and webhooks)

  /** Keep an approval's state; a new request or a decision is announced (inside the caller's transaction). */
  private applyApproval(a: ApprovalSummary): void {
    const known = this.sql.exec<{ state: string }>("SELECT state FROM approvals WHERE id = ?", a.id).toArray()[0];
    this.sql.exec(
      `INSERT INTO approvals (id, session_id, command_id, client_id, machine_id, hostname, command, shell, summary, reason, requested_by,
           requested_at, expires_at, state, decided_by, decided_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET state = excluded.state, decided_by = excluded.decided_by, decided_at = excluded.decided_at,
           comment = excluded.comment`,
      a.id,
      a.sessionId,
      a.commandId,
      a.clientId,
      a.machineId,
      a.hostname,
      a.command,
      a.shell,
      a.summary,
      a.reason ?? null, // (an effect a Session kept before approvals carried it has none)
      a.requestedBy,
      a.requestedAt,
      a.expiresAt,
      a.state,
      a.decidedBy,
      a.decidedAt,
      a.comment,
    );
    if (known?.state === a.state) return;
    const event =
      a.state === "pending"
        ? "approval.requested"
        : a.state === "granted"
          ? "approval.granted"
          : a.state === "declined"
            ? "approval.declined"
            : null;
    // The Tenant holds the webhooks (and their secrets): it turns this into a signed delivery per subscriber.
    if (event)
      this.tellTenant("webhook.event", a.id, {
        event,
        data: { ...this.approvalView(a.id), url: consoleUrl(this.env, "/approvals") },
      });
  }

  approvalView(id: string) {
    const r = this.sql
      .exec<Record<string, string | null>>(
        `SELECT a.*, c.name AS client_name, u.name AS requested_by_name, d.name AS decided_by_name FROM approvals a
         JOIN clients c ON c.id = a.client_id LEFT JOIN people u ON u.id = a.requested_by LEFT JOIN people d ON d.id = a.decided_by WHERE a.id = ?`,
        id,
      )
      .toArray()[0];
    if (!r) return null;
    const expired = r.state === "pending" && Date.parse(r.expires_at as string) <= Date.now();
    return {
      id: r.id as string,
      sessionId: r.session_id as string,
      commandId: r.command_id as string,
      clientId: r.client_id as string,
      clientName: r.client_name,
      machineId: r.machine_id as string,
      hostname: r.hostname,
      command: r.command,
      shell: r.shell,
      summary: r.summary,
      changes: describeChanges(r.shell as Shell, r.command as string),
      reason: r.reason,
      requestedBy: r.requested_by as string,
      requestedByName: r.requested_by_name,
      requestedAt: r.requested_at,
      expiresAt: r.expires_at,
      state: expired ? "expired" : (r.state as string),
      decidedBy: r.decided_by,
      decidedByName: r.decided_by_name,
      decidedAt: r.decided_at,
      comment: r.comment,
    };
  }

  /** Approvals, newest first; a contact's view is limited to their client. `pending` excludes expired ones. */
  listApprovals(filter: { state: string | null; clientId: string | null; limit: number }) {
    const now = new Date().toISOString();
    const ids = this.sql
      .exec<{ id: string }>(
        `SELECT id FROM approvals WHERE (? IS NULL OR client_id = ?)
           AND (? IS NULL OR (? = 'pending' AND state = 'pending' AND expires_at > ?) OR (? != 'pending' AND state = ?))
         ORDER BY requested_at DESC LIMIT ?`,
        filter.clientId,
        filter.clientId,
        filter.state,
        filter.state,
        now,
        filter.state,
        filter.state,
        filter.limit,
      )
      .toArray();
    return ids.map((r) => this.approvalView(r.id)).filter((a) => a !== null);
  }

  getApproval(id: string, clientId: string | null) {
    const a = this.approvalView(id);
    return a && (clientId === null || a.clientId === clientId) ? a : null;
  }
}

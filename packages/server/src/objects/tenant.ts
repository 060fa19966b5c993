// One object per MSP organization: its people and their tokens, clients, enrollment tokens, machines and the list
// of sessions. Every lookup here is already tenant-scoped: an id from another tenant simply is not in these tables.

import { DurableObject } from "cloudflare:workers";
import type { MachineFacts, Role } from "@caisey/core";
import type { Env } from "../env.ts";
import { migrate } from "../migrations.ts";
import { fail, notFound, ok, type Result } from "../result.ts";
import { newToken } from "../tokens.ts";

const MIGRATIONS = [
  {
    name: "organization, people, tokens",
    sql: `CREATE TABLE organization (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
          CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
            password_hash TEXT NOT NULL, client_id TEXT, disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
          CREATE TABLE tokens (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL, revoked_at TEXT);
          CREATE INDEX tokens_user ON tokens(user_id);`,
  },
  {
    name: "clients, enrollments, machines, sessions",
    sql: `CREATE TABLE clients (id TEXT PRIMARY KEY, name TEXT NOT NULL, approval_policy TEXT NOT NULL, created_at TEXT NOT NULL);
          CREATE TABLE enrollments (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, created_by TEXT NOT NULL,
            uses_left INTEGER NOT NULL, expires_at TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
          CREATE TABLE machines (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, hostname TEXT NOT NULL, os TEXT NOT NULL,
            os_version TEXT NOT NULL, arch TEXT NOT NULL, runtime_version TEXT NOT NULL, public_key TEXT NOT NULL,
            enrolled_at TEXT NOT NULL, last_seen_at TEXT, online INTEGER NOT NULL DEFAULT 0, presence_at TEXT);
          CREATE TABLE sessions (id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, client_id TEXT NOT NULL,
            technician_id TEXT NOT NULL, ticket TEXT, state TEXT NOT NULL, opened_at TEXT NOT NULL, closed_at TEXT,
            command_count INTEGER NOT NULL DEFAULT 0, failed_count INTEGER NOT NULL DEFAULT 0, head_seq INTEGER NOT NULL DEFAULT 0);
          CREATE INDEX sessions_machine ON sessions(machine_id, opened_at);`,
  },
];

/** Who is making a request, as established from their token. */
export interface Principal {
  tenantId: string;
  userId: string;
  role: Role;
  name: string;
  email: string;
  clientId: string | null;
  tokenHash: string;
}

export interface MachineSummary {
  id: string;
  hostname: string;
  clientId: string;
  clientName: string;
  os: string;
  osVersion: string;
  arch: string;
  runtimeVersion: string;
  online: boolean;
  lastSeenAt: string | null;
  enrolledAt: string;
}

export interface SessionSummary {
  id: string;
  machineId: string;
  clientId: string;
  technicianId: string;
  ticket: string | null;
  state: string;
  openedAt: string;
  closedAt: string | null;
  commandCount: number;
  failedCount: number;
}

const CONSOLE_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;
/** A machine whose Machine object has not confirmed its connection for this long is shown offline (see Machine.alarm). */
export const PRESENCE_STALE_MS = 90_000;

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
};

export class Tenant extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, MIGRATIONS);
  }

  private tenantId(): string | null {
    return this.sql.exec<{ id: string }>("SELECT id FROM organization").toArray()[0]?.id ?? null;
  }

  /** Create the organization and its owner; returns the owner's first token. */
  init(input: {
    tenantId: string;
    organization: string;
    owner: { id: string; name: string; email: string; passwordHash: string };
  }): Result<{ token: string }> {
    if (this.tenantId() !== null) return fail(409, "already_set_up", "organization already exists");
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO organization (id, name, created_at) VALUES (?, ?, ?)",
        input.tenantId,
        input.organization,
        now,
      );
      this.sql.exec(
        "INSERT INTO users (id, name, email, role, password_hash, created_at) VALUES (?, ?, ?, 'owner', ?, ?)",
        input.owner.id,
        input.owner.name,
        input.owner.email,
        input.owner.passwordHash,
        now,
      );
    });
    return ok(this.issueToken(input.owner.id));
  }

  issueToken(userId: string): { token: string } {
    const tenantId = this.tenantId() as string;
    const { token, hash } = newToken("cst", tenantId);
    const now = Date.now();
    this.sql.exec(
      "INSERT INTO tokens (hash, user_id, kind, created_at, expires_at) VALUES (?, ?, 'console', ?, ?)",
      hash,
      userId,
      new Date(now).toISOString(),
      new Date(now + CONSOLE_TOKEN_TTL_MS).toISOString(),
    );
    return { token };
  }

  credentials(email: string): { userId: string; passwordHash: string; disabled: boolean } | null {
    const row = this.sql
      .exec<{ id: string; password_hash: string; disabled: number }>(
        "SELECT id, password_hash, disabled FROM users WHERE email = ?",
        email,
      )
      .toArray()[0];
    return row ? { userId: row.id, passwordHash: row.password_hash, disabled: row.disabled === 1 } : null;
  }

  authenticate(tokenHash: string): Principal | null {
    const row = this.sql
      .exec<{
        user_id: string;
        role: Role;
        name: string;
        email: string;
        client_id: string | null;
        expires_at: string;
        revoked_at: string | null;
        disabled: number;
      }>(
        `SELECT t.user_id, u.role, u.name, u.email, u.client_id, t.expires_at, t.revoked_at, u.disabled
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`,
        tokenHash,
      )
      .toArray()[0];
    if (!row || row.revoked_at !== null || row.disabled === 1 || Date.parse(row.expires_at) <= Date.now()) return null;
    return {
      tenantId: this.tenantId() as string,
      userId: row.user_id,
      role: row.role,
      name: row.name,
      email: row.email,
      clientId: row.client_id,
      tokenHash,
    };
  }

  revokeToken(tokenHash: string): void {
    this.sql.exec(
      "UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL",
      new Date().toISOString(),
      tokenHash,
    );
  }

  organization(): { id: string; name: string } | null {
    return this.sql.exec<{ id: string; name: string }>("SELECT id, name FROM organization").toArray()[0] ?? null;
  }

  userName(userId: string): string | null {
    return this.sql.exec<{ name: string }>("SELECT name FROM users WHERE id = ?", userId).toArray()[0]?.name ?? null;
  }

  // ---- clients

  createClient(id: string, name: string, approvalPolicy: string): { id: string } {
    this.sql.exec(
      "INSERT INTO clients (id, name, approval_policy, created_at) VALUES (?, ?, ?, ?)",
      id,
      name,
      approvalPolicy,
      new Date().toISOString(),
    );
    return { id };
  }

  listClients(): { id: string; name: string; approvalPolicy: string }[] {
    return this.sql
      .exec<{ id: string; name: string; approval_policy: string }>(
        "SELECT id, name, approval_policy FROM clients ORDER BY name, id",
      )
      .toArray()
      .map((c) => ({ id: c.id, name: c.name, approvalPolicy: c.approval_policy }));
  }

  // ---- enrollment

  createEnrollment(input: {
    clientId: string;
    uses: number;
    ttlSeconds: number;
    createdBy: string;
  }): Result<{ token: string; expiresAt: string }> {
    if (this.sql.exec("SELECT 1 FROM clients WHERE id = ?", input.clientId).toArray().length === 0)
      return notFound("client");
    const { token, hash } = newToken("cse", this.tenantId() as string);
    const now = Date.now();
    const expiresAt = new Date(now + input.ttlSeconds * 1000).toISOString();
    this.sql.exec(
      "INSERT INTO enrollments (hash, client_id, created_by, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      hash,
      input.clientId,
      input.createdBy,
      input.uses,
      expiresAt,
      new Date(now).toISOString(),
    );
    return ok({ token, expiresAt });
  }

  /** Spend one use of an enrollment token and register the machine it enrolls. */
  redeemEnrollment(input: {
    tokenHash: string;
    machineId: string;
    publicKey: string;
    facts: MachineFacts;
  }): Result<{ clientId: string }> {
    const row = this.sql
      .exec<{ client_id: string; uses_left: number; expires_at: string; revoked_at: string | null }>(
        "SELECT client_id, uses_left, expires_at, revoked_at FROM enrollments WHERE hash = ?",
        input.tokenHash,
      )
      .toArray()[0];
    if (!row || row.revoked_at !== null) return fail(401, "invalid_enrollment_token", "enrollment token is not valid");
    if (Date.parse(row.expires_at) <= Date.now())
      return fail(401, "enrollment_token_expired", "enrollment token has expired");
    if (row.uses_left <= 0) return fail(401, "enrollment_token_used", "enrollment token has no uses left");
    const f = input.facts;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE enrollments SET uses_left = uses_left - 1 WHERE hash = ?", input.tokenHash);
      this.sql.exec(
        `INSERT INTO machines (id, client_id, hostname, os, os_version, arch, runtime_version, public_key, enrolled_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        input.machineId,
        row.client_id,
        f.hostname,
        f.os,
        f.osVersion,
        f.arch,
        f.runtimeVersion,
        input.publicKey,
        new Date().toISOString(),
      );
    });
    return ok({ clientId: row.client_id });
  }

  // ---- machines

  private machineRows(where: string, ...params: string[]): MachineSummary[] {
    const stale = Date.now() - PRESENCE_STALE_MS;
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
        online: m.online === 1 && m.presence_at !== null && Date.parse(m.presence_at) > stale,
        lastSeenAt: m.last_seen_at,
        enrolledAt: m.enrolled_at,
      }));
  }

  listMachines(): MachineSummary[] {
    return this.machineRows("");
  }

  getMachine(machineId: string): MachineSummary | null {
    return this.machineRows("WHERE m.id = ?", machineId)[0] ?? null;
  }

  /** Called by the Machine object when its runtime connects, stays connected (heartbeat) or goes away. */
  setPresence(machineId: string, online: boolean, facts: MachineFacts | null): void {
    const now = new Date().toISOString();
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

  // ---- sessions

  recordSession(s: {
    id: string;
    machineId: string;
    clientId: string;
    technicianId: string;
    ticket: string | null;
    openedAt: string;
  }): void {
    this.sql.exec(
      "INSERT INTO sessions (id, machine_id, client_id, technician_id, ticket, state, opened_at) VALUES (?, ?, ?, ?, ?, 'open', ?)",
      s.id,
      s.machineId,
      s.clientId,
      s.technicianId,
      s.ticket,
      s.openedAt,
    );
  }

  hasSession(sessionId: string): boolean {
    return this.sql.exec("SELECT 1 FROM sessions WHERE id = ?", sessionId).toArray().length > 0;
  }

  /** Summary counters pushed by the Session object as its record grows. */
  updateSession(
    sessionId: string,
    update: { state: string; closedAt: string | null; commandCount: number; failedCount: number; headSeq: number },
  ): void {
    this.sql.exec(
      "UPDATE sessions SET state = ?, closed_at = ?, command_count = ?, failed_count = ?, head_seq = MAX(head_seq, ?) WHERE id = ?",
      update.state,
      update.closedAt,
      update.commandCount,
      update.failedCount,
      update.headSeq,
      sessionId,
    );
  }

  listSessions(filter: { machineId?: string; limit: number; before?: string }): SessionSummary[] {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    if (filter.machineId) {
      clauses.push("machine_id = ?");
      params.push(filter.machineId);
    }
    if (filter.before) {
      clauses.push("opened_at < ?");
      params.push(filter.before);
    }
    const where = clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
    return this.sql
      .exec<Record<string, string | number | null>>(
        `SELECT * FROM sessions ${where} ORDER BY opened_at DESC, id DESC LIMIT ?`,
        ...params,
        filter.limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id as string,
        machineId: r.machine_id as string,
        clientId: r.client_id as string,
        technicianId: r.technician_id as string,
        ticket: r.ticket as string | null,
        state: r.state as string,
        openedAt: r.opened_at as string,
        closedAt: r.closed_at as string | null,
        commandCount: r.command_count as number,
        failedCount: r.failed_count as number,
      }));
  }
}

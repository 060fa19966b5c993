// One object per MSP organization: its people and their tokens, clients, enrollment tokens, machines and the list
// of sessions. Every lookup here is already tenant-scoped: an id from another tenant simply is not in these tables.

import { DurableObject } from "cloudflare:workers";
import type { MachineFacts, MachineSummary, Role, SessionSummary } from "@caisey/core";
import { type ApprovalPolicy, fromBase64, newId, randomBytes, toBase64, toBase64Url, utf8 } from "@caisey/core";
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
  {
    name: "api tokens, revocable enrollments and machines, audit log, signing key",
    sql: `ALTER TABLE tokens ADD COLUMN id TEXT;
          ALTER TABLE tokens ADD COLUMN name TEXT;
          ALTER TABLE tokens ADD COLUMN role TEXT;
          ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
          CREATE UNIQUE INDEX tokens_id ON tokens(id);
          ALTER TABLE enrollments ADD COLUMN id TEXT;
          CREATE UNIQUE INDEX enrollments_id ON enrollments(id);
          ALTER TABLE machines ADD COLUMN revoked_at TEXT;
          CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
            action TEXT NOT NULL, target TEXT, detail TEXT NOT NULL, address TEXT);
          CREATE TABLE signing_key (id INTEGER PRIMARY KEY CHECK (id = 1), private_jwk TEXT NOT NULL, public_raw TEXT NOT NULL,
            created_at TEXT NOT NULL);`,
  },
  {
    name: "approvals, approval links, webhooks",
    sql: `CREATE TABLE approvals (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, command_id TEXT NOT NULL, client_id TEXT NOT NULL,
            machine_id TEXT NOT NULL, hostname TEXT NOT NULL, command TEXT NOT NULL, shell TEXT NOT NULL, summary TEXT NOT NULL,
            requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, expires_at TEXT NOT NULL, state TEXT NOT NULL,
            decided_by TEXT, decided_at TEXT, comment TEXT);
          CREATE INDEX approvals_client ON approvals(client_id, state);
          CREATE TABLE approval_links (hash TEXT PRIMARY KEY, approval_id TEXT NOT NULL, contact_id TEXT NOT NULL,
            created_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT);
          CREATE TABLE webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL,
            created_by TEXT NOT NULL, created_at TEXT NOT NULL, disabled_at TEXT);
          CREATE TABLE webhook_deliveries (id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, delivered_at TEXT, last_error TEXT);
          CREATE INDEX webhook_deliveries_due ON webhook_deliveries(delivered_at, next_at);`,
  },
  {
    name: "machine card: last user context, approvals per session, timeline of changes",
    sql: `ALTER TABLE sessions ADD COLUMN approval_count INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE machines ADD COLUMN last_user TEXT;
          CREATE TABLE machine_changes (command_id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, session_id TEXT NOT NULL,
            command TEXT NOT NULL, shell TEXT NOT NULL, requested_by TEXT NOT NULL, started_at TEXT NOT NULL, state TEXT NOT NULL,
            exit_code INTEGER, approval_id TEXT);
          CREATE INDEX machine_changes_time ON machine_changes(machine_id, started_at);`,
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

/** An approval as the Session reports it. */
export interface ApprovalSummary {
  id: string;
  sessionId: string;
  commandId: string;
  clientId: string;
  machineId: string;
  hostname: string;
  command: string;
  shell: string;
  summary: string;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  state: string;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
}

const WEBHOOK_BACKOFF_S = [5, 30, 120, 600, 3600, 21600, 21600, 21600, 21600];

/** Standard Webhooks signature: v1,base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")). */
export async function signWebhook(secret: string, id: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.replace(/^whsec_/, "")) as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, utf8(`${id}.${timestamp}.${body}`) as Uint8Array<ArrayBuffer>);
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** Who did something, for the audit log: the actor string of the record and the caller's address. */
export interface By {
  actor: string;
  address: string | null;
}

const CONSOLE_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;
/** Last-use times are written at most this often per token, so reads stay cheap. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Roles a token may carry, given its creator's: the same role, or any role for an owner (never more). */
export function tokenRoleAllowed(creator: Role, requested: Role): boolean {
  if (creator === "owner") return requested !== "contact";
  return creator === requested && creator !== "contact";
}
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
  revoked_at: string | null;
  last_user: string | null;
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

  private now(): string {
    return new Date().toISOString();
  }

  // ---- audit log (append-only: nothing here updates or deletes a row)

  private audit(by: By, action: string, target: string | null, detail: Record<string, unknown> = {}): void {
    this.sql.exec(
      "INSERT INTO audit (at, actor, action, target, detail, address) VALUES (?, ?, ?, ?, ?, ?)",
      this.now(),
      by.actor,
      action,
      target,
      JSON.stringify(detail),
      by.address,
    );
  }

  /** Record a sign-in attempt (the Worker checks passwords; the log lives here). */
  recordSignIn(by: By, userId: string | null, email: string, success: boolean, reason: string | null): void {
    this.audit(by, success ? "sign_in.succeeded" : "sign_in.failed", userId, { email, ...(reason ? { reason } : {}) });
  }

  listAudit(input: { before: number | null; limit: number }) {
    const rows = this.sql
      .exec<{
        id: number;
        at: string;
        actor: string;
        action: string;
        target: string | null;
        detail: string;
        address: string | null;
      }>(
        "SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
        input.before ?? Number.MAX_SAFE_INTEGER,
        input.limit,
      )
      .toArray();
    return {
      entries: rows.map((r) => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        target: r.target,
        detail: JSON.parse(r.detail) as object,
        address: r.address,
      })),
      next: rows.length === input.limit ? (rows.at(-1)?.id ?? null) : null,
    };
  }

  // ---- organization and signing key

  /** Create the organization, its owner and its signing key; returns the owner's first token. */
  async init(input: {
    tenantId: string;
    organization: string;
    owner: { id: string; name: string; email: string; passwordHash: string };
    by: By;
  }): Promise<Result<{ token: string }>> {
    if (this.tenantId() !== null) return fail(409, "already_set_up", "organization already exists");
    const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const privateJwk = JSON.stringify(await crypto.subtle.exportKey("jwk", keys.privateKey));
    const publicRaw = toBase64Url(
      new Uint8Array((await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer),
    );
    if (this.tenantId() !== null) return fail(409, "already_set_up", "organization already exists");
    const now = this.now();
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
      this.sql.exec(
        "INSERT INTO signing_key (id, private_jwk, public_raw, created_at) VALUES (1, ?, ?, ?)",
        privateJwk,
        publicRaw,
        now,
      );
      this.audit(input.by, "organization.created", input.tenantId, { name: input.organization });
      this.audit(input.by, "person.added", input.owner.id, {
        name: input.owner.name,
        email: input.owner.email,
        role: "owner",
      });
    });
    return ok(this.issueToken(input.owner.id, { kind: "console" }));
  }

  organization(): { id: string; name: string } | null {
    return this.sql.exec<{ id: string; name: string }>("SELECT id, name FROM organization").toArray()[0] ?? null;
  }

  /** The tenant's public signing key (raw Ed25519, base64url), pinned by runtimes at enrollment. */
  signingKey(): string | null {
    return this.sql.exec<{ public_raw: string }>("SELECT public_raw FROM signing_key").toArray()[0]?.public_raw ?? null;
  }

  private signer: Promise<CryptoKey> | null = null;

  /** Sign a dispatch or cancel message (see core's dispatchMessage); base64url. */
  async sign(message: string): Promise<string> {
    this.signer ??= (async () => {
      const row = this.sql.exec<{ private_jwk: string }>("SELECT private_jwk FROM signing_key").one();
      return crypto.subtle.importKey("jwk", JSON.parse(row.private_jwk) as JsonWebKey, { name: "Ed25519" }, false, [
        "sign",
      ]);
    })();
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, await this.signer, utf8(message));
    return toBase64Url(new Uint8Array(signature));
  }

  // ---- tokens

  issueToken(
    userId: string,
    options: { kind: "console" | "api"; name?: string; role?: Role; ttlSeconds?: number },
  ): { token: string; id: string; expiresAt: string } {
    const { token, hash } = newToken("cst", this.tenantId() as string);
    const id = newId("tok");
    const now = Date.now();
    const expiresAt = new Date(
      now + (options.ttlSeconds ? options.ttlSeconds * 1000 : CONSOLE_TOKEN_TTL_MS),
    ).toISOString();
    this.sql.exec(
      "INSERT INTO tokens (hash, id, user_id, kind, name, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      hash,
      id,
      userId,
      options.kind,
      options.name ?? null,
      options.role ?? null,
      new Date(now).toISOString(),
      expiresAt,
    );
    return { token, id, expiresAt };
  }

  /** An API token for a script or the CLI: shown once, stored hashed, at most the creator's role. */
  createApiToken(
    p: Principal,
    input: { name: string; role?: Role; ttlSeconds: number },
    by: By,
  ): Result<{ id: string; token: string; role: Role; expiresAt: string }> {
    const role = input.role ?? p.role;
    if (!tokenRoleAllowed(p.role, role)) return fail(403, "role_too_high", `a ${p.role} may not issue a ${role} token`);
    const issued = this.issueToken(p.userId, { kind: "api", name: input.name, role, ttlSeconds: input.ttlSeconds });
    this.audit(by, "token.issued", issued.id, { name: input.name, role, owner: p.userId, expiresAt: issued.expiresAt });
    return ok({ id: issued.id, token: issued.token, role, expiresAt: issued.expiresAt });
  }

  /** A person's own tokens; an owner sees everyone's. Never the secrets. */
  listTokens(p: Principal) {
    const all = p.role === "owner";
    return this.sql
      .exec<{
        id: string;
        user_id: string;
        kind: string;
        name: string | null;
        role: string | null;
        u_role: string;
        created_at: string;
        expires_at: string;
        revoked_at: string | null;
        last_used_at: string | null;
      }>(
        `SELECT t.id, t.user_id, t.kind, t.name, t.role, u.role AS u_role, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id IS NOT NULL AND (? OR t.user_id = ?) ORDER BY t.created_at DESC LIMIT 500`,
        all ? 1 : 0,
        p.userId,
      )
      .toArray()
      .map((t) => ({
        id: t.id,
        userId: t.user_id,
        kind: t.kind,
        name: t.name,
        role: t.role ?? t.u_role,
        createdAt: t.created_at,
        expiresAt: t.expires_at,
        lastUsedAt: t.last_used_at,
        revokedAt: t.revoked_at,
      }));
  }

  revokeTokenById(p: Principal, tokenId: string, by: By): Result<null> {
    const row = this.sql
      .exec<{ user_id: string; revoked_at: string | null }>(
        "SELECT user_id, revoked_at FROM tokens WHERE id = ?",
        tokenId,
      )
      .toArray()[0];
    if (!row || (p.role !== "owner" && row.user_id !== p.userId)) return notFound("token");
    if (row.revoked_at === null) {
      this.sql.exec("UPDATE tokens SET revoked_at = ? WHERE id = ?", this.now(), tokenId);
      this.audit(by, "token.revoked", tokenId, { owner: row.user_id });
    }
    return ok(null);
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

  passwordHashOf(userId: string): string | null {
    return (
      this.sql.exec<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = ?", userId).toArray()[0]
        ?.password_hash ?? null
    );
  }

  authenticate(tokenHash: string): Principal | null {
    const row = this.sql
      .exec<{
        id: string;
        user_id: string;
        role: Role;
        token_role: Role | null;
        name: string;
        email: string;
        client_id: string | null;
        expires_at: string;
        revoked_at: string | null;
        disabled: number;
        last_used_at: string | null;
      }>(
        `SELECT t.id, t.user_id, u.role, t.role AS token_role, u.name, u.email, u.client_id, t.expires_at, t.revoked_at, u.disabled, t.last_used_at
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`,
        tokenHash,
      )
      .toArray()[0];
    if (!row || row.revoked_at !== null || row.disabled === 1 || Date.parse(row.expires_at) <= Date.now()) return null;
    // A token never carries more than its person's current role, even if the person was demoted after issuing it.
    const role = row.token_role !== null && tokenRoleAllowed(row.role, row.token_role) ? row.token_role : row.role;
    if (row.token_role !== null && role !== row.token_role) return null;
    if (row.last_used_at === null || Date.now() - Date.parse(row.last_used_at) > LAST_USED_RESOLUTION_MS) {
      this.sql.exec("UPDATE tokens SET last_used_at = ? WHERE hash = ?", this.now(), tokenHash);
    }
    return {
      tenantId: this.tenantId() as string,
      userId: row.user_id,
      role,
      name: row.name,
      email: row.email,
      clientId: row.client_id,
      tokenHash,
    };
  }

  /** Sign out this token only. */
  revokeToken(tokenHash: string): void {
    this.sql.exec("UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL", this.now(), tokenHash);
  }

  /** Sign out everywhere: every token of the person, except `keep` (the one asking, after a password change). */
  revokeAllTokens(userId: string, keep: string | null, by: By, reason: string): number {
    const cursor = this.sql.exec(
      "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND hash != ?",
      this.now(),
      userId,
      keep ?? "",
    );
    const count = cursor.rowsWritten;
    this.audit(by, "tokens.revoked_all", userId, { reason, count });
    return count;
  }

  setPassword(userId: string, passwordHash: string, keepTokenHash: string, by: By): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userId);
      this.audit(by, "person.password_changed", userId);
      this.revokeAllTokens(userId, keepTokenHash, by, "password changed");
    });
  }

  // ---- people

  userName(userId: string): string | null {
    return this.sql.exec<{ name: string }>("SELECT name FROM users WHERE id = ?", userId).toArray()[0]?.name ?? null;
  }

  addPerson(
    input: { id: string; name: string; email: string; role: Role; passwordHash: string; clientId: string | null },
    by: By,
  ): Result<{ id: string }> {
    if (input.clientId !== null && !this.clientExists(input.clientId)) return notFound("client");
    this.sql.exec(
      "INSERT INTO users (id, name, email, role, password_hash, client_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      input.id,
      input.name,
      input.email,
      input.role,
      input.passwordHash,
      input.clientId,
      this.now(),
    );
    this.audit(by, "person.added", input.id, {
      name: input.name,
      email: input.email,
      role: input.role,
      ...(input.clientId ? { clientId: input.clientId } : {}),
    });
    return ok({ id: input.id });
  }

  listPeople(filter: { clientId?: string; contacts: boolean }) {
    return this.sql
      .exec<{
        id: string;
        name: string;
        email: string;
        role: Role;
        client_id: string | null;
        disabled: number;
        created_at: string;
      }>(
        `SELECT id, name, email, role, client_id, disabled, created_at FROM users
         WHERE (role = 'contact') = ? AND (? IS NULL OR client_id = ?) ORDER BY name, id`,
        filter.contacts ? 1 : 0,
        filter.clientId ?? null,
        filter.clientId ?? null,
      )
      .toArray()
      .map((u) => ({
        id: u.id,
        name: u.name,
        email: u.email,
        role: u.role,
        clientId: u.client_id,
        disabled: u.disabled === 1,
        createdAt: u.created_at,
      }));
  }

  /** Change a person's name, role or disabled state. Disabling revokes every token at once. */
  updatePerson(
    userId: string,
    change: { name?: string; role?: Role; disabled?: boolean },
    by: By,
  ): Result<{ id: string }> {
    const user = this.sql
      .exec<{ role: Role; disabled: number; name: string }>(
        "SELECT role, disabled, name FROM users WHERE id = ?",
        userId,
      )
      .toArray()[0];
    if (!user) return notFound("person");
    if (change.role !== undefined && (user.role === "contact") !== (change.role === "contact")) {
      return fail(422, "invalid_role", "a client contact cannot become staff, nor staff a contact");
    }
    const losesOwner =
      user.role === "owner" && ((change.role !== undefined && change.role !== "owner") || change.disabled === true);
    if (losesOwner) {
      const owners = this.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM users WHERE role = 'owner' AND disabled = 0")
        .one().n;
      if (owners <= 1) return fail(409, "last_owner", "the organization must keep at least one active owner");
    }
    this.ctx.storage.transactionSync(() => {
      if (change.name !== undefined && change.name !== user.name) {
        this.sql.exec("UPDATE users SET name = ? WHERE id = ?", change.name, userId);
        this.audit(by, "person.renamed", userId, { from: user.name, to: change.name });
      }
      if (change.role !== undefined && change.role !== user.role) {
        this.sql.exec("UPDATE users SET role = ? WHERE id = ?", change.role, userId);
        this.audit(by, "person.role_changed", userId, { from: user.role, to: change.role });
      }
      if (change.disabled !== undefined && change.disabled !== (user.disabled === 1)) {
        this.sql.exec("UPDATE users SET disabled = ? WHERE id = ?", change.disabled ? 1 : 0, userId);
        this.audit(by, change.disabled ? "person.disabled" : "person.enabled", userId);
        if (change.disabled) this.revokeAllTokens(userId, null, by, "person disabled");
      }
    });
    return ok({ id: userId });
  }

  // ---- clients

  private clientExists(clientId: string): boolean {
    return this.sql.exec("SELECT 1 FROM clients WHERE id = ?", clientId).toArray().length > 0;
  }

  createClient(id: string, name: string, approvalPolicy: string, by: By): { id: string } {
    this.sql.exec(
      "INSERT INTO clients (id, name, approval_policy, created_at) VALUES (?, ?, ?, ?)",
      id,
      name,
      approvalPolicy,
      this.now(),
    );
    this.audit(by, "client.added", id, { name, approvalPolicy });
    return { id };
  }

  updateClient(clientId: string, change: { name?: string; approvalPolicy?: string }, by: By): Result<{ id: string }> {
    const client = this.sql
      .exec<{ name: string; approval_policy: string }>(
        "SELECT name, approval_policy FROM clients WHERE id = ?",
        clientId,
      )
      .toArray()[0];
    if (!client) return notFound("client");
    this.ctx.storage.transactionSync(() => {
      if (change.name !== undefined && change.name !== client.name) {
        this.sql.exec("UPDATE clients SET name = ? WHERE id = ?", change.name, clientId);
        this.audit(by, "client.renamed", clientId, { from: client.name, to: change.name });
      }
      if (change.approvalPolicy !== undefined && change.approvalPolicy !== client.approval_policy) {
        this.sql.exec("UPDATE clients SET approval_policy = ? WHERE id = ?", change.approvalPolicy, clientId);
        this.audit(by, "policy.changed", clientId, { from: client.approval_policy, to: change.approvalPolicy });
      }
    });
    return ok({ id: clientId });
  }

  listClients(clientId: string | null = null): { id: string; name: string; approvalPolicy: string }[] {
    return this.sql
      .exec<{ id: string; name: string; approval_policy: string }>(
        "SELECT id, name, approval_policy FROM clients WHERE ? IS NULL OR id = ? ORDER BY name, id",
        clientId,
        clientId,
      )
      .toArray()
      .map((c) => ({ id: c.id, name: c.name, approvalPolicy: c.approval_policy }));
  }

  // ---- enrollment

  createEnrollment(
    input: { clientId: string; uses: number; ttlSeconds: number; createdBy: string },
    by: By,
  ): Result<{ id: string; token: string; expiresAt: string }> {
    if (!this.clientExists(input.clientId)) return notFound("client");
    const { token, hash } = newToken("cse", this.tenantId() as string);
    const id = newId("enr");
    const now = Date.now();
    const expiresAt = new Date(now + input.ttlSeconds * 1000).toISOString();
    this.sql.exec(
      "INSERT INTO enrollments (hash, id, client_id, created_by, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      hash,
      id,
      input.clientId,
      input.createdBy,
      input.uses,
      expiresAt,
      new Date(now).toISOString(),
    );
    this.audit(by, "enrollment.issued", id, { clientId: input.clientId, uses: input.uses, expiresAt });
    return ok({ id, token, expiresAt });
  }

  listEnrollments() {
    return this.sql
      .exec<{
        id: string;
        client_id: string;
        created_by: string;
        uses_left: number;
        expires_at: string;
        created_at: string;
        revoked_at: string | null;
      }>(
        "SELECT id, client_id, created_by, uses_left, expires_at, created_at, revoked_at FROM enrollments WHERE id IS NOT NULL ORDER BY created_at DESC LIMIT 500",
      )
      .toArray()
      .map((e) => ({
        id: e.id,
        clientId: e.client_id,
        createdBy: e.created_by,
        usesLeft: e.uses_left,
        expiresAt: e.expires_at,
        createdAt: e.created_at,
        revokedAt: e.revoked_at,
      }));
  }

  revokeEnrollment(id: string, by: By): Result<null> {
    const row = this.sql
      .exec<{ revoked_at: string | null }>("SELECT revoked_at FROM enrollments WHERE id = ?", id)
      .toArray()[0];
    if (!row) return notFound("enrollment token");
    if (row.revoked_at === null) {
      this.sql.exec("UPDATE enrollments SET revoked_at = ? WHERE id = ?", this.now(), id);
      this.audit(by, "enrollment.revoked", id);
    }
    return ok(null);
  }

  /** Spend one use of an enrollment token and register the machine it enrolls. */
  redeemEnrollment(input: {
    tokenHash: string;
    machineId: string;
    publicKey: string;
    facts: MachineFacts;
    address: string | null;
  }): Result<{ clientId: string; signingKey: string }> {
    const row = this.sql
      .exec<{ id: string; client_id: string; uses_left: number; expires_at: string; revoked_at: string | null }>(
        "SELECT id, client_id, uses_left, expires_at, revoked_at FROM enrollments WHERE hash = ?",
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
        this.now(),
      );
      this.audit({ actor: `machine:${input.machineId}`, address: input.address }, "machine.enrolled", input.machineId, {
        hostname: f.hostname,
        os: f.os,
        clientId: row.client_id,
        enrollment: row.id,
      });
    });
    return ok({ clientId: row.client_id, signingKey: this.signingKey() as string });
  }

  // ---- machines

  private machineRows(where: string, ...params: (string | null)[]): MachineSummary[] {
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
        online: m.revoked_at === null && m.online === 1 && m.presence_at !== null && Date.parse(m.presence_at) > stale,
        lastSeenAt: m.last_seen_at,
        enrolledAt: m.enrolled_at,
        revoked: m.revoked_at !== null,
        lastUser: m.last_user,
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

  revokeMachine(machineId: string, by: By): Result<null> {
    const m = this.getMachine(machineId);
    if (!m) return notFound("machine");
    if (!m.revoked) {
      this.sql.exec("UPDATE machines SET revoked_at = ?, online = 0 WHERE id = ?", this.now(), machineId);
      this.audit(by, "machine.revoked", machineId, { hostname: m.hostname, clientId: m.clientId });
    }
    return ok(null);
  }

  moveMachine(machineId: string, clientId: string, by: By): Result<null> {
    const m = this.getMachine(machineId);
    if (!m) return notFound("machine");
    if (!this.clientExists(clientId)) return notFound("client");
    if (m.clientId !== clientId) {
      this.sql.exec("UPDATE machines SET client_id = ? WHERE id = ?", clientId, machineId);
      this.audit(by, "machine.moved", machineId, { hostname: m.hostname, from: m.clientId, to: clientId });
    }
    return ok(null);
  }

  /** Called by the Machine object when its runtime connects, stays connected (heartbeat) or goes away. */
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

  /** Summary counters pushed by the Session object as its record grows. */
  updateSession(
    sessionId: string,
    update: {
      state: string;
      closedAt: string | null;
      commandCount: number;
      failedCount: number;
      approvalCount: number;
      headSeq: number;
      technicianId: string;
    },
  ): void {
    this.sql.exec(
      `UPDATE sessions SET state = ?, closed_at = ?, command_count = ?, failed_count = ?, approval_count = ?, head_seq = MAX(head_seq, ?),
         technician_id = ? WHERE id = ?`,
      update.state,
      update.closedAt,
      update.commandCount,
      update.failedCount,
      update.approvalCount,
      update.headSeq,
      update.technicianId,
      sessionId,
    );
  }

  /** The user context a command last ran as on this machine (shown on the machine card). */
  machineUser(machineId: string, user: string): void {
    this.sql.exec("UPDATE machines SET last_user = ? WHERE id = ?", user, machineId);
  }

  /** A command classified as a change ran on a machine: it goes on the machine's timeline of changes. */
  recordChange(change: {
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
  }): void {
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
      .exec<Record<string, string | number | null>>(
        `SELECT m.*, u.name AS requested_by_name FROM machine_changes m LEFT JOIN users u ON u.id = m.requested_by
         WHERE m.machine_id = ? ORDER BY m.started_at DESC LIMIT ?`,
        machineId,
        limit,
      )
      .toArray()
      .map((r) => ({
        commandId: r.command_id as string,
        sessionId: r.session_id as string,
        command: r.command as string,
        shell: r.shell as string,
        requestedBy: r.requested_by as string,
        requestedByName: r.requested_by_name as string | null,
        startedAt: r.started_at as string,
        state: r.state as string,
        exitCode: r.exit_code as number | null,
        approvalId: r.approval_id as string | null,
      }));
  }

  listSessions(filter: {
    machineId?: string;
    clientId?: string | null;
    limit: number;
    before?: string;
  }): SessionSummary[] {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    if (filter.machineId) {
      clauses.push("machine_id = ?");
      params.push(filter.machineId);
    }
    if (filter.clientId) {
      clauses.push("client_id = ?");
      params.push(filter.clientId);
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
        approvalCount: r.approval_count as number,
      }));
  }

  // ---- approvals (the Session holds the record; this is the tenant-wide list for the portal and webhooks)

  clientPolicy(clientId: string): ApprovalPolicy {
    const row = this.sql
      .exec<{ approval_policy: ApprovalPolicy }>("SELECT approval_policy FROM clients WHERE id = ?", clientId)
      .toArray()[0];
    return row?.approval_policy ?? "always"; // unknown client: the safest policy
  }

  /** The Session reports an approval whenever its state changes; new requests and decisions go out as webhooks. */
  async trackApproval(a: ApprovalSummary): Promise<void> {
    const known = this.sql.exec<{ state: string }>("SELECT state FROM approvals WHERE id = ?", a.id).toArray()[0];
    this.sql.exec(
      `INSERT INTO approvals (id, session_id, command_id, client_id, machine_id, hostname, command, shell, summary, requested_by, requested_at,
         expires_at, state, decided_by, decided_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
    if (event) await this.enqueueWebhooks(event, this.approvalView(a.id) as object);
  }

  private approvalView(id: string) {
    const r = this.sql
      .exec<Record<string, string | null>>(
        `SELECT a.*, c.name AS client_name, u.name AS requested_by_name, d.name AS decided_by_name FROM approvals a
         JOIN clients c ON c.id = a.client_id LEFT JOIN users u ON u.id = a.requested_by LEFT JOIN users d ON d.id = a.decided_by WHERE a.id = ?`,
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

  /** A one-time link for one approval, for one contact of its client: shown once, stored hashed, expiring. */
  createApprovalLink(
    input: { approvalId: string; contactId: string; ttlSeconds: number },
    by: By,
  ): Result<{ token: string; expiresAt: string }> {
    const a = this.approvalView(input.approvalId);
    if (!a) return notFound("approval");
    const contact = this.sql
      .exec<{ client_id: string | null; role: string; disabled: number }>(
        "SELECT client_id, role, disabled FROM users WHERE id = ?",
        input.contactId,
      )
      .toArray()[0];
    if (contact?.role !== "contact" || contact.client_id !== a.clientId || contact.disabled === 1)
      return notFound("contact of this client");
    if (a.state !== "pending") return fail(409, "approval_decided", `approval already ${a.state}`);
    const { token, hash } = newToken("csa", this.tenantId() as string);
    const expiresAt = new Date(
      Math.min(Date.now() + input.ttlSeconds * 1000, Date.parse(a.expiresAt as string)),
    ).toISOString();
    this.sql.exec(
      "INSERT INTO approval_links (hash, approval_id, contact_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      hash,
      input.approvalId,
      input.contactId,
      by.actor,
      this.now(),
      expiresAt,
    );
    this.audit(by, "approval_link.issued", input.approvalId, { contactId: input.contactId, expiresAt });
    return ok({ token, expiresAt });
  }

  /** What a link may do: decide one approval, as one contact, once, before it expires. */
  approvalLink(
    hash: string,
  ): Result<{ approvalId: string; contactId: string; contactName: string; clientId: string; sessionId: string }> {
    const row = this.sql
      .exec<{ approval_id: string; contact_id: string; expires_at: string; used_at: string | null }>(
        "SELECT approval_id, contact_id, expires_at, used_at FROM approval_links WHERE hash = ?",
        hash,
      )
      .toArray()[0];
    if (!row) return fail(404, "not_found", "this approval link is not valid");
    if (row.used_at !== null) return fail(410, "link_used", "this approval link was already used");
    if (Date.parse(row.expires_at) <= Date.now()) return fail(410, "link_expired", "this approval link has expired");
    const contact = this.sql
      .exec<{ name: string; client_id: string; disabled: number }>(
        "SELECT name, client_id, disabled FROM users WHERE id = ?",
        row.contact_id,
      )
      .toArray()[0];
    const a = this.approvalView(row.approval_id);
    if (!contact || contact.disabled === 1 || !a) return fail(404, "not_found", "this approval link is not valid");
    return ok({
      approvalId: row.approval_id,
      contactId: row.contact_id,
      contactName: contact.name,
      clientId: contact.client_id,
      sessionId: a.sessionId,
    });
  }

  useApprovalLink(hash: string): boolean {
    return (
      this.sql.exec("UPDATE approval_links SET used_at = ? WHERE hash = ? AND used_at IS NULL", this.now(), hash)
        .rowsWritten === 1
    );
  }

  // ---- webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature v1 = HMAC-SHA256)

  createWebhook(
    input: { url: string; events: string[] },
    by: By,
  ): { id: string; secret: string; url: string; events: string[] } {
    const id = newId("whk");
    const secret = `whsec_${toBase64(randomBytes(32))}`;
    this.sql.exec(
      "INSERT INTO webhooks (id, url, secret, events, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      id,
      input.url,
      secret,
      JSON.stringify(input.events),
      by.actor,
      this.now(),
    );
    this.audit(by, "webhook.added", id, { url: input.url, events: input.events });
    return { id, secret, url: input.url, events: input.events };
  }

  listWebhooks() {
    return this.sql
      .exec<{ id: string; url: string; events: string; created_at: string; disabled_at: string | null }>(
        "SELECT id, url, events, created_at, disabled_at FROM webhooks ORDER BY created_at",
      )
      .toArray()
      .map((w) => ({
        id: w.id,
        url: w.url,
        events: JSON.parse(w.events) as string[],
        createdAt: w.created_at,
        disabledAt: w.disabled_at,
      }));
  }

  removeWebhook(id: string, by: By): Result<null> {
    if (
      this.sql.exec("UPDATE webhooks SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL", this.now(), id)
        .rowsWritten === 0
    )
      return notFound("webhook");
    this.audit(by, "webhook.removed", id);
    return ok(null);
  }

  webhookDeliveries(limit: number) {
    return this.sql
      .exec<{
        id: string;
        webhook_id: string;
        event: string;
        attempts: number;
        delivered_at: string | null;
        last_error: string | null;
      }>(
        "SELECT id, webhook_id, event, attempts, delivered_at, last_error FROM webhook_deliveries ORDER BY rowid DESC LIMIT ?",
        limit,
      )
      .toArray()
      .map((d) => ({
        id: d.id,
        webhookId: d.webhook_id,
        event: d.event,
        attempts: d.attempts,
        deliveredAt: d.delivered_at,
        lastError: d.last_error,
      }));
  }

  private async enqueueWebhooks(event: string, data: object): Promise<void> {
    const hooks = this.listWebhooks().filter((w) => w.disabledAt === null && w.events.includes(event));
    if (hooks.length === 0) return;
    const timestamp = Math.floor(Date.now() / 1000);
    for (const hook of hooks) {
      const id = `msg_${newId("whk").slice(4)}`;
      const body = JSON.stringify({ type: event, timestamp: new Date(timestamp * 1000).toISOString(), data });
      this.sql.exec(
        "INSERT INTO webhook_deliveries (id, webhook_id, event, body, next_at) VALUES (?, ?, ?, ?, ?)",
        id,
        hook.id,
        event,
        body,
        Date.now(),
      );
    }
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Deliver due webhooks; failures retry with backoff (5 s, 30 s, 2 min, 10 min, 1 h, then every 6 h; 10 tries). */
  override async alarm(): Promise<void> {
    const due = this.sql
      .exec<{ id: string; webhook_id: string; body: string; attempts: number }>(
        "SELECT id, webhook_id, body, attempts FROM webhook_deliveries WHERE delivered_at IS NULL AND attempts < ? AND next_at <= ? ORDER BY next_at LIMIT 50",
        WEBHOOK_BACKOFF_S.length + 1,
        Date.now(),
      )
      .toArray();
    await Promise.all(
      due.map(async (d) => {
        const hook = this.sql
          .exec<{ url: string; secret: string; disabled_at: string | null }>(
            "SELECT url, secret, disabled_at FROM webhooks WHERE id = ?",
            d.webhook_id,
          )
          .toArray()[0];
        if (!hook || hook.disabled_at !== null) {
          this.sql.exec(
            "UPDATE webhook_deliveries SET attempts = 99, last_error = 'webhook removed' WHERE id = ?",
            d.id,
          );
          return;
        }
        let error: string | null = null;
        try {
          const timestamp = String(Math.floor(Date.now() / 1000));
          const signature = await signWebhook(hook.secret, d.id, timestamp, d.body);
          const res = await fetch(hook.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "webhook-id": d.id,
              "webhook-timestamp": timestamp,
              "webhook-signature": signature,
              "user-agent": "Caisey-Webhooks/1",
            },
            body: d.body,
            signal: AbortSignal.timeout(10_000),
          });
          if (!res.ok) error = `HTTP ${res.status}`;
          await res.body?.cancel();
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
        }
        if (error === null) {
          this.sql.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
            this.now(),
            d.id,
          );
        } else {
          const wait = WEBHOOK_BACKOFF_S[Math.min(d.attempts, WEBHOOK_BACKOFF_S.length - 1)] as number;
          this.sql.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?",
            Date.now() + wait * 1000,
            error.slice(0, 500),
            d.id,
          );
        }
      }),
    );
    const next = this.sql
      .exec<{ at: number | null }>(
        "SELECT MIN(next_at) AS at FROM webhook_deliveries WHERE delivered_at IS NULL AND attempts <= ?",
        WEBHOOK_BACKOFF_S.length,
      )
      .one().at;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
  }
}

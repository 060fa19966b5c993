// One object per MSP organization for who may do what: the organization and its signing key, people and their
// tokens, clients and their approval policy, enrollment tokens, approval links, webhooks and the audit log. What the
// machines and sessions report all day lives in the tenant's Fleet; the Tenant tells it what it must know (enrolled
// machines, client and people names) through its outbox. Every lookup here is already tenant-scoped: an id from
// another tenant simply is not in these tables.

import type { Disclosure, MachineFacts, OrganizationSettings, Role } from "@caisey/core";
import {
  type ApprovalPolicy,
  approvalRequired,
  CLOSE_POLICIES,
  DEFAULT_CALLBACK_DAYS,
  dispatchMessage,
  fromBase64,
  HTTP_ATTEMPTS,
  LIMITS,
  newId,
  randomBytes,
  toBase64,
  toBase64Url,
  utf8,
} from "@caisey/core";
import type { ShareLink } from "@caisey/core/routes";
import { DurableBase, target } from "../durable/base.ts";
import type { Delivery, Effect } from "../durable/outbox.ts";
import { DURABLE_EFFECTS_SQL } from "../durable/schema.ts";
import { type Env, fleet } from "../env.ts";
import { unwrapKey, wrapKey, wrappedUnderCurrent } from "../key-wrap.ts";
import { type Failure, fail, notFound, ok, type Result } from "../result.ts";
import { newToken } from "../tokens.ts";
import { type FleetEffect, HANDOVER_COLUMNS } from "./fleet.ts";
import type { Scope } from "./session/index.ts";
import { type OpenedShare, SHARES_MIGRATION, ShareStore } from "./shares.ts";

const NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
/** One Tenant table's rows, each as an outbox effect for the Fleet (`handover.<table>`, the row as JSON). */
const handOver = (table: string, fleetTable: keyof typeof HANDOVER_COLUMNS, order: string) => {
  const columns = HANDOVER_COLUMNS[fleetTable];
  return `INSERT INTO outbox (target, kind, key, payload, created_at, next_at)
     SELECT 'fleet:' || (SELECT id FROM organization), 'handover.${fleetTable}', ${columns[0]},
       json_object(${columns.map((c) => `'${c}', ${c}`).join(", ")}), ${NOW_SQL}, 0
     FROM ${table} WHERE EXISTS (SELECT 1 FROM organization) ORDER BY ${order};`;
};

export const TENANT_MIGRATIONS = [
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
  { name: "durable effects: named alarms, outbox, receipts", sql: DURABLE_EFFECTS_SQL },
  {
    // The tables it hands over stay, unread, until a later migration drops them.
    name: "machines, sessions, timeline and approvals handed to the Fleet; webhook deliveries into the outbox",
    sql: [
      handOver("clients", "clients", "created_at, id"),
      handOver("users", "people", "created_at, id"),
      handOver("machines", "machines", "enrolled_at, id"),
      handOver("sessions", "sessions", "opened_at, id"),
      handOver("machine_changes", "machine_changes", "started_at, command_id"),
      handOver("approvals", "approvals", "requested_at, id"),
      `INSERT INTO outbox (target, kind, key, payload, created_at, attempts, next_at, delivered_at, last_error, given_up)
         SELECT 'webhook:' || webhook_id, event, id, body, ${NOW_SQL}, attempts, next_at, delivered_at, last_error,
           CASE WHEN delivered_at IS NULL AND attempts >= ${HTTP_ATTEMPTS} THEN 1 ELSE 0 END
         FROM webhook_deliveries ORDER BY rowid;
       DROP TABLE webhook_deliveries;
       INSERT INTO alarms (name, at) SELECT 'outbox', 0 WHERE EXISTS (SELECT 1 FROM outbox WHERE delivered_at IS NULL AND given_up = 0);`,
    ].join("\n"),
  },
  {
    // A key kept in the clear by an earlier release is wrapped on its first use (Tenant.signer), and its clear
    // column emptied.
    name: "signing key wrapped at rest",
    sql: "ALTER TABLE signing_key ADD COLUMN private_wrapped TEXT;",
  },
  {
    // One row per setting that differs from its default; the value is JSON. The audit log's filters use the indexes.
    name: "organization settings, audit log filters",
    sql: `CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE INDEX audit_actor ON audit(actor, id);
          CREATE INDEX audit_action ON audit(action, id);
          CREATE INDEX audit_at ON audit(at);`,
  },
  SHARES_MIGRATION,
];

/** What the Fleet tells the Tenant. */
type TenantEffect =
  | { kind: "audit"; payload: { at: string; by: By; action: string; target: string; detail: Record<string, unknown> } }
  | { kind: "webhook.event"; payload: { event: string; data: Record<string, unknown> } };

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

/** A token that is unknown, expired, revoked or its person's disabled: the one answer, whatever the reason. */
export const TOKEN_REFUSED: Failure = fail(401, "unauthenticated", "token is invalid, expired or revoked");

/** A route open to `roles` only: why this caller may not use it, or null when they may. */
export function roleRefusal(principal: Principal, roles: readonly Role[]): Failure | null {
  return roles.includes(principal.role) ? null : fail(403, "forbidden", `a ${principal.role} may not do this`);
}

/** What the caller may see: their tenant, and for a client contact, only their client. */
export function scopeOf(p: Principal): Scope {
  return { tenantId: p.tenantId, clientId: p.role === "contact" ? (p.clientId ?? "cli_none") : null };
}

/**
 * A new command as the Session asks about it: its client, and (null for a rollback, which always waits for approval)
 * its dispatch less the technician, who is whoever the token names.
 */
export interface CommandAsked {
  clientId: string;
  machineId: string;
  dispatch: {
    subject: Omit<Parameters<typeof dispatchMessage>[1], "technicianId">;
    kind: "read" | "change";
    requireApproval: boolean;
  } | null;
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
  /** The technician's reason, shown to the client. */
  reason: string | null;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  state: string;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
}

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

/** What the tenant's signing key is wrapped for: its own tenant only. */
const signingKeyPurpose = (tenantId: string) => `signing-key:${tenantId}`;

function importSigningKey(jwk: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", JSON.parse(jwk) as JsonWebKey, { name: "Ed25519" }, false, ["sign"]);
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
export class Tenant extends DurableBase {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, TENANT_MIGRATIONS);
    // Upgraded in place: the Fleet takes over the rows before this object answers anything.
    const id = this.tenantId();
    if (id !== null && this.outbox.pending(target.fleet(id)) > 0)
      void ctx.blockConcurrencyWhile(() => this.outbox.drain(target.fleet(id)));
    // A signing key in the clear (an earlier release) or under the previous key secret is wrapped again before this
    // object answers anything, so a rotation completes as each organization is next used.
    const stored = this.sql
      .exec<{ private_wrapped: string | null }>("SELECT private_wrapped FROM signing_key")
      .toArray()[0];
    if (stored && !wrappedUnderCurrent(env, stored.private_wrapped))
      void ctx.blockConcurrencyWhile(async () => {
        this.signer = this.openSigningKey();
        await this.signer;
      });
  }

  /** The organization's id once it exists: it never changes, so it is read once, not on every request. */
  private knownTenantId: string | null = null;

  private tenantId(): string | null {
    this.knownTenantId ??= this.sql.exec<{ id: string }>("SELECT id FROM organization").toArray()[0]?.id ?? null;
    return this.knownTenantId;
  }

  /** A rolled-back organization must not be remembered: its id is read again. */
  protected override forgetHeld(): void {
    this.knownTenantId = null;
  }

  protected override source(): string | null {
    const id = this.tenantId();
    return id === null ? null : target.tenant(id);
  }

  /** Tell the Fleet something, inside the transaction that causes it; send it with toFleet() after the commit. */
  private tellFleet(effect: FleetEffect, key: string): void {
    this.outbox.enqueue(target.fleet(this.tenantId() as string), effect.kind, key, effect.payload);
  }

  /** The fast path: the Fleet has what was told before the request that told it is answered. */
  private async toFleet(): Promise<void> {
    await this.outbox.drain(target.fleet(this.tenantId() as string));
  }

  private fleet() {
    return fleet(this.env, this.tenantId() as string);
  }

  protected override applyEffect(source: string, effect: Effect): void {
    if (source !== target.fleet(this.tenantId() ?? "")) throw new Error(`effects from ${source} are not taken`);
    const e = { kind: effect.kind, payload: JSON.parse(effect.payload) } as TenantEffect;
    switch (e.kind) {
      case "audit":
        this.sql.exec(
          "INSERT INTO audit (at, actor, action, target, detail, address) VALUES (?, ?, ?, ?, ?, ?)",
          e.payload.at,
          e.payload.by.actor,
          e.payload.action,
          e.payload.target,
          JSON.stringify(e.payload.detail),
          e.payload.by.address,
        );
        return;
      case "webhook.event":
        this.enqueueWebhooks(e.payload.event, { ...e.payload.data, recipients: this.recipients(e.payload) });
        return;
      default:
        throw new Error(`unknown effect ${effect.kind}`);
    }
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

  /**
   * A page of the log, newest first, narrowed by the filters given. Only given filters enter the statement, so each
   * can use its index (actor, action: with id; the date range: at) on a long log.
   */
  listAudit(input: {
    before: number | null;
    limit: number;
    actor?: string | undefined;
    action?: string | undefined;
    fromMs?: number | null;
    toMs?: number | null;
  }) {
    const where = ["id < ?"];
    const params: (string | number)[] = [input.before ?? Number.MAX_SAFE_INTEGER];
    const narrow = (condition: string, value: string | number) => {
      where.push(condition);
      params.push(value);
    };
    if (input.actor !== undefined) narrow("actor = ?", input.actor);
    if (input.action !== undefined) narrow("action = ?", input.action);
    if (input.fromMs != null) narrow("at >= ?", new Date(input.fromMs).toISOString());
    if (input.toMs != null) narrow("at < ?", new Date(input.toMs).toISOString());
    const rows = this.sql
      .exec<{
        id: number;
        at: string;
        actor: string;
        action: string;
        target: string | null;
        detail: string;
        address: string | null;
      }>(`SELECT * FROM audit WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?`, ...params, input.limit)
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
    const privateWrapped = await wrapKey(
      this.env,
      signingKeyPurpose(input.tenantId),
      utf8(JSON.stringify(await crypto.subtle.exportKey("jwk", keys.privateKey))),
    );
    if (!privateWrapped.ok) return privateWrapped;
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
        "INSERT INTO signing_key (id, private_jwk, private_wrapped, public_raw, created_at) VALUES (1, '', ?, ?, ?)",
        privateWrapped.value,
        publicRaw,
        now,
      );
      this.audit(input.by, "organization.created", input.tenantId, { name: input.organization });
      this.audit(input.by, "person.added", input.owner.id, {
        name: input.owner.name,
        email: input.owner.email,
        role: "owner",
      });
      this.tellFleet({ kind: "person.named", payload: { id: input.owner.id, name: input.owner.name } }, input.owner.id);
    });
    await this.toFleet();
    return ok(this.issueToken(input.owner.id, { kind: "console" }));
  }

  organization(): { id: string; name: string } | null {
    return this.sql.exec<{ id: string; name: string }>("SELECT id, name FROM organization").toArray()[0] ?? null;
  }

  // ---- organization settings

  settings(): OrganizationSettings {
    const stored = new Map(
      this.sql
        .exec<{ name: string; value: string }>("SELECT name, value FROM settings")
        .toArray()
        .map((r) => [r.name, JSON.parse(r.value) as unknown]),
    );
    const idle = stored.get("idleCloseSeconds");
    const policy = stored.get("closePolicy");
    const callbackDays = stored.get("callbackDays");
    return {
      idleCloseSeconds: typeof idle === "number" ? idle : LIMITS.defaultIdleCloseSeconds,
      closePolicy: CLOSE_POLICIES.find((p) => p === policy) ?? "none",
      callbackDays: typeof callbackDays === "number" ? callbackDays : DEFAULT_CALLBACK_DAYS,
    };
  }

  /** Change the settings given (each change audited); answers every setting as it now stands. */
  changeSettings(change: Partial<OrganizationSettings>, by: By): OrganizationSettings {
    const before = this.settings();
    this.ctx.storage.transactionSync(() => {
      for (const [name, to] of Object.entries(change) as [keyof OrganizationSettings, unknown][]) {
        if (to === undefined || to === before[name]) continue;
        this.sql.exec(
          "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
          name,
          JSON.stringify(to),
        );
        this.audit(by, "setting.changed", this.tenantId(), { name, from: before[name], to });
      }
    });
    return this.settings();
  }

  /** The tenant's public signing key (raw Ed25519, base64url), pinned by runtimes at enrollment. */
  signingKey(): string | null {
    return this.sql.exec<{ public_raw: string }>("SELECT public_raw FROM signing_key").toArray()[0]?.public_raw ?? null;
  }

  private signer: Promise<Result<CryptoKey>> | null = null;

  /** Sign a dispatch or cancel message (see core's dispatchMessage); base64url. */
  async sign(message: string): Promise<Result<string>> {
    this.signer ??= this.openSigningKey();
    const signer = await this.signer;
    if (!signer.ok) {
      this.signer = null; // said clearly, and tried again on the next use (the secret may be fixed by then)
      return signer;
    }
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, signer.value, utf8(message));
    return ok(toBase64Url(new Uint8Array(signature)));
  }

  /**
   * The private signing key, unwrapped with the deployment's key secret. A key an earlier release kept in the clear,
   * or one wrapped with the previous secret, is wrapped with the current secret first.
   */
  private async openSigningKey(): Promise<Result<CryptoKey>> {
    const purpose = signingKeyPurpose(this.tenantId() as string);
    const row = this.sql
      .exec<{ private_jwk: string; private_wrapped: string | null }>(
        "SELECT private_jwk, private_wrapped FROM signing_key",
      )
      .one();
    let jwk = row.private_jwk;
    if (row.private_wrapped !== null) {
      const opened = await unwrapKey(this.env, purpose, row.private_wrapped);
      if (!opened.ok) return opened;
      jwk = new TextDecoder().decode(opened.value.plaintext);
      if (!opened.value.stale) return ok(await importSigningKey(jwk));
    }
    const rewrapped = await wrapKey(this.env, purpose, utf8(jwk));
    if (!rewrapped.ok) return rewrapped;
    this.sql.exec("UPDATE signing_key SET private_wrapped = ?, private_jwk = ''", rewrapped.value);
    return ok(await importSigningKey(jwk));
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

  async addPerson(
    input: { id: string; name: string; email: string; role: Role; passwordHash: string; clientId: string | null },
    by: By,
  ): Promise<Result<{ id: string }>> {
    if (input.clientId !== null && !this.clientExists(input.clientId)) return notFound("client");
    this.ctx.storage.transactionSync(() => this.insertPerson(input, by));
    await this.toFleet();
    return ok({ id: input.id });
  }

  private insertPerson(
    input: { id: string; name: string; email: string; role: Role; passwordHash: string; clientId: string | null },
    by: By,
  ): void {
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
    this.tellFleet({ kind: "person.named", payload: { id: input.id, name: input.name } }, input.id);
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
  async updatePerson(
    userId: string,
    change: { name?: string; role?: Role; disabled?: boolean },
    by: By,
  ): Promise<Result<{ id: string }>> {
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
        this.tellFleet({ kind: "person.named", payload: { id: userId, name: change.name } }, userId);
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
    await this.toFleet();
    return ok({ id: userId });
  }

  // ---- clients

  private clientExists(clientId: string): boolean {
    return this.sql.exec("SELECT 1 FROM clients WHERE id = ?", clientId).toArray().length > 0;
  }

  async createClient(id: string, name: string, approvalPolicy: string, by: By): Promise<{ id: string }> {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO clients (id, name, approval_policy, created_at) VALUES (?, ?, ?, ?)",
        id,
        name,
        approvalPolicy,
        this.now(),
      );
      this.audit(by, "client.added", id, { name, approvalPolicy });
      this.tellFleet({ kind: "client.named", payload: { id, name } }, id);
    });
    await this.toFleet();
    return { id };
  }

  async updateClient(
    clientId: string,
    change: { name?: string; approvalPolicy?: string },
    by: By,
  ): Promise<Result<{ id: string }>> {
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
        this.tellFleet({ kind: "client.named", payload: { id: clientId, name: change.name } }, clientId);
      }
      if (change.approvalPolicy !== undefined && change.approvalPolicy !== client.approval_policy) {
        this.sql.exec("UPDATE clients SET approval_policy = ? WHERE id = ?", change.approvalPolicy, clientId);
        this.audit(by, "policy.changed", clientId, { from: client.approval_policy, to: change.approvalPolicy });
      }
    });
    await this.toFleet();
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
  async redeemEnrollment(input: {
    tokenHash: string;
    machineId: string;
    publicKey: string;
    facts: MachineFacts;
    address: string | null;
  }): Promise<Result<{ clientId: string; signingKey: string }>> {
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
      this.tellFleet(
        {
          kind: "machine.enrolled",
          payload: {
            id: input.machineId,
            clientId: row.client_id,
            publicKey: input.publicKey,
            facts: f,
            enrolledAt: this.now(),
          },
        },
        input.machineId,
      );
      this.audit({ actor: `machine:${input.machineId}`, address: input.address }, "machine.enrolled", input.machineId, {
        hostname: f.hostname,
        os: f.os,
        clientId: row.client_id,
        enrollment: row.id,
      });
    });
    await this.toFleet();
    return ok({ clientId: row.client_id, signingKey: this.signingKey() as string });
  }

  // ---- approvals (the Session holds the record; this is the tenant-wide list for the portal and webhooks)

  clientPolicy(clientId: string): ApprovalPolicy {
    const row = this.sql
      .exec<{ approval_policy: ApprovalPolicy }>("SELECT approval_policy FROM clients WHERE id = ?", clientId)
      .toArray()[0];
    return row?.approval_policy ?? "always"; // unknown client: the safest policy
  }

  /**
   * A new command's client policy and, when that policy lets it run without the client's approval, the signature of
   * its dispatch (with no approval in it, for `technicianId`), in one call: the Session then dispatches without a
   * second round trip here. A signature that cannot be made is null; the dispatch signs (and says why) then.
   */
  async commandPolicy(
    technicianId: string,
    asked: CommandAsked,
  ): Promise<Result<{ policy: ApprovalPolicy; signature: string | null }>> {
    const policy = this.clientPolicy(asked.clientId);
    const d = asked.dispatch;
    if (d === null || approvalRequired(policy, d.kind, d.requireApproval)) return ok({ policy, signature: null });
    const signed = await this.sign(dispatchMessage(asked.machineId, { ...d.subject, technicianId }));
    return ok({ policy, signature: signed.ok ? signed.value : null });
  }

  /**
   * commandPolicy for a caller the Worker knows by token only: the token is authenticated in this call, as
   * `authenticate` does on every request (nothing about it is remembered between calls, so a revoked token is refused
   * on the very next one), the caller's role is checked against the route's `roles`, and the dispatch is signed for the
   * person the token names. The Session makes this one call per command instead of the Worker's authentication and its
   * own policy call. `asked` is null when the session is not the caller's to ask about: authentication only.
   */
  async commandAuthority(
    tokenHash: string,
    roles: readonly Role[],
    asked: CommandAsked | null,
  ): Promise<Result<{ principal: Principal; policy: ApprovalPolicy; signature: string | null }>> {
    const principal = this.authenticate(tokenHash);
    if (!principal) return TOKEN_REFUSED;
    const refused = roleRefusal(principal, roles);
    if (refused) return refused;
    // The Session answers "not found" then; the safest policy is said, never used.
    if (asked === null) return ok({ principal, policy: "always", signature: null });
    const answer = await this.commandPolicy(principal.userId, asked);
    return answer.ok ? ok({ principal, ...answer.value }) : answer;
  }

  /** A one-time link for one approval, for one contact of its client: shown once, stored hashed, expiring. */
  async createApprovalLink(
    input: { approvalId: string; contactId: string; ttlSeconds: number },
    by: By,
  ): Promise<Result<{ token: string; expiresAt: string }>> {
    const a = await this.fleet().getApproval(input.approvalId, null);
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
  async approvalLink(
    hash: string,
  ): Promise<
    Result<{ approvalId: string; contactId: string; contactName: string; clientId: string; sessionId: string }>
  > {
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
    const a = await this.fleet().getApproval(row.approval_id, null);
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

  // ---- share links (shares.ts)

  private get shares(): ShareStore {
    return new ShareStore(this.sql, (by, action, target, detail) => this.audit(by, action, target, detail));
  }

  createShare(
    input: { sessionId: string; clientId: string; ttlSeconds: number; disclosure: Disclosure },
    by: By,
  ): { id: string; token: string; expiresAt: string } {
    return this.shares.create(this.tenantId() as string, input, by);
  }

  openShare(hash: string, viewer: { address: string | null } | null): Result<OpenedShare> {
    return this.shares.open(hash, viewer);
  }

  revokeShare(id: string, clientId: string | null, by: By): Result<null> {
    return this.shares.revoke(id, clientId, by);
  }

  listShares(sessionId: string, clientId: string | null): ShareLink[] {
    return this.shares.list(sessionId, clientId);
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
        `SELECT key AS id, substr(target, 9) AS webhook_id, kind AS event, attempts, delivered_at, last_error FROM outbox
         WHERE target LIKE 'webhook:%' ORDER BY seq DESC LIMIT ?`,
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

  /**
   * Whom an event is for, so a receiver can mail or text them without a directory of its own: a request's client
   * contacts, a decision's technician, a handoff's new holder (and, for a takeover, the one it was taken from).
   */
  private recipients(e: {
    event: string;
    data: Record<string, unknown>;
  }): { id: string; name: string; email: string }[] {
    const d = e.data;
    const people = (where: string, ...params: string[]) =>
      this.sql
        .exec<{ id: string; name: string; email: string }>(
          `SELECT id, name, email FROM users WHERE disabled = 0 AND ${where} ORDER BY name, id`,
          ...params,
        )
        .toArray();
    if (e.event === "approval.requested") return people("role = 'contact' AND client_id = ?", String(d.clientId));
    // A session sent for review is for those who review; what became of it, for its technician.
    if (e.event === "session.review_requested")
      return people("role IN ('owner', 'dispatcher') AND id != ?", String(d.technicianId));
    if (e.event === "session.reviewed" || e.event === "session.closed") return people("id = ?", String(d.technicianId));
    if (e.event === "session.assigned")
      return d.takeover ? people("id IN (?, ?)", String(d.to), String(d.from)) : people("id = ?", String(d.to));
    return people("id = ?", String(d.requestedBy));
  }

  /** One signed delivery per subscribed webhook, in the transaction that received the event. */
  private enqueueWebhooks(event: string, data: object): void {
    const hooks = this.listWebhooks().filter((w) => w.disabledAt === null && w.events.includes(event));
    const timestamp = Math.floor(Date.now() / 1000);
    for (const hook of hooks) {
      const id = `msg_${newId("whk").slice(4)}`;
      const body = { type: event, timestamp: new Date(timestamp * 1000).toISOString(), data };
      this.outbox.enqueue(`webhook:${hook.id}`, event, id, body);
    }
  }

  protected override attemptsFor(to: string): number {
    return to.startsWith("webhook:") ? HTTP_ATTEMPTS : super.attemptsFor(to);
  }

  /** Webhooks: POST each message, signed; the outbox retries with backoff (5 s, 30 s, 2 min, 10 min, 1 h, then 6 h). */
  protected override async deliverEffects(to: string, effects: Effect[]): Promise<Delivery> {
    if (!to.startsWith("webhook:")) return super.deliverEffects(to, effects);
    const hook = this.sql
      .exec<{ url: string; secret: string; disabled_at: string | null }>(
        "SELECT url, secret, disabled_at FROM webhooks WHERE id = ?",
        to.slice("webhook:".length),
      )
      .toArray()[0];
    if (!hook || hook.disabled_at !== null) return { delivered: 0, error: "webhook removed", final: true };
    for (const [i, d] of effects.entries()) {
      let error: string | null = null;
      try {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const signature = await signWebhook(hook.secret, d.key, timestamp, d.payload);
        const res = await fetch(hook.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "webhook-id": d.key,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature,
            "user-agent": "Caisey-Webhooks/1",
          },
          body: d.payload,
          signal: AbortSignal.timeout(10_000),
        });
        if (!res.ok) error = `HTTP ${res.status}`;
        await res.body?.cancel();
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (error !== null) return { delivered: i, error };
    }
    return { delivered: effects.length };
  }
}

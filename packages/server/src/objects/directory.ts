// The deployment's directory: which organizations exist and which one an email signs in to. A single object, so
// "first-run setup happens once" and "an email belongs to one organization" are simple, strongly consistent checks.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { migrate } from "../migrations.ts";
import { fail, ok, type Result } from "../result.ts";

export const DIRECTORY_MIGRATIONS = [
  {
    name: "tenants and emails",
    sql: `CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, via TEXT NOT NULL);
          CREATE TABLE emails (email TEXT PRIMARY KEY, tenant_id TEXT NOT NULL);`,
  },
  {
    name: "sign-in throttling",
    sql: `CREATE TABLE throttle (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start INTEGER NOT NULL,
            locked_until INTEGER NOT NULL DEFAULT 0);`,
  },
];

/**
 * Failed sign-ins allowed per window before the key is locked for the rest of it: per account (guessing one
 * password) and per address (spraying many accounts). Successful sign-in clears the account's count.
 */
export const THROTTLE = { windowMs: 15 * 60_000, account: 5, address: 20 } as const;

export class Directory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage, DIRECTORY_MIGRATIONS);
  }

  setupRequired(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM tenants LIMIT 1").toArray().length === 0;
  }

  /**
   * Register a new organization with its first email. `via: "setup"` succeeds only while no organization exists
   * (first-run setup); `via: "operator"` always may (hosted deployments).
   */
  registerTenant(tenantId: string, name: string, email: string, via: "setup" | "operator"): Result<null> {
    const sql = this.ctx.storage.sql;
    if (via === "setup" && !this.setupRequired())
      return fail(409, "already_set_up", "this server already has an organization; sign in instead");
    if (sql.exec("SELECT 1 FROM emails WHERE email = ?", email).toArray().length > 0) {
      return fail(409, "email_taken", "that email is already in use");
    }
    this.ctx.storage.transactionSync(() => {
      sql.exec(
        "INSERT INTO tenants (id, name, created_at, via) VALUES (?, ?, ?, ?)",
        tenantId,
        name,
        new Date().toISOString(),
        via,
      );
      sql.exec("INSERT INTO emails (email, tenant_id) VALUES (?, ?)", email, tenantId);
    });
    return ok(null);
  }

  /** Undo a registration whose tenant could not be created, so setup can be retried. */
  unregisterTenant(tenantId: string): void {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("DELETE FROM emails WHERE tenant_id = ?", tenantId);
      this.ctx.storage.sql.exec("DELETE FROM tenants WHERE id = ?", tenantId);
    });
  }

  claimEmail(email: string, tenantId: string): Result<null> {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM emails WHERE email = ?", email).toArray().length > 0) {
      return fail(409, "email_taken", "that email is already in use");
    }
    sql.exec("INSERT INTO emails (email, tenant_id) VALUES (?, ?)", email, tenantId);
    return ok(null);
  }

  /** Seconds until sign-in may be tried again for these keys, or 0. */
  throttled(keys: string[]): number {
    const now = Date.now();
    let until = 0;
    for (const key of keys) {
      const row = this.ctx.storage.sql
        .exec<{ locked_until: number }>("SELECT locked_until FROM throttle WHERE key = ?", key)
        .toArray()[0];
      if (row && row.locked_until > now) until = Math.max(until, row.locked_until);
    }
    return until === 0 ? 0 : Math.ceil((until - now) / 1000);
  }

  /** Count a failed sign-in against each key (`account:<email>`, `address:<ip>`); returns seconds locked, or 0. */
  signInFailed(keys: string[]): number {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    for (const key of keys) {
      const limit = key.startsWith("account:") ? THROTTLE.account : THROTTLE.address;
      const row = sql
        .exec<{ failures: number; window_start: number }>(
          "SELECT failures, window_start FROM throttle WHERE key = ?",
          key,
        )
        .toArray()[0];
      const fresh = !row || now - row.window_start >= THROTTLE.windowMs;
      const failures = fresh ? 1 : (row as { failures: number }).failures + 1;
      const windowStart = fresh ? now : (row as { window_start: number }).window_start;
      const lockedUntil = failures >= limit ? windowStart + THROTTLE.windowMs : 0;
      sql.exec(
        "INSERT INTO throttle (key, failures, window_start, locked_until) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until",
        key,
        failures,
        windowStart,
        lockedUntil,
      );
    }
    return this.throttled(keys);
  }

  signInSucceeded(accountKey: string): void {
    this.ctx.storage.sql.exec("DELETE FROM throttle WHERE key = ?", accountKey);
  }

  /** Give back an email claimed for a person who could not be added. */
  releaseEmail(email: string, tenantId: string): void {
    this.ctx.storage.sql.exec("DELETE FROM emails WHERE email = ? AND tenant_id = ?", email, tenantId);
  }

  tenantForEmail(email: string): string | null {
    const row = this.ctx.storage.sql
      .exec<{ tenant_id: string }>("SELECT tenant_id FROM emails WHERE email = ?", email)
      .toArray()[0];
    return row?.tenant_id ?? null;
  }
}

// The deployment's directory: which organizations exist and which one an email signs in to. A single object, so
// "first-run setup happens once" and "an email belongs to one organization" are simple, strongly consistent checks.

import { DurableObject } from "cloudflare:workers";
import { type Attempts, admitted, failed, succeeded, THROTTLE, waitMs, withdrawn } from "@caisey/core";
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
  {
    // Counts kept by core's throttle rules: a slowing delay instead of a 15-minute lock.
    name: "credential attempts per key",
    sql: `DROP TABLE throttle;
          CREATE TABLE attempts (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at INTEGER NOT NULL);
          CREATE INDEX attempts_last ON attempts(last_at);`,
  },
];

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

  private attempts(key: string): Attempts | null {
    const row = this.ctx.storage.sql
      .exec<{ failures: number; last_at: number }>("SELECT failures, last_at FROM attempts WHERE key = ?", key)
      .toArray()[0];
    return row ? { failures: row.failures, lastAt: row.last_at } : null;
  }

  private keep(key: string, attempts: Attempts | null): void {
    const sql = this.ctx.storage.sql;
    if (attempts === null) sql.exec("DELETE FROM attempts WHERE key = ?", key);
    else
      sql.exec(
        "INSERT INTO attempts (key, failures, last_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at",
        key,
        attempts.failures,
        attempts.lastAt,
      );
  }

  /**
   * Admit a credential attempt against every key (core's throttleKey), counting it before the credential is checked;
   * or, when a key must slow down, count nothing and answer the milliseconds to wait.
   */
  admitAttempt(keys: readonly string[]): number {
    const now = Date.now();
    const counts = keys.map((key) => [key, this.attempts(key)] as const);
    const wait = Math.max(0, ...counts.map(([key, attempts]) => waitMs(key, attempts, now)));
    if (wait > 0) return wait;
    this.ctx.storage.transactionSync(() => {
      for (const [key, attempts] of counts) this.keep(key, admitted(attempts, now));
      // Keys nobody tried for a while (most of them made-up emails) are forgotten, so the table stays small.
      this.ctx.storage.sql.exec("DELETE FROM attempts WHERE last_at < ?", now - THROTTLE.forgetAfterMs);
    });
    return 0;
  }

  /** The admitted attempt had the wrong credential: the key's delay starts now. */
  attemptFailed(keys: readonly string[]): void {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const key of keys) this.keep(key, failed(this.attempts(key), now));
    });
  }

  /** The admitted attempt had the right credential. */
  attemptSucceeded(keys: readonly string[]): void {
    this.ctx.storage.transactionSync(() => {
      for (const key of keys) this.keep(key, succeeded(key, this.attempts(key)));
    });
  }

  /** The admitted attempt was given up unchecked (no hashing capacity): it does not count. */
  attemptWithdrawn(keys: readonly string[]): void {
    this.ctx.storage.transactionSync(() => {
      for (const key of keys) this.keep(key, withdrawn(this.attempts(key)));
    });
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

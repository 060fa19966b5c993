// The deployment's directory: which organizations exist and which one an email signs in to. A single object, so
// "first-run setup happens once" and "an email belongs to one organization" are simple, strongly consistent checks.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { migrate } from "../migrations.ts";
import { fail, ok, type Result } from "../result.ts";

const MIGRATIONS = [
  {
    name: "tenants and emails",
    sql: `CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, via TEXT NOT NULL);
          CREATE TABLE emails (email TEXT PRIMARY KEY, tenant_id TEXT NOT NULL);`,
  },
];

export class Directory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage, MIGRATIONS);
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

  tenantForEmail(email: string): string | null {
    const row = this.ctx.storage.sql
      .exec<{ tenant_id: string }>("SELECT tenant_id FROM emails WHERE email = ?", email)
      .toArray()[0];
    return row?.tenant_id ?? null;
  }
}

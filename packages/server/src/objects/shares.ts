// Share links: read-only, expiring, revocable links to one session's record, for someone with no account (a client's
// accountant, an auditor). The Tenant keeps them (its table, its audit log); only a SHA-256 of each token is stored.

import { type Disclosure, newId } from "@caisey/core";
import type { ShareLink } from "@caisey/core/routes";
import { fail, notFound, ok, type Result } from "../result.ts";
import { newToken } from "../tokens.ts";
import type { By } from "./tenant.ts";

export const SHARES_MIGRATION = {
  name: "share links",
  sql: `CREATE TABLE shares (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL,
          client_id TEXT NOT NULL, include_output INTEGER NOT NULL, include_notes INTEGER NOT NULL,
          created_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT);
        CREATE INDEX shares_session ON shares(session_id);`,
};

type ShareRow = {
  id: string;
  session_id: string;
  client_id: string;
  include_output: number;
  include_notes: number;
  created_by: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
};

/** What a valid token opens: one session, disclosed as its creator chose. */
export interface OpenedShare {
  id: string;
  sessionId: string;
  clientId: string;
  disclosure: Disclosure;
  expiresAt: string;
}

const viewOf = (r: ShareRow): ShareLink => ({
  id: r.id,
  sessionId: r.session_id,
  includeOutput: r.include_output === 1,
  includeNotes: r.include_notes === 1,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

type Audit = (by: By, action: string, target: string | null, detail?: Record<string, unknown>) => void;

export class ShareStore {
  private readonly sql: SqlStorage;
  private readonly audit: Audit;

  constructor(sql: SqlStorage, audit: Audit) {
    this.sql = sql;
    this.audit = audit;
  }

  create(
    tenantId: string,
    input: { sessionId: string; clientId: string; ttlSeconds: number; disclosure: Disclosure },
    by: By,
  ): { id: string; token: string; expiresAt: string } {
    const id = newId("shr");
    const { token, hash } = newToken("css", tenantId);
    const now = Date.now();
    const expiresAt = new Date(now + input.ttlSeconds * 1000).toISOString();
    this.sql.exec(
      "INSERT INTO shares (id, hash, session_id, client_id, include_output, include_notes, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      id,
      hash,
      input.sessionId,
      input.clientId,
      input.disclosure.output ? 1 : 0,
      input.disclosure.notes ? 1 : 0,
      by.actor,
      new Date(now).toISOString(),
      expiresAt,
    );
    this.audit(by, "share.created", id, {
      sessionId: input.sessionId,
      includeOutput: input.disclosure.output,
      includeNotes: input.disclosure.notes,
      expiresAt,
    });
    return { id, token, expiresAt };
  }

  /**
   * A token's share, if it still opens. Each opening (not each further page it reads) is in the audit log, by the
   * link itself (`share:<id>`) from the viewer's address.
   */
  open(hash: string, viewer: { address: string | null } | null): Result<OpenedShare> {
    const row = this.sql.exec<ShareRow>("SELECT * FROM shares WHERE hash = ?", hash).toArray()[0];
    if (!row) return fail(404, "not_found", "this share link is not valid");
    if (row.revoked_at !== null) return fail(410, "share_revoked", "this share link was revoked");
    if (Date.parse(row.expires_at) <= Date.now()) return fail(410, "share_expired", "this share link has expired");
    if (viewer)
      this.audit({ actor: `share:${row.id}`, ...viewer }, "share.viewed", row.id, { sessionId: row.session_id });
    return ok({
      id: row.id,
      sessionId: row.session_id,
      clientId: row.client_id,
      disclosure: { output: row.include_output === 1, notes: row.include_notes === 1 },
      expiresAt: row.expires_at,
    });
  }

  /** Revoke a link; a client contact (clientId set) only their client's. Revoking twice is harmless. */
  revoke(id: string, clientId: string | null, by: By): Result<null> {
    const row = this.sql.exec<ShareRow>("SELECT * FROM shares WHERE id = ?", id).toArray()[0];
    if (!row || (clientId !== null && row.client_id !== clientId)) return notFound("share link");
    if (row.revoked_at === null) {
      this.sql.exec("UPDATE shares SET revoked_at = ? WHERE id = ?", new Date().toISOString(), id);
      this.audit(by, "share.revoked", id, { sessionId: row.session_id });
    }
    return ok(null);
  }

  list(sessionId: string, clientId: string | null): ShareLink[] {
    return this.sql
      .exec<ShareRow>("SELECT * FROM shares WHERE session_id = ? ORDER BY created_at DESC, id", sessionId)
      .toArray()
      .filter((r) => clientId === null || r.client_id === clientId)
      .map(viewOf);
  }
}

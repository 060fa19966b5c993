// One search index shard: a tenant's documents of one UTC month, named `${tenantId}:${YYYY-MM}`, in SQLite FTS5.
// Session objects push their record here asynchronously (in order, at least once, in batches); the Worker's search
// route asks every shard of the months in question in parallel and merges the answers (core/search.ts).
//
// The instance named `${tenantId}:catalog` is the tenant's list of shards that hold anything (a shard registers
// itself before its first document), so a search wakes only shards with data.
//
// Tables: `docs` holds each document's text and where it points (session, seq, byte offset); `fts` is an external-
// content FTS5 index over docs (`body`, plus `tags`: filter tokens for kind, client, machine and session, so those
// filters are answered by the index itself); `sessions` and `commands` hold the facts that change after a document
// is written (technician, exit code, state, approval) and are joined for those filters. A document's rowid is its time
// key (tsMs × 1024 + slot), so rowid order is time order: "newest first" and date ranges never sort or scan.

import { DurableObject } from "cloudflare:workers";
import {
  type ApprovalState,
  buildMatch,
  type CommandFactUpdate,
  composeMatch,
  docTags,
  type IndexDoc,
  indexEntries,
  KEY_SLOTS,
  monthsBetween,
  OUTPUT_INDEX_CAP,
  parseSnippet,
  type RecordEvent,
  type SearchCursor,
  type SearchKind,
  type SearchOrder,
  shardMonth,
  timeKey,
} from "@caisey/core";
import { type Env, searchCatalog, searchIndex } from "../env.ts";
import { migrate } from "../migrations.ts";

const MIGRATIONS = [
  {
    name: "documents, full-text index, session and command facts, catalog",
    sql: `CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, month TEXT NOT NULL);
          CREATE TABLE sessions (id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, client_id TEXT NOT NULL,
            technician_id TEXT, hostname TEXT NOT NULL, through INTEGER NOT NULL DEFAULT 0);
          CREATE TABLE commands (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, requested INTEGER NOT NULL DEFAULT 0,
            requested_by TEXT, state TEXT, exit_code INTEGER, approval TEXT NOT NULL DEFAULT 'none',
            output_indexed INTEGER NOT NULL DEFAULT 0);
          CREATE TABLE docs (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, part INTEGER NOT NULL,
            kind TEXT NOT NULL, ts TEXT NOT NULL, command_id TEXT, stream TEXT, offset INTEGER, body TEXT NOT NULL,
            tags TEXT NOT NULL);
          CREATE UNIQUE INDEX docs_event ON docs(session_id, seq, part);
          CREATE VIRTUAL TABLE fts USING fts5(body, tags, content='docs', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2');
          INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(1.0, 0.0)');
          CREATE TABLE catalog (tenant_id TEXT NOT NULL, month TEXT NOT NULL, PRIMARY KEY (tenant_id, month));`,
  },
];

/** What a Session sends: its identity and record lines in ascending seq, all of one UTC month. */
export interface IngestBatch {
  session: {
    sessionId: string;
    tenantId: string;
    machineId: string;
    clientId: string;
    hostname: string;
    /** The session's current technician, when the sender knows it (else taken from session.opened/assigned). */
    technicianId?: string | null;
  };
  events: { seq: number; line: string }[];
}

/** One shard's part of a search (the Worker has validated and scoped every field). */
export interface ShardQuery {
  tenantId: string;
  q: string | null;
  kinds: SearchKind[] | null;
  clientId: string | null;
  machineId: string | null;
  sessionId: string | null;
  technicianId: string | null;
  exit: "nonzero" | number | null;
  approval: ApprovalState | null;
  fromMs: number | null;
  toMs: number | null;
  order: SearchOrder;
  /** Rows wanted: the page size plus one, so the merge can tell whether there is more. */
  limit: number;
  cursor: SearchCursor | null;
}

export interface SearchHit {
  key: number;
  rank: number;
  sessionId: string;
  machineId: string;
  clientId: string;
  technicianId: string | null;
  hostname: string;
  seq: number;
  ts: string;
  kind: SearchKind;
  commandId: string | null;
  stream: "stdout" | "stderr" | null;
  offset: number | null;
  exitCode: number | null;
  commandState: string | null;
  approval: ApprovalState | null;
  snippet: string;
  highlights: [number, number][];
}

type Row = Record<string, SqlStorageValue>;

const SNIPPET = "snippet(fts, 0, char(2), char(3), '…', 24)";
const PLAIN_SNIPPET = "substr(d.body, 1, 240)";
const DETAIL_COLUMNS = `d.session_id, d.seq, d.kind, d.ts, d.command_id, d.stream, d.offset, s.machine_id, s.client_id,
  s.technician_id, s.hostname, c.exit_code, c.approval, c.state`;
const DETAIL_JOINS = "JOIN sessions s ON s.id = d.session_id LEFT JOIN commands c ON c.id = d.command_id";

function toHit(row: Row, highlighted: boolean): SearchHit {
  const { snippet, highlights } = parseSnippet(String(row.raw ?? ""));
  return {
    key: row.key as number,
    rank: row.rank as number,
    sessionId: row.session_id as string,
    machineId: row.machine_id as string,
    clientId: row.client_id as string,
    technicianId: (row.technician_id as string | null) ?? null,
    hostname: row.hostname as string,
    seq: row.seq as number,
    ts: row.ts as string,
    kind: row.kind as SearchKind,
    commandId: (row.command_id as string | null) ?? null,
    stream: (row.stream as "stdout" | "stderr" | null) ?? null,
    offset: (row.offset as number | null) ?? null,
    exitCode: (row.exit_code as number | null) ?? null,
    commandState: (row.state as string | null) ?? null,
    approval: (row.approval as ApprovalState | null) ?? null,
    snippet: highlighted ? snippet : snippet.trim(),
    highlights: highlighted ? highlights : [],
  };
}

function previousMonth(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return m === 1
    ? `${String(y - 1).padStart(4, "0")}-12`
    : `${String(y).padStart(4, "0")}-${String(m - 1).padStart(2, "0")}`;
}

export class SearchIndex extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly cap: number;
  private meta: { tenant_id: string; month: string } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, MIGRATIONS);
    const cap = Number(env.SEARCH_OUTPUT_CAP);
    this.cap = Number.isSafeInteger(cap) && cap >= 0 ? cap : OUTPUT_INDEX_CAP;
    this.loadMeta();
  }

  private loadMeta(): void {
    this.meta =
      this.sql.exec<{ tenant_id: string; month: string }>("SELECT tenant_id, month FROM meta").toArray()[0] ?? null;
  }

  // ---- the feed

  /**
   * Index a batch of a session's record. Idempotent: seqs at or below what this shard already holds for the session
   * are ignored. Returns the highest seq now indexed for the session here.
   */
  async ingest(batch: IngestBatch): Promise<{ through: number; refused?: string }> {
    const s = batch.session;
    const events: RecordEvent[] = [];
    for (const e of batch.events) {
      let event: RecordEvent;
      try {
        event = JSON.parse(e.line) as RecordEvent;
        if (typeof event.ts !== "string" || typeof event.type !== "string" || Number.isNaN(Date.parse(event.ts)))
          throw new Error("not a record");
        if (event.data === null || typeof event.data !== "object") event.data = {};
      } catch (error) {
        // A line the index cannot read is skipped, not retried forever: the record itself is unaffected.
        console.error(`search: unreadable record line ${s.sessionId}#${e.seq}`, error);
        continue;
      }
      if (event.seq !== e.seq) return this.refuse(s.sessionId, `line of seq ${event.seq} sent as ${e.seq}`);
      events.push(event);
    }
    const last = batch.events.at(-1)?.seq ?? 0;
    const first = events[0];
    if (!first) return { through: this.through(s.sessionId, last) };
    const month = shardMonth(first.ts);
    if (events.some((e) => shardMonth(e.ts) !== month)) return this.refuse(s.sessionId, "a batch spans two months");
    if (!this.meta) {
      // Registered before the first document, so the catalog never misses a shard that holds something.
      await searchCatalog(this.env, s.tenantId).registerShard(s.tenantId, month);
      this.sql.exec("INSERT OR IGNORE INTO meta (id, tenant_id, month) VALUES (1, ?, ?)", s.tenantId, month);
      this.loadMeta();
    }
    const meta = this.meta as { tenant_id: string; month: string };
    if (meta.tenant_id !== s.tenantId || meta.month !== month)
      return this.refuse(s.sessionId, `shard ${meta.tenant_id}:${meta.month} got a batch for ${s.tenantId}:${month}`);

    const orphans = new Map<string, CommandFactUpdate>();
    const through = this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO sessions (id, machine_id, client_id, technician_id, hostname) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET machine_id = excluded.machine_id, client_id = excluded.client_id,
           hostname = excluded.hostname, technician_id = COALESCE(excluded.technician_id, technician_id)`,
        s.sessionId,
        s.machineId,
        s.clientId,
        s.technicianId ?? null,
        s.hostname,
      );
      let through = this.sql
        .exec<{ through: number }>("SELECT through FROM sessions WHERE id = ?", s.sessionId)
        .one().through;
      const tags = (doc: IndexDoc) => docTags(doc, s);
      for (const event of events) {
        if (event.seq <= through) continue;
        const entries = indexEntries(event, (commandId) => this.outputIndexed(commandId), this.cap);
        if (entries.technicianId)
          this.sql.exec("UPDATE sessions SET technician_id = ? WHERE id = ?", entries.technicianId, s.sessionId);
        if (entries.command) {
          const requested = event.type === "command.requested";
          this.applyFacts(s.sessionId, entries.command, requested);
          const known = this.sql
            .exec<{ requested: number }>("SELECT requested FROM commands WHERE id = ?", entries.command.commandId)
            .one().requested;
          if (!known) {
            // The command was requested in an earlier month: that shard's copy of these facts is kept current too.
            const { outputIndexed: _o, ...facts } = entries.command;
            if (Object.keys(facts).length > 1)
              orphans.set(facts.commandId, { ...(orphans.get(facts.commandId) ?? {}), ...facts });
          }
        }
        for (const doc of entries.docs) this.insertDoc(s.sessionId, doc, tags(doc));
        through = event.seq;
      }
      through = Math.max(through, last);
      this.sql.exec("UPDATE sessions SET through = MAX(through, ?) WHERE id = ?", through, s.sessionId);
      return through;
    });
    if (orphans.size > 0) {
      const earlier = searchIndex(this.env, s.tenantId, previousMonth(month));
      for (const update of orphans.values()) {
        const prior = await earlier.commandFacts(s.tenantId, update);
        if (prior) {
          this.sql.exec(
            `UPDATE commands SET requested_by = COALESCE(requested_by, ?),
               approval = CASE WHEN approval = 'none' THEN ? ELSE approval END WHERE id = ?`,
            prior.requestedBy,
            prior.approval,
            update.commandId,
          );
        }
      }
    }
    return { through };
  }

  /**
   * A batch that breaks the feed contract (another tenant's or month's shard, mixed months, mislabelled seqs) changes
   * nothing; the answer says why, and `through` stays what this shard holds. It is a sender's bug, so it is logged.
   */
  private refuse(sessionId: string, reason: string): { through: number; refused: string } {
    console.error(`search: refused a batch for ${sessionId}: ${reason}`);
    const row = this.sql.exec<{ through: number }>("SELECT through FROM sessions WHERE id = ?", sessionId).toArray()[0];
    return { through: row?.through ?? 0, refused: reason };
  }

  private through(sessionId: string, atLeast: number): number {
    const row = this.sql.exec<{ through: number }>("SELECT through FROM sessions WHERE id = ?", sessionId).toArray()[0];
    if (row && atLeast > row.through) this.sql.exec("UPDATE sessions SET through = ? WHERE id = ?", atLeast, sessionId);
    return Math.max(row?.through ?? 0, atLeast);
  }

  private outputIndexed(commandId: string): number {
    return (
      this.sql.exec<{ n: number }>("SELECT output_indexed AS n FROM commands WHERE id = ?", commandId).toArray()[0]
        ?.n ?? 0
    );
  }

  private applyFacts(sessionId: string, f: CommandFactUpdate, requested: boolean): void {
    this.sql.exec(
      `INSERT INTO commands (id, session_id, requested, requested_by, state, exit_code, approval, output_indexed)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, 'none'), COALESCE(?8, 0))
       ON CONFLICT (id) DO UPDATE SET
         requested = MAX(requested, ?3),
         requested_by = COALESCE(?4, requested_by),
         state = COALESCE(?5, state),
         exit_code = CASE WHEN ?9 THEN ?6 ELSE exit_code END,
         approval = COALESCE(?7, approval),
         output_indexed = COALESCE(?8, output_indexed)`,
      f.commandId,
      sessionId,
      requested ? 1 : 0,
      f.requestedBy ?? null,
      f.state ?? null,
      f.exitCode ?? null,
      f.approval ?? null,
      f.outputIndexed ?? null,
      "exitCode" in f ? 1 : 0,
    );
  }

  /** Facts learned in a later month about a command requested in this one. Returns what this shard knows of it. */
  commandFacts(
    tenantId: string,
    update: CommandFactUpdate,
  ): { requestedBy: string | null; approval: ApprovalState } | null {
    if (!this.meta || this.meta.tenant_id !== tenantId) return null;
    const row = this.sql
      .exec<{ session_id: string; requested_by: string | null; approval: ApprovalState }>(
        "SELECT session_id, requested_by, approval FROM commands WHERE id = ?",
        update.commandId,
      )
      .toArray()[0];
    if (!row) return null;
    const { outputIndexed: _o, ...facts } = update;
    this.applyFacts(row.session_id, facts, false);
    return { requestedBy: row.requested_by, approval: row.approval };
  }

  /** A free time key for a document: its millisecond's slots, or the next free key after them. */
  private insertDoc(sessionId: string, doc: IndexDoc, tags: string): void {
    const base = timeKey(Date.parse(doc.ts));
    const max = this.sql
      .exec<{ m: number | null }>("SELECT MAX(id) AS m FROM docs WHERE id >= ? AND id < ?", base, base + KEY_SLOTS)
      .one().m;
    let key = max === null ? base : max + 1;
    if (key >= base + KEY_SLOTS) {
      while (this.sql.exec("SELECT 1 FROM docs WHERE id = ?", key).toArray().length > 0) key++;
    }
    const inserted = this.sql.exec(
      `INSERT OR IGNORE INTO docs (id, session_id, seq, part, kind, ts, command_id, stream, offset, body, tags)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      key,
      sessionId,
      doc.seq,
      doc.part,
      doc.kind,
      doc.ts,
      doc.commandId,
      doc.stream,
      doc.offset,
      doc.text,
      tags,
    ).rowsWritten;
    if (inserted > 0) this.sql.exec("INSERT INTO fts (rowid, body, tags) VALUES (?, ?, ?)", key, doc.text, tags);
  }

  // ---- search

  search(query: ShardQuery): SearchHit[] {
    if (!this.meta || this.meta.tenant_id !== query.tenantId) return [];
    let userMatch: string | null = null;
    if (query.q !== null) {
      const built = buildMatch(query.q);
      if (!built.ok) return [];
      userMatch = built.match;
    }
    const match = composeMatch(userMatch, {
      kinds: query.kinds ?? undefined,
      clientId: query.clientId,
      machineId: query.machineId,
      sessionId: query.sessionId,
    });
    const id = match ? "f.rowid" : "d.id";
    const where: string[] = [];
    const params: SqlStorageValue[] = [];
    if (match) {
      where.push("fts MATCH ?");
      params.push(match);
    }
    // Date range and cursor as time-key ranges: answered by the rowid order itself. Keys are cast because workerd
    // binds numbers beyond 32 bits as REAL, and FTS5 ignores a rowid constraint that is not an integer.
    where.push(`${id} >= CAST(? AS INTEGER)`, `${id} < CAST(? AS INTEGER)`);
    params.push(
      query.fromMs === null ? 0 : timeKey(query.fromMs),
      query.toMs === null ? Number.MAX_SAFE_INTEGER : timeKey(query.toMs),
    );
    const rankExpr = match && query.order === "best" && userMatch ? "f.rank" : "0";
    const c = query.cursor;
    if (c) {
      if (c.order === "best" && rankExpr !== "0") {
        where.push(`(${rankExpr} > ? OR (${rankExpr} = ? AND ${id} < CAST(? AS INTEGER)))`);
        params.push(c.rank, c.rank, c.key);
      } else {
        where.push(`${id} < CAST(? AS INTEGER)`);
        params.push(c.key);
      }
    }
    if (query.technicianId !== null) {
      where.push("s.technician_id = ?");
      params.push(query.technicianId);
    }
    if (query.exit === "nonzero") where.push("c.exit_code IS NOT NULL AND c.exit_code != 0");
    else if (query.exit !== null) {
      where.push("c.exit_code = ?");
      params.push(query.exit);
    }
    if (query.approval !== null) {
      where.push("c.approval = ?");
      params.push(query.approval);
    }
    const from = match ? "fts f JOIN docs d ON d.id = f.rowid" : "docs d";
    const joins = `${from} ${DETAIL_JOINS}`;
    const filter = where.join(" AND ");
    if (rankExpr === "0") {
      // Time order is the index's own order: no sort, and the snippet is computed only for the rows returned.
      const snippet = userMatch ? SNIPPET : PLAIN_SNIPPET;
      return this.sql
        .exec<Row>(
          `SELECT ${id} AS key, 0 AS rank, ${snippet} AS raw, ${DETAIL_COLUMNS} FROM ${joins} WHERE ${filter}
           ORDER BY ${id} DESC LIMIT ?`,
          ...params,
          query.limit,
        )
        .toArray()
        .map((row) => toHit(row, userMatch !== null));
    }
    // Rank order sorts every match: first the keys alone, then details and snippets for the page.
    const keys = this.sql
      .exec<{ key: number; rank: number }>(
        `SELECT ${id} AS key, ${rankExpr} AS rank FROM ${joins} WHERE ${filter} ORDER BY ${rankExpr}, ${id} DESC LIMIT ?`,
        ...params,
        query.limit,
      )
      .toArray();
    return keys.map((k) => this.hit(k.key, k.rank, match as string)).filter((h) => h !== null);
  }

  /** A hit's details and snippet, for rank order (computed only for the rows of the page). */
  private hit(key: number, rank: number, match: string): SearchHit | null {
    const row = this.sql
      .exec<Row>(
        `SELECT f.rowid AS key, ${SNIPPET} AS raw, ${DETAIL_COLUMNS} FROM fts f JOIN docs d ON d.id = f.rowid
         ${DETAIL_JOINS} WHERE fts MATCH ? AND f.rowid = CAST(? AS INTEGER)`,
        match,
        key,
      )
      .toArray()[0];
    return row ? toHit({ ...row, rank }, true) : null;
  }

  // ---- catalog (on the `${tenantId}:catalog` instance) and maintenance

  registerShard(tenantId: string, month: string): void {
    this.sql.exec("INSERT OR IGNORE INTO catalog (tenant_id, month) VALUES (?, ?)", tenantId, month);
  }

  /** Months with a shard, newest first, optionally within [fromMs, toMs]. */
  shards(tenantId: string, fromMs: number | null = null, toMs: number | null = null): string[] {
    const months = this.sql
      .exec<{ month: string }>("SELECT month FROM catalog WHERE tenant_id = ? ORDER BY month DESC", tenantId)
      .toArray()
      .map((r) => r.month);
    if (fromMs === null && toMs === null) return months;
    const lo = fromMs === null ? "0000-00" : (monthsBetween(fromMs, fromMs)[0] as string);
    const hi = toMs === null ? "9999-99" : (monthsBetween(toMs, toMs)[0] as string);
    return months.filter((m) => m >= lo && m <= hi);
  }

  /** Forget everything (a rebuild then refills the shard from the records). */
  async clear(): Promise<void> {
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage, MIGRATIONS);
    this.meta = null;
  }

  /** Counts, for tests, the benchmark and operators. */
  stats(): { docs: number; sessions: number; commands: number; bytes: number } {
    const one = (q: string) => this.sql.exec<{ n: number }>(q).one().n;
    return {
      docs: one("SELECT COUNT(*) AS n FROM docs"),
      sessions: one("SELECT COUNT(*) AS n FROM sessions"),
      commands: one("SELECT COUNT(*) AS n FROM commands"),
      bytes: this.ctx.storage.sql.databaseSize,
    };
  }
}

// One search index shard: a tenant's documents of one UTC month, named `${tenantId}:${YYYY-MM}`, in SQLite FTS5.
// Session objects push their record here asynchronously (in order, at least once, in batches); the Worker's search
// route asks every shard of the months in question in parallel and merges the answers (core/search.ts).
//
// The instance named `${tenantId}:catalog` is the tenant's list of shards that hold anything (a shard registers
// itself before its first document), so a search wakes only shards with data.
//
// Tables: `docs` holds each document's text and where it points (session, seq, byte offset); `fts` is an external-
// content FTS5 index over docs (`body`, plus `tags`: filter tokens for kind, client, machine and session, and for the
// facts that change after a document is written: the session's technician, the command's exit code and approval).
// `sessions` and `commands` hold those facts; when one changes, the documents it concerns are re-tagged, so every
// filter is answered by FTS5 itself (an intersection of doclists) instead of by scanning matches and joining. A
// document's rowid is its time key (tsMs × 1024 + slot), so rowid order is time order: "newest first" and date
// ranges never sort or scan.
//
// Facts that arrive in a later month than the documents they describe (a command requested on 31 March that finishes
// or is approved on 1 April; a session handed over in April) are forwarded to the earlier shards as durable effects
// (durable/: the outbox row commits with the batch that taught them, goes out after the batch is answered, so the feed
// never waits on it, and is retried by the one backoff policy; the receiver applies each once). Each fact carries the
// record seq it was learned at and the newer one wins, so a fact that arrives late or twice changes nothing. Effects
// are one-way, so what the old request/reply exchange did is two effects: a shard that holds newer facts than it was
// sent, or is the command's home, answers with a `…-reply` effect to the month that asked.
//
// A command's facts go to its home (the shard where it was requested). While the home is unknown they go to the
// newest earlier month in the catalog with the list of the months before it (`seek`); a shard that is not the home
// passes them on down that list, and the home answers the month that asked, which remembers it. A shard at the end of
// the list that does not hold the command refuses the effect (its home may not be indexed yet, as during a rebuild),
// so it is retried. The home passes facts on to any other month holding documents of the command. A session's
// technician goes down the same list to every earlier shard of the session, back to the one that holds its opening.

import {
  type ApprovalState,
  buildMatch,
  type CommandFactUpdate,
  composeMatch,
  type DocFacts,
  docTags,
  factTags,
  type IndexDoc,
  indexEntries,
  monthsBetween,
  parseSnippet,
  type RecordEvent,
  type SearchCursor,
  type SearchKind,
  type SearchOrder,
  type SearchResult,
  shardMonth,
  timeKey,
} from "@caisey/core";
import { DurableBase, target } from "../durable/base.ts";
import type { Effect } from "../durable/outbox.ts";
import { DURABLE_EFFECTS_SQL } from "../durable/schema.ts";
import { type Env, outputIndexCap, searchCatalog } from "../env.ts";
import { type Migration, migrate } from "../migrations.ts";
import { COMMAND_COLUMNS, CommandBatch, type CommandRow, DocBatch, indexDocs } from "./search-batch.ts";

const MIGRATIONS: Migration[] = [
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
  {
    name: "facts with the seq they were learned at, fact tags, forwarding of facts to earlier months",
    // Documents indexed before this migration get their fact tags here, computed in SQL exactly as factTags() does
    // (ids are letters, digits and `_`; ids with anything else are left untagged, as they cannot be filtered on).
    sql: `ALTER TABLE sessions ADD COLUMN technician_seq INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE sessions ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN state_seq INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN exit_seq INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN approval_seq INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN home TEXT;
          CREATE INDEX docs_command ON docs(command_id) WHERE command_id IS NOT NULL;
          CREATE TABLE replicas (command_id TEXT NOT NULL, month TEXT NOT NULL, PRIMARY KEY (command_id, month))
            WITHOUT ROWID;
          CREATE TABLE forwards (kind TEXT NOT NULL, ref TEXT NOT NULL, target TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1, attempts INTEGER NOT NULL DEFAULT 0, due INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, ref, target)) WITHOUT ROWID;
          CREATE TABLE retag (id INTEGER PRIMARY KEY, tags TEXT NOT NULL);
          INSERT INTO retag (id, tags)
            SELECT d.id, d.tags
              || CASE WHEN s.technician_id IS NOT NULL AND s.technician_id != ''
                        AND s.technician_id NOT GLOB '*[^A-Za-z0-9_]*'
                      THEN ' zt' || replace(s.technician_id, '_', '') ELSE '' END
              || CASE WHEN c.exit_code IS NOT NULL AND c.exit_code != 0
                      THEN ' zxnz zx' || CASE WHEN c.exit_code < 0 THEN 'n' || (-c.exit_code) ELSE c.exit_code END
                      ELSE '' END
              || CASE WHEN c.approval IN ('pending', 'granted', 'declined') THEN ' za' || c.approval ELSE '' END
            FROM docs d JOIN sessions s ON s.id = d.session_id LEFT JOIN commands c ON c.id = d.command_id;
          DELETE FROM retag WHERE tags = (SELECT tags FROM docs WHERE docs.id = retag.id);
          INSERT INTO fts (fts, rowid, body, tags)
            SELECT 'delete', d.id, d.body, d.tags FROM retag r JOIN docs d ON d.id = r.id;
          UPDATE docs SET tags = (SELECT tags FROM retag WHERE retag.id = docs.id) WHERE id IN (SELECT id FROM retag);
          INSERT INTO fts (rowid, body, tags) SELECT d.id, d.body, d.tags FROM retag r JOIN docs d ON d.id = r.id;
          DROP TABLE retag;`,
  },
  { name: "durable effects: named alarms, outbox, receipts", sql: DURABLE_EFFECTS_SQL },
  {
    name: "pending forwards move to the outbox",
    // A forward row named what to send and read the facts when it went; an outbox row carries them, so they are
    // read here. One whose command's home was not known yet (target '') goes to the remembered home, else to the
    // month before (the catalog is another object, out of reach of a migration): a shard there that does not hold
    // the command refuses it, and it is retried and finally given up, as forwards were. The 'outbox' alarm is due
    // now; the constructor points the storage alarm at it.
    sql: `INSERT INTO outbox (target, kind, key, payload, created_at, next_at)
            SELECT 'search:' || m.tenant_id || ':' || CASE WHEN f.target != '' THEN f.target
                     ELSE COALESCE(c.home, strftime('%Y-%m', m.month || '-01', '-1 month')) END,
                   'command', f.ref,
                   json_object('from', m.month, 'seek', json(CASE WHEN f.target = '' THEN 'true' ELSE 'false' END),
                     'earlier', json_array(), 'facts', json_object('commandId', c.id, 'sessionId', c.session_id,
                     'requestedBy', c.requested_by, 'state', c.state, 'stateSeq', c.state_seq,
                     'exitCode', c.exit_code, 'exitSeq', c.exit_seq, 'approval', c.approval,
                     'approvalSeq', c.approval_seq)),
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0
              FROM forwards f CROSS JOIN meta m JOIN commands c ON c.id = f.ref
             WHERE f.kind = 'command' ORDER BY f.due, f.ref;
          INSERT INTO outbox (target, kind, key, payload, created_at, next_at)
            SELECT 'search:' || m.tenant_id || ':' || strftime('%Y-%m', m.month || '-01', '-1 month'), 'session', f.ref,
                   json_object('from', m.month, 'earlier', json_array(), 'facts', json_object('sessionId', s.id,
                     'technicianId', s.technician_id, 'technicianSeq', s.technician_seq)),
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0
              FROM forwards f CROSS JOIN meta m JOIN sessions s ON s.id = f.ref
             WHERE f.kind = 'session' ORDER BY f.due, f.ref;
          INSERT INTO alarms (name, at) SELECT 'outbox', 0 WHERE EXISTS (SELECT 1 FROM outbox);
          DROP TABLE forwards;`,
  },
  {
    name: "command documents say whether the command is a change",
    // Only a change has a rollback: the search hit offers "Roll back…" on these. Documents indexed before stay 0.
    sql: "ALTER TABLE docs ADD COLUMN change INTEGER NOT NULL DEFAULT 0;",
  },
];

export { MIGRATIONS as SEARCH_INDEX_MIGRATIONS };

/**
 * A forward is given up after this many attempts (about a day and a half on the backoff policy): one whose home never
 * comes back would otherwise hold every later forward to that month behind it for ever.
 */
const FORWARD_ATTEMPTS = 10;

/** What a Session sends: its identity and record lines in ascending seq, all of one UTC month. */
export interface IngestBatch {
  session: {
    sessionId: string;
    tenantId: string;
    machineId: string;
    clientId: string;
    hostname: string;
    /**
     * The session's technician as the sender last read it: used until the record itself names one (session.opened,
     * session.assigned, in this month or an earlier one), which always outranks it.
     */
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

/** A hit as a shard answers it: the route's SearchResult, plus what merging needs (time key, rank). */
export interface SearchHit extends Omit<SearchResult, "state"> {
  key: number;
  rank: number;
  commandState: string | null;
}

/**
 * A command's changeable facts as shards exchange them, each with the record seq it was learned at (0: never). Seqs
 * are the session's, so they order facts learned in different months; the newer fact wins.
 */
export interface CommandFacts {
  commandId: string;
  sessionId: string;
  requestedBy: string | null;
  state: string | null;
  stateSeq: number;
  exitCode: number | null;
  exitSeq: number;
  approval: ApprovalState;
  approvalSeq: number;
}

/** A session's technician as shards exchange it (seq as for CommandFacts). */
export interface SessionFacts {
  sessionId: string;
  technicianId: string | null;
  technicianSeq: number;
}

/**
 * The effects shards send each other (payloads; the effect's key is the command's or session's id). `from`: the month
 * that asked (a reply goes there); `earlier`: the months still to try, newest first; `seek`: looking for the home.
 */
type CommandForward = { from: string; seek: boolean; earlier: string[]; facts: CommandFacts };
type CommandReply = { from: string; home: boolean; facts: CommandFacts };
type SessionForward = { from: string; earlier: string[]; facts: SessionFacts };
type SessionReply = { facts: SessionFacts };

type Row = Record<string, SqlStorageValue>;
type SessionRow = { through: number; technician_id: string | null; technician_seq: number; opened: number };

/** The month before `YYYY-MM`. */
function previousMonth(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

const SNIPPET = "snippet(fts, 0, char(2), char(3), '…', 24)";
const PLAIN_SNIPPET = "substr(d.body, 1, 240)";
const DETAIL_COLUMNS = `d.session_id, d.seq, d.kind, d.ts, d.command_id, d.change, d.stream, d.offset, s.machine_id, s.client_id,
  s.technician_id, s.hostname, c.exit_code, c.approval, c.state`;
const DETAIL_JOINS = "CROSS JOIN sessions s ON s.id = d.session_id LEFT JOIN commands c ON c.id = d.command_id";
/** Tokens of a document's tags that reflect facts (technician, exit, approval); the rest never change. */
const FACT_TAG = /^z[txa]/;

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
    change: row.change === 1,
    stream: (row.stream as "stdout" | "stderr" | null) ?? null,
    offset: (row.offset as number | null) ?? null,
    exitCode: (row.exit_code as number | null) ?? null,
    commandState: (row.state as string | null) ?? null,
    approval: (row.approval as ApprovalState | null) ?? null,
    snippet: highlighted ? snippet : snippet.trim(),
    highlights: highlighted ? highlights : [],
  };
}

const factsOf = (row: CommandRow): CommandFacts => ({
  commandId: row.id,
  sessionId: row.session_id,
  requestedBy: row.requested_by,
  state: row.state,
  stateSeq: row.state_seq,
  exitCode: row.exit_code,
  exitSeq: row.exit_seq,
  approval: row.approval,
  approvalSeq: row.approval_seq,
});

/** What one record event (at `seq`) says about a command, as facts: the fields it does not mention have seq 0. */
function factsFromEvent(sessionId: string, f: CommandFactUpdate, seq: number): CommandFacts {
  return {
    commandId: f.commandId,
    sessionId,
    requestedBy: f.requestedBy ?? null,
    state: f.state ?? null,
    stateSeq: f.state !== undefined ? seq : 0,
    exitCode: f.exitCode ?? null,
    exitSeq: "exitCode" in f ? seq : 0,
    approval: f.approval ?? "none",
    approvalSeq: f.approval !== undefined ? seq : 0,
  };
}

/** The newer of each fact. */
function mergeFacts(mine: CommandFacts, theirs: CommandFacts): CommandFacts {
  const out = { ...mine, requestedBy: mine.requestedBy ?? theirs.requestedBy };
  if (theirs.stateSeq > mine.stateSeq) Object.assign(out, { state: theirs.state, stateSeq: theirs.stateSeq });
  if (theirs.exitSeq > mine.exitSeq) Object.assign(out, { exitCode: theirs.exitCode, exitSeq: theirs.exitSeq });
  if (theirs.approvalSeq > mine.approvalSeq)
    Object.assign(out, { approval: theirs.approval, approvalSeq: theirs.approvalSeq });
  return out;
}

const sameFacts = (a: CommandFacts, b: CommandFacts) =>
  a.requestedBy === b.requestedBy &&
  a.state === b.state &&
  a.stateSeq === b.stateSeq &&
  a.exitCode === b.exitCode &&
  a.exitSeq === b.exitSeq &&
  a.approval === b.approval &&
  a.approvalSeq === b.approvalSeq;

const commandTags = (f: { exitCode: number | null; approval: ApprovalState }) =>
  factTags({ exitCode: f.exitCode, approval: f.approval }).join(" ");

/** A command's facts as its row's columns, in the table's order (writeFacts binds them in this order). */
function factColumns(f: CommandFacts) {
  return {
    requested_by: f.requestedBy,
    state: f.state,
    state_seq: f.stateSeq,
    exit_code: f.exitCode,
    exit_seq: f.exitSeq,
    approval: f.approval,
    approval_seq: f.approvalSeq,
  };
}

export class SearchIndex extends DurableBase {
  private readonly cap: number;
  private meta: { tenant_id: string; month: string } | null = null;
  /** Documents written in this transaction that FTS5 does not hold yet (`writeTogether` indexes them). */
  private readonly unindexed = new Set<number>();
  /** Batches whose write waits for the next turn (`together`). */
  private waiting: { write: () => number; resolve: (through: number) => void; reject: (error: unknown) => void }[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, MIGRATIONS);
    this.cap = outputIndexCap(env);
    this.loadMeta();
    // Forwards moved into the outbox by the migration are due: the storage alarm rings for them.
    if (this.outbox.pending() > 0) this.alarms.arm();
  }

  protected override source(): string | null {
    return this.meta ? target.search(this.meta.tenant_id, this.meta.month) : null;
  }

  protected override attemptsFor(to: string): number {
    return to.startsWith("search:") ? FORWARD_ATTEMPTS : super.attemptsFor(to);
  }

  private loadMeta(): void {
    this.meta =
      this.sql.exec<{ tenant_id: string; month: string }>("SELECT tenant_id, month FROM meta").toArray()[0] ?? null;
  }

  // ---- the feed

  /**
   * Index a batch of a session's record. Idempotent: seqs at or below what this shard already holds for the session
   * are ignored. Returns the highest seq now indexed for the session here. Facts for documents of earlier months are
   * written to the outbox here and delivered after the answer.
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
    // A session that began in an earlier month may send facts there: which months hold anything, newest first, is
    // read now (the catalog is another object), so the forwards can be written with the batch.
    const openedHere = events.some((e) => e.type === "session.opened") || this.sessionRow(s.sessionId)?.opened === 1;
    const earlier = openedHere
      ? []
      : (await searchCatalog(this.env, s.tenantId).shards(s.tenantId)).filter((m) => m < month);

    const through = await this.together(() => {
      const before = this.sessionRow(s.sessionId);
      let through = before?.through ?? 0;
      let technician = { id: before?.technician_id ?? null, seq: before?.technician_seq ?? 0 };
      let opened = before?.opened === 1;
      // The sender's technician only fills in until the record says (session.opened, session.assigned, here or from
      // another month): a feed reads it once and then sends batch after batch, so it may be older than their events.
      if (s.technicianId && technician.seq === 0) technician = { id: s.technicianId, seq: 0 };
      const fresh = events.filter((e) => e.seq > through);
      const commands = new CommandBatch(
        this.sql,
        fresh.flatMap((e) => {
          const id = (e.data as { commandId?: unknown }).commandId;
          return typeof id === "string" ? [id] : [];
        }),
      );
      const docs: IndexDoc[] = [];
      const retag = new Set<string>();
      for (const event of fresh) {
        const entries = indexEntries(event, (commandId) => commands.get(commandId)?.output_indexed ?? 0, this.cap);
        if (event.type === "session.opened") opened = true;
        if (entries.technicianId && event.seq > technician.seq)
          technician = { id: entries.technicianId, seq: event.seq };
        if (entries.command) {
          const requested = event.type === "command.requested";
          const r = this.applyEvent(commands, s.sessionId, entries.command, event.seq, requested);
          // A command this batch first wrote has no documents here yet (this batch's are written with its facts).
          if (r.tagsChanged && !commands.isNew(r.row.id)) retag.add(r.row.id);
          if (r.changed) this.factsChanged(r.row, null, earlier, commands.isNew(r.row.id));
        }
        docs.push(...entries.docs);
        through = event.seq;
      }
      commands.flush();
      through = Math.max(through, last);
      // The session's row in one statement, written once its batch is read (nothing above reads it back).
      this.sql.exec(
        `INSERT INTO sessions (id, machine_id, client_id, hostname, through, technician_id, technician_seq, opened)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET machine_id = excluded.machine_id, client_id = excluded.client_id,
           hostname = excluded.hostname, through = MAX(through, excluded.through), technician_id = excluded.technician_id,
           technician_seq = excluded.technician_seq, opened = excluded.opened`,
        s.sessionId,
        s.machineId,
        s.clientId,
        s.hostname,
        through,
        technician.id,
        technician.seq,
        opened ? 1 : 0,
      );
      // Documents already here are re-tagged for the facts that changed; this batch's are written with them.
      if (before && technician.id !== before.technician_id) this.retagSession(s.sessionId);
      for (const commandId of retag) this.retagCommand(commandId);
      const facts = new Map<string | null, DocFacts>();
      const written = new DocBatch(
        this.sql,
        s.sessionId,
        docs.map((d) => d.ts),
      );
      for (const doc of docs) {
        let f = facts.get(doc.commandId);
        if (f === undefined) {
          const c = doc.commandId ? commands.get(doc.commandId) : undefined;
          f = { technicianId: technician.id, exitCode: c?.exit_code ?? null, approval: c?.approval ?? null };
          facts.set(doc.commandId, f);
        }
        written.add(doc, docTags(doc, s, f));
      }
      for (const id of written.flush()) this.unindexed.add(id);
      // A session that began in an earlier month: that month's documents get this technician, and this shard gets
      // the technician from there when the sender did not say.
      if (!opened && (!before || technician.id !== before.technician_id) && earlier[0] !== undefined)
        this.send(earlier[0], "session", s.sessionId, {
          from: month,
          earlier: earlier.slice(1),
          facts: { sessionId: s.sessionId, technicianId: technician.id, technicianSeq: technician.seq },
        } satisfies SessionForward);
      return through;
    });
    return { through };
  }

  /**
   * Run a batch's write together with the batches that reach this shard meanwhile (from other sessions), all in one
   * transaction in one turn, so storage commits them once. A shard that many sessions feed at once commits per turn
   * instead of per batch; a batch alone waits only for the next turn. One transaction, not one per batch: FTS5 writes
   * its pending terms out as a new segment at every savepoint, so per-batch transactions made a segment per batch and
   * the merging of them (the index's largest cost after tokenizing). Should anything in the shared transaction throw,
   * it is rolled back whole and each batch is written again in its own, so a batch fails only for its own reason.
   * Then the forwards they wrote go out.
   */
  private together(write: () => number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ write, resolve, reject });
      if (this.waiting.length > 1) return;
      setTimeout(() => {
        const batches = this.waiting;
        this.waiting = [];
        let results: number[] | null = null;
        try {
          results = this.writeTogether(batches.map((b) => b.write));
        } catch (error) {
          if (batches.length === 1) batches[0]?.reject(error);
        }
        if (results) for (const [i, b] of batches.entries()) b.resolve(results[i] as number);
        else if (batches.length > 1)
          for (const b of batches) {
            try {
              b.resolve(this.writeTogether([b.write])[0] as number);
            } catch (error) {
              b.reject(error);
            }
          }
        this.kickForwards();
      }, 0);
    });
  }

  /**
   * Batches' writes in one transaction, then their new documents into FTS5 at once, in key order: FTS5 holds a
   * transaction's new rows in memory only while their rowids ascend, and batches of different sessions interleave in
   * time, so indexing each batch's documents as it was written made a segment (and later merging) per batch. Rolled
   * back whole if anything throws, the documents waiting for FTS5 with it.
   */
  private writeTogether(writes: (() => number)[]): number[] {
    try {
      return this.ctx.storage.transactionSync(() => {
        const results = writes.map((write) => write());
        indexDocs(this.sql, this.unindexed);
        this.unindexed.clear();
        return results;
      });
    } catch (error) {
      this.unindexed.clear();
      // An effect's alarm may have been rolled back with the rest: the next arm() sets it whatever it was before.
      this.alarms.forget();
      throw error;
    }
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

  private sessionRow(sessionId: string): SessionRow | undefined {
    return this.sql
      .exec<SessionRow>("SELECT through, technician_id, technician_seq, opened FROM sessions WHERE id = ?", sessionId)
      .toArray()[0];
  }

  private commandRow(commandId: string): CommandRow | undefined {
    return this.sql.exec<CommandRow>(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ?`, commandId).toArray()[0];
  }

  private writeFacts(f: CommandFacts): void {
    // Columns in factColumns' order.
    this.sql.exec(
      `UPDATE commands SET requested_by = ?, state = ?, state_seq = ?, exit_code = ?, exit_seq = ?, approval = ?,
         approval_seq = ? WHERE id = ?`,
      ...Object.values(factColumns(f)),
      f.commandId,
    );
  }

  /** A record event's facts about a command, in the batch's rows: the newer fact wins; says what changed. */
  private applyEvent(
    commands: CommandBatch,
    sessionId: string,
    update: CommandFactUpdate,
    seq: number,
    requested: boolean,
  ): { row: CommandRow; changed: boolean; tagsChanged: boolean } {
    const row = commands.get(update.commandId);
    const incoming = factsFromEvent(sessionId, update, seq);
    if (!row) {
      const f = mergeFacts(
        { ...incoming, requestedBy: null, state: null, stateSeq: 0, exitCode: null, exitSeq: 0, approvalSeq: 0 },
        incoming,
      );
      const created: CommandRow = {
        id: f.commandId,
        session_id: sessionId,
        requested: requested ? 1 : 0,
        ...factColumns(f),
        home: null,
        output_indexed: update.outputIndexed ?? 0,
      };
      commands.put(created);
      // A command first seen here in a later month than its request: its home has facts this shard needs.
      return { row: created, changed: true, tagsChanged: false };
    }
    const old = factsOf(row);
    const merged = mergeFacts(old, incoming);
    const changed = !sameFacts(old, merged);
    const now: CommandRow = {
      ...row,
      requested: requested ? 1 : row.requested,
      ...factColumns(merged),
      output_indexed: update.outputIndexed ?? row.output_indexed,
    };
    if (changed || now.requested !== row.requested || now.output_indexed !== row.output_indexed) commands.put(now);
    return { row: now, changed, tagsChanged: commandTags(old) !== commandTags(merged) };
  }

  /**
   * A command's facts changed here (`from`: the month that told us, if another): a command requested in an earlier
   * month sends them home; at home, they go on to the other months holding documents of it.
   */
  private factsChanged(row: CommandRow, from: string | null, earlier: string[], newHere = false): void {
    const month = (this.meta as { month: string }).month;
    const facts = factsOf(row);
    if (!row.requested) {
      // Home unknown: the newest earlier month, with the rest to try; none in the catalog yet (the home is being
      // indexed later, as in a rebuild): the month before, which refuses it until it holds the command.
      const to = row.home ?? earlier[0] ?? previousMonth(month);
      const rest = row.home ? [] : earlier.slice(1);
      this.send(to, "command", row.id, { from: month, seek: true, earlier: rest, facts } satisfies CommandForward);
      return;
    }
    // Replicas are recorded for a command this shard already held: one first written by this batch has none yet.
    if (newHere) return;
    const replicas = this.sql
      .exec<{ month: string }>("SELECT month FROM replicas WHERE command_id = ?", row.id)
      .toArray()
      .map((r) => r.month);
    for (const to of replicas)
      if (to !== from)
        this.send(to, "command", row.id, { from: month, seek: false, earlier: [], facts } satisfies CommandForward);
  }

  /** Merge facts another shard holds (the newer of each wins); re-tag this shard's documents if that changed them. */
  private mergeCommand(row: CommandRow, theirs: CommandFacts): { facts: CommandFacts; changed: boolean } {
    const old = factsOf(row);
    const facts = mergeFacts(old, theirs);
    const changed = !sameFacts(old, facts);
    if (changed) {
      this.writeFacts(facts);
      if (commandTags(old) !== commandTags(facts)) this.retagCommand(row.id);
    }
    return { facts, changed };
  }

  private mergeSession(sessionId: string, theirs: SessionFacts): SessionFacts | null {
    const row = this.sessionRow(sessionId);
    if (!row) return null;
    if (theirs.technicianSeq > row.technician_seq) {
      this.sql.exec(
        "UPDATE sessions SET technician_id = ?, technician_seq = ? WHERE id = ?",
        theirs.technicianId,
        theirs.technicianSeq,
        sessionId,
      );
      if (theirs.technicianId !== row.technician_id) this.retagSession(sessionId);
      return { sessionId, technicianId: theirs.technicianId, technicianSeq: theirs.technicianSeq };
    }
    return { sessionId, technicianId: row.technician_id, technicianSeq: row.technician_seq };
  }

  // ---- fact tags

  private retagCommand(commandId: string): void {
    this.retag("command_id = ?", commandId);
  }

  private retagSession(sessionId: string): void {
    this.retag("session_id = ?", sessionId);
  }

  /** Give the documents that match `where` the tags of the facts as they are now (FTS5: delete, then insert). */
  private retag(where: string, value: string): void {
    const docs = this.sql
      .exec<{ id: number; body: string; tags: string; session_id: string; command_id: string | null }>(
        `SELECT id, body, tags, session_id, command_id FROM docs WHERE ${where}`,
        value,
      )
      .toArray();
    const technicians = new Map<string, string | null>();
    const commands = new Map<string, CommandRow | undefined>();
    for (const d of docs) {
      let technicianId = technicians.get(d.session_id);
      if (technicianId === undefined) {
        technicianId = this.sessionRow(d.session_id)?.technician_id ?? null;
        technicians.set(d.session_id, technicianId);
      }
      let c: CommandRow | undefined;
      if (d.command_id) {
        if (!commands.has(d.command_id)) commands.set(d.command_id, this.commandRow(d.command_id));
        c = commands.get(d.command_id);
      }
      const tags = [
        ...d.tags.split(" ").filter((t) => !FACT_TAG.test(t)),
        ...factTags({ technicianId, exitCode: c?.exit_code ?? null, approval: c?.approval ?? null }),
      ].join(" ");
      if (tags === d.tags) continue;
      if (this.unindexed.has(d.id)) {
        // Written by an earlier batch of this transaction: FTS5 takes it, with these tags, when the batches are done.
        this.sql.exec("UPDATE docs SET tags = ? WHERE id = CAST(? AS INTEGER)", tags, d.id);
        continue;
      }
      this.sql.exec(
        "INSERT INTO fts (fts, rowid, body, tags) VALUES ('delete', CAST(? AS INTEGER), ?, ?)",
        d.id,
        d.body,
        d.tags,
      );
      this.sql.exec("UPDATE docs SET tags = ? WHERE id = CAST(? AS INTEGER)", tags, d.id);
      this.sql.exec("INSERT INTO fts (rowid, body, tags) VALUES (CAST(? AS INTEGER), ?, ?)", d.id, d.body, tags);
    }
  }

  // ---- facts for other months: the outbox, and what other shards ask of this one

  /** Write an effect for another month's shard (inside the transaction that learned what it carries). */
  private send(month: string, kind: string, key: string, payload: unknown): void {
    const meta = this.meta as { tenant_id: string };
    this.outbox.enqueue(target.search(meta.tenant_id, month), kind, key, payload);
  }

  /** After a transaction that may have written forwards: deliver them now, in the background (the alarm is the net). */
  private kickForwards(): void {
    if (this.outbox.pending() > 0) void this.outbox.drain();
  }

  /**
   * Deliver the forwards that are due, or all of them now (`everything`: for operators and tests, rather than waiting
   * for the retry). Returns how many are left (each waiting for its retry).
   */
  async deliverForwards(everything = false): Promise<{ pending: number }> {
    if (everything) this.sql.exec("UPDATE outbox SET next_at = 0 WHERE delivered_at IS NULL AND given_up = 0");
    await this.outbox.drain();
    return { pending: this.outbox.pending() };
  }

  /** Another month's facts (inside the transaction that records their receipt; throwing refuses the delivery). */
  protected override applyEffect(source: string, effect: Effect): void {
    const meta = this.meta;
    // Only this tenant's shards send here; anything else (or a shard with nothing yet) holds none of it.
    const mine = meta !== null && source.startsWith(`search:${meta.tenant_id}:`);
    const payload = JSON.parse(effect.payload) as unknown;
    switch (effect.kind) {
      case "command":
        this.receiveCommand(mine, payload as CommandForward);
        return;
      case "command-reply":
        if (mine) this.receiveCommandReply(payload as CommandReply);
        return;
      case "session":
        this.receiveSession(mine, payload as SessionForward);
        return;
      case "session-reply":
        if (mine) this.mergeSession((payload as SessionReply).facts.sessionId, (payload as SessionReply).facts);
        return;
      default:
        throw new Error(`search: unknown effect ${effect.kind} from ${source}`);
    }
  }

  /**
   * Another month's facts about a command. The newer of each fact wins here. The home records the asking month as
   * holding documents of it, passes what changed on to the other such months, and answers (so the asker learns its
   * home); any shard answers when it holds newer facts than it was sent. A shard that is not the home passes a search
   * for it on, back to the session's opening; one at the end of the search that does not hold the command refuses
   * it, to be retried (its home may be indexed later), as does a shard that holds nothing yet.
   */
  private receiveCommand(mine: boolean, f: CommandForward): void {
    if (!f.seek && !mine) return; // a month that held the command forgot it (rebuilt): it learns again from its record
    // Nothing indexed here yet (this month is being indexed later, as in a rebuild): refused, so it comes again.
    if (!mine) throw new Error(`search: command ${f.facts.commandId} from ${f.from}: nothing indexed here yet`);
    const row = this.commandRow(f.facts.commandId);
    // No month before the session's opening holds any of it: the search for the home ends there.
    const openedHere = this.sessionRow(f.facts.sessionId)?.opened === 1;
    if (!row || row.session_id !== f.facts.sessionId) {
      if (!f.seek) return;
      const [next, ...rest] = f.earlier;
      if (openedHere) console.error(`search: command ${f.facts.commandId} from ${f.from} has no home`);
      else if (next !== undefined)
        this.send(next, "command", f.facts.commandId, { ...f, earlier: rest } satisfies CommandForward);
      else throw new Error(`search: command ${f.facts.commandId} from ${f.from} is not held here (yet)`);
      return;
    }
    const month = (this.meta as { month: string }).month;
    const { facts, changed } = this.mergeCommand(row, f.facts);
    const home = row.requested === 1;
    if (home && f.from !== month) {
      this.sql.exec("INSERT OR IGNORE INTO replicas (command_id, month) VALUES (?, ?)", row.id, f.from);
      if (changed) this.factsChanged(this.commandRow(row.id) ?? row, f.from, []);
    }
    if (f.from !== month && ((home && f.seek) || !sameFacts(facts, f.facts)))
      this.send(f.from, "command-reply", row.id, { from: month, home, facts } satisfies CommandReply);
    if (f.seek && !home && !openedHere) {
      const [next, ...rest] = f.earlier;
      if (next !== undefined)
        this.send(next, "command", row.id, { ...f, earlier: rest, facts } satisfies CommandForward);
    }
  }

  /** The answer of a month this shard sent a command's facts to: merge them (no forward); remember the home. */
  private receiveCommandReply(r: CommandReply): void {
    const row = this.commandRow(r.facts.commandId);
    if (!row || row.session_id !== r.facts.sessionId) return;
    this.mergeCommand(row, r.facts);
    if (r.home) this.sql.exec("UPDATE commands SET home = ? WHERE id = ?", r.from, row.id);
  }

  /** A later month's technician of a session: the newer wins here; on to earlier months until its opening. */
  private receiveSession(mine: boolean, f: SessionForward): void {
    const month = this.meta?.month;
    const facts = mine ? this.mergeSession(f.facts.sessionId, f.facts) : null;
    if (facts && month !== undefined) {
      if (facts.technicianSeq > f.facts.technicianSeq)
        this.send(f.from, "session-reply", facts.sessionId, { facts } satisfies SessionReply);
      if (this.sessionRow(facts.sessionId)?.opened === 1) return;
    }
    const [next, ...rest] = f.earlier;
    if (next !== undefined && mine)
      this.send(next, "session", f.facts.sessionId, { ...f, earlier: rest } satisfies SessionForward);
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
    // Every filter is in the MATCH (as tags), so FTS5 intersects doclists instead of the shard scanning matches.
    const match = composeMatch(userMatch, {
      kinds: query.kinds ?? undefined,
      clientId: query.clientId,
      machineId: query.machineId,
      sessionId: query.sessionId,
      technicianId: query.technicianId,
      exit: query.exit,
      approval: query.approval,
    });
    const id = match ? "f.rowid" : "d.id";
    const where: string[] = [];
    const params: SqlStorageValue[] = [];
    if (match) {
      where.push("fts MATCH ?");
      params.push(match);
    }
    // Date range and cursor as time-key ranges: answered by the rowid order itself. Keys are cast because workerd
    // binds numbers beyond 32 bits as REAL, and FTS5 ignores a rowid constraint that is not an integer. No bound, no
    // constraint: FTS5 ranks faster without one.
    if (query.fromMs !== null) {
      where.push(`${id} >= CAST(? AS INTEGER)`);
      params.push(timeKey(query.fromMs));
    }
    if (query.toMs !== null) {
      where.push(`${id} < CAST(? AS INTEGER)`);
      params.push(timeKey(query.toMs));
    }
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
    // The facts are checked once more against the tables the tags come from (every match passes but for exit=0: a
    // command that has not finished has no exit tag either). Only the rows looked at are joined.
    const facts: string[] = [];
    if (query.technicianId !== null) {
      facts.push("s.technician_id = ?");
      params.push(query.technicianId);
    }
    if (query.exit === "nonzero") facts.push("c.exit_code IS NOT NULL AND c.exit_code != 0");
    else if (query.exit !== null) {
      facts.push("c.exit_code = ?");
      params.push(query.exit);
    }
    if (query.approval !== null) {
      facts.push("c.approval = ?");
      params.push(query.approval);
    }
    // CROSS JOINs keep FTS5 (or docs, newest first) the outer loop: SQLite never starts from a facts table.
    const from = match ? "fts f CROSS JOIN docs d ON d.id = f.rowid" : "docs d";
    const joins = `${from} ${DETAIL_JOINS}`;
    const filter = [...where, ...facts].join(" AND ") || "1";
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
    // Rank order ranks every match: first the keys alone (FTS5 only, unless a fact is to be checked), then details
    // and snippets for the page.
    const keys = this.sql
      .exec<{ key: number; rank: number }>(
        `SELECT ${id} AS key, ${rankExpr} AS rank FROM ${facts.length > 0 ? joins : "fts f"} WHERE ${filter}
         ORDER BY ${rankExpr}, ${id} DESC LIMIT ?`,
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
        `SELECT f.rowid AS key, ${SNIPPET} AS raw, ${DETAIL_COLUMNS} FROM fts f CROSS JOIN docs d ON d.id = f.rowid
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
    // The outbox's seqs go on from where they were: receivers skip a seq at or below the last they applied from here.
    const last = this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM outbox").one().seq;
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage, MIGRATIONS);
    this.alarms.forget();
    if (last !== null) {
      const now = new Date().toISOString();
      this.sql.exec(
        `INSERT INTO outbox (seq, target, kind, key, payload, created_at, next_at, delivered_at)
         VALUES (?, '', 'cleared', '', '{}', ?, 0, ?)`,
        last,
        now,
        now,
      );
    }
    this.meta = null;
  }

  /** Counts, for tests, the benchmark and operators (`forwards`: facts waiting to reach another month). */
  stats(): { docs: number; sessions: number; commands: number; forwards: number; bytes: number } {
    const one = (q: string) => this.sql.exec<{ n: number }>(q).one().n;
    return {
      docs: one("SELECT COUNT(*) AS n FROM docs"),
      sessions: one("SELECT COUNT(*) AS n FROM sessions"),
      commands: one("SELECT COUNT(*) AS n FROM commands"),
      forwards: this.outbox.pending(),
      bytes: this.ctx.storage.sql.databaseSize,
    };
  }
}

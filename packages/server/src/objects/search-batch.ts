// How one ingest batch reaches a search shard's SQLite: few statements, whatever the batch holds. The command facts a
// batch touches are read in one go and written back once each at the end (a command's requested, output, finished
// and approval events are one row write, not four); document keys are allocated in memory from one read of each
// millisecond's highest key; documents go in as multi-row INSERTs and into FTS5 in key order, straight from `docs`
// (the text is bound once). Every statement stays within the platform's limits: at most 100 bound parameters, and
// about 100 KB of bound text.

import { type ApprovalState, type IndexDoc, KEY_SLOTS, timeKey } from "@caisey/core";

/** Bound parameters per statement (Durable Object SQLite allows 100). */
const MAX_PARAMS = 100;
/** Text bound per statement, so one statement stays small whatever the documents hold. */
const MAX_STATEMENT_BYTES = 100 * 1024;

export type CommandRow = {
  id: string;
  session_id: string;
  requested: number;
  requested_by: string | null;
  state: string | null;
  state_seq: number;
  exit_code: number | null;
  exit_seq: number;
  approval: ApprovalState;
  approval_seq: number;
  home: string | null;
  output_indexed: number;
};

export const COMMAND_COLUMNS = `id, session_id, requested, requested_by, state, state_seq, exit_code, exit_seq, approval,
  approval_seq, home, output_indexed`;

/** The columns a batch writes besides a command's id and session (a row's session never changes). */
const FACT_COLUMNS = [
  "requested",
  "requested_by",
  "state",
  "state_seq",
  "exit_code",
  "exit_seq",
  "approval",
  "approval_seq",
  "output_indexed",
] as const;
const factValues = (r: CommandRow) => FACT_COLUMNS.map((c) => r[c]);
const UPDATE_FACTS = `UPDATE commands SET ${FACT_COLUMNS.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`;

/**
 * Items grouped for one statement each: at most MAX_PARAMS bound parameters (`params` per item, plus `shared` bound
 * once for the statement), about MAX_STATEMENT_BYTES of text.
 */
function chunks<T>(items: readonly T[], params: number, bytes: (item: T) => number = () => 0, shared = 0): T[][] {
  const out: T[][] = [];
  let row: T[] = [];
  let rowBytes = 0;
  for (const item of items) {
    const b = bytes(item);
    if (row.length > 0 && ((row.length + 1) * params + shared > MAX_PARAMS || rowBytes + b > MAX_STATEMENT_BYTES)) {
      out.push(row);
      row = [];
      rowBytes = 0;
    }
    row.push(item);
    rowBytes += b;
  }
  if (row.length > 0) out.push(row);
  return out;
}

/** A multi-row statement's VALUES list (made once per shape: a batch writes several statements of each). */
const shapes = new Map<string, string>();
function placeholders(count: number, one: string): string {
  const shape = `${count}:${one}`;
  let text = shapes.get(shape);
  if (text === undefined) {
    text = Array.from({ length: count }, () => one).join(", ");
    shapes.set(shape, text);
  }
  return text;
}

/**
 * Values a lookup names, as JSON arrays of at most this many (one bound parameter each): the statement's text is the
 * same whatever the count, so it is prepared once, not once per count.
 */
const LOOKUP_VALUES = 2000;
const lookups = <T>(values: readonly T[]) =>
  Array.from({ length: Math.ceil(values.length / LOOKUP_VALUES) }, (_, i) =>
    JSON.stringify(values.slice(i * LOOKUP_VALUES, (i + 1) * LOOKUP_VALUES)),
  );

/**
 * The commands of one batch, read once and written back once: reads come from memory after the first, writes are
 * kept until `flush` (call it before anything reads `commands` through SQL again, as re-tagging does).
 */
export class CommandBatch {
  private readonly rows = new Map<string, CommandRow | null>();
  private readonly dirty = new Set<string>();
  private readonly created = new Set<string>();

  constructor(
    private readonly sql: SqlStorage,
    ids: Iterable<string>,
  ) {
    const wanted = [...new Set(ids)];
    for (const id of wanted) this.rows.set(id, null);
    for (const ids of lookups(wanted))
      for (const row of sql
        .exec<CommandRow>(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id IN (SELECT value FROM json_each(?))`, ids)
        .toArray())
        this.rows.set(row.id, row);
  }

  get(id: string): CommandRow | undefined {
    let row = this.rows.get(id);
    if (row === undefined) {
      // Not named up front (the caller's list is a hint): read it now.
      row = this.sql.exec<CommandRow>(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ?`, id).toArray()[0] ?? null;
      this.rows.set(id, row);
    }
    return row ?? undefined;
  }

  /** The row as it is now (new or changed), to be written by `flush`. */
  put(row: CommandRow): void {
    if (this.rows.get(row.id) === null) this.created.add(row.id);
    this.rows.set(row.id, row);
    this.dirty.add(row.id);
  }

  /** Was the command first written by this batch? */
  isNew(id: string): boolean {
    return this.created.has(id);
  }

  /**
   * Write every new or changed row. New rows go several to a statement as INSERT OR IGNORE: a multi-row statement
   * that could abort part-way (a plain INSERT, an upsert) makes SQLite copy every page it touches into a statement
   * journal first, and a batch's commands sit on scattered pages (random ids), so each such statement wrote a page
   * copy per command to a temporary file. These rows were read as absent in this transaction, so none is ignored;
   * should one be, RETURNING says so and it is written as a changed row. Changed rows are one UPDATE each (one row:
   * no statement journal).
   */
  flush(): void {
    const rows = [...this.dirty].map((id) => this.rows.get(id) as CommandRow);
    this.dirty.clear();
    const created = rows.filter((r) => this.created.has(r.id));
    const changed = rows.filter((r) => !this.created.has(r.id));
    for (const part of chunks(created, 2 + FACT_COLUMNS.length)) {
      const inserted = new Set(
        this.sql
          .exec<{ id: string }>(
            `INSERT OR IGNORE INTO commands (id, session_id, ${FACT_COLUMNS.join(", ")})
             VALUES ${placeholders(part.length, `(?, ?, ${placeholders(FACT_COLUMNS.length, "?")})`)} RETURNING id`,
            ...part.flatMap((r) => [r.id, r.session_id, ...factValues(r)]),
          )
          .toArray()
          .map((r) => r.id),
      );
      for (const r of part) if (!inserted.has(r.id)) changed.push(r);
    }
    for (const r of changed) this.sql.exec(UPDATE_FACTS, ...factValues(r), r.id);
  }
}

/** A document as written: its key (time key plus slot) and tags. */
type KeyedDoc = { key: number; doc: IndexDoc; tags: string };

/**
 * The documents of one batch (one session's). Keys are allocated as one document at a time would be (the highest key of the
 * document's millisecond plus one; past the millisecond's slots, the next key not taken), from one read of each
 * millisecond's highest key.
 */
export class DocBatch {
  private readonly docs: KeyedDoc[] = [];
  /** Highest key taken in each millisecond's slot range (null: none), stored or allocated here. */
  private readonly highest = new Map<number, number | null>();
  private readonly taken = new Set<number>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly sessionId: string,
    timestamps: Iterable<string>,
  ) {
    const bases = [...new Set([...timestamps].map((ts) => timeKey(Date.parse(ts))))];
    for (const keys of lookups(bases)) {
      // Keys are integers in the JSON (workerd would bind numbers beyond 32 bits as REAL).
      const rows = this.sql
        .exec<{ base: number; m: number | null }>(
          `SELECT b.value AS base, (SELECT MAX(id) FROM docs WHERE id >= b.value AND id < b.value + ${KEY_SLOTS})
             AS m FROM json_each(?) b`,
          keys,
        )
        .toArray();
      for (const r of rows) this.highest.set(r.base, r.m);
    }
  }

  private highestIn(base: number): number | null {
    let m = this.highest.get(base);
    if (m === undefined) {
      m = this.sql
        .exec<{ m: number | null }>(
          "SELECT MAX(id) AS m FROM docs WHERE id >= CAST(? AS INTEGER) AND id < CAST(? AS INTEGER)",
          base,
          base + KEY_SLOTS,
        )
        .one().m;
      this.highest.set(base, m);
    }
    return m;
  }

  add(doc: IndexDoc, tags: string): void {
    const base = timeKey(Date.parse(doc.ts));
    const max = this.highestIn(base);
    let key = max === null ? base : max + 1;
    if (key >= base + KEY_SLOTS) {
      while (
        this.taken.has(key) ||
        this.sql.exec("SELECT 1 FROM docs WHERE id = CAST(? AS INTEGER)", key).toArray().length > 0
      )
        key++;
    }
    const range = key - (key % KEY_SLOTS);
    const rangeMax = this.highestIn(range);
    if (rangeMax === null || key > rangeMax) this.highest.set(range, key);
    this.taken.add(key);
    this.docs.push({ key, doc, tags });
  }

  /** Write the documents; returns the keys of those that were new (a document already held is skipped). */
  flush(): number[] {
    const inserted: number[] = [];
    // A batch's documents are one session's: its id is bound once (?1), the other 11 columns per row.
    for (const part of chunks(this.docs, 11, (d) => d.doc.text.length * 3 + d.tags.length, 1))
      for (const row of this.sql
        .exec<{ id: number }>(
          `INSERT OR IGNORE INTO docs (session_id, id, seq, part, kind, ts, command_id, stream, offset, body, tags, change)
           VALUES ${placeholders(part.length, "(?1, CAST(? AS INTEGER), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")} RETURNING id`,
          this.sessionId,
          ...part.flatMap(({ key, doc, tags }) => [
            key,
            doc.seq,
            doc.part,
            doc.kind,
            doc.ts,
            doc.commandId,
            doc.stream,
            doc.offset,
            doc.text,
            tags,
            doc.change === true ? 1 : 0,
          ]),
        )
        .toArray())
        inserted.push(row.id);
    this.docs.length = 0;
    return inserted;
  }
}

/** Keys per FTS5 insert: one JSON array of them stays well under MAX_STATEMENT_BYTES. */
const INDEX_KEYS = 4000;

/**
 * Index written documents in FTS5, straight from `docs`, in key order, in one statement for up to INDEX_KEYS of them
 * (the keys as one JSON array: one bound parameter). FTS5 writes its in-memory terms out as a segment whenever a
 * statement opens a savepoint (any multi-row statement does), so a statement per 100 keys made a segment per 100.
 */
export function indexDocs(sql: SqlStorage, keys: Iterable<number>): void {
  const sorted = [...keys].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i += INDEX_KEYS)
    sql.exec(
      `INSERT INTO fts (rowid, body, tags) SELECT id, body, tags FROM docs
       WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
      JSON.stringify(sorted.slice(i, i + INDEX_KEYS)),
    );
}

// The Session's storage: its schema, its rows, and the append with the hash chain. Rows are a projection of the
// record: every state a command or approval reaches is written by the event that records it, in the same transaction.

import { createHash, type Hash } from "node:crypto";
import {
  type CommandState,
  chainStep,
  countsAsFailed,
  type Disclosure,
  disclosedLine,
  type EventDraft,
  encodeOutputRecord,
  encodeRecord,
  genesisHash,
  type Head,
  lineFor,
  OUTPUT_LINE_END,
  type OutputDecision,
  outputLineHead,
  type Queued,
  type RecordReader,
  recordTimestamp,
  type SessionCommand,
  type SessionState,
  type Shell,
  toBase64,
  utf8,
  type Verdict,
  withOutputData,
} from "@caisey/core";
import { decodeBase64, sha256, sha256AroundBase64, sha256Hex } from "../../crypto.ts";
import { DURABLE_EFFECTS_SQL } from "../../durable/schema.ts";
import { PRESTATE_MIGRATION } from "./prestate.ts";

/** Append-only: never edit or reorder an entry that has shipped (see migrations.ts). */
export const MIGRATIONS = [
  {
    name: "session, events, commands",
    sql: `CREATE TABLE session (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, machine_id TEXT NOT NULL, client_id TEXT NOT NULL,
            hostname TEXT NOT NULL, os TEXT NOT NULL, technician_id TEXT NOT NULL, ticket TEXT, state TEXT NOT NULL,
            opened_at TEXT NOT NULL, closed_at TEXT);
          CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, record TEXT NOT NULL, hash TEXT NOT NULL,
            command_id TEXT, stream TEXT, offset INTEGER);
          CREATE INDEX events_output ON events(command_id, stream, offset) WHERE type = 'command.output';
          CREATE TABLE commands (id TEXT PRIMARY KEY, position INTEGER NOT NULL, command TEXT NOT NULL, shell TEXT NOT NULL,
            state TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, reason TEXT, timeout_seconds INTEGER,
            dispatched INTEGER NOT NULL DEFAULT 0, started_at TEXT, finished_at TEXT, exit_code INTEGER,
            stdout_committed INTEGER NOT NULL DEFAULT 0, stderr_committed INTEGER NOT NULL DEFAULT 0,
            stdout_sha256 TEXT, stderr_sha256 TEXT, duration_ms INTEGER, pid INTEGER, reason_final TEXT);
          CREATE INDEX commands_position ON commands(position);`,
  },
  {
    name: "command delivery and queue expiry",
    sql: `ALTER TABLE commands ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN queue_expires_at TEXT;`,
  },
  {
    name: "signed dispatch and pending cancel",
    sql: `ALTER TABLE commands ADD COLUMN signature TEXT;
          ALTER TABLE commands ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    name: "client approvals",
    sql: `ALTER TABLE commands ADD COLUMN approval_required INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE commands ADD COLUMN approval_id TEXT;
          ALTER TABLE commands ADD COLUMN classification TEXT;
          CREATE TABLE approvals (id TEXT PRIMARY KEY, command_id TEXT NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL,
            summary TEXT NOT NULL, requested_at TEXT NOT NULL, expires_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT,
            channel TEXT, comment TEXT);
          CREATE INDEX approvals_pending ON approvals(state, expires_at);`,
  },
  {
    name: "search index feed watermark",
    sql: `CREATE TABLE index_feed (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL);
          INSERT INTO index_feed (id, through) VALUES (1, 0);`,
  },
  { name: "durable effects: named alarms, outbox, receipts", sql: DURABLE_EFFECTS_SQL },
  PRESTATE_MIGRATION,
  {
    name: "verification: the baseline a command verifies, scheduled re-checks",
    sql: `ALTER TABLE commands ADD COLUMN verifies TEXT;
          CREATE TABLE checks (command_id TEXT PRIMARY KEY, baseline_id TEXT NOT NULL, at TEXT NOT NULL,
            requested_by TEXT NOT NULL, requested_by_name TEXT NOT NULL, state TEXT NOT NULL);
          CREATE INDEX checks_due ON checks(state, at);`,
  },
  {
    // A session closed before sessions were sealed asks the tenant's log for its seal now, over its head as it stands
    // (sent at the object's first start under this release: see the Session's constructor).
    name: "seal a session closed before seals",
    sql: `INSERT INTO outbox (target, kind, key, payload, created_at, next_at)
            SELECT 'log:' || tenant_id, 'seal.requested', id, json_object('tenantId', tenant_id, 'sessionId', id,
              'seq', (SELECT seq FROM events ORDER BY seq DESC LIMIT 1),
              'headHash', (SELECT hash FROM events ORDER BY seq DESC LIMIT 1),
              'closedAt', (SELECT json_extract(record, '$.ts') FROM events WHERE type = 'session.closed' ORDER BY seq DESC LIMIT 1)),
              strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0
            FROM session WHERE state = 'closed';`,
  },
  {
    name: "rollbacks: the change a command undoes",
    sql: "ALTER TABLE commands ADD COLUMN rollback_of TEXT;",
  },
  {
    // What the close policy and the figures ask of every session, kept with the events that change it.
    name: "verdicts and review",
    sql: `ALTER TABLE session ADD COLUMN verdicts INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE session ADD COLUMN last_verdict TEXT;
          ALTER TABLE session ADD COLUMN returns INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE session ADD COLUMN review_requested_at TEXT;`,
  },
  {
    // Output is nearly every byte a session holds: kept raw (a third smaller than base64, and read back without JSON
    // or base64), beside its line with the data left empty; the exact line is rebuilt where it is hashed or served.
    // Rows written before keep their whole line, and `output` NULL.
    name: "output bytes beside the record line",
    sql: "ALTER TABLE events ADD COLUMN output BLOB;",
  },
  {
    // The session list's counters and the next command's number, kept on the session's row by the events that change
    // them: counting every command and approval on each step cost a session more the longer it ran. Backfilled from
    // the rows as they stand (failed as core's countsAsFailed says).
    name: "session counters",
    sql: `ALTER TABLE session ADD COLUMN command_count INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE session ADD COLUMN failed_count INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE session ADD COLUMN approval_count INTEGER NOT NULL DEFAULT 0;
          UPDATE session SET command_count = (SELECT COUNT(*) FROM commands),
            failed_count = (SELECT COUNT(*) FROM commands WHERE state IN ('failed', 'timed_out', 'interrupted')
              OR (state = 'finished' AND exit_code IS NOT NULL AND exit_code != 0)),
            approval_count = (SELECT COUNT(*) FROM approvals);`,
  },
];

const PAGE_BYTES = 2 * 1024 * 1024;

/** An events row as read back: `output` holds the bytes of an output line stored with its data left empty. */
export type StoredLine = { record: string; output: ArrayBuffer | null };

/** The exact record line of an events row (an output row's is rebuilt around its bytes). */
export function lineOf(row: StoredLine): string {
  return row.output === null ? row.record : withOutputData(row.record, toBase64(new Uint8Array(row.output)));
}

/** The output bytes of a `command.output` row, whichever way it was stored. */
export function outputOf(row: StoredLine): Uint8Array {
  return row.output === null
    ? decodeBase64((JSON.parse(row.record) as { data: { data: string } }).data.data)
    : new Uint8Array(row.output);
}

export type SessionRow = {
  id: string;
  tenant_id: string;
  machine_id: string;
  client_id: string;
  hostname: string;
  os: string;
  technician_id: string;
  ticket: string | null;
  state: SessionState;
  opened_at: string;
  closed_at: string | null;
  verdicts: number;
  last_verdict: Verdict | null;
  returns: number;
  review_requested_at: string | null;
  /** Commands requested so far: the last command's position. */
  command_count: number;
  /** Commands that ended as core's countsAsFailed says. */
  failed_count: number;
  approval_count: number;
};

export type CommandRow = {
  id: string;
  position: number;
  command: string;
  shell: Shell;
  state: CommandState;
  requested_by: string;
  requested_at: string;
  reason: string | null;
  timeout_seconds: number | null;
  dispatched: number;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  stdout_committed: number;
  stderr_committed: number;
  stdout_sha256: string | null;
  stderr_sha256: string | null;
  duration_ms: number | null;
  pid: number | null;
  reason_final: string | null;
  delivered: number;
  queue_expires_at: string | null;
  signature: string | null;
  cancel_requested: number;
  approval_required: number;
  approval_id: string | null;
  classification: "read" | "change" | null;
  verifies: string | null;
  /** JSON of the RollbackOf its command.requested carries; null for a command that undoes nothing. */
  rollback_of: string | null;
};

export type ApprovalRow = {
  id: string;
  command_id: string;
  digest: string;
  state: "pending" | "granted" | "declined" | "expired" | "withdrawn";
  summary: string;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  channel: string | null;
  comment: string | null;
};

/** A command as core's rules see it. */
export function lifecycleOf(c: CommandRow): SessionCommand & Queued {
  return {
    id: c.id,
    state: c.state,
    dispatched: c.dispatched === 1,
    delivered: c.delivered === 1,
    cancelRequested: c.cancel_requested === 1,
    started: c.started_at !== null,
    stdoutBytes: c.stdout_committed,
    stderrBytes: c.stderr_committed,
    approvalId: c.approval_id,
    classification: c.classification,
  };
}

/** `make`'s value, made on the first call and kept. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | null = null;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/** An event as the API serves it: the record with its chain hash spliced in, never re-serialized. */
export function withHash(record: string, hash: string): string {
  return `${record.slice(0, -1)},"hash":"${hash}"}`;
}

export class SessionStore {
  readonly sql: SqlStorage;
  head: Head | null = null;
  private lastTsMs = 0;
  /** The session's own row, cached: it is read on every runtime frame and changes only on open, assign and close. */
  private cachedRow: SessionRow | null = null;
  /** Running SHA-256 of each stream's committed bytes, while this object stays in memory (else recomputed). */
  private readonly streamHashes = new Map<string, { hash: Hash; bytes: number }>();
  /**
   * The commands not yet final (queued, awaiting approval or running), in order: read once when first needed, then
   * kept by the events that change it (a request adds one, a finish takes it out; no other event makes a command
   * final). Dispatch, a finish and the idle close ask for it on every command, each a query over the commands table.
   * null: not read yet, or dropped by a rollback.
   */
  private waitingIds: string[] | null = null;
  /**
   * The command row last read or written through this store, as it stands in storage: every runtime frame reads its
   * command, nearly always the one in flight. Every write to `commands` goes through this store and keeps it right
   * (a simple flag in place, anything an event projects by dropping it); a rolled-back transaction drops it.
   */
  private current: CommandRow | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    /**
     * Called after each append (in its transaction): the live sockets and the search feed follow the record. `forContact`
     * is the message a client contact is sent instead, when the line is internal (else null). Both are made only when
     * first asked for (then kept), and only during the call.
     */
    private readonly appended: (seq: number, message: () => string, forContact: () => string | null) => void,
  ) {
    // Migrated already: the object's base class applies MIGRATIONS before the store is made.
    this.sql = storage.sql;
    const last = this.sql
      .exec<{ seq: number; hash: string; record: string }>(
        "SELECT seq, hash, record FROM events ORDER BY seq DESC LIMIT 1",
      )
      .toArray()[0];
    if (last) {
      this.head = { seq: last.seq, hash: last.hash };
      this.lastTsMs = Date.parse((JSON.parse(last.record) as { ts: string }).ts);
    }
  }

  get seq(): number {
    return this.head?.seq ?? 0;
  }

  /** When the last event was recorded (ms; 0 before the first): the session's last activity. */
  get lastEventAtMs(): number {
    return this.lastTsMs;
  }

  /** The time the next event is recorded at: never before the last one. */
  clock(): number {
    return Math.max(Date.now(), this.lastTsMs);
  }

  /**
   * Storage may hold something else than this store holds in memory (a transaction that threw, storage emptied): each
   * is read again when next needed. The Session's every transaction calls it on a throw (DurableBase.forgetHeld).
   */
  forget(): void {
    this.cachedRow = null;
    this.current = null;
    this.waitingIds = null;
  }

  // ---- the session row

  row(): SessionRow | null {
    this.cachedRow ??= this.sql.exec<SessionRow>("SELECT * FROM session").toArray()[0] ?? null;
    return this.cachedRow;
  }

  insertSession(
    s: Omit<
      SessionRow,
      | "state"
      | "closed_at"
      | "verdicts"
      | "last_verdict"
      | "returns"
      | "review_requested_at"
      | "command_count"
      | "failed_count"
      | "approval_count"
    >,
  ): void {
    this.sql.exec(
      `INSERT INTO session (id, tenant_id, machine_id, client_id, hostname, os, technician_id, ticket, state, opened_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
      s.id,
      s.tenant_id,
      s.machine_id,
      s.client_id,
      s.hostname,
      s.os,
      s.technician_id,
      s.ticket,
      s.opened_at,
    );
  }

  assignTo(technicianId: string): void {
    this.sql.exec("UPDATE session SET technician_id = ?", technicianId);
    this.cachedRow = null;
  }

  /** The session's state changes: `closedAt` is set when it closes; a review request or a return is counted. */
  moveTo(state: SessionState, at: string): void {
    const from = this.row()?.state;
    this.sql.exec(
      `UPDATE session SET state = ?, closed_at = CASE WHEN ? = 'closed' THEN ? ELSE NULL END,
         review_requested_at = CASE WHEN ? = 'review_pending' THEN ? ELSE review_requested_at END,
         returns = returns + CASE WHEN ? = 'review_pending' AND ? = 'open' THEN 1 ELSE 0 END`,
      state,
      state,
      at,
      state,
      at,
      from ?? null,
      state,
    );
    this.cachedRow = null;
  }

  /** A verdict was recorded: counted, and the last one kept (the figures read it). */
  countVerdict(verdict: Verdict): void {
    this.sql.exec("UPDATE session SET verdicts = verdicts + 1, last_verdict = ?", verdict);
    this.cachedRow = null;
  }

  // ---- the record

  /** Append one event: next seq, monotonic timestamp, chain hash. */
  append(type: string, actor: string, data: Record<string, unknown>, tsMs = this.clock()): Head {
    return this.appendLine(type, tsMs, (seq, ts) => encodeRecord({ seq, ts, type, actor, data }));
  }

  /**
   * Append the events of a step, in order, each with the row changes it records. `signature`: the dispatch signature
   * of the command a `command.requested` among them asks for, signed before the step (stored with its row).
   */
  apply(events: readonly EventDraft[], tsMs = this.clock(), signature: string | null = null): Head | null {
    for (const e of events) {
      this.append(e.type, e.actor, e.data, tsMs);
      this.project(e, recordTimestamp(tsMs), signature);
    }
    return this.head;
  }

  /**
   * The rows an event changes. The held command row follows each write (the written values, as SQLite stores them),
   * so the step's effects and the next frame read it without a query.
   */
  private project(e: EventDraft, ts: string, signature: string | null): void {
    const d = e.data as Record<string, SqlStorageValue>;
    switch (e.type) {
      case "command.requested": {
        const position = this.counted("command_count");
        const waiting = this.waiting(); // read (if it must be) before the row is there
        // RETURNING *: the new row, held as it is stored (defaults included) for the dispatch right after.
        this.current = this.sql
          .exec<CommandRow>(
            `INSERT INTO commands (id, position, command, shell, state, requested_by, requested_at, reason, timeout_seconds, queue_expires_at,
             approval_required, classification, verifies, rollback_of, signature)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
            d.commandId,
            position,
            d.command,
            d.shell,
            d.approvalRequired ? "awaiting_approval" : "queued",
            d.requestedBy,
            ts,
            d.reason,
            d.timeoutSeconds,
            recordTimestamp(Date.parse(ts) + Number(d.queueTimeoutSeconds) * 1000),
            d.approvalRequired ? 1 : 0,
            d.classification,
            d.verifies ?? null,
            d.rollbackOf ? JSON.stringify(d.rollbackOf) : null,
            signature,
          )
          .one();
        waiting.push(d.commandId as string);
        return;
      }
      case "approval.requested":
        this.counted("approval_count");
        this.sql.exec(
          "INSERT INTO approvals (id, command_id, digest, state, summary, requested_at, expires_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
          d.approvalId,
          d.commandId,
          d.digest,
          d.summary,
          ts,
          d.expiresAt,
        );
        this.sql.exec("UPDATE commands SET approval_id = ? WHERE id = ?", d.approvalId, d.commandId);
        this.changed(d.commandId as string, () => ({ approval_id: d.approvalId as string }));
        return;
      case "approval.granted":
      case "approval.declined": {
        const granted = e.type === "approval.granted";
        this.sql.exec(
          "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, channel = ?, comment = ? WHERE id = ?",
          granted ? "granted" : "declined",
          d.contactId,
          ts,
          d.channel,
          d.comment,
          d.approvalId,
        );
        if (granted) {
          this.sql.exec("UPDATE commands SET state = 'queued' WHERE id = ?", d.commandId);
          this.changed(d.commandId as string, () => ({ state: "queued" }));
        }
        return;
      }
      case "approval.expired":
        this.sql.exec("UPDATE approvals SET state = 'expired' WHERE id = ?", d.approvalId);
        return;
      case "command.started":
        this.sql.exec(
          "UPDATE commands SET state = 'running', delivered = 1, started_at = ?, pid = ? WHERE id = ?",
          ts,
          d.pid,
          d.commandId,
        );
        this.changed(d.commandId as string, () => ({
          state: "running",
          delivered: 1,
          started_at: ts,
          pid: d.pid as number | null,
        }));
        return;
      case "command.finished":
        this.sql.exec(
          "UPDATE commands SET state = ?, finished_at = ?, exit_code = ?, stdout_sha256 = ?, stderr_sha256 = ?, duration_ms = ?, reason_final = ? WHERE id = ?",
          d.state,
          ts,
          d.exitCode,
          d.stdoutSha256,
          d.stderrSha256,
          d.durationMs,
          d.reason,
          d.commandId,
        );
        this.changed(d.commandId as string, () => ({
          state: d.state as CommandState,
          finished_at: ts,
          exit_code: d.exitCode as number | null,
          stdout_sha256: d.stdoutSha256 as string | null,
          stderr_sha256: d.stderrSha256 as string | null,
          duration_ms: d.durationMs as number | null,
          reason_final: d.reason as string | null,
        }));
        // A finish is the only event that makes a command final.
        if (this.waitingIds !== null) this.waitingIds = this.waitingIds.filter((id) => id !== d.commandId);
        if (countsAsFailed(d.state as CommandState, d.exitCode as number | null)) this.counted("failed_count");
        return;
    }
  }

  /**
   * Add one to one of the session row's counters (in the transaction of the event that counts) and return its new value.
   * The cached row follows the write, so the step's own effects read the counters without a query; a rollback drops
   * the cache (see transaction).
   */
  private counted(counter: "command_count" | "failed_count" | "approval_count"): number {
    const s = this.row() as SessionRow;
    const value = s[counter] + 1;
    this.sql.exec(`UPDATE session SET ${counter} = ?`, value);
    this.cachedRow = { ...s, [counter]: value };
    return value;
  }

  /** `output`: the line `encode` gives has its data left empty; it is stored so, with these bytes beside it. */
  private appendLine(
    type: string,
    tsMs: number,
    encode: (seq: number, ts: string) => string,
    output?: { commandId: string; stream: string; offset: number; bytes: Uint8Array },
  ): Head {
    // Sealed: the log signed the head at `session.closed`, so the record is final.
    if (this.row()?.state === "closed")
      throw new Error("the session is closed and sealed: nothing is appended after it");
    const head = this.head ?? { seq: 0, hash: genesisHash(sha256, (this.row() as SessionRow).id) };
    const seq = head.seq + 1;
    const stored = encode(seq, recordTimestamp(tsMs));
    // An output line is hashed around its bytes and built only if a live socket is sent it: most output is watched by
    // no one as it is committed, and the line is a third larger than the bytes.
    const digest = output
      ? sha256AroundBase64(outputLineHead(stored), output.bytes, OUTPUT_LINE_END)
      : sha256(utf8(stored));
    const hash = chainStep(sha256, head.hash, digest);
    this.sql.exec(
      "INSERT INTO events (seq, type, record, hash, command_id, stream, offset, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      seq,
      type,
      stored,
      hash,
      output?.commandId ?? null,
      output?.stream ?? null,
      output?.offset ?? null,
      output?.bytes ?? null,
    );
    this.head = { seq, hash };
    this.lastTsMs = tsMs;
    const record = once(() => (output ? withOutputData(stored, toBase64(output.bytes)) : stored));
    this.appended(
      seq,
      once(() => withHash(record(), hash)),
      once(() => {
        const forContact = lineFor("contact", seq, type, record(), sha256Hex);
        return forContact === record() ? null : withHash(forContact, hash);
      }),
    );
    return this.head;
  }

  /**
   * Events after a seq, as the API and the live sockets serve them: at most `limit`, and no more once PAGE_BYTES of
   * messages are taken (always at least one), so a page of large output events is never hundreds of MB in memory —
   * 1000 events of 512 KiB output were ~700 MB and failed the request. A reader pages on from the last seq it got.
   */
  served(after: number, limit: number, reader: RecordReader): { seq: number; message: string }[] {
    const page: { seq: number; message: string }[] = [];
    let bytes = 0;
    for (const r of this.sql.exec<{ seq: number; type: string; hash: string } & StoredLine>(
      "SELECT seq, type, record, output, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
      after,
      limit,
    )) {
      const message = withHash(lineFor(reader, r.seq, r.type, lineOf(r), sha256Hex), r.hash);
      page.push({ seq: r.seq, message });
      bytes += message.length;
      if (bytes >= PAGE_BYTES) break;
    }
    return page;
  }

  /**
   * A page of record lines as disclosed (with their chain hashes spliced in when `hashed`, as events are served),
   * bounded in bytes so a huge session streams page by page.
   */
  recordPage(after: number, disclosure: Disclosure, hashed = false): { lines: string[]; last: number; done: boolean } {
    const lines: string[] = [];
    let last = after;
    let bytes = 0;
    for (const row of this.sql.exec<{ seq: number; type: string; hash: string } & StoredLine>(
      "SELECT seq, type, record, output, hash FROM events WHERE seq > ? ORDER BY seq",
      after,
    )) {
      if (bytes > PAGE_BYTES) return { lines, last, done: false };
      const record = lineOf(row);
      const line = disclosedLine(disclosure, row.seq, row.type, record, sha256Hex);
      lines.push(hashed ? withHash(line, row.hash) : line);
      bytes += record.length;
      last = row.seq;
    }
    return { lines, last, done: true };
  }

  /**
   * A page of one stream's output from byte `from`: its rows' bytes in order, as stored. Raw, not base64: every reader
   * wants bytes (the output download, the diff, the report's preview), and a page of base64 cost the Session an
   * encoding and each reader a strict decode whose alphabet check ran ~15 ms per MiB.
   */
  outputPage(commandId: string, stream: "stdout" | "stderr", from: number) {
    const chunks: Uint8Array[] = [];
    let next = from;
    let bytes = 0;
    const rows = this.sql.exec<{ offset: number } & StoredLine>(
      "SELECT record, output, offset FROM events WHERE type = 'command.output' AND command_id = ? AND stream = ? AND offset >= ? ORDER BY offset",
      commandId,
      stream,
      from,
    );
    for (const row of rows) {
      if (bytes >= PAGE_BYTES) return { chunks, next, done: false };
      const data = outputOf(row);
      chunks.push(data);
      next = row.offset + data.length;
      bytes += data.length;
    }
    return { chunks, next, done: true };
  }

  // ---- commands and approvals

  commands(): CommandRow[] {
    return this.sql.exec<CommandRow>("SELECT * FROM commands ORDER BY position").toArray();
  }

  command(commandId: string): CommandRow | null {
    if (this.current?.id === commandId) return this.current;
    const row = this.sql.exec<CommandRow>("SELECT * FROM commands WHERE id = ?", commandId).toArray()[0] ?? null;
    this.current = row;
    return row;
  }

  /** The command's row changed by a write that just succeeded: the held row follows it (if it is the one held). */
  private changed(commandId: string, change: (c: CommandRow) => Partial<CommandRow>): void {
    if (this.current?.id === commandId) this.current = { ...this.current, ...change(this.current) };
  }

  /** Sign a command once: its row as it stands after the write, or null when it was signed already. */
  signOnce(commandId: string, signature: string): CommandRow | null {
    const row =
      this.sql
        .exec<CommandRow>(
          "UPDATE commands SET signature = ? WHERE id = ? AND signature IS NULL RETURNING *",
          signature,
          commandId,
        )
        .toArray()[0] ?? null;
    this.current = row;
    return row;
  }

  approval(approvalId: string): ApprovalRow | null {
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", approvalId).toArray()[0] ?? null;
  }

  /** How many commands are not yet final (queued, awaiting approval or running). */
  waitingCount(): number {
    return this.waiting().length;
  }

  /** The ids of the commands not yet final, in order (see waitingIds). */
  private waiting(): string[] {
    this.waitingIds ??= this.sql
      .exec<{ id: string }>(
        "SELECT id FROM commands WHERE state IN ('queued', 'running', 'awaiting_approval') ORDER BY position",
      )
      .toArray()
      .map((r) => r.id);
    return this.waitingIds;
  }

  /**
   * The first command not yet final, as a list of at most one. Commands run strictly in order, so it is the only one
   * that can be in flight, and all that dispatch needs to look at: reading the whole backlog on every step made a
   * long queue cost O(n) per frame.
   */
  firstWaiting(): CommandRow[] {
    const first = this.waiting()[0];
    const row = first === undefined ? null : this.command(first);
    return row ? [row] : [];
  }

  /** The command is in flight: handed to the Machine object (and, with `delivered`, counted as in its hands). */
  markDispatched(commandId: string, delivered: boolean): void {
    this.sql.exec(
      "UPDATE commands SET dispatched = 1, delivered = MAX(delivered, ?) WHERE id = ?",
      delivered ? 1 : 0,
      commandId,
    );
    this.changed(commandId, (c) => ({ dispatched: 1, delivered: Math.max(c.delivered, delivered ? 1 : 0) }));
  }

  markDelivered(commandId: string): void {
    this.sql.exec("UPDATE commands SET delivered = 1 WHERE id = ?", commandId);
    this.changed(commandId, () => ({ delivered: 1 }));
  }

  /** The machine was offline after all: a command still queued is back to not delivered (its queue time runs). */
  markUndelivered(commandId: string): void {
    this.sql.exec("UPDATE commands SET delivered = 0 WHERE id = ? AND state = 'queued'", commandId);
    this.changed(commandId, (c) => (c.state === "queued" ? { delivered: 0 } : {}));
  }

  markCancelRequested(commandId: string): void {
    this.sql.exec("UPDATE commands SET cancel_requested = 1 WHERE id = ?", commandId);
    this.changed(commandId, () => ({ cancel_requested: 1 }));
  }

  /** A withdrawn request leaves the client's pending list and can no longer be decided. */
  withdrawApproval(approvalId: string): void {
    this.sql.exec("UPDATE approvals SET state = 'withdrawn' WHERE id = ? AND state = 'pending'", approvalId);
  }

  // ---- output

  /**
   * Append the new bytes of a chunk of output as core's `acceptOutput` decided. Returns the command's row as it stands
   * afterwards (the ack is made from it without reading it again).
   */
  commitOutput(
    c: CommandRow,
    stream: "stdout" | "stderr",
    commit: Extract<OutputDecision, { kind: "commit" }>,
    received: Uint8Array,
    actor: string,
  ): CommandRow {
    const bytes = received.subarray(commit.skip);
    const column = stream === "stdout" ? "stdout_committed" : "stderr_committed";
    const output = { commandId: c.id, stream, offset: commit.offset, bytes };
    this.storage.transactionSync(() => {
      this.appendLine(
        "command.output",
        this.clock(),
        (seq, ts) => encodeOutputRecord(seq, ts, actor, { ...output, data: "" }),
        output,
      );
      this.sql.exec(`UPDATE commands SET ${column} = ? WHERE id = ?`, commit.end, c.id);
    });
    this.hashOutput(c.id, stream, commit.offset, bytes);
    // `c` is the row as stored (read through this store before the commit); the held row is it with this write.
    const after = { ...c, [column]: commit.end };
    this.current = after;
    return after;
  }

  private hashOutput(commandId: string, stream: string, before: number, bytes: Uint8Array): void {
    const key = `${commandId}:${stream}`;
    let entry = this.streamHashes.get(key);
    if (!entry && before === 0) {
      entry = { hash: createHash("sha256"), bytes: 0 };
      this.streamHashes.set(key, entry);
    }
    if (entry && entry.bytes === before) {
      entry.hash.update(bytes);
      entry.bytes += bytes.length;
    } else {
      this.streamHashes.delete(key); // out of step (object was evicted mid-stream): recomputed at finish
    }
  }

  /** SHA-256 of both streams exactly as the record holds them (asked for only when a command ends). */
  digests(c: CommandRow): { stdoutSha256: string; stderrSha256: string } {
    return {
      stdoutSha256: this.streamDigest(c.id, "stdout", c.stdout_committed),
      stderrSha256: this.streamDigest(c.id, "stderr", c.stderr_committed),
    };
  }

  private streamDigest(commandId: string, stream: "stdout" | "stderr", committed: number): string {
    const key = `${commandId}:${stream}`;
    const entry = this.streamHashes.get(key);
    this.streamHashes.delete(key);
    if (entry && entry.bytes === committed) return entry.hash.digest("hex");
    const hash = createHash("sha256");
    // A stream with nothing committed has no rows to read (most commands write nothing to stderr).
    if (committed === 0) return hash.digest("hex");
    const rows = this.sql.exec<StoredLine>(
      "SELECT record, output FROM events WHERE type = 'command.output' AND command_id = ? AND stream = ? ORDER BY offset",
      commandId,
      stream,
    );
    for (const row of rows) hash.update(outputOf(row));
    return hash.digest("hex");
  }

  /** The record event of `type` about a command (its first), with the chain hash at it. */
  commandEvent(type: string, commandId: string): { seq: number; hash: string; data: Record<string, unknown> } | null {
    // Only output events carry command_id in their row; these are few per command, so the JSON is read.
    for (const row of this.sql.exec<{ seq: number; hash: string; record: string }>(
      "SELECT seq, hash, record FROM events WHERE type = ? ORDER BY seq",
      type,
    )) {
      const data = (JSON.parse(row.record) as { data: Record<string, unknown> }).data;
      if (data.commandId === commandId) return { seq: row.seq, hash: row.hash, data };
    }
    return null;
  }

  // ---- deadlines

  /** The next deadline: a queued command's expiry or a pending approval's. */
  nextDeadline(): string | null {
    return this.sql
      .exec<{ at: string | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(queue_expires_at) AS at FROM commands WHERE state = 'queued' AND delivered = 0
           UNION ALL SELECT MIN(expires_at) AS at FROM approvals WHERE state = 'pending')`,
      )
      .one().at;
  }

  expiredInQueue(now: string): CommandRow[] {
    return this.sql
      .exec<CommandRow>(
        "SELECT * FROM commands WHERE state = 'queued' AND delivered = 0 AND queue_expires_at <= ? ORDER BY position",
        now,
      )
      .toArray();
  }

  expiredApprovals(now: string): ApprovalRow[] {
    return this.sql
      .exec<ApprovalRow>("SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= ?", now)
      .toArray();
  }
}

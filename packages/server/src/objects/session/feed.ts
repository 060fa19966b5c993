// The search index feed. Each session pushes its record to the tenant's search index asynchronously (the record never
// waits on the index): one push at a time, a short timer after appends (then at the session's next hand-over of a
// command, or a moment later at the latest), and the "search-feed" named alarm as the safety net, retried with the one
// backoff policy. The record is this effect's outbox — its events are already
// committed in order, so a second copy of every output line would only double the writes — and the watermark
// (index_feed.through) is its delivery mark; the index takes each (session, seq) once.

import { retryAt } from "@caisey/core";
import type { AlarmScheduler } from "../../durable/alarms.ts";
import type { Later } from "../../durable/later.ts";
import { type Env, outputIndexCap, searchIndex } from "../../env.ts";
import { lineOf, type SessionStore } from "./store.ts";

export const SEARCH_FEED_ALARM = "search-feed";

/** Bounds of one push to the search index: events, and record bytes. */
const INDEX_BATCH_EVENTS = 256;
const INDEX_BATCH_BYTES = 4 * 1024 * 1024;
/** A session behind on indexing wakes itself within this time, even after a crash (the alarm is durable). */
const INDEX_GUARD_MS = 5_000;

/** "YYYY-MM" of a record line (its ts is always at the same place: {"seq":N,"ts":"YYYY-MM-…). */
function monthOf(record: string): string {
  const at = record.indexOf('"ts":"') + 6;
  return record.slice(at, at + 7);
}

export class SearchFeed {
  private feeding = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private guardArmed = false;
  /** Pushes failed in a row, for the backoff (kept in memory: after a restart the first retry comes soon). */
  private failures = 0;
  private readonly outputIndexCap: number;
  /** How long after an append its push is due. */
  private readonly delayMs: number;
  /** How long a due push waits for the session's next hand-over at most (see ready); 0: it goes at once. */
  private readonly holdMs: number;
  /** A push is due and waits for the next hand-over (the timer is then the hold's end). */
  private due = false;
  /**
   * The watermark as this instance moved it (null: not read since the object started or forget()). Its write waits
   * for the session's next transaction (see later.ts): lost with the object, the index is sent those events again and
   * takes each once.
   */
  private through: number | null = null;

  constructor(
    private readonly env: Env,
    private readonly store: SessionStore,
    private readonly alarms: AlarmScheduler,
    private readonly later: Later,
  ) {
    this.outputIndexCap = outputIndexCap(env);
    // Set, the delay is kept exactly: fault tests hold the index back with it.
    this.delayMs = Number(env.CAISEY_INDEX_DELAY_MS ?? 250);
    this.holdMs = env.CAISEY_INDEX_DELAY_MS === undefined ? 250 : 0;
  }

  private indexedThrough(): number {
    this.through ??= this.store.sql.exec<{ through: number }>("SELECT through FROM index_feed").one().through;
    return this.through;
  }

  /** The index has taken the record through `seq`. */
  private indexed(seq: number): void {
    const through = Math.max(this.indexedThrough(), seq);
    this.through = through;
    this.later.defer("search-feed", () =>
      this.store.sql.exec("UPDATE index_feed SET through = MAX(through, ?)", through),
    );
  }

  /** Storage may hold another watermark than this instance moved it to (a rollback): read it again. */
  forget(): void {
    this.through = null;
  }

  /** An event was appended: push it soon. */
  appended(delayMs = this.delayMs): void {
    if (!this.guardArmed) {
      // Durable safety net: if this object dies before the index catches up, the alarm brings it back to finish.
      this.guardArmed = true;
      this.alarms.setEarliest(SEARCH_FEED_ALARM, Date.now() + INDEX_GUARD_MS);
    }
    if (this.timer !== null || this.feeding) return;
    this.timer = setTimeout(() => this.ready(), delayMs);
  }

  /**
   * The delay is over. A push holds the thread it runs on for its whole batch (the index's parse, FTS5 and commit), and
   * locally every object shares workerd's one thread: timed by the clock, it lands in the middle of whatever runs then
   * — in a session running commands back to back, a quarter-second of them indexed at once inside the next one's
   * request or frames. So it waits for the session's next hand-over (handedOver), holdMs at most: the runtime then
   * journals, spawns and runs the command for some milliseconds, and nothing of the session needs the thread. On
   * Cloudflare the index is another object, with a thread of its own: there this only makes it up to holdMs later.
   */
  private ready(): void {
    if (this.holdMs <= 0) {
      this.pushNow();
      return;
    }
    this.due = true;
    this.timer = setTimeout(() => this.pushNow(), this.holdMs);
  }

  /** The session handed a command to its machine: a due push goes now (see ready). */
  handedOver(): void {
    if (this.due) this.pushNow();
  }

  private pushNow(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.due = false;
    void this.push();
  }

  /** The alarm rang: catch up if the index is behind. */
  async alarm(): Promise<void> {
    this.guardArmed = false;
    if (this.store.row() && this.indexedThrough() < this.store.seq) await this.push();
  }

  /** Rebuild: push the whole record to the index again (the index ignores what it already holds). */
  async reindex(): Promise<{ through: number }> {
    this.later.flush(); // a waiting watermark must not land after this reset
    this.store.sql.exec("UPDATE index_feed SET through = 0");
    this.through = 0;
    await this.push();
    return { through: this.indexedThrough() };
  }

  /** Push every event after the watermark to its month's index shard, in order, until caught up. */
  private async push(): Promise<void> {
    if (this.feeding) return;
    const s = this.store.row();
    if (!s) return;
    this.feeding = true;
    try {
      for (;;) {
        // Output past the index's cap is left in the record: the index would only decode and drop it.
        const rows = this.store.sql
          .exec<{ seq: number; record: string | null; output: ArrayBuffer | null }>(
            `SELECT seq, CASE WHEN type = 'command.output' AND offset >= ? THEN NULL ELSE record END AS record,
               CASE WHEN type = 'command.output' AND offset >= ? THEN NULL ELSE output END AS output
             FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
            this.outputIndexCap,
            this.outputIndexCap,
            this.indexedThrough(),
            INDEX_BATCH_EVENTS,
          )
          .toArray();
        if (rows.length === 0) {
          // Caught up. The safety net stays set: it rings once, finds nothing to do, and the next append sets it
          // again (clearing and setting it on every push would cost a storage write per push).
          this.failures = 0;
          break;
        }
        const events: { seq: number; line: string }[] = [];
        let month: string | null = null;
        let bytes = 0;
        let considered = 0;
        for (const row of rows) {
          if (row.record !== null) {
            const line = lineOf({ record: row.record, output: row.output });
            const rowMonth = monthOf(line);
            month ??= rowMonth;
            if (rowMonth !== month || (events.length > 0 && bytes + line.length > INDEX_BATCH_BYTES)) break;
            events.push({ seq: row.seq, line });
            bytes += line.length;
          }
          considered = row.seq;
        }
        if (month === null) {
          this.indexed(considered);
          continue;
        }
        const { through } = await searchIndex(this.env, s.tenant_id, month).ingest({
          session: {
            sessionId: s.id,
            tenantId: s.tenant_id,
            machineId: s.machine_id,
            clientId: s.client_id,
            hostname: s.hostname,
            technicianId: s.technician_id,
          },
          events,
        });
        const last = events.at(-1)?.seq ?? 0;
        if (through < last) throw new Error(`index shard ${month} took events only through ${through} of ${last}`);
        this.indexed(considered);
      }
    } catch (error) {
      console.error("search index behind; retrying", error);
      this.failures++;
      this.alarms.set(SEARCH_FEED_ALARM, retryAt(this.failures, Date.now()) as number);
    } finally {
      this.feeding = false;
    }
  }
}

// One Durable Object alarm, many named deadlines: each is a row of `alarms`, and the object's single alarm is always
// set for the earliest. What rings when is core's dueAlarms; this keeps the rows and the storage alarm in step.
//
// The rows are mirrored in memory (read once when the object wakes, and again after a rollback or a ring): every
// enqueue of an effect asks for its safety net, nearly always one already set earlier, and each ask was two
// statements (the upsert, then MIN(at) to re-arm). With the mirror a deadline that changes nothing writes nothing, and
// the earliest is known without a query.

import { dueAlarms, type NamedAlarm, retryAt } from "@caisey/core";

export class AlarmScheduler {
  /** The storage alarm as this instance last set it (undefined: not known since the object started). */
  private armed: number | null | undefined;
  /** The `alarms` rows as they stand in storage (null: not read since the object started, or since forget()). */
  private rows: Map<string, number> | null = null;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Ring `name` at `at` (replacing its earlier deadline). Safe inside transactionSync: the row commits with it. */
  set(name: string, at: number): void {
    if (this.mirror().get(name) === at) return;
    this.write(name, at);
  }

  /** Ring `name` at `at` unless it is already due to ring earlier. */
  setEarliest(name: string, at: number): void {
    const now = this.mirror().get(name);
    if (now !== undefined && now <= at) return;
    this.write(name, at);
  }

  /** Ring `name` at `at` unless it already has a deadline. */
  setUnlessSet(name: string, at: number): void {
    if (this.mirror().has(name)) return;
    this.write(name, at);
  }

  clear(name: string): void {
    const rows = this.mirror();
    if (!rows.has(name)) return;
    this.storage.sql.exec("DELETE FROM alarms WHERE name = ?", name);
    rows.delete(name);
    this.arm();
  }

  /**
   * What this instance holds may no longer be what storage holds: the storage was emptied (deleteAll took the alarm
   * with it), or a transaction that wrote here rolled back. Both are read again at the next call.
   */
  forget(): void {
    this.armed = undefined;
    this.rows = null;
  }

  /** Point the object's one alarm at the earliest deadline (not awaited: it commits with the surrounding writes). */
  arm(): void {
    let next: number | null = null;
    for (const at of this.mirror().values()) if (next === null || at < next) next = at;
    // Unchanged since this instance last set it: no storage write (an outbox enqueue arms on every event).
    if (next === this.armed) return;
    this.armed = next;
    if (next === null) void this.storage.deleteAlarm();
    // A deadline already past (or a test's "now", 0) rings as soon as it can: storage refuses times <= 0.
    else void this.storage.setAlarm(Math.max(next, Date.now()));
  }

  /** The object's alarm rang: run each due name once; one that fails rings again per the backoff policy. */
  async ring(handle: (name: string) => Promise<void>): Promise<void> {
    this.armed = undefined; // the storage alarm that rang is spent
    const now = Date.now();
    // Read from storage, not the mirror: the alarm is the safety net, and it rebuilds the mirror from what is stored.
    const rows: NamedAlarm[] = this.storage.sql
      .exec<{ name: string; at: number }>("SELECT name, at FROM alarms")
      .toArray();
    this.rows = new Map(rows.map((r) => [r.name, r.at]));
    for (const name of dueAlarms(rows, now).due) {
      this.storage.sql.exec("DELETE FROM alarms WHERE name = ? AND at <= ?", name, now);
      const at = this.mirror().get(name);
      if (at !== undefined && at <= now) this.mirror().delete(name);
      try {
        await handle(name);
      } catch (error) {
        console.error(`alarm ${name} failed; it rings again`, error);
        this.setEarliest(name, retryAt(1, Date.now()) as number);
      }
    }
    this.arm();
  }

  /** The rows, read from storage when not known. */
  private mirror(): Map<string, number> {
    if (this.rows === null) {
      const rows = this.storage.sql.exec<{ name: string; at: number }>("SELECT name, at FROM alarms").toArray();
      this.rows = new Map(rows.map((r) => [r.name, r.at]));
    }
    return this.rows;
  }

  /** Store `name`'s deadline, then mirror it (after the write: a write that throws leaves the mirror as storage is). */
  private write(name: string, at: number): void {
    this.storage.sql.exec("INSERT OR REPLACE INTO alarms (name, at) VALUES (?, ?)", name, at);
    this.mirror().set(name, at);
    this.arm();
  }
}

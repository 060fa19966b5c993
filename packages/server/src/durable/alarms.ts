// One Durable Object alarm, many named deadlines: each is a row of `alarms`, and the object's single alarm is always
// set for the earliest. What rings when is core's dueAlarms; this keeps the rows and the storage alarm in step.

import { dueAlarms, type NamedAlarm, retryAt } from "@caisey/core";

export class AlarmScheduler {
  /** The storage alarm as this instance last set it (undefined: not known since the object started). */
  private armed: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Ring `name` at `at` (replacing its earlier deadline). Safe inside transactionSync: the row commits with it. */
  set(name: string, at: number): void {
    this.storage.sql.exec("INSERT OR REPLACE INTO alarms (name, at) VALUES (?, ?)", name, at);
    this.arm();
  }

  /** Ring `name` at `at` unless it is already due to ring earlier. */
  setEarliest(name: string, at: number): void {
    this.storage.sql.exec(
      "INSERT INTO alarms (name, at) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET at = MIN(at, excluded.at)",
      name,
      at,
    );
    this.arm();
  }

  /** Ring `name` at `at` unless it already has a deadline. */
  setUnlessSet(name: string, at: number): void {
    this.storage.sql.exec("INSERT OR IGNORE INTO alarms (name, at) VALUES (?, ?)", name, at);
    this.arm();
  }

  clear(name: string): void {
    this.storage.sql.exec("DELETE FROM alarms WHERE name = ?", name);
    this.arm();
  }

  /** The storage was emptied (deleteAll took the alarm with it): the next arm() sets it whatever it was before. */
  forget(): void {
    this.armed = undefined;
  }

  /** Point the object's one alarm at the earliest deadline (not awaited: it commits with the surrounding writes). */
  arm(): void {
    const next = this.storage.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM alarms").one().at;
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
    const rows: NamedAlarm[] = this.storage.sql
      .exec<{ name: string; at: number }>("SELECT name, at FROM alarms")
      .toArray();
    for (const name of dueAlarms(rows, now).due) {
      this.storage.sql.exec("DELETE FROM alarms WHERE name = ? AND at <= ?", name, now);
      try {
        await handle(name);
      } catch (error) {
        console.error(`alarm ${name} failed; it rings again`, error);
        this.setEarliest(name, retryAt(1, Date.now()) as number);
      }
    }
    this.arm();
  }
}

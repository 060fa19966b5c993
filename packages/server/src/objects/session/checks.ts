// Scheduled re-checks: a verification asked for at a later time, kept in the Session's storage and woken by its named
// alarm "checks", so it runs when due across evictions and server restarts. The command id is chosen when the check
// is scheduled: the answer, the `check.scheduled` event and the command that runs all name the same id.

import type { AlarmScheduler } from "../../durable/alarms.ts";

export const CHECKS_ALARM = "checks";

export type CheckRow = {
  /** The id the verification command runs under when due. */
  command_id: string;
  baseline_id: string;
  at: string;
  requested_by: string;
  requested_by_name: string;
  state: "scheduled" | "requested" | "cancelled";
};

export class ScheduledChecks {
  private readonly sql: SqlStorage;
  private readonly alarms: AlarmScheduler;

  constructor(sql: SqlStorage, alarms: AlarmScheduler) {
    this.sql = sql;
    this.alarms = alarms;
  }

  /** Keep a check (inside the transaction that records `check.scheduled`) and wake the session for the earliest. */
  add(check: Omit<CheckRow, "state">): void {
    this.sql.exec(
      "INSERT INTO checks (command_id, baseline_id, at, requested_by, requested_by_name, state) VALUES (?, ?, ?, ?, ?, 'scheduled')",
      check.command_id,
      check.baseline_id,
      check.at,
      check.requested_by,
      check.requested_by_name,
    );
    this.arm();
  }

  /** Checks still to run, earliest first. */
  waiting(): CheckRow[] {
    return this.sql.exec<CheckRow>("SELECT * FROM checks WHERE state = 'scheduled' ORDER BY at, command_id").toArray();
  }

  due(now: string): CheckRow[] {
    return this.sql
      .exec<CheckRow>("SELECT * FROM checks WHERE state = 'scheduled' AND at <= ? ORDER BY at, command_id", now)
      .toArray();
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM checks WHERE state = 'scheduled'").one().n;
  }

  settle(commandId: string, state: "requested" | "cancelled"): void {
    this.sql.exec("UPDATE checks SET state = ? WHERE command_id = ? AND state = 'scheduled'", state, commandId);
    this.arm();
  }

  /** The "checks" alarm rings at the earliest check still to run. */
  arm(): void {
    const next = this.sql
      .exec<{ at: string | null }>("SELECT MIN(at) AS at FROM checks WHERE state = 'scheduled'")
      .one().at;
    if (next === null) this.alarms.clear(CHECKS_ALARM);
    else this.alarms.set(CHECKS_ALARM, Date.parse(next));
  }
}

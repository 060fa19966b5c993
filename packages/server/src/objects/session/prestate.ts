// A change's pre-state while it is on its way: the runtime sends it in parts ahead of the command's started frame
// (core's PrestateFrame); the parts wait here, keyed by command and part, until `started` arrives and they become one
// command.prestate event in the same commit. A part sent again after a reconnect replaces itself; parts of a command
// that has started or ended are not kept (what they carry is recorded, or never will be: the command did not run).

import { joinPrestate, type Prestate, type PrestateFrame } from "@caisey/core";

export const PRESTATE_MIGRATION = {
  name: "pre-state parts waiting for their command's start",
  sql: `CREATE TABLE prestate_parts (command_id TEXT NOT NULL, part INTEGER NOT NULL, parts INTEGER NOT NULL,
          text TEXT NOT NULL, PRIMARY KEY (command_id, part));`,
};

export class PrestateParts {
  /**
   * Whether any part may be waiting (undefined: not known, looked up once). Only changes carry a pre-state, so on most
   * commands the started frame's take and the drops after it are answered here, without three statements per command.
   * This class is the table's only writer.
   */
  private held: boolean | undefined;

  constructor(private readonly sql: SqlStorage) {}

  private mayHold(): boolean {
    this.held ??= this.sql.exec<{ n: number }>("SELECT EXISTS (SELECT 1 FROM prestate_parts) AS n").one().n === 1;
    return this.held;
  }

  keep(frame: PrestateFrame): void {
    this.held = true; // set first: if the write fails midway, the table is looked at rather than assumed empty
    this.sql.exec(
      "INSERT OR REPLACE INTO prestate_parts (command_id, part, parts, text) VALUES (?, ?, ?, ?)",
      frame.commandId,
      frame.part,
      frame.parts,
      frame.text,
    );
  }

  /**
   * What arrived for a command, joined and checked: undefined when nothing did; the records, or none and why (the
   * parts disagree, one is missing, or they do not read as records).
   */
  take(commandId: string): { probes: Prestate[]; error?: string } | undefined {
    if (!this.mayHold()) return undefined;
    const rows = this.sql
      .exec<{ part: number; parts: number; text: string }>(
        "SELECT part, parts, text FROM prestate_parts WHERE command_id = ? ORDER BY part",
        commandId,
      )
      .toArray();
    if (rows.length === 0) return undefined;
    const parts = rows[0]?.parts ?? 0;
    if (rows.length !== parts || rows.some((r, i) => r.part !== i || r.parts !== parts)) {
      return { probes: [], error: `the pre-state arrived incomplete (${rows.length} of ${parts} parts)` };
    }
    const joined = joinPrestate(rows.map((r) => r.text));
    return joined.ok
      ? { probes: joined.probes }
      : { probes: [], error: `the pre-state was not readable: ${joined.why}` };
  }

  drop(commandId: string): void {
    if (!this.mayHold()) return;
    this.held = undefined; // other commands' parts may remain: looked up again when next asked
    this.sql.exec("DELETE FROM prestate_parts WHERE command_id = ?", commandId);
  }
}

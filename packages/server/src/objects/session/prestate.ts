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
  constructor(private readonly sql: SqlStorage) {}

  keep(frame: PrestateFrame): void {
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
    this.sql.exec("DELETE FROM prestate_parts WHERE command_id = ?", commandId);
  }
}

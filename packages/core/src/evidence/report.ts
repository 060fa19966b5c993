// The readable report of a session (the PDF's content, independent of its layout): its commands with exit codes,
// output sizes and digests, its chat, the notes the exporter chose, its verdicts, built from the record alone.

import type { RecordEvent } from "../record.ts";
import type { RedactedRecord, TimelineEntry } from "./timeline.ts";

export interface ReportCommand {
  commandId: string;
  command: string;
  shell: string;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  state: string;
  exitCode: number | null;
  durationMs: number | null;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutSha256: string | null;
  stderrSha256: string | null;
  /** The baseline command this one re-ran to verify a fix. */
  verifies: string | null;
}

export interface ReportVerdict {
  ts: string;
  baseline: string;
  verification: string | null;
  verdict: string;
  note: string;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The commands of a record, in the order they were requested, as they ended. */
export function reportCommands(records: readonly (RecordEvent | RedactedRecord)[]): ReportCommand[] {
  const commands = new Map<string, ReportCommand>();
  for (const record of records) {
    if ("redacted" in record) continue;
    const data = record.data as Record<string, unknown>;
    const id = str(data.commandId);
    if (!id) continue;
    if (record.type === "command.requested") {
      commands.set(id, {
        commandId: id,
        command: str(data.command) ?? "",
        shell: str(data.shell) ?? "",
        requestedAt: record.ts,
        startedAt: null,
        finishedAt: null,
        state: "requested",
        exitCode: null,
        durationMs: null,
        stdoutBytes: 0,
        stderrBytes: 0,
        stdoutSha256: null,
        stderrSha256: null,
        verifies: str(data.verifies),
      });
      continue;
    }
    const c = commands.get(id);
    if (!c) continue;
    if (record.type === "command.started") c.startedAt = record.ts;
    else if (record.type === "command.finished") {
      c.finishedAt = record.ts;
      c.state = str(data.state) ?? "finished";
      c.exitCode = num(data.exitCode);
      c.durationMs = num(data.durationMs);
      c.stdoutBytes = num(data.stdoutBytes) ?? 0;
      c.stderrBytes = num(data.stderrBytes) ?? 0;
      c.stdoutSha256 = str(data.stdoutSha256);
      c.stderrSha256 = str(data.stderrSha256);
    }
  }
  return [...commands.values()];
}

/** The verdicts recorded on fixes, each with the commands it compared. */
export function reportVerdicts(
  records: readonly (RecordEvent | RedactedRecord)[],
  commands: readonly ReportCommand[],
): ReportVerdict[] {
  const text = (id: unknown) => commands.find((c) => c.commandId === id)?.command ?? null;
  return records.flatMap((r) => {
    if ("redacted" in r || r.type !== "verification.recorded") return [];
    const data = r.data as Record<string, unknown>;
    return [
      {
        ts: r.ts,
        baseline: text(data.baselineCommandId) ?? String(data.baselineCommandId ?? ""),
        verification: text(data.verifyCommandId),
        verdict: str(data.verdict) ?? "",
        note: str(data.note) ?? "",
      },
    ];
  });
}

/** Timeline entries of one kind (the report's chat and notes sections). */
export const entriesOf = (entries: readonly TimelineEntry[], kind: TimelineEntry["kind"]) =>
  entries.filter((e) => e.kind === kind);

const ESCAPE_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-?]*[ -/]*[@-~]`, "g");

/** Text a page can show: terminal escape sequences removed, a tab as four spaces, other controls but LF dropped. */
export function printableText(text: string): string {
  let out = "";
  for (const ch of text.replace(ESCAPE_SEQUENCE, "").replace(/\r\n?/g, "\n").replace(/\t/g, "    ")) {
    const code = ch.charCodeAt(0);
    if (ch === "\n" || (code >= 0x20 && code !== 0x7f)) out += ch;
  }
  return out;
}

/** The first lines of a command's output as printable text: at most `max` lines, each cut at `width` characters. */
export function firstLines(text: string, max = 8, width = 160): string[] {
  const lines = printableText(text).split("\n");
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.slice(0, max).map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
}

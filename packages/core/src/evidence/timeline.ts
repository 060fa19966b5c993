// The timeline a client's accountant reads: what happened in a session, in order, in plain words, with the durations
// an SLA is judged by. It is computed from the record alone (never from mutable rows), so a shared link, a PDF and the
// console all show the same timeline for the same record. Lines the reader may not see (redacted) are skipped.

import type { RecordEvent } from "../record.ts";

/** A record line withheld from its reader: only its place and digest are known. */
export interface RedactedRecord {
  seq: number;
  redacted: string;
}

export type TimelineKind =
  | "opened"
  | "assigned"
  | "approval_asked"
  | "approval_granted"
  | "approval_declined"
  | "approval_expired"
  | "command_requested"
  | "command_started"
  | "command_finished"
  | "chat"
  | "note"
  | "verification"
  | "review_requested"
  | "reviewed"
  | "closed";

export interface TimelineEntry {
  seq: number;
  ts: string;
  kind: TimelineKind;
  /** Who did it, by name where the record or the caller knows it. */
  who: string;
  /** What happened, in plain words. */
  text: string;
  commandId?: string;
  /** A moment the SLA is measured at ("First technician action", "Verified fixed"). */
  milestone?: string;
}

export interface TimelineDurations {
  /** From opening to the technician's first command or message to the client. */
  toFirstActionMs: number | null;
  /** Time with at least one approval waiting for the client (overlapping waits count once). */
  waitingForClientMs: number;
  /** From opening to the first verdict "fixed". */
  toVerifiedFixMs: number | null;
  /** From opening to closing (or to the last event while open). */
  openMs: number | null;
}

export interface Timeline {
  openedAt: string | null;
  closedAt: string | null;
  entries: TimelineEntry[];
  durations: TimelineDurations;
}

/** Names for actors the record names only by id (`user:usr_…`); unknown ones are shown by their role. */
export type ActorNames = Readonly<Record<string, string>>;

const ms = (ts: string) => Date.parse(ts);
const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);

function whoIs(actor: string, names: ActorNames): string {
  const named = names[actor];
  if (named) return named;
  if (actor === "system") return "Caisey";
  if (actor.startsWith("contact:")) return "the client";
  if (actor.startsWith("machine:")) return "the machine";
  return "the technician";
}

function exitWords(data: Record<string, unknown>): string {
  const state = str(data.state) ?? "finished";
  const duration = typeof data.durationMs === "number" ? ` after ${formatDuration(data.durationMs)}` : "";
  if (state === "finished") return `finished with exit code ${String(data.exitCode)}${duration}`;
  const reason = str(data.reason) ?? str(data.finalReason);
  return `${state.replace("_", " ")}${duration}${reason ? ` (${reason})` : ""}`;
}

/** Milliseconds covered by a set of [start, end] intervals, each overlap counted once. */
function covered(intervals: [number, number][]): number {
  let total = 0;
  let reach = Number.NEGATIVE_INFINITY;
  for (const [start, end] of [...intervals].sort((a, b) => a[0] - b[0])) {
    const from = Math.max(start, reach);
    if (end > from) total += end - from;
    reach = Math.max(reach, end);
  }
  return total;
}

/** A session's timeline from its record (events in seq order; redacted lines are skipped). */
export function sessionTimeline(records: readonly (RecordEvent | RedactedRecord)[], names: ActorNames = {}): Timeline {
  const entries: TimelineEntry[] = [];
  const commands = new Map<string, { command: string; verifies: string | null }>();
  const asked = new Map<string, number>();
  const waits: [number, number][] = [];
  let openedAt: string | null = null;
  let closedAt: string | null = null;
  let lastTs: string | null = null;
  let firstAction: TimelineEntry | null = null;
  let verifiedFix: TimelineEntry | null = null;

  for (const record of records) {
    if ("redacted" in record) continue;
    const { seq, ts, type, actor } = record;
    const data = record.data as Record<string, unknown>;
    lastTs = ts;
    const who = whoIs(actor, names);
    const commandId = str(data.commandId) ?? undefined;
    const command = commandId ? commands.get(commandId) : undefined;
    const add = (kind: TimelineKind, text: string, extra: Partial<TimelineEntry> = {}) => {
      const entry: TimelineEntry = { seq, ts, kind, who, text, ...(commandId ? { commandId } : {}), ...extra };
      entries.push(entry);
      return entry;
    };
    const isStaff = actor.startsWith("user:");

    switch (type) {
      case "session.opened":
        openedAt = ts;
        add(
          "opened",
          `Session opened on ${str(data.hostname) ?? "the machine"}${str(data.ticket) ? ` for ticket ${data.ticket}` : ""}`,
        );
        break;
      case "session.assigned":
        add(
          "assigned",
          data.takeover ? `${who} took the session over` : `Handed to ${str(data.toName) ?? "a colleague"}`,
        );
        break;
      case "command.requested": {
        const text = str(data.command) ?? "";
        const verifies = str(data.verifies);
        if (commandId) commands.set(commandId, { command: text, verifies });
        const entry = add(
          "command_requested",
          `${verifies ? "Verification command requested" : "Command requested"}: ${text}`,
        );
        if (isStaff && !firstAction) firstAction = entry;
        break;
      }
      case "approval.requested":
        if (str(data.approvalId)) asked.set(data.approvalId as string, ms(ts));
        add("approval_asked", `Client approval asked for: ${str(data.command) ?? command?.command ?? ""}`);
        break;
      case "approval.granted":
      case "approval.declined":
      case "approval.expired": {
        const since = asked.get(str(data.approvalId) ?? "");
        if (since !== undefined) {
          waits.push([since, ms(ts)]);
          asked.delete(data.approvalId as string);
        }
        const by = str(data.contactName) ?? who;
        const comment = str(data.comment) ? ` ("${data.comment}")` : "";
        if (type === "approval.granted")
          add("approval_granted", `Approved by ${by}${comment}`, { who: by, milestone: "Client approved" });
        else if (type === "approval.declined") add("approval_declined", `Declined by ${by}${comment}`, { who: by });
        else add("approval_expired", "The approval request expired unanswered");
        break;
      }
      case "command.started":
        add(
          "command_started",
          `${command?.verifies ? "Verification started" : "Started"}: ${command?.command ?? commandId ?? ""}`,
        );
        break;
      case "command.finished":
        add("command_finished", `${command?.command ?? commandId ?? "Command"} ${exitWords(data)}`);
        break;
      case "chat.message": {
        const entry = add("chat", str(data.text) ?? "");
        if (isStaff && !firstAction) firstAction = entry;
        break;
      }
      case "note.added":
        add("note", `Internal note: ${str(data.text) ?? ""}`);
        break;
      case "verification.recorded": {
        const verdict = str(data.verdict) ?? "recorded";
        const words = verdict === "fixed" ? "fixed" : verdict === "not_fixed" ? "not fixed" : "unverifiable";
        const note = str(data.note) ? `: ${data.note}` : "";
        const entry = add("verification", `Verified ${words}${note}`);
        if (verdict === "fixed" && !verifiedFix) {
          entry.milestone = "Verified fixed";
          verifiedFix = entry;
        }
        break;
      }
      case "session.review_requested":
        add("review_requested", "Sent for review before closing");
        break;
      case "session.reviewed":
        add(
          "reviewed",
          `${data.decision === "return" ? "Returned for more work" : "Review accepted"}${str(data.comment) ? `: ${data.comment}` : ""}`,
        );
        break;
      case "session.closed":
        closedAt = ts;
        add("closed", data.reason === "idle" ? "Session closed after being idle" : "Session closed");
        break;
    }
  }

  if (firstAction) firstAction.milestone = "First technician action";
  const end = closedAt ?? lastTs;
  // An approval still waiting counts until the session closed (or until now, as far as the record goes).
  for (const since of asked.values()) if (end) waits.push([since, ms(end)]);
  const from = openedAt ? ms(openedAt) : null;
  const since = (entry: TimelineEntry | null) => (entry && from !== null ? ms(entry.ts) - from : null);
  return {
    openedAt,
    closedAt,
    entries,
    durations: {
      toFirstActionMs: since(firstAction),
      waitingForClientMs: covered(waits),
      toVerifiedFixMs: since(verifiedFix),
      openMs: from !== null && end ? ms(end) - from : null,
    },
  };
}

/** A duration in words an accountant reads: "1 h 02 min", "2 min 13 s", "850 ms". */
export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)} ms`;
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** A record timestamp as a reader sees it: "2026-05-14 15:15:32 UTC". */
export function formatTimestamp(ts: string): string {
  return `${ts.slice(0, 10)} ${ts.slice(11, 19)} UTC`;
}

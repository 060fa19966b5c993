// The session transcript as the console sees it: built by applying the session's events in seq order.
// Pure (no DOM) so it can be unit-tested in Node. Mutable by design: output streams in at high rates and
// the view re-renders only what changed (each command carries a version number).

// Subpath imports: core's index would also bundle zod, which the console does not need.
import type { Prestate } from "@caisey/core/before";
import { fromBase64 } from "@caisey/core/bytes";
import type { ChangeLine, SessionEvent } from "./api.ts";

export { defaultShell, SHELLS, shellsFor } from "@caisey/core/shells";

export type Stream = "stdout" | "stderr";

/** Text kept in the page per command; older output is dropped from view (never from the record). */
export const MAX_KEPT_CHARS = 256 * 1024;
/** Adjacent output of the same stream is merged into chunks up to this size. */
const CHUNK_CHARS = 16 * 1024;

export const ACTIVE_STATES = new Set(["queued", "awaiting_approval", "running"]);

export interface OutputChunk {
  key: number;
  stream: Stream;
  text: string;
}

export interface CommandContext {
  pid?: number;
  user?: string;
  cwd?: string;
  executable?: string;
  shell?: string;
  shellVersion?: string;
  env?: Record<string, string>;
}

export interface CommandResult {
  exitCode: number | null;
  signal?: string;
  durationMs?: number;
  stdoutBytes?: number;
  stderrBytes?: number;
  stdoutSha256?: string;
  stderrSha256?: string;
  reason?: string;
}

/** The client's approval of one command, as the record tells it. */
export interface ApprovalView {
  id: string;
  state: "pending" | "granted" | "declined" | "expired";
  /** Seq of approval.requested, and of the decision or expiry once there is one. */
  seq: number;
  decisionSeq?: number;
  requestedAt: string;
  summary?: string;
  lines?: string[];
  /** What the contact was asked to approve, change by change (records from before approvals carried it: none). */
  changes?: ChangeLine[];
  because?: string;
  reason?: string;
  technicianName?: string;
  expiresAt?: string;
  decidedAt?: string;
  contactId?: string;
  contactName?: string;
  channel?: string;
  comment?: string;
}

/**
 * A change's pre-state, and for each file whose content is known before it, the content a later change in this
 * session found there (its own pre-state): the file as this change left it, unless something else wrote it between.
 */
export interface CommandPrestate {
  seq: number;
  probes: Prestate[];
  error?: string;
  /** By probe index: base64 content and when it was read. */
  after: Map<number, { data: string; ts: string }>;
}

export interface CommandView {
  id: string;
  /** Its place among the session's commands, from 1 ("#3"). */
  number: number;
  seq: number;
  ts: string;
  actor: string;
  command: string;
  shell: string;
  timeoutSeconds?: number;
  /** Why the technician ran it, when given. */
  reason?: string;
  /** The baseline command this one re-runs as its verification. */
  verifies?: string;
  /** It ran as a re-check scheduled for this time (`check.scheduled`). */
  recheckAt?: string;
  /** The verifications of this command, in order (their ids). */
  verifiedBy: string[];
  state: string;
  /** What the server's classifier made of it, and whether it had to wait for the client. */
  classification?: string;
  approvalRequired?: boolean;
  approval?: ApprovalView;
  /** The change this command rolls back (its `command.requested` names it). */
  rollbackOf?: { sessionId: string; commandId: string };
  /** Seqs of the events folded into this block (for ordering and scroll targets). */
  startedSeq?: number;
  firstOutputSeq?: number;
  finishedSeq?: number;
  context?: CommandContext;
  /** What the change's targets were before it ran (command.prestate), or why that was not recorded. */
  prestate?: CommandPrestate;
  result?: CommandResult;
  chunks: OutputChunk[];
  keptChars: number;
  hiddenChars: number;
  receivedBytes: Record<Stream, number>;
  /** Bumped on every change, so a view can skip unchanged blocks. */
  version: number;
}

/** Watchers coming and going next to each other in the record: shown as one quiet line, each event still in it. */
export interface PresenceGroup {
  kind: "presence";
  seq: number;
  events: SessionEvent[];
  /** Bumped when an event joins the group (it changes in place). */
  version: number;
}

export type TranscriptItem =
  | { kind: "command"; seq: number; command: CommandView }
  | { kind: "line"; seq: number; event: SessionEvent }
  | PresenceGroup;

/** The part of TextDecoder used here (typed structurally so this file also checks without the DOM lib). */
interface Decoder {
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}

let chunkKeys = 0;

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
function isChangeLine(value: unknown): value is ChangeLine {
  const v = value as ChangeLine | null;
  return (
    typeof v === "object" && v !== null && (v.kind === "change" || v.kind === "unknown") && typeof v.text === "string"
  );
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export class Transcript {
  readonly items: TranscriptItem[] = [];
  readonly commands = new Map<string, CommandView>();
  lastSeq = 0;
  headHash: string | null = null;
  sessionState: "open" | "review_pending" | "closed" | null = null;
  /** The last review that returned the session to its technician, while it has not been sent again. */
  returned: { comment: string | null; actor: string; seq: number } | null = null;
  /** The session's technician as the record last said (session.opened, then each session.assigned). */
  technicianId: string | null = null;
  technicianName: string | null = null;
  /** Presence events in order (the header's watcher list applies those after its snapshot). */
  readonly presence: { seq: number; joined: boolean; actor: string; name: string }[] = [];
  /** Event seq → seq of the transcript item showing it (events folded into a command block). */
  private readonly owners = new Map<number, number>();
  /** The record's events but output (output is in the command views), for the session's SLA timeline. */
  readonly timelineEvents: SessionEvent[] = [];
  /** Bumped on every applied event. */
  version = 0;
  /** The last pre-state in this session that knew each file's content: a later one is what that change left. */
  private readonly fileContent = new Map<string, { cmd: CommandView; index: number }>();
  private readonly decoders = new Map<string, Decoder>();

  /** Apply one event. Returns false (and changes nothing) for an event already applied. */
  apply(event: SessionEvent): boolean {
    if (typeof event.seq !== "number" || event.seq <= this.lastSeq) return false;
    this.lastSeq = event.seq;
    if (typeof event.hash === "string") this.headHash = event.hash;
    this.version++;
    // A line withheld from this reader (an internal note, for a client contact): it moves the record on, shows nothing.
    if (typeof event.redacted === "string") return true;
    if (event.type !== "command.output") this.timelineEvents.push(event);
    const data = (event.data ?? {}) as Record<string, unknown>;
    switch (event.type) {
      case "command.requested": {
        const cmd = this.command(str(data.commandId) ?? `seq-${event.seq}`, event);
        cmd.command = str(data.command) ?? cmd.command;
        cmd.shell = str(data.shell) ?? cmd.shell;
        cmd.timeoutSeconds = num(data.timeoutSeconds);
        cmd.reason = str(data.reason);
        cmd.classification = str(data.classification);
        if (typeof data.approvalRequired === "boolean") cmd.approvalRequired = data.approvalRequired;
        this.linkVerification(cmd, str(data.verifies));
        const of = data.rollbackOf as Record<string, unknown> | undefined;
        const ofSession = str(of?.sessionId);
        const ofCommand = str(of?.commandId);
        if (ofSession && ofCommand) cmd.rollbackOf = { sessionId: ofSession, commandId: ofCommand };
        cmd.version++;
        return true;
      }
      case "approval.requested": {
        const cmd = this.command(str(data.commandId), event);
        if (cmd.state === "queued") cmd.state = "awaiting_approval";
        cmd.approval = {
          id: str(data.approvalId) ?? "",
          state: "pending",
          seq: event.seq,
          requestedAt: event.ts,
          summary: str(data.summary),
          lines: Array.isArray(data.lines) ? data.lines.filter((l): l is string => typeof l === "string") : undefined,
          changes: Array.isArray(data.changes) ? data.changes.filter(isChangeLine) : undefined,
          because: str(data.because),
          reason: str(data.reason),
          technicianName: str(data.technicianName),
          expiresAt: str(data.expiresAt),
        };
        this.owners.set(event.seq, cmd.seq);
        cmd.version++;
        return true;
      }
      case "approval.granted":
      case "approval.declined":
      case "approval.expired": {
        const cmd = this.command(str(data.commandId), event);
        const state =
          event.type === "approval.granted" ? "granted" : event.type === "approval.declined" ? "declined" : "expired";
        const approval: ApprovalView = cmd.approval ?? {
          id: str(data.approvalId) ?? "",
          state: "pending",
          seq: event.seq,
          requestedAt: event.ts,
        };
        approval.state = state;
        approval.decisionSeq = event.seq;
        approval.decidedAt = event.ts;
        approval.contactId = str(data.contactId);
        approval.contactName = str(data.contactName);
        approval.channel = str(data.channel);
        approval.comment = str(data.comment) || undefined;
        cmd.approval = approval;
        if (cmd.state === "awaiting_approval")
          cmd.state = state === "granted" ? "queued" : state === "declined" ? "declined" : cmd.state;
        this.owners.set(event.seq, cmd.seq);
        cmd.version++;
        return true;
      }
      case "command.prestate": {
        const cmd = this.command(str(data.commandId), event);
        // The server checked every record against core's schema before recording it.
        const probes = Array.isArray(data.probes) ? (data.probes as Prestate[]) : [];
        cmd.prestate = { seq: event.seq, probes, error: str(data.error), after: new Map() };
        this.owners.set(event.seq, cmd.seq);
        for (const [index, p] of probes.entries()) {
          if (p.kind !== "file" || p.error !== undefined || p.directory) continue;
          const content = p.exists ? p.data : "";
          const earlier = this.fileContent.get(p.target);
          if (earlier && earlier.cmd !== cmd && content !== undefined) {
            earlier.cmd.prestate?.after.set(earlier.index, { data: content, ts: event.ts });
            earlier.cmd.version++;
          }
          if (content === undefined) this.fileContent.delete(p.target);
          else this.fileContent.set(p.target, { cmd, index });
        }
        cmd.version++;
        return true;
      }
      case "command.started": {
        const cmd = this.command(str(data.commandId), event);
        cmd.state = "running";
        cmd.startedSeq = event.seq;
        this.owners.set(event.seq, cmd.seq);
        const env = data.env;
        cmd.context = {
          pid: num(data.pid),
          user: str(data.user),
          cwd: str(data.cwd),
          executable: str(data.executable),
          shell: str(data.shell),
          shellVersion: str(data.shellVersion),
          env:
            env && typeof env === "object" && !Array.isArray(env)
              ? Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
              : undefined,
        };
        cmd.version++;
        return true;
      }
      case "command.output": {
        const cmd = this.command(str(data.commandId), event);
        const stream: Stream = data.stream === "stderr" ? "stderr" : "stdout";
        cmd.firstOutputSeq ??= event.seq;
        this.owners.set(event.seq, cmd.seq);
        let bytes: Uint8Array;
        try {
          bytes = fromBase64(str(data.data) ?? "");
        } catch {
          this.append(cmd, "stderr", "[console: this output chunk could not be decoded]\n");
          return true;
        }
        cmd.receivedBytes[stream] += bytes.length;
        if (cmd.state === "queued" || cmd.state === "awaiting_approval") cmd.state = "running";
        this.append(cmd, stream, this.decoder(cmd.id, stream).decode(bytes, { stream: true }));
        return true;
      }
      case "command.finished": {
        const cmd = this.command(str(data.commandId), event);
        for (const stream of ["stdout", "stderr"] as const) {
          const key = `${cmd.id}\u0000${stream}`;
          const decoder = this.decoders.get(key);
          if (decoder) {
            this.append(cmd, stream, decoder.decode());
            this.decoders.delete(key);
          }
        }
        cmd.state = str(data.state) ?? "finished";
        cmd.finishedSeq = event.seq;
        this.owners.set(event.seq, cmd.seq);
        cmd.result = {
          exitCode: num(data.exitCode) ?? null,
          signal: str(data.signal),
          durationMs: num(data.durationMs),
          stdoutBytes: num(data.stdoutBytes),
          stderrBytes: num(data.stderrBytes),
          stdoutSha256: str(data.stdoutSha256),
          stderrSha256: str(data.stderrSha256),
          reason: str(data.reason),
        };
        cmd.version++;
        return true;
      }
      case "session.opened":
        this.sessionState = "open";
        this.technicianId = str(data.technicianId) ?? (event.actor.startsWith("user:") ? event.actor.slice(5) : null);
        break;
      case "session.assigned":
        this.technicianId = str(data.to) ?? this.technicianId;
        this.technicianName = str(data.toName) ?? null;
        break;
      case "participant.joined":
      case "participant.left": {
        this.presence.push({
          seq: event.seq,
          joined: event.type === "participant.joined",
          actor: event.actor,
          name: str(data.name) ?? "",
        });
        const last = this.items.at(-1);
        if (last?.kind === "presence") {
          last.events.push(event);
          last.version++;
          this.owners.set(event.seq, last.seq);
        } else this.items.push({ kind: "presence", seq: event.seq, events: [event], version: 0 });
        return true;
      }
      case "session.closed":
        this.sessionState = "closed";
        break;
      case "check.scheduled": {
        const id = str(data.checkCommandId);
        const at = str(data.at);
        if (id && at) this.rechecks.set(id, at);
        break;
      }
      case "session.review_requested":
        this.sessionState = "review_pending";
        this.returned = null;
        break;
      case "session.reviewed":
        if (data.decision === "return") {
          this.sessionState = "open";
          this.returned = { comment: str(data.comment) ?? null, actor: event.actor, seq: event.seq };
        }
        break;
    }
    this.items.push({ kind: "line", seq: event.seq, event });
    return true;
  }

  /** Seq of the transcript item that shows event `seq` (itself, or the command block it was folded into). */
  itemSeqOf(seq: number): number | null {
    const owner = this.owners.get(seq);
    if (owner !== undefined) return owner;
    return this.items.some((i) => i.seq === seq) ? seq : null;
  }

  /** Re-checks scheduled in this session: the command id each will run as → when. */
  private readonly rechecks = new Map<string, string>();

  /** A verification names its baseline, and the baseline lists it (the "Compare" of both blocks). */
  private linkVerification(cmd: CommandView, baselineId: string | undefined): void {
    const baseline = baselineId ? this.commands.get(baselineId) : undefined;
    if (!baselineId) return;
    cmd.verifies = baselineId;
    cmd.recheckAt = this.rechecks.get(cmd.id);
    if (baseline && !baseline.verifiedBy.includes(cmd.id)) {
      baseline.verifiedBy.push(cmd.id);
      baseline.version++;
    }
  }

  private command(id: string | undefined, event: SessionEvent): CommandView {
    const key = id ?? "unknown";
    let cmd = this.commands.get(key);
    if (!cmd) {
      cmd = {
        id: key,
        number: this.commands.size + 1,
        verifiedBy: [],
        seq: event.seq,
        ts: event.ts,
        actor: event.actor,
        command: "",
        shell: "",
        state: "queued",
        chunks: [],
        keptChars: 0,
        hiddenChars: 0,
        receivedBytes: { stdout: 0, stderr: 0 },
        version: 0,
      };
      this.commands.set(key, cmd);
      this.items.push({ kind: "command", seq: event.seq, command: cmd });
    }
    return cmd;
  }

  private decoder(commandId: string, stream: Stream): Decoder {
    const key = `${commandId}\u0000${stream}`;
    let decoder = this.decoders.get(key);
    if (!decoder) {
      decoder = new TextDecoder("utf-8", { fatal: false });
      this.decoders.set(key, decoder);
    }
    return decoder;
  }

  private append(cmd: CommandView, stream: Stream, text: string): void {
    if (text.length === 0) return;
    cmd.version++;
    const last = cmd.chunks.at(-1);
    if (last && last.stream === stream && last.text.length + text.length <= CHUNK_CHARS) {
      last.text += text;
      // A changed chunk gets a new key only if it was replaced; text changes re-render in place.
    } else {
      cmd.chunks.push({ key: ++chunkKeys, stream, text });
    }
    cmd.keptChars += text.length;
    while (cmd.keptChars > MAX_KEPT_CHARS && cmd.chunks.length > 0) {
      const first = cmd.chunks[0] as OutputChunk;
      const excess = cmd.keptChars - MAX_KEPT_CHARS;
      if (first.text.length <= excess) {
        cmd.chunks.shift();
        cmd.keptChars -= first.text.length;
        cmd.hiddenChars += first.text.length;
      } else {
        first.text = first.text.slice(excess);
        cmd.keptChars -= excess;
        cmd.hiddenChars += excess;
      }
    }
  }
}

/** Which of a command's streams the transcript shows: both, interleaved as recorded, or one alone. */
export type StreamFilter = "all" | Stream;

/** The output chunks a filter shows, in record order. */
export function shownChunks(cmd: CommandView, filter: StreamFilter): OutputChunk[] {
  return filter === "all" ? cmd.chunks : cmd.chunks.filter((c) => c.stream === filter);
}

/** Text of a command's visible output (what the DOM shows, before control-character marking). */
export function visibleOutput(cmd: CommandView): string {
  return cmd.chunks.map((c) => c.text).join("");
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** Control characters other than tab, newline and carriage return, shown as visible symbols. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** A control character as a visible escape: NUL as \0, the rest as \xNN (renders in every font). */
export function controlSymbol(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code === 0) return "\\0";
  return `\\x${code.toString(16).padStart(2, "0")}`;
}

/** Split text into plain runs and control characters to be marked. */
export function splitControls(text: string): Array<string | { control: string }> {
  const out: Array<string | { control: string }> = [];
  let at = 0;
  CONTROL_CHARS.lastIndex = 0;
  for (let m = CONTROL_CHARS.exec(text); m !== null; m = CONTROL_CHARS.exec(text)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push({ control: m[0] });
    at = m.index + 1;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** A time as the viewer reads it: the clock alone today, with its date on any other day ("30 Nov, 14:52:07"). */
export function clockTime(iso: string, now = Date.now(), parts: "seconds" | "minutes" = "seconds"): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const clock = d.toLocaleTimeString(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    ...(parts === "seconds" ? { second: "2-digit" } : {}),
    hour12: false,
  });
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return clock;
  const date = d.toLocaleDateString(undefined, {
    day: "numeric",
    month: "short",
    ...(d.getFullYear() === today.getFullYear() ? {} : { year: "numeric" }),
  });
  return `${date}, ${clock}`;
}

/** The full date and time with the viewer's time zone, for a hover: "1 Dec 2026, 14:52:07 UTC". */
export function fullTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "long" });
}

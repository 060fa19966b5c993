// Shapes of API answers: the route definitions (routes/) name them as what each route answers, the server builds them
// and the console reads them (some only in the fields the console uses). Types only: the console imports this file
// without pulling anything into its bundle.

import type { Role } from "./api.ts";
import type { ChangeLine } from "./commands/changes.ts";
import type { RollbackLink, RollbackOf } from "./session/rollbacks.ts";

export type { ChangeLine };

import type { ApprovalState, SearchKind } from "./search.ts";
import type { ClosePolicy, SessionState, Verdict } from "./session/review.ts";

/** A machine as the machine list and the machine card show it. */
export interface MachineSummary {
  id: string;
  hostname: string;
  clientId: string;
  clientName: string;
  os: string;
  osVersion: string;
  arch: string;
  runtimeVersion: string;
  online: boolean;
  lastSeenAt: string | null;
  enrolledAt: string;
  revoked: boolean;
  lastUser: string | null;
  /** The runtime's last health report (kept after it disconnects); null until a runtime that reports one connects. */
  health: MachineHealth | null;
}

/** A runtime's outbox and last error, as it last reported them, in the server's clock (see health.ts). */
export interface MachineHealth {
  /** Frames journalled on the machine and not yet acknowledged by the server. */
  backlogFrames: number;
  /** Output bytes those frames carry. */
  backlogBytes: number;
  /** When the oldest of them was journalled; null when nothing waits. */
  oldestAt: string | null;
  lastError: { at: string; message: string } | null;
  reportedAt: string;
}

/** A session as the sessions list and the machine card show it. */
export interface SessionSummary {
  id: string;
  machineId: string;
  clientId: string;
  technicianId: string;
  ticket: string | null;
  state: string;
  openedAt: string;
  closedAt: string | null;
  commandCount: number;
  failedCount: number;
  approvalCount: number;
  /** How many times a reviewer returned it to its technician (open with returns: sent back, waiting on them). */
  returns: number;
}

/** One hit of GET /api/v1/search. */
export interface SearchResult {
  sessionId: string;
  machineId: string;
  clientId: string;
  technicianId: string | null;
  hostname: string;
  seq: number;
  ts: string;
  kind: SearchKind;
  commandId: string | null;
  /** A command hit of a command classified as a change: only these have a rollback. */
  change: boolean;
  stream: "stdout" | "stderr" | null;
  offset: number | null;
  exitCode: number | null;
  state: string | null;
  approval: ApprovalState | null;
  snippet: string;
  /** [start, end) offsets into snippet (UTF-16 code units). */
  highlights: [number, number][];
}

/** The signed-in person and their organization (GET /api/v1/me). */
export interface Me {
  user: { id: string; name: string; email: string; role: Role; tenantId: string; clientId?: string | null };
  organization: { id: string; name: string; closePolicy?: ClosePolicy };
}

/** The organization's settings (GET and PUT /api/v1/settings). */
export interface OrganizationSettings {
  /** An open session with no event for this long closes itself, recorded as `session.closed` `{reason: "idle"}`. */
  idleCloseSeconds: number;
  /** What closing a session needs: nothing, a verdict, or a verdict and a dispatcher's review. */
  closePolicy: ClosePolicy;
  /** A session opened on the same machine within this many days of a close counts as a callback. */
  callbackDays: number;
}

export interface Client {
  id: string;
  name: string;
  approvalPolicy?: string;
}

export interface Person {
  id: string;
  name: string;
  email: string;
  role: Role;
  clientId: string | null;
  disabled: boolean;
  createdAt: string;
}

export interface ApiToken {
  id: string;
  userId: string;
  kind: string;
  name: string | null;
  role: Role;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Enrollment {
  id: string;
  clientId: string;
  createdBy: string;
  usesLeft: number;
  expiresAt: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  address: string | null;
}

/** One change on a machine's timeline: a command classified as a change that ran there. */
export interface MachineChange {
  commandId: string;
  sessionId: string;
  command: string;
  shell: string;
  requestedBy: string;
  requestedByName: string | null;
  startedAt: string;
  state: string;
  exitCode: number | null;
  approvalId: string | null;
  /** The rollback that undid this change (the latest that stands); null when none. */
  rollback: RollbackLink | null;
  /** The change this one undid, when it is a rollback. */
  rollbackOf: RollbackOf | null;
}

export interface MachineCard {
  machine: MachineSummary;
  sessions: SessionSummary[];
  changes: MachineChange[];
  next: string | null;
}

/** Where an approval stands (the search filter's ApprovalState adds "none": a command that needed none). */
export type ApprovalDecisionState = "pending" | "granted" | "declined" | "expired";

/** An approval as the tenant lists it (GET /api/v1/approvals, /approvals/:id, /approval-links/:token). */
export interface Approval {
  id: string;
  sessionId: string;
  commandId: string;
  clientId: string;
  clientName: string | null;
  machineId: string;
  hostname: string | null;
  command: string | null;
  shell: string | null;
  summary: string | null;
  /** Every change the command makes, in order, in the contact's words (or a part Caisey cannot tell). */
  changes: ChangeLine[];
  /** The technician's reason, shown to the client. */
  reason: string | null;
  requestedBy: string;
  requestedByName: string | null;
  requestedAt: string | null;
  expiresAt: string | null;
  state: ApprovalDecisionState;
  decidedBy: string | null;
  decidedByName: string | null;
  decidedAt: string | null;
  comment: string | null;
}

export interface SessionInfo {
  id: string;
  machineId: string;
  clientId?: string;
  hostname?: string;
  os?: string;
  state: SessionState;
  head: { seq: number; hash: string };
  technicianId?: string;
  openedAt?: string;
  closedAt?: string | null;
  ticket?: string | null;
  /** Who watches the live socket right now (a snapshot at the time of the call). */
  participants?: { actor: string; name: string }[];
}

export interface SessionEvent {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  data: Record<string, unknown>;
  hash?: string;
  /** Set instead of ts/type/actor/data on a line withheld from this reader: the SHA-256 of the line. */
  redacted?: string;
}

/** A command as a verdict names it: enough to compare the pair at a glance. */
export interface VerdictCommand {
  id: string;
  command: string;
  shell: string;
  state: string;
  exitCode: number | null;
  finishedAt: string | null;
  stdoutBytes: number;
  stderrBytes: number;
  /** The first lines of its stdout (at most 12 lines, 2,000 characters); `truncated` when there is more. */
  firstLines: string;
  truncated: boolean;
}

/** A `verification.recorded` event, with the commands it names. */
export interface VerdictView {
  seq: number;
  at: string;
  actor: string;
  verdict: Verdict;
  note: string;
  baselineCommandId: string;
  verifyCommandId: string | null;
  baseline: VerdictCommand | null;
  verify: VerdictCommand | null;
}

/** A session awaiting review (GET /api/v1/reviews). */
export interface PendingReview {
  sessionId: string;
  machineId: string;
  hostname: string | null;
  clientId: string;
  clientName: string | null;
  technicianId: string;
  technicianName: string | null;
  ticket: string | null;
  openedAt: string;
  requestedAt: string | null;
  /** Times it was returned before. */
  returns: number;
  verdicts: VerdictView[];
}

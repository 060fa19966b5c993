// Shapes of API answers that both the server (which builds them) and the console (which reads them) name. Types only:
// the console imports this file without pulling anything into its bundle.

import type { ApprovalState, SearchKind } from "./search.ts";

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
  stream: "stdout" | "stderr" | null;
  offset: number | null;
  exitCode: number | null;
  state: string | null;
  approval: ApprovalState | null;
  snippet: string;
  /** [start, end) offsets into snippet (UTF-16 code units). */
  highlights: [number, number][];
}

// Same-origin JSON client for the Caisey API. Cookie-authenticated; every POST carries the CSRF header.

import type { MachineSummary, SearchResult, SessionSummary } from "@caisey/core/views";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/** Called whenever an API call answers 401 (the session cookie expired or was revoked). */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

export async function api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-caisey-csrf"] = "1";
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the Caisey server. Check your connection and try again.");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const err = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof err?.code === "string" ? err.code : `http_${response.status}`;
    const message =
      typeof err?.message === "string" && err.message.length > 0
        ? err.message
        : `The server answered ${response.status} ${response.statusText}`.trim();
    // /me is how the shell itself learns it is signed out; reporting that back to the shell would loop.
    if (response.status === 401 && onUnauthorized && !path.startsWith("/api/v1/auth/") && path !== "/api/v1/me")
      onUnauthorized();
    throw new ApiError(response.status, code, message);
  }
  return parsed as T;
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError && error.status === 403 && error.code === "forbidden")
    return `Not allowed for your role (${error.message}).`;
  if (error instanceof Error) return upperFirst(error.message);
  return String(error);
}

function upperFirst(text: string): string {
  return text.length > 0 ? (text[0] ?? "").toUpperCase() + text.slice(1) : text;
}

// ---- shapes the console reads (only the fields it uses) ----

export type { SearchResult, SessionSummary };
export type Machine = MachineSummary;

export type Role = "owner" | "dispatcher" | "technician" | "contact";
export const STAFF_ROLES = ["owner", "dispatcher", "technician"] as const;

export interface Me {
  user: { id: string; name: string; email: string; role: Role; tenantId: string; clientId?: string | null };
  organization: { id: string; name: string };
}

/** What a role may do, mirroring the server's route table (the server enforces it; the console only hides). */
export function abilities(role: Role) {
  const owner = role === "owner";
  const staff = role !== "contact";
  const runner = role === "owner" || role === "technician";
  return {
    staff,
    owner,
    /** Open sessions, run and cancel commands, create and revoke enrollment tokens. */
    runCommands: runner,
    enroll: runner,
    /** Notes and closing a session. */
    review: staff,
    managePeople: owner,
    manageClients: owner,
    manageMachines: owner,
    audit: owner,
  };
}

export type ApprovalPolicy = "always" | "changes" | "never";

export const APPROVAL_POLICIES: { value: ApprovalPolicy; label: string; explain: string }[] = [
  {
    value: "always",
    label: "approve every command",
    explain: "Every command waits until the client's contact approves it.",
  },
  {
    value: "changes",
    label: "approve changes",
    explain: "Commands that change the machine wait for the contact's approval; read-only ones run at once.",
  },
  {
    value: "never",
    label: "no approval",
    explain: "Commands run without asking; the contact can still follow the session.",
  },
];

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
}

export interface MachineCard {
  machine: Machine;
  sessions: SessionSummary[];
  changes: MachineChange[];
  next: string | null;
}

export type ApprovalState = "pending" | "granted" | "declined" | "expired";

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
  requestedBy: string;
  requestedByName: string | null;
  requestedAt: string | null;
  expiresAt: string | null;
  state: ApprovalState;
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
  state: "open" | "closed";
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
}

// Same-origin JSON client for the Caisey API, typed by the route definitions the server binds its handlers to
// (@caisey/core/routes): a route's path, method, path ids, query and body are checked here at compile time, and
// abilities() reads who may call a route from the same definitions. Cookie-authenticated; every POST carries the CSRF
// header.

import {
  type AnswerOf,
  addClient,
  addNote,
  addUser,
  allows,
  auditLog,
  type BodyInput,
  cancelCommand,
  closeSession,
  createEnrollment,
  listReviews,
  listUsers,
  openSession,
  type ParamsOf,
  pathOf,
  type QueryInput,
  type RouteDefinition,
  requestCommand,
  revokeMachine,
  STAFF,
} from "@caisey/core/routes";
import type { ApprovalDecisionState, MachineSummary, Me } from "@caisey/core/views";

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

/** What a call sends besides the route: its path ids, query and body, each where the route has them. */
export type CallInput<R extends RouteDefinition> = (keyof ParamsOf<R> extends never
  ? unknown
  : { params: ParamsOf<R> }) &
  (R["query"] extends string ? { query?: { [K in keyof QueryInput<R>]?: string | number } } : unknown) &
  (R["body"] extends string ? { body: BodyInput<R> } : unknown);

/** The URL of a route the browser opens itself (a download, a WebSocket). */
export function urlOf<R extends RouteDefinition>(route: R, input: CallInput<R>): string {
  const { params, query } = input as { params?: ParamsOf<R>; query?: Record<string, string | number | undefined> };
  return pathOf(route, params ?? ({} as ParamsOf<R>), query);
}

/** The window event after each change this console made through the API. */
export const CHANGED = "caisey:changed";

export async function api<R extends RouteDefinition>(
  route: R,
  ...[input]: unknown extends CallInput<R> ? [CallInput<R>?] : [CallInput<R>]
): Promise<AnswerOf<R>> {
  const path = urlOf(route, (input ?? {}) as CallInput<R>);
  const body = (input as { body?: unknown } | undefined)?.body;
  const method = route.method.toUpperCase();
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
  // What this person changed may change what waits for them (a decision taken, a session taken over).
  if (response.ok && method !== "GET") window.dispatchEvent(new Event(CHANGED));
  if (response.status === 204) return undefined as AnswerOf<R>;
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
  return parsed as AnswerOf<R>;
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

// ---- shapes the console reads

export type {
  ApiToken,
  Approval,
  AuditEntry,
  ChangeLine,
  Client,
  Enrollment,
  MachineCard,
  MachineChange,
  Me,
  Person,
  SearchResult,
  SessionEvent,
  SessionInfo,
  SessionSummary,
} from "@caisey/core/views";
export type Machine = MachineSummary;
export type ApprovalState = ApprovalDecisionState;

export type Role = Me["user"]["role"];
export const STAFF_ROLES = STAFF;
export type StaffRole = (typeof STAFF_ROLES)[number];

/** What a role may do: may it call the routes behind each control (the server enforces it; the console only hides). */
export function abilities(role: Role) {
  const may = (...routes: RouteDefinition[]) => routes.every((route) => allows(route.access, role));
  return {
    /** Sees colleagues, clients, tokens, and sends approval links. */
    staff: may(listUsers),
    /** Sees everyone's API tokens, not only their own. */
    owner: role === "owner",
    /** Open sessions, run and cancel commands, create and revoke enrollment tokens. */
    runCommands: may(openSession, requestCommand, cancelCommand),
    enroll: may(createEnrollment),
    /** Notes and closing a session. */
    review: may(addNote, closeSession),
    managePeople: may(addUser),
    manageClients: may(addClient),
    manageMachines: may(revokeMachine),
    audit: may(auditLog),
    /** Accept or return sessions sent for review; read the figures. */
    reviewSessions: may(listReviews),
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

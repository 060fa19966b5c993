// Same-origin JSON client for the Caisey API. Cookie-authenticated; every POST carries the CSRF header.

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
    if (response.status === 401 && onUnauthorized && !path.startsWith("/api/v1/auth/")) onUnauthorized();
    throw new ApiError(response.status, code, message);
  }
  return parsed as T;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

// ---- shapes the console reads (only the fields it uses) ----

export interface Me {
  user: { id: string; name: string; email: string; role: string; tenantId: string };
  organization: { id: string; name: string };
}

export interface Client {
  id: string;
  name: string;
  approvalPolicy?: string;
}

export interface Machine {
  id: string;
  hostname: string;
  clientId: string;
  clientName?: string;
  os: string;
  osVersion?: string;
  arch?: string;
  runtimeVersion?: string;
  online: boolean;
  lastSeenAt: string | null;
}

export interface SessionInfo {
  id: string;
  machineId: string;
  hostname?: string;
  os?: string;
  state: "open" | "closed";
  head: { seq: number; hash: string };
  technicianId?: string;
  openedAt?: string;
  closedAt?: string | null;
  ticket?: string | null;
}

export interface SessionEvent {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  data: Record<string, unknown>;
  hash?: string;
}

// Who is asking. Staff and contacts present a bearer token (scripts, CLI, tests) or the console's HttpOnly cookie.
// Cookie-authenticated state changes must carry x-caisey-csrf: a header no other site can make a browser send.

import type { Role } from "@caisey/core";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { sha256Hex } from "./crypto.ts";
import { type Env, tenant } from "./env.ts";
import { HttpError } from "./http.ts";
import type { Scope } from "./objects/session/index.ts";
import type { By, Principal } from "./objects/tenant.ts";
import { parseToken } from "./tokens.ts";

export const COOKIE = "caisey_token";
export const CSRF_HEADER = "x-caisey-csrf";

export type AppEnv = { Bindings: Env; Variables: { principal: Principal } };

export async function authenticate(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header("authorization");
  let token: string | undefined;
  let viaCookie = false;
  if (header !== undefined) {
    const match = /^Bearer ([!-~]{1,200})$/.exec(header);
    if (!match) throw new HttpError(401, "unauthenticated", "Authorization must be 'Bearer <token>'");
    token = match[1];
  } else {
    token = getCookie(c, COOKIE);
    viaCookie = token !== undefined;
  }
  if (!token) throw new HttpError(401, "unauthenticated", "sign in first");
  const parsed = parseToken(token, "cst");
  const principal = parsed ? await tenant(c.env, parsed.tenantId).authenticate(parsed.hash) : null;
  if (!principal) throw new HttpError(401, "unauthenticated", "token is invalid, expired or revoked");
  if (viaCookie && !["GET", "HEAD", "OPTIONS"].includes(c.req.method) && c.req.header(CSRF_HEADER) !== "1") {
    throw new HttpError(403, "csrf_required", `cookie-authenticated requests must send ${CSRF_HEADER}: 1`);
  }
  return principal;
}

/** Route guard: the caller must be signed in with one of `roles`. */
export function allow(roles: readonly Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = await authenticate(c);
    if (!roles.includes(principal.role)) throw new HttpError(403, "forbidden", `a ${principal.role} may not do this`);
    c.set("principal", principal);
    await next();
  };
}

/**
 * Route guard for hosted deployments: the operator's secret, CAISEY_OPERATOR_TOKEN. Without the secret configured the
 * route does not exist.
 */
export const allowOperator: MiddlewareHandler<AppEnv> = async (c, next) => {
  const secret = c.env.CAISEY_OPERATOR_TOKEN;
  if (!secret) throw new HttpError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  const given = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  if (sha256Hex(given) !== sha256Hex(secret)) throw new HttpError(401, "unauthenticated", "operator token required");
  await next();
};

/**
 * The caller's address as the edge reports it: Cloudflare sets CF-Connecting-IP. `npm start` serves workerd's socket
 * directly and has no edge in front, so locally there is no address (null) unless a client sends the header itself.
 */
export function clientAddress(c: Context<AppEnv>): string | null {
  return c.req.header("cf-connecting-ip") ?? null;
}

/** Who is acting, for the audit log. */
export function by(c: Context<AppEnv>): By {
  const p = c.var.principal;
  return { actor: `${p.role === "contact" ? "contact" : "user"}:${p.userId}`, address: clientAddress(c) };
}

/** What the caller may see: their tenant, and for a client contact, only their client. */
export function scope(c: Context<AppEnv>): Scope {
  const p = c.var.principal;
  return { tenantId: p.tenantId, clientId: p.role === "contact" ? (p.clientId ?? "cli_none") : null };
}

export function cookieHeader(token: string, secure: boolean, maxAgeSeconds: number): string {
  return `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

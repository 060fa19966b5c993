// Who is asking. Staff and contacts present a bearer token (scripts, CLI, tests) or the console's HttpOnly cookie.
// Cookie-authenticated state changes must carry x-caisey-csrf: a header no other site can make a browser send.

import { type Role, retryAfterSeconds, throttleKey } from "@caisey/core";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { sha256Hex } from "./crypto.ts";
import { directory, type Env, tenant } from "./env.ts";
import { failure, HttpError } from "./http.ts";
import type { Scope } from "./objects/session/index.ts";
import { type By, type Principal, roleRefusal, scopeOf, TOKEN_REFUSED } from "./objects/tenant.ts";
import { parseToken } from "./tokens.ts";

export const COOKIE = "caisey_token";
export const CSRF_HEADER = "x-caisey-csrf";

export type AppEnv = { Bindings: Env; Variables: { principal: Principal } };

const BEARER = /^Bearer ([!-~]{1,200})$/;

export async function authenticate(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header("authorization");
  let token: string | undefined;
  let viaCookie = false;
  if (header !== undefined) {
    const match = BEARER.exec(header);
    if (!match) throw new HttpError(401, "unauthenticated", "Authorization must be 'Bearer <token>'");
    token = match[1];
  } else {
    token = getCookie(c, COOKIE);
    viaCookie = token !== undefined;
  }
  if (!token) throw new HttpError(401, "unauthenticated", "sign in first");
  const parsed = parseToken(token, "cst");
  const principal = parsed ? await tenant(c.env, parsed.tenantId).authenticate(parsed.hash) : null;
  if (!principal) failure(TOKEN_REFUSED);
  if (viaCookie && !["GET", "HEAD", "OPTIONS"].includes(c.req.method) && c.req.header(CSRF_HEADER) !== "1") {
    throw new HttpError(403, "csrf_required", `cookie-authenticated requests must send ${CSRF_HEADER}: 1`);
  }
  return principal;
}

/** The caller must be signed in with one of `roles`: they are the request's principal from then on. */
export async function admit(c: Context<AppEnv>, roles: readonly Role[]): Promise<void> {
  const principal = await authenticate(c);
  const refused = roleRefusal(principal, roles);
  if (refused) failure(refused);
  c.set("principal", principal);
}

/** Route guard: the caller must be signed in with one of `roles`. */
export function allow(roles: readonly Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await admit(c, roles);
    await next();
  };
}

/**
 * The request's bearer access token as the Tenant looks it up (its tenant and hash) when it is well formed; null
 * otherwise (none, a cookie, a malformed one: authenticate says which). Nothing is checked here.
 */
export function bearerToken(c: Context<AppEnv>): { tenantId: string; hash: string } | null {
  const match = BEARER.exec(c.req.header("authorization") ?? "");
  return match ? parseToken(match[1] as string, "cst") : null;
}

/** Operator secrets shorter than this are refused: the route creates organizations on the whole deployment. */
export const OPERATOR_TOKEN_MIN_LENGTH = 32;

/**
 * Route guard for hosted deployments: the operator's secret, CAISEY_OPERATOR_TOKEN. Without the secret configured the
 * route does not exist; a wrong one counts against the same throttle as sign-in.
 */
export const allowOperator: MiddlewareHandler<AppEnv> = async (c, next) => {
  const secret = c.env.CAISEY_OPERATOR_TOKEN;
  if (!secret) throw new HttpError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  // `npm start` refuses to start with a short one; a deployment configured elsewhere is refused here.
  if (secret.length < OPERATOR_TOKEN_MIN_LENGTH)
    throw new HttpError(
      503,
      "operator_token_too_short",
      `CAISEY_OPERATOR_TOKEN must be ${OPERATOR_TOKEN_MIN_LENGTH} or more characters`,
    );
  const keys = attemptKeys(c, "operator");
  await admitAttempt(c.env, keys);
  const given = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  if (sha256Hex(given) !== sha256Hex(secret)) {
    await directory(c.env).attemptFailed(keys);
    throw new HttpError(401, "unauthenticated", "operator token required");
  }
  await directory(c.env).attemptSucceeded(keys);
  await next();
};

/**
 * The caller's address, from the one source the deployment trusts: the header named by CAISEY_TRUSTED_ADDRESS_HEADER,
 * which what stands in front of the Worker sets and overwrites (Cloudflare's edge: CF-Connecting-IP). Without that
 * setting nothing a client sends is believed and the address is unknown (null): `npm start` serves workerd's socket
 * directly, and workerd only reports a peer address on sockets Miniflare does not open for us (README: Security).
 */
export function clientAddress(c: Context<AppEnv>): string | null {
  const header = c.env.CAISEY_TRUSTED_ADDRESS_HEADER?.trim();
  if (!header) return null;
  const value = c.req.header(header)?.trim() ?? "";
  return /^[0-9A-Fa-f.:]{2,45}$/.test(value) ? value : null;
}

/**
 * What a credential attempt counts against: the account (or the operator secret) and, when it is known, the
 * caller's trusted address. An unknown address is no key at all: callers without one never share a bucket.
 */
export function attemptKeys(c: Context<AppEnv>, kind: "account" | "operator", email = ""): string[] {
  const address = clientAddress(c);
  return [throttleKey(kind, email), ...(address === null ? [] : [throttleKey("address", address)])];
}

/** Admit a credential attempt (counted before any password is hashed), or refuse it: 429 with Retry-After. */
export async function admitAttempt(env: Env, keys: readonly string[]): Promise<void> {
  const wait = await directory(env).admitAttempt(keys);
  if (wait === 0) return;
  const seconds = retryAfterSeconds(wait);
  throw new HttpError(429, "too_many_attempts", `too many failed attempts; try again in ${seconds} s`, {
    "retry-after": String(seconds),
  });
}

/** Who is acting, for the audit log. */
export function by(c: Context<AppEnv>): By {
  const p = c.var.principal;
  return { actor: `${p.role === "contact" ? "contact" : "user"}:${p.userId}`, address: clientAddress(c) };
}

/** What the caller may see: their tenant, and for a client contact, only their client. */
export function scope(c: Context<AppEnv>): Scope {
  return scopeOf(c.var.principal);
}

export function cookieHeader(token: string, secure: boolean, maxAgeSeconds: number): string {
  return `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

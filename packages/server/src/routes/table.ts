// The server's half of a route: a handler bound to its definition (@caisey/core/routes). Access, path ids, query and
// body are checked here, in that order, before the handler runs with them typed. Every bound route is listed in
// ROUTES, which the authorization tests walk, so a route added without an access rule cannot go unnoticed.

import { describeIssue, type IdKind, idPattern, type Role, SCHEMAS } from "@caisey/core";
import {
  type Access,
  type BodyOf,
  ID_NAMES,
  type ParamsOf,
  type QueryOf,
  type RouteDefinition,
} from "@caisey/core/routes";
import type { Context, Handler, Hono } from "hono";
import { type AppEnv, admit, allow, allowOperator, bearerToken } from "../auth.ts";
import { HttpError, readJson } from "../http.ts";

export type Method = RouteDefinition["method"];

export const ROUTES: { method: Method; path: string; access: Access }[] = [];

export interface Input<R extends RouteDefinition> {
  params: ParamsOf<R>;
  query: QueryOf<R>;
  body: BodyOf<R>;
}

type RouteHandler<R extends RouteDefinition> = (c: Context<AppEnv>, input: Input<R>) => Response | Promise<Response>;

async function inputOf<R extends RouteDefinition>(c: Context<AppEnv>, route: R): Promise<Input<R>> {
  if (route.websocket && c.req.header("upgrade")?.toLowerCase() !== "websocket")
    throw new HttpError(426, "upgrade_required", "connect with a WebSocket");
  const params: Record<string, string> = c.req.param();
  for (const [name, kind] of Object.entries(route.params ?? {}) as [string, IdKind][]) {
    if (!idPattern(kind).test(params[name] ?? "")) throw new HttpError(404, "not_found", `${ID_NAMES[kind]} not found`);
  }
  let query: unknown;
  if (route.query) {
    const parsed = SCHEMAS[route.query].safeParse(c.req.query());
    if (!parsed.success) throw new HttpError(400, "invalid_query", describeIssue(parsed.error));
    query = parsed.data;
  }
  const body = route.body ? await readJson(c, SCHEMAS[route.body]) : undefined;
  return { params, query, body } as Input<R>;
}

export function route<R extends RouteDefinition>(app: Hono<AppEnv>, definition: R, handler: RouteHandler<R>): void {
  const { method, path, access } = definition;
  ROUTES.push({ method, path, access });
  const bound: Handler<AppEnv> = async (c) => handler(c, await inputOf(c, definition));
  if (access === "public") app.on(method.toUpperCase(), path, bound);
  else app.on(method.toUpperCase(), path, access === "operator" ? allowOperator : allow(access), bound);
}

/** A well-formed bearer token a route's object has checked by the Tenant itself (see routeByToken). */
export type TokenRef = { tenantId: string; hash: string };

/**
 * A route whose Durable Object has the Tenant authenticate the caller in a call it makes there anyway (a command: the
 * Session asks the Tenant for the client's policy), instead of the Worker asking first: one Tenant call per request
 * fewer. Only for a well-formed bearer token and valid input: the handler then gets the token, not yet checked, and
 * passes it with the route's roles. Anything else (a cookie, no or a malformed token, bad input) is authenticated here
 * first, as by `route`, so every answer and its precedence (401, 403, then 404 or 422) stay those of `route`.
 */
export function routeByToken<R extends RouteDefinition & { access: readonly Role[] }>(
  app: Hono<AppEnv>,
  definition: R,
  handler: (c: Context<AppEnv>, input: Input<R>, token: TokenRef | null) => Response | Promise<Response>,
): void {
  const { method, path, access } = definition;
  ROUTES.push({ method, path, access });
  app.on(method.toUpperCase(), path, async (c) => {
    const token = bearerToken(c);
    if (token === null) {
      await admit(c, access);
      return handler(c, await inputOf(c, definition), null);
    }
    let input: Input<R>;
    try {
      input = await inputOf(c, definition);
    } catch (error) {
      await admit(c, access); // who may not ask hears that, not what was wrong with what they asked
      throw error;
    }
    return handler(c, input, token);
  });
}

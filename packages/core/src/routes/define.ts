// A route as data: its method and path, who may call it, what its path ids, query and body must be, and what it
// answers. The server binds a handler to each definition and validates with the named zod schemas; the console builds
// its typed calls and abilities() from the same definitions. Schemas are named (keys of SCHEMAS), not imported, so this
// folder has no runtime dependency on zod and the console's bundle stays small.

import type { z } from "zod";
import type { Role, SCHEMAS } from "../api.ts";
import type { IdKind } from "../ids.ts";

/**
 * The roles that may call a route, or "public": no credentials (setup, sign-in, the runtime's enrollment and socket,
 * approval links, each with its own proof), or "operator": the deployment operator's secret.
 */
export type Access = readonly Role[] | "public" | "operator";

export const EVERYONE = ["owner", "dispatcher", "technician", "contact"] as const satisfies readonly Role[];
export const STAFF = ["owner", "dispatcher", "technician"] as const satisfies readonly Role[];
/** Staff who may run commands on machines. */
export const RUNNERS = ["owner", "technician"] as const satisfies readonly Role[];
export const OWNERS = ["owner"] as const satisfies readonly Role[];
/** A client's contacts: only they decide approvals, so staff never approve their own work. */
export const CONTACTS = ["contact"] as const satisfies readonly Role[];

type Schemas = typeof SCHEMAS;
/** The zod schemas of the contract, by name. */
export type SchemaName = keyof Schemas;
type QuerySchemaName = {
  [K in SchemaName]: z.input<Schemas[K]> extends Record<string, string | undefined> ? K : never;
}[SchemaName];

declare const ANSWER: unique symbol;
/** A route's answer type, carried by the definition for the console (a JSON body; void for 204 and streams). */
export interface Answer<T> {
  readonly [ANSWER]?: T;
}
export const answer = <T>(): Answer<T> => ({});

/** The `:name` segments of a path. */
export type PathParams<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParams<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

export interface RouteDefinition<P extends string = string, A = unknown> {
  method: "get" | "post" | "put";
  path: P;
  access: Access;
  /** Path ids by kind: a malformed one is 404 "<what> not found", the same answer as an id that does not exist. */
  params?: { readonly [K in PathParams<P>]?: IdKind };
  query?: QuerySchemaName;
  body?: SchemaName;
  /** A WebSocket route: any other request is 426 before its path and query are looked at. */
  websocket?: true;
  answer: Answer<A>;
}

export function defineRoute<const P extends `/api/v1/${string}`, const D extends RouteDefinition<P>>(
  definition: D & RouteDefinition<P>,
): D {
  return definition;
}

/** What each id kind names, for "<what> not found". */
export const ID_NAMES: Record<IdKind, string> = {
  ten: "organization",
  usr: "person",
  cli: "client",
  mch: "machine",
  ses: "session",
  cmd: "command",
  enr: "enrollment token",
  tok: "token",
  apr: "approval",
  whk: "webhook",
  shr: "share link",
};

type Parsed<N> = N extends SchemaName ? z.output<Schemas[N]> : undefined;
type Sent<N> = N extends SchemaName ? z.input<Schemas[N]> : undefined;

/** The path's values by name. */
export type ParamsOf<R extends RouteDefinition> = { [K in PathParams<R["path"]>]: string };
/** The query and body after validation: what a handler receives. */
export type QueryOf<R extends RouteDefinition> = Parsed<R["query"]>;
export type BodyOf<R extends RouteDefinition> = Parsed<R["body"]>;
/** The query and body as a caller sends them. */
export type QueryInput<R extends RouteDefinition> = Sent<R["query"]>;
export type BodyInput<R extends RouteDefinition> = Sent<R["body"]>;
export type AnswerOf<R extends RouteDefinition> = R["answer"] extends Answer<infer A> ? A : never;

export function allows(access: Access, role: Role): boolean {
  return access === "public" || (access !== "operator" && access.includes(role));
}

/** The URL path (and query string) of a call: each `:name` replaced by its value, URL-encoded. */
export function pathOf<R extends RouteDefinition>(
  route: R,
  params: ParamsOf<R>,
  query?: Record<string, string | number | undefined>,
): string {
  const path = route.path.replace(/:([a-z]+)/gi, (_, name: string) =>
    encodeURIComponent((params as Record<string, string>)[name] ?? ""),
  );
  const pairs = Object.entries(query ?? {}).filter((pair): pair is [string, string | number] => pair[1] !== undefined);
  return pairs.length > 0 ? `${path}?${new URLSearchParams(pairs.map(([k, v]) => [k, String(v)]))}` : path;
}

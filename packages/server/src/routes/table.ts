// Every API route is declared here with who may call it. The table is also what the authorization tests walk, so a
// route added without an access rule cannot go unnoticed.

import type { Role } from "@caisey/core";
import type { Handler, Hono } from "hono";
import { type AppEnv, allow } from "../auth.ts";

/**
 * "public": no credentials (setup, login, runtime enrollment by token, runtime socket with its own proof).
 * "operator": the deployment operator's secret, checked by the route itself.
 */
export type Access = readonly Role[] | "public" | "operator";

export const STAFF: readonly Role[] = ["owner", "dispatcher", "technician"];
/** Staff who may run commands on machines. */
export const RUNNERS: readonly Role[] = ["owner", "technician"];
export const OWNERS: readonly Role[] = ["owner"];
export const EVERYONE: readonly Role[] = ["owner", "dispatcher", "technician", "contact"];

export type Method = "get" | "post";

export const ROUTES: { method: Method; path: string; access: Access }[] = [];

export function route(app: Hono<AppEnv>, method: Method, path: string, access: Access, handler: Handler<AppEnv>): void {
  ROUTES.push({ method, path, access });
  if (access === "public" || access === "operator") app.on(method.toUpperCase(), path, handler);
  else app.on(method.toUpperCase(), path, allow(access), handler);
}

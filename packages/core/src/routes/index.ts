// The API's routes as data (see define.ts), one file per resource group.

import * as approvals from "./approvals.ts";
import * as clients from "./clients.ts";
import type { RouteDefinition } from "./define.ts";
import * as evidence from "./evidence.ts";
import * as log from "./log.ts";
import * as machines from "./machines.ts";
import * as people from "./people.ts";
import * as review from "./review.ts";
import * as rollbacks from "./rollbacks.ts";
import * as runtime from "./runtime.ts";
import * as search from "./search.ts";
import * as sessions from "./sessions.ts";
import * as verification from "./verification.ts";

export * from "./approvals.ts";
export * from "./clients.ts";
export * from "./define.ts";
export * from "./evidence.ts";
export * from "./log.ts";
export * from "./machines.ts";
export * from "./people.ts";
export * from "./review.ts";
export * from "./rollbacks.ts";
export * from "./runtime.ts";
export * from "./search.ts";
export * from "./sessions.ts";
export * from "./verification.ts";

/** Every route the API defines: the server must serve each one (its tests check that). */
export const DEFINED_ROUTES: readonly RouteDefinition[] = [
  people,
  clients,
  machines,
  sessions,
  runtime,
  search,
  approvals,
  verification,
  log,
  evidence,
  rollbacks,
  review,
].flatMap((group) => Object.values(group));

import type { Directory } from "./objects/directory.ts";
import type { Machine } from "./objects/machine.ts";
import type { Session } from "./objects/session.ts";
import type { Tenant } from "./objects/tenant.ts";

export interface Env {
  DIRECTORY: DurableObjectNamespace<Directory>;
  TENANT: DurableObjectNamespace<Tenant>;
  MACHINE: DurableObjectNamespace<Machine>;
  SESSION: DurableObjectNamespace<Session>;
  /** Operator secret for creating further organizations on a hosted deployment (issue 4). */
  CAISEY_OPERATOR_TOKEN?: string;
}

export function directory(env: Env) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));
}
export function tenant(env: Env, tenantId: string) {
  return env.TENANT.get(env.TENANT.idFromName(tenantId));
}
export function machine(env: Env, machineId: string) {
  return env.MACHINE.get(env.MACHINE.idFromName(machineId));
}
export function session(env: Env, sessionId: string) {
  return env.SESSION.get(env.SESSION.idFromName(sessionId));
}

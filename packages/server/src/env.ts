import { OUTPUT_INDEX_CAP } from "@caisey/core";
import type { Directory } from "./objects/directory.ts";
import type { Fleet } from "./objects/fleet.ts";
import type { Machine } from "./objects/machine.ts";
import type { SearchIndex } from "./objects/search-index.ts";
import type { Session } from "./objects/session/index.ts";
import type { Tenant } from "./objects/tenant.ts";
import type { TransparencyLog } from "./objects/transparency-log.ts";

export interface Env {
  DIRECTORY: DurableObjectNamespace<Directory>;
  TENANT: DurableObjectNamespace<Tenant>;
  FLEET: DurableObjectNamespace<Fleet>;
  MACHINE: DurableObjectNamespace<Machine>;
  SESSION: DurableObjectNamespace<Session>;
  SEARCH_INDEX: DurableObjectNamespace<SearchIndex>;
  /** The runtime's built files, served at /downloads/ (routes/downloads.ts): on Cloudflare, an R2 bucket… */
  DOWNLOADS?: R2Bucket;
  /** …and under `npm start`, dist/runtime/ on the disk, read by Node (scripts/worker.mjs). */
  RUNTIME_FILES?: Fetcher;
  TRANSPARENCY_LOG: DurableObjectNamespace<TransparencyLog>;
  /** Output bytes indexed per command for search (default 1 MiB); the record itself is never capped. */
  SEARCH_OUTPUT_CAP?: string;
  /** Operator secret for creating further organizations on a hosted deployment (32 or more characters). */
  CAISEY_OPERATOR_TOKEN?: string;
  /** The deployment's secret that private keys are stored wrapped with (key-wrap.ts); a Worker secret on Cloudflare. */
  CAISEY_KEY_SECRET?: string;
  /** The secret before the last rotation: keys wrapped with it still open, and are wrapped again with the current one. */
  CAISEY_KEY_SECRET_PREVIOUS?: string;
  /**
   * The request header that holds the client's address, set (overwritten) by what the deployment has in front of the
   * Worker: `cf-connecting-ip` on Cloudflare (wrangler.jsonc). Unset, no client-sent header is believed (auth.ts).
   */
  CAISEY_TRUSTED_ADDRESS_HEADER?: string;
  /**
   * Milliseconds between an append and the push of the record to the search index (default 250). Raising it lets
   * fault tests stop the server while the index is behind; the durable catch-up alarm still runs.
   */
  CAISEY_INDEX_DELAY_MS?: string;
  /**
   * The console's address as people reach it (e.g. `https://support.example.com`), for the links in webhook messages;
   * `npm start` sets it to its own address. Without it those links are null.
   */
  CAISEY_PUBLIC_URL?: string;
}

/** A console page's absolute address (CAISEY_PUBLIC_URL + path), or null when the deployment did not say its own. */
export function consoleUrl(env: Env, path: string): string | null {
  const base = env.CAISEY_PUBLIC_URL?.replace(/\/+$/, "");
  return base ? `${base}${path}` : null;
}

/** Output bytes indexed per command: SEARCH_OUTPUT_CAP when it is a whole number, else core's default. */
export function outputIndexCap(env: Env): number {
  const cap = Number(env.SEARCH_OUTPUT_CAP);
  return env.SEARCH_OUTPUT_CAP !== undefined && Number.isSafeInteger(cap) && cap >= 0 ? cap : OUTPUT_INDEX_CAP;
}

/**
 * An object's id by name, computed once per isolate: idFromName hashes the name on every call (four or five per
 * command: the Session, its Tenant, Machine, Fleet and search shard). An id is a plain value (no I/O, unlike the stub
 * made from it for each call), the same for the same name forever; the cache is cleared when it grows large.
 */
const ids = new Map<string, DurableObjectId>();
function stub<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  binding: string,
  name: string,
): DurableObjectStub<T> {
  const key = `${binding}/${name}`; // the binding's name, not its object: env may be another object per request
  let id = ids.get(key);
  if (!id) {
    if (ids.size >= 4096) ids.clear();
    id = namespace.idFromName(name);
    ids.set(key, id);
  }
  return namespace.get(id);
}

export function directory(env: Env) {
  return stub(env.DIRECTORY, "DIRECTORY", "directory");
}
export function tenant(env: Env, tenantId: string) {
  return stub(env.TENANT, "TENANT", tenantId);
}
/** The tenant's machines, sessions, timeline of changes and approvals. */
export function fleet(env: Env, tenantId: string) {
  return stub(env.FLEET, "FLEET", tenantId);
}
export function machine(env: Env, machineId: string) {
  return stub(env.MACHINE, "MACHINE", machineId);
}
export function session(env: Env, sessionId: string) {
  return stub(env.SESSION, "SESSION", sessionId);
}
/** The tenant's transparency log: its log key, the seals of its closed sessions, checkpoints and proofs. */
export function transparencyLog(env: Env, tenantId: string) {
  return stub(env.TRANSPARENCY_LOG, "TRANSPARENCY_LOG", tenantId);
}
/** A tenant's search index shard for one UTC month (`YYYY-MM`). */
export function searchIndex(env: Env, tenantId: string, month: string) {
  return stub(env.SEARCH_INDEX, "SEARCH_INDEX", `${tenantId}:${month}`);
}
/** The tenant's list of index shards that hold anything. */
export function searchCatalog(env: Env, tenantId: string) {
  return stub(env.SEARCH_INDEX, "SEARCH_INDEX", `${tenantId}:catalog`);
}

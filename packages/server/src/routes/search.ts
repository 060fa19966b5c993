// Search over the tenant's records: every index shard of the months in question is asked in parallel (each a
// SearchIndex object per tenant and UTC month) and the answers are merged by time or by rank. A client contact
// searches only their own client's sessions. POST /search/rebuild refills the index from the records.

import {
  buildMatch,
  decodeCursor,
  encodeCursor,
  mergeHits,
  type SearchKind,
  type SearchResult,
  searchableKinds,
  timeBound,
} from "@caisey/core";
import { rebuildSearch, searchRecords } from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, scope } from "../auth.ts";
import { type Env, fleet, searchCatalog, searchIndex, session } from "../env.ts";
import { HttpError } from "../http.ts";
import type { SearchHit, ShardQuery } from "../objects/search-index.ts";
import { route } from "./table.ts";

const SESSION_PAGE = 200;
const REINDEX_CONCURRENCY = 8;

/** Run `work` over `items`, at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

export async function searchShards(env: Env, query: Omit<ShardQuery, "limit">, limit: number) {
  const months = await searchCatalog(env, query.tenantId).shards(query.tenantId, query.fromMs, query.toMs);
  const pages = await Promise.all(
    months.map((month) => searchIndex(env, query.tenantId, month).search({ ...query, limit: limit + 1 })),
  );
  return mergeHits(pages as unknown as SearchHit[][], query.order, limit);
}

export function searchRoutes(app: Hono<AppEnv>): void {
  route(app, searchRecords, async (c, { query: p }) => {
    if (p.q !== undefined && p.q.trim() !== "") {
      const built = buildMatch(p.q);
      if (!built.ok) throw new HttpError(422, "invalid_query", `q: ${built.reason}`);
    }
    const cursor = p.cursor === undefined ? null : decodeCursor(p.cursor);
    if (p.cursor !== undefined && (!cursor || cursor.order !== p.order))
      throw new HttpError(400, "invalid_query", "cursor is not one this search issued");
    const fromMs = timeBound(p.from, false);
    const toMs = timeBound(p.to, true);
    if (fromMs !== null && toMs !== null && fromMs >= toMs)
      throw new HttpError(422, "invalid_query", "from must be before to");
    const view = scope(c);
    // A contact searches their own client only: asking for another client finds nothing.
    if (view.clientId !== null && p.clientId !== undefined && p.clientId !== view.clientId)
      return c.json({ results: [], next: null });
    // Notes are the MSP's internal words: a contact's search never reaches them.
    const kinds = searchableKinds((p.kind as SearchKind[] | undefined) ?? null, view.clientId !== null);
    if (kinds !== null && kinds.length === 0) return c.json({ results: [], next: null });
    const { hits, next } = await searchShards(
      c.env,
      {
        tenantId: view.tenantId,
        q: p.q !== undefined && p.q.trim() !== "" ? p.q : null,
        kinds,
        clientId: view.clientId ?? p.clientId ?? null,
        machineId: p.machineId ?? null,
        sessionId: p.sessionId ?? null,
        technicianId: p.technicianId ?? null,
        exit: p.exit === undefined ? null : p.exit === "nonzero" ? "nonzero" : Number(p.exit),
        approval: p.approval ?? null,
        fromMs,
        toMs,
        order: p.order,
        cursor,
      },
      p.limit,
    );
    return c.json({
      results: hits.map(
        (h): SearchResult => ({
          sessionId: h.sessionId,
          machineId: h.machineId,
          clientId: h.clientId,
          technicianId: h.technicianId,
          hostname: h.hostname,
          seq: h.seq,
          ts: h.ts,
          kind: h.kind,
          commandId: h.commandId,
          change: h.change,
          stream: h.stream,
          offset: h.offset,
          exitCode: h.exitCode,
          state: h.commandState,
          approval: h.approval,
          snippet: h.snippet,
          highlights: h.highlights,
        }),
      ),
      next: next ? encodeCursor(next) : null,
    });
  });

  route(app, rebuildSearch, async (c) => {
    const tenantId = c.var.principal.tenantId;
    const catalog = searchCatalog(c.env, tenantId);
    const months = await catalog.shards(tenantId);
    await Promise.all(months.map((m) => searchIndex(c.env, tenantId, m).clear()));
    // Every session of the tenant, newest first; sessions opened in the same millisecond as a page's last one are
    // fetched again rather than skipped, and counted once.
    const t = fleet(c.env, tenantId);
    const seen = new Set<string>();
    let failed = 0;
    let before: string | undefined;
    for (;;) {
      const page = await t.listSessions({ limit: SESSION_PAGE, ...(before ? { before } : {}) });
      const fresh = page.map((s) => s.id).filter((id) => !seen.has(id));
      for (const id of fresh) seen.add(id);
      await pool(fresh, REINDEX_CONCURRENCY, async (id) => {
        try {
          await session(c.env, id).reindex();
        } catch (error) {
          // One session that cannot re-push (yet) does not stop the others; it is counted and logged.
          failed++;
          console.error(`search rebuild: session ${id} could not re-push its record`, error);
        }
      });
      const last = page.at(-1);
      if (page.length < SESSION_PAGE || !last) break;
      const edge = new Date(Date.parse(last.openedAt) + 1).toISOString();
      before = fresh.length > 0 && edge !== before ? edge : last.openedAt;
    }
    return c.json({ sessions: seen.size, failed, shards: months.length }, 202);
  });
}

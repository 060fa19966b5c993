// Search over the tenant's records: every index shard of the months in question is asked in parallel (each a
// SearchIndex object per tenant and UTC month) and the answers are merged by time or by rank. A client contact
// searches only their own client's sessions. POST /search/rebuild refills the index from the records.

import {
  APPROVAL_STATES,
  buildMatch,
  decodeCursor,
  describeIssue,
  encodeCursor,
  idPattern,
  mergeHits,
  SEARCH_KINDS,
  SEARCH_QUERY_MAX,
  type SearchKind,
  type SearchResult,
} from "@caisey/core";
import type { Hono } from "hono";
import { z } from "zod";
import { type AppEnv, scope } from "../auth.ts";
import { type Env, fleet, searchCatalog, searchIndex, session } from "../env.ts";
import { HttpError } from "../http.ts";
import type { SearchHit, ShardQuery } from "../objects/search-index.ts";
import { EVERYONE, OWNERS, route } from "./table.ts";

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const time = z
  .string()
  .refine((v) => (DATE.test(v) || INSTANT.test(v)) && !Number.isNaN(Date.parse(v)), "must be YYYY-MM-DD or RFC 3339");
const id = (kind: "mch" | "cli" | "usr" | "ses") => z.string().regex(idPattern(kind), `must be a ${kind}_ id`);

export const SearchParams = z.object({
  q: z.string().max(SEARCH_QUERY_MAX, `must be at most ${SEARCH_QUERY_MAX} characters`).optional(),
  machineId: id("mch").optional(),
  clientId: id("cli").optional(),
  technicianId: id("usr").optional(),
  sessionId: id("ses").optional(),
  from: time.optional(),
  to: time.optional(),
  kind: z
    .string()
    .transform((v) => v.split(","))
    .pipe(z.array(z.enum(SEARCH_KINDS)).min(1).max(SEARCH_KINDS.length))
    .optional(),
  exit: z.union([z.literal("nonzero"), z.string().regex(/^-?\d{1,10}$/, "must be nonzero or an integer")]).optional(),
  approval: z.enum(APPROVAL_STATES).optional(),
  order: z.enum(["newest", "best"]).default("newest"),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, "must be an integer from 1 to 100")
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(20),
  cursor: z.string().max(200).optional(),
});

const DAY_MS = 24 * 60 * 60 * 1000;

/** A `from` instant; a `to` date counts the whole day (the bound is exclusive). */
function bound(value: string | undefined, end: boolean): number | null {
  if (value === undefined) return null;
  const ms = Date.parse(DATE.test(value) ? `${value}T00:00:00Z` : value);
  return end && DATE.test(value) ? ms + DAY_MS : ms;
}

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
  route(app, "get", "/api/v1/search", EVERYONE, async (c) => {
    const parsed = SearchParams.safeParse(c.req.query());
    if (!parsed.success) throw new HttpError(400, "invalid_query", describeIssue(parsed.error));
    const p = parsed.data;
    if (p.q !== undefined && p.q.trim() !== "") {
      const built = buildMatch(p.q);
      if (!built.ok) throw new HttpError(422, "invalid_query", `q: ${built.reason}`);
    }
    const cursor = p.cursor === undefined ? null : decodeCursor(p.cursor);
    if (p.cursor !== undefined && (!cursor || cursor.order !== p.order))
      throw new HttpError(400, "invalid_query", "cursor is not one this search issued");
    const fromMs = bound(p.from, false);
    const toMs = bound(p.to, true);
    if (fromMs !== null && toMs !== null && fromMs >= toMs)
      throw new HttpError(422, "invalid_query", "from must be before to");
    const view = scope(c);
    // A contact searches their own client only: asking for another client finds nothing.
    if (view.clientId !== null && p.clientId !== undefined && p.clientId !== view.clientId)
      return c.json({ results: [], next: null });
    const { hits, next } = await searchShards(
      c.env,
      {
        tenantId: view.tenantId,
        q: p.q !== undefined && p.q.trim() !== "" ? p.q : null,
        kinds: (p.kind as SearchKind[] | undefined) ?? null,
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

  route(app, "post", "/api/v1/search/rebuild", OWNERS, async (c) => {
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

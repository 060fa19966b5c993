// The benchmark's Worker: the real Caisey Worker and its Durable Objects (SearchIndex included), plus bench-only
// endpoints that feed and query the index shards directly. Only `npm run bench:search` runs this entry; the shipped
// Worker (packages/server/src/index.ts) has no such routes.

import { type Env, searchIndex } from "../packages/server/src/env.ts";
import app from "../packages/server/src/index.ts";
import type { IngestBatch, ShardQuery } from "../packages/server/src/objects/search-index.ts";
import { searchShards } from "../packages/server/src/routes/search.ts";

export {
  Directory,
  Fleet,
  Machine,
  SearchIndex,
  Session,
  Tenant,
  TransparencyLog,
} from "../packages/server/src/index.ts";

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/api/bench/ingest") {
      const { batches } = (await request.json()) as { batches: { month: string; batch: IngestBatch }[] };
      // One session's batches in order; different sessions at once, as independent Session feeds would send them.
      const bySession = new Map<string, IngestBatch[]>();
      for (const { batch } of batches) {
        const list = bySession.get(batch.session.sessionId);
        if (list) list.push(batch);
        else bySession.set(batch.session.sessionId, [batch]);
      }
      const months = new Map(batches.map((b) => [b.batch, b.month]));
      await Promise.all(
        [...bySession.values()].map(async (list) => {
          for (const batch of list) {
            const r = await searchIndex(env, batch.session.tenantId, months.get(batch) as string).ingest(batch);
            if (r.refused) throw new Error(r.refused);
          }
        }),
      );
      return Response.json({ ok: true });
    }
    if (url.pathname === "/api/bench/search") {
      const { query, limit } = (await request.json()) as { query: Omit<ShardQuery, "limit">; limit: number };
      const { hits, next } = await searchShards(env, query, limit);
      return Response.json({ count: hits.length, next, first: hits[0] ?? null });
    }
    if (url.pathname === "/api/bench/stats") {
      const tenantId = url.searchParams.get("tenantId") ?? "";
      const months = (url.searchParams.get("months") ?? "").split(",");
      const stats = await Promise.all(months.map((m) => searchIndex(env, tenantId, m).stats()));
      return Response.json({ stats });
    }
    return app.fetch(request, env, ctx);
  },
};

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
      // One shard's batches in order; different shards in parallel, as independent Session feeds would be.
      const byShard = new Map<string, { month: string; batch: IngestBatch }[]>();
      for (const b of batches) {
        const key = `${b.batch.session.tenantId}:${b.month}`;
        const list = byShard.get(key);
        if (list) list.push(b);
        else byShard.set(key, [b]);
      }
      await Promise.all(
        [...byShard.values()].map(async (list) => {
          for (const { month, batch } of list) {
            const r = await searchIndex(env, batch.session.tenantId, month).ingest(batch);
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

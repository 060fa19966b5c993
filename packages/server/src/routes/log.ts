// The tenant's transparency log: its key, its latest checkpoint, consistency proofs, and a closed session's seal.

import { logCheckpoint, logConsistency, logKey, sessionSeal } from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, scope } from "../auth.ts";
import { session, transparencyLog } from "../env.ts";
import { unwrap } from "../http.ts";
import { route } from "./table.ts";

export function logRoutes(app: Hono<AppEnv>): void {
  route(app, logKey, async (c) => {
    const { tenantId } = c.var.principal;
    return c.json(unwrap(await transparencyLog(c.env, tenantId).publicKey(tenantId)));
  });

  route(app, logCheckpoint, async (c) => {
    const { tenantId } = c.var.principal;
    const note = unwrap(await transparencyLog(c.env, tenantId).checkpoint(tenantId));
    return new Response(note, {
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    });
  });

  route(app, logConsistency, async (c, { query: { from, to } }) =>
    c.json(unwrap(await transparencyLog(c.env, c.var.principal.tenantId).consistency(from, to))),
  );

  route(app, sessionSeal, async (c, { params }) => c.json(unwrap(await session(c.env, params.id).seal(scope(c)))));
}

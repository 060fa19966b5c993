// Verify before you close: verdicts, the dispatcher's review gate and the figures built on them.

import { sessionFigures, timeBound } from "@caisey/core";
import { listReviews, metrics, recordVerdict, reviewSession } from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, scope } from "../auth.ts";
import { fleet, session, tenant } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import { route } from "./table.ts";

/** Without `from`, the figures cover the twelve weeks up to `to` (default: now). */
const DEFAULT_PERIOD_MS = 12 * 7 * 24 * 60 * 60 * 1000;

export function reviewRoutes(app: Hono<AppEnv>): void {
  route(app, recordVerdict, async (c, { params: { id }, body }) =>
    c.json(unwrap(await session(c.env, id).recordVerdict(scope(c), c.var.principal.userId, body)), 201),
  );

  route(app, reviewSession, async (c, { params: { id }, body }) =>
    c.json(
      unwrap(await session(c.env, id).review(scope(c), c.var.principal.userId, body.decision, body.comment || null)),
    ),
  );

  route(app, listReviews, async (c) => {
    const view = scope(c);
    const pending = await fleet(c.env, view.tenantId).pendingReviews(view.clientId);
    // Each session holds its own verdicts; the list is short (sessions waiting for a person), read in parallel.
    const reviews = await Promise.all(
      pending.map(async (p) => {
        const verdicts = await session(c.env, p.sessionId).verdicts(view);
        return { ...p, verdicts: verdicts.ok ? verdicts.value : [] };
      }),
    );
    return c.json({ reviews });
  });

  route(app, metrics, async (c, { query: { from, to, groupBy } }) => {
    const tenantId = c.var.principal.tenantId;
    const toMs = timeBound(to, true) ?? Date.now();
    const fromMs = timeBound(from, false) ?? toMs - DEFAULT_PERIOD_MS;
    if (fromMs >= toMs) throw new HttpError(400, "invalid_query", "from: must be before to");
    const [{ callbackDays }, facts] = await Promise.all([
      tenant(c.env, tenantId).settings(),
      fleet(c.env, tenantId).sessionFacts(new Date(fromMs).toISOString()),
    ]);
    const rows = sessionFigures(facts.sessions, { fromMs, toMs, groupBy, callbackDays }).map((row) => ({
      ...row,
      label: groupBy === "week" ? `Week of ${row.key}` : (facts.names[row.key] ?? row.key),
    }));
    return c.json({
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      groupBy,
      callbackDays,
      rows,
    });
  });
}

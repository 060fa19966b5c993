// The machine list and the machine card.

import { idPattern } from "@caisey/core";
import type { Hono } from "hono";
import type { AppEnv } from "../auth.ts";
import { tenant } from "../env.ts";
import { HttpError, intParam } from "../http.ts";
import { route, STAFF } from "./table.ts";

export function machineRoutes(app: Hono<AppEnv>): void {
  route(app, "get", "/api/v1/machines", STAFF, async (c) =>
    c.json({ machines: await tenant(c.env, c.var.principal.tenantId).listMachines() }),
  );

  route(app, "get", "/api/v1/machines/:id", STAFF, async (c) => {
    const id = c.req.param("id") ?? "";
    const t = tenant(c.env, c.var.principal.tenantId);
    const found = idPattern("mch").test(id) ? await t.getMachine(id) : null;
    if (!found) throw new HttpError(404, "not_found", "machine not found");
    const limit = intParam(c, "limit", 50, 200) || 50;
    const before = c.req.query("before");
    const sessions = await t.listSessions({ machineId: id, limit, ...(before ? { before } : {}) });
    const last = sessions.at(-1);
    return c.json({ machine: found, sessions, next: sessions.length === limit && last ? last.openedAt : null });
  });
}

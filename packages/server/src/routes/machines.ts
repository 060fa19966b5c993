// The machine list, the machine card, and the owner's controls over a machine's identity.

import { idPattern, MoveMachineBody } from "@caisey/core";
import type { Context, Hono } from "hono";
import { type AppEnv, by, scope } from "../auth.ts";
import { fleet, machine } from "../env.ts";
import { HttpError, intParam, readJson, unwrap } from "../http.ts";
import { EVERYONE, OWNERS, route } from "./table.ts";

function machineId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!idPattern("mch").test(id)) throw new HttpError(404, "not_found", "machine not found");
  return id;
}

export function machineRoutes(app: Hono<AppEnv>): void {
  route(app, "get", "/api/v1/machines", EVERYONE, async (c) => {
    const { tenantId, clientId } = scope(c);
    return c.json({ machines: await fleet(c.env, tenantId).listMachines(clientId) });
  });

  route(app, "get", "/api/v1/machines/:id", EVERYONE, async (c) => {
    const id = machineId(c);
    const { tenantId, clientId } = scope(c);
    const t = fleet(c.env, tenantId);
    const found = await t.getMachine(id, clientId);
    if (!found) throw new HttpError(404, "not_found", "machine not found");
    const limit = intParam(c, "limit", 50, 200) || 50;
    const before = c.req.query("before");
    const sessions = await t.listSessions({ machineId: id, limit, ...(before ? { before } : {}) });
    const last = sessions.at(-1);
    // The timeline of changes: commands classified as changes that ran on this machine, across sessions.
    const changes = await t.machineChanges(id, 100);
    return c.json({
      machine: found,
      sessions,
      changes,
      next: sessions.length === limit && last ? last.openedAt : null,
    });
  });

  // Revoked: the runtime is disconnected now and refused from then on; its sessions and records stay.
  route(app, "post", "/api/v1/machines/:id/revoke", OWNERS, async (c) => {
    const id = machineId(c);
    unwrap(await fleet(c.env, c.var.principal.tenantId).revokeMachine(id, by(c)));
    await machine(c.env, id).revoke();
    return c.body(null, 204);
  });

  route(app, "post", "/api/v1/machines/:id/move", OWNERS, async (c) => {
    const id = machineId(c);
    const body = await readJson(c, MoveMachineBody);
    unwrap(await fleet(c.env, c.var.principal.tenantId).moveMachine(id, body.clientId, by(c)));
    return c.json({ id, clientId: body.clientId });
  });
}

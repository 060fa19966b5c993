// The machine list, the machine card, and the owner's controls over a machine's identity.

import { listMachines, machineCard, moveMachine, revokeMachine } from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, by, scope } from "../auth.ts";
import { fleet, machine } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import { route } from "./table.ts";

export function machineRoutes(app: Hono<AppEnv>): void {
  route(app, listMachines, async (c) => {
    const { tenantId, clientId } = scope(c);
    return c.json({ machines: await fleet(c.env, tenantId).listMachines(clientId) });
  });

  route(app, machineCard, async (c, { params: { id }, query }) => {
    const { tenantId, clientId } = scope(c);
    const t = fleet(c.env, tenantId);
    const found = await t.getMachine(id, clientId);
    if (!found) throw new HttpError(404, "not_found", "machine not found");
    const { limit, before } = query;
    const sessions = await t.listSessions({ machineId: id, limit, ...(before ? { before } : {}) });
    const last = sessions.at(-1);
    // The timeline of changes: commands classified as changes that ran on this machine, across sessions.
    const [timeline, links] = await Promise.all([t.machineChanges(id, 100), t.rollbackLinks(id)]);
    // Each change names the rollback that undid it and what it undid (issue 12).
    const changes = timeline.map((change) => ({
      ...change,
      rollback: links.get(change.commandId)?.rollback ?? null,
      rollbackOf: links.get(change.commandId)?.rollbackOf ?? null,
    }));
    return c.json({
      machine: found,
      sessions,
      changes,
      next: sessions.length === limit && last ? last.openedAt : null,
    });
  });

  // Revoked: the runtime is disconnected now and refused from then on; its sessions and records stay.
  route(app, revokeMachine, async (c, { params: { id } }) => {
    unwrap(await fleet(c.env, c.var.principal.tenantId).revokeMachine(id, by(c)));
    await machine(c.env, id).revoke();
    return c.body(null, 204);
  });

  route(app, moveMachine, async (c, { params: { id }, body }) => {
    unwrap(await fleet(c.env, c.var.principal.tenantId).moveMachine(id, body.clientId, by(c)));
    return c.json({ id, clientId: body.clientId });
  });
}

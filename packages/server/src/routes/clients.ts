// The MSP's clients (and their approval policy), and the enrollment tokens that attach machines to them.

import { newId } from "@caisey/core";
import {
  addClient,
  createEnrollment,
  listClients,
  listEnrollments,
  revokeEnrollment,
  updateClient,
} from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, by } from "../auth.ts";
import { tenant } from "../env.ts";
import { unwrap } from "../http.ts";
import { route } from "./table.ts";

export function clientRoutes(app: Hono<AppEnv>): void {
  // A contact sees only their own client.
  route(app, listClients, async (c) => {
    const p = c.var.principal;
    return c.json({
      clients: await tenant(c.env, p.tenantId).listClients(p.role === "contact" ? (p.clientId ?? "cli_none") : null),
    });
  });

  route(app, addClient, async (c, { body }) => {
    return c.json(
      await tenant(c.env, c.var.principal.tenantId).createClient(newId("cli"), body.name, body.approvalPolicy, by(c)),
      201,
    );
  });

  route(app, updateClient, async (c, { params: { id }, body }) => {
    return c.json(unwrap(await tenant(c.env, c.var.principal.tenantId).updateClient(id, body, by(c))));
  });

  route(app, listEnrollments, async (c) =>
    c.json({ enrollments: await tenant(c.env, c.var.principal.tenantId).listEnrollments() }),
  );

  route(app, createEnrollment, async (c, { body }) => {
    const p = c.var.principal;
    return c.json(
      unwrap(await tenant(c.env, p.tenantId).createEnrollment({ ...body, createdBy: p.userId }, by(c))),
      201,
    );
  });

  route(app, revokeEnrollment, async (c, { params: { id } }) => {
    unwrap(await tenant(c.env, c.var.principal.tenantId).revokeEnrollment(id, by(c)));
    return c.body(null, 204);
  });
}

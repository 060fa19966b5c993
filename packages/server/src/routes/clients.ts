// The MSP's clients and the enrollment tokens that attach machines to them.

import { ClientBody, EnrollmentBody, newId } from "@caisey/core";
import type { Hono } from "hono";
import type { AppEnv } from "../auth.ts";
import { tenant } from "../env.ts";
import { readJson, unwrap } from "../http.ts";
import { OWNERS, RUNNERS, route, STAFF } from "./table.ts";

export function clientRoutes(app: Hono<AppEnv>): void {
  route(app, "get", "/api/v1/clients", STAFF, async (c) =>
    c.json({ clients: await tenant(c.env, c.var.principal.tenantId).listClients() }),
  );

  route(app, "post", "/api/v1/clients", OWNERS.concat(["technician"]), async (c) => {
    const body = await readJson(c, ClientBody);
    const created = await tenant(c.env, c.var.principal.tenantId).createClient(
      newId("cli"),
      body.name,
      body.approvalPolicy,
    );
    return c.json(created, 201);
  });

  route(app, "post", "/api/v1/enrollments", RUNNERS, async (c) => {
    const body = await readJson(c, EnrollmentBody);
    const p = c.var.principal;
    const created = unwrap(await tenant(c.env, p.tenantId).createEnrollment({ ...body, createdBy: p.userId }));
    return c.json(created, 201);
  });
}

// The MSP's clients (and their approval policy), and the enrollment tokens that attach machines to them.

import { ClientBody, ClientUpdateBody, EnrollmentBody, idPattern, newId } from "@caisey/core";
import type { Context, Hono } from "hono";
import { type AppEnv, by } from "../auth.ts";
import { tenant } from "../env.ts";
import { HttpError, readJson, unwrap } from "../http.ts";
import { EVERYONE, OWNERS, RUNNERS, route } from "./table.ts";

function param(c: Context<AppEnv>, kind: "cli" | "enr", what: string): string {
  const id = c.req.param("id") ?? "";
  if (!idPattern(kind).test(id)) throw new HttpError(404, "not_found", `${what} not found`);
  return id;
}

export function clientRoutes(app: Hono<AppEnv>): void {
  // A contact sees only their own client.
  route(app, "get", "/api/v1/clients", EVERYONE, async (c) => {
    const p = c.var.principal;
    return c.json({
      clients: await tenant(c.env, p.tenantId).listClients(p.role === "contact" ? (p.clientId ?? "cli_none") : null),
    });
  });

  route(app, "post", "/api/v1/clients", OWNERS, async (c) => {
    const body = await readJson(c, ClientBody);
    return c.json(
      await tenant(c.env, c.var.principal.tenantId).createClient(newId("cli"), body.name, body.approvalPolicy, by(c)),
      201,
    );
  });

  route(app, "post", "/api/v1/clients/:id", OWNERS, async (c) => {
    const id = param(c, "cli", "client");
    const body = await readJson(c, ClientUpdateBody);
    return c.json(unwrap(await tenant(c.env, c.var.principal.tenantId).updateClient(id, body, by(c))));
  });

  route(app, "get", "/api/v1/enrollments", RUNNERS, async (c) =>
    c.json({ enrollments: await tenant(c.env, c.var.principal.tenantId).listEnrollments() }),
  );

  route(app, "post", "/api/v1/enrollments", RUNNERS, async (c) => {
    const body = await readJson(c, EnrollmentBody);
    const p = c.var.principal;
    return c.json(
      unwrap(await tenant(c.env, p.tenantId).createEnrollment({ ...body, createdBy: p.userId }, by(c))),
      201,
    );
  });

  route(app, "post", "/api/v1/enrollments/:id/revoke", RUNNERS, async (c) => {
    const id = param(c, "enr", "enrollment token");
    unwrap(await tenant(c.env, c.var.principal.tenantId).revokeEnrollment(id, by(c)));
    return c.body(null, 204);
  });
}

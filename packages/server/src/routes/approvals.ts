// Client approval gates: the pending list and decisions (client contacts), one-time approval links (anyone holding
// one, for that one approval only), and the organization's outbound webhooks that announce requests.

import {
  addWebhook,
  createApprovalLink,
  decideApproval,
  decideByLink,
  deleteWebhook,
  getApproval,
  listApprovals,
  listWebhooks,
  readApprovalLink,
} from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, by, scope } from "../auth.ts";
import { fleet, session, tenant } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import { parseToken } from "../tokens.ts";
import { route } from "./table.ts";

/** A one-time link's token from the path: it names its tenant, and only its hash is stored. */
function linkToken(token: string) {
  const parsed = parseToken(token, "csa");
  if (!parsed) throw new HttpError(404, "not_found", "this approval link is not valid");
  return parsed;
}

export function approvalRoutes(app: Hono<AppEnv>): void {
  route(app, listApprovals, async (c, { query }) => {
    const state = query.state ?? null;
    const view = scope(c);
    const limit = query.limit;
    return c.json({
      approvals: await fleet(c.env, view.tenantId).listApprovals({ state, clientId: view.clientId, limit }),
    });
  });

  route(app, getApproval, async (c, { params }) => {
    const view = scope(c);
    const approval = await fleet(c.env, view.tenantId).getApproval(params.id, view.clientId);
    if (!approval) throw new HttpError(404, "not_found", "approval not found");
    return c.json({ approval });
  });

  // Only a contact of the machine's client decides; staff (technicians included) never approve their own work.
  route(app, decideApproval, async (c, { params: { id }, body }) => {
    const view = scope(c);
    const approval = await fleet(c.env, view.tenantId).getApproval(id, view.clientId);
    if (!approval) throw new HttpError(404, "not_found", "approval not found");
    const p = c.var.principal;
    const decided = unwrap(
      await session(c.env, approval.sessionId).decide(
        view,
        { id: p.userId, name: p.name },
        id,
        body.decision,
        body.comment ?? null,
        "portal",
      ),
    );
    return c.json(decided);
  });

  route(app, createApprovalLink, async (c, { params: { id }, body }) => {
    const created = unwrap(
      await tenant(c.env, c.var.principal.tenantId).createApprovalLink(
        { approvalId: id, contactId: body.contactId, ttlSeconds: body.ttlSeconds ?? 30 * 60 },
        by(c),
      ),
    );
    const url = `${new URL(c.req.url).origin}/approve/${created.token}`;
    return c.json({ url, token: created.token, expiresAt: created.expiresAt }, 201);
  });

  route(app, readApprovalLink, async (c, { params }) => {
    const { tenantId, hash } = linkToken(params.token);
    const t = tenant(c.env, tenantId);
    const link = unwrap(await t.approvalLink(hash));
    return c.json({
      approval: await fleet(c.env, tenantId).getApproval(link.approvalId, link.clientId),
      contact: { id: link.contactId, name: link.contactName },
    });
  });

  route(app, decideByLink, async (c, { params, body }) => {
    const { tenantId, hash } = linkToken(params.token);
    const t = tenant(c.env, tenantId);
    const link = unwrap(await t.approvalLink(hash));
    const decided = unwrap(
      await session(c.env, link.sessionId).decide(
        { tenantId, clientId: link.clientId },
        { id: link.contactId, name: link.contactName },
        link.approvalId,
        body.decision,
        body.comment ?? null,
        "link",
      ),
    );
    await t.useApprovalLink(hash);
    return c.json(decided);
  });

  route(app, listWebhooks, async (c) => {
    const t = tenant(c.env, c.var.principal.tenantId);
    return c.json({ webhooks: await t.listWebhooks(), deliveries: await t.webhookDeliveries(50) });
  });

  route(app, addWebhook, async (c, { body }) => {
    return c.json(await tenant(c.env, c.var.principal.tenantId).createWebhook(body, by(c)), 201);
  });

  route(app, deleteWebhook, async (c, { params: { id } }) => {
    unwrap(await tenant(c.env, c.var.principal.tenantId).removeWebhook(id, by(c)));
    return c.body(null, 204);
  });
}

// Client approval gates: the pending list and decisions (client contacts), one-time approval links (anyone holding
// one, for that one approval only), and the organization's outbound webhooks that announce requests.

import { ApprovalLinkBody, DecisionBody, idPattern, WebhookBody } from "@caisey/core";
import type { Context, Hono } from "hono";
import { type AppEnv, by, scope } from "../auth.ts";
import { fleet, session, tenant } from "../env.ts";
import { HttpError, intParam, readJson, unwrap } from "../http.ts";
import { parseToken } from "../tokens.ts";
import { EVERYONE, OWNERS, route, STAFF } from "./table.ts";

const CONTACTS = ["contact"] as const;

function approvalId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!idPattern("apr").test(id)) throw new HttpError(404, "not_found", "approval not found");
  return id;
}

/** A one-time link's token from the path: it names its tenant, and only its hash is stored. */
function linkToken(c: Context<AppEnv>) {
  const parsed = parseToken(c.req.param("token") ?? "", "csa");
  if (!parsed) throw new HttpError(404, "not_found", "this approval link is not valid");
  return parsed;
}

export function approvalRoutes(app: Hono<AppEnv>): void {
  route(app, "get", "/api/v1/approvals", EVERYONE, async (c) => {
    const state = c.req.query("state") ?? null;
    if (state !== null && !["pending", "granted", "declined", "expired", "withdrawn"].includes(state)) {
      throw new HttpError(400, "invalid_query", "state must be pending, granted, declined, expired or withdrawn");
    }
    const view = scope(c);
    const limit = intParam(c, "limit", 100, 500) || 100;
    return c.json({
      approvals: await fleet(c.env, view.tenantId).listApprovals({ state, clientId: view.clientId, limit }),
    });
  });

  route(app, "get", "/api/v1/approvals/:id", EVERYONE, async (c) => {
    const view = scope(c);
    const approval = await fleet(c.env, view.tenantId).getApproval(approvalId(c), view.clientId);
    if (!approval) throw new HttpError(404, "not_found", "approval not found");
    return c.json({ approval });
  });

  // Only a contact of the machine's client decides; staff (technicians included) never approve their own work.
  route(app, "post", "/api/v1/approvals/:id/decision", CONTACTS, async (c) => {
    const id = approvalId(c);
    const body = await readJson(c, DecisionBody);
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

  route(app, "post", "/api/v1/approvals/:id/link", STAFF, async (c) => {
    const id = approvalId(c);
    const body = await readJson(c, ApprovalLinkBody);
    const created = unwrap(
      await tenant(c.env, c.var.principal.tenantId).createApprovalLink(
        { approvalId: id, contactId: body.contactId, ttlSeconds: body.ttlSeconds ?? 30 * 60 },
        by(c),
      ),
    );
    const url = `${new URL(c.req.url).origin}/approve/${created.token}`;
    return c.json({ url, token: created.token, expiresAt: created.expiresAt }, 201);
  });

  route(app, "get", "/api/v1/approval-links/:token", "public", async (c) => {
    const { tenantId, hash } = linkToken(c);
    const t = tenant(c.env, tenantId);
    const link = unwrap(await t.approvalLink(hash));
    return c.json({
      approval: await fleet(c.env, tenantId).getApproval(link.approvalId, link.clientId),
      contact: { id: link.contactId, name: link.contactName },
    });
  });

  route(app, "post", "/api/v1/approval-links/:token/decision", "public", async (c) => {
    const { tenantId, hash } = linkToken(c);
    const body = await readJson(c, DecisionBody);
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

  route(app, "get", "/api/v1/webhooks", OWNERS, async (c) => {
    const t = tenant(c.env, c.var.principal.tenantId);
    return c.json({ webhooks: await t.listWebhooks(), deliveries: await t.webhookDeliveries(50) });
  });

  route(app, "post", "/api/v1/webhooks", OWNERS, async (c) => {
    const body = await readJson(c, WebhookBody);
    return c.json(await tenant(c.env, c.var.principal.tenantId).createWebhook(body, by(c)), 201);
  });

  route(app, "post", "/api/v1/webhooks/:id/delete", OWNERS, async (c) => {
    const id = c.req.param("id") ?? "";
    if (!idPattern("whk").test(id)) throw new HttpError(404, "not_found", "webhook not found");
    unwrap(await tenant(c.env, c.var.principal.tenantId).removeWebhook(id, by(c)));
    return c.body(null, 204);
  });
}

// Client approval gates: the pending list and decisions (client contacts), one-time approval links (anyone holding
// one, for that one approval only), and the organization's outbound webhooks that announce requests.

import type { CommandState } from "../record.ts";
import type { Approval } from "../views.ts";
import { answer, CONTACTS, defineRoute, EVERYONE, OWNERS, STAFF } from "./define.ts";

type Decided = { state: string; commandState: CommandState };

export const listApprovals = defineRoute({
  method: "get",
  path: "/api/v1/approvals",
  access: EVERYONE,
  query: "ApprovalListQuery",
  answer: answer<{ approvals: Approval[] }>(),
});

export const getApproval = defineRoute({
  method: "get",
  path: "/api/v1/approvals/:id",
  access: EVERYONE,
  params: { id: "apr" },
  answer: answer<{ approval: Approval }>(),
});

export const decideApproval = defineRoute({
  method: "post",
  path: "/api/v1/approvals/:id/decision",
  access: CONTACTS,
  params: { id: "apr" },
  body: "DecisionBody",
  answer: answer<Decided>(),
});

export const createApprovalLink = defineRoute({
  method: "post",
  path: "/api/v1/approvals/:id/link",
  access: STAFF,
  params: { id: "apr" },
  body: "ApprovalLinkBody",
  answer: answer<{ url: string; token: string; expiresAt: string }>(),
});

/** The link's token names its tenant and is checked by the route itself: a malformed one is "not valid". */
export const readApprovalLink = defineRoute({
  method: "get",
  path: "/api/v1/approval-links/:token",
  access: "public",
  answer: answer<{ approval: Approval; contact: { id: string; name: string } }>(),
});

export const decideByLink = defineRoute({
  method: "post",
  path: "/api/v1/approval-links/:token/decision",
  access: "public",
  body: "DecisionBody",
  answer: answer<Decided>(),
});

export const listWebhooks = defineRoute({
  method: "get",
  path: "/api/v1/webhooks",
  access: OWNERS,
  answer: answer<{ webhooks: Record<string, unknown>[]; deliveries: Record<string, unknown>[] }>(),
});

export const addWebhook = defineRoute({
  method: "post",
  path: "/api/v1/webhooks",
  access: OWNERS,
  body: "WebhookBody",
  answer: answer<{ id: string; secret: string; url: string; events: string[] }>(),
});

export const deleteWebhook = defineRoute({
  method: "post",
  path: "/api/v1/webhooks/:id/delete",
  access: OWNERS,
  params: { id: "whk" },
  answer: answer<void>(),
});

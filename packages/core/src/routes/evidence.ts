// Evidence for third parties: a session's readable exports, and read-only share links for someone with no account.

import type { SharedRecord } from "../evidence/share.ts";
import { answer, defineRoute, EVERYONE } from "./define.ts";

/** A share link as its session's page lists it (its token is shown once, when it is created). */
export interface ShareLink {
  id: string;
  sessionId: string;
  includeOutput: boolean;
  includeNotes: boolean;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

/** `format=pdf`: the readable report (application/pdf); `format=asciicast`: asciicast v2 (application/x-asciicast). */
export const exportSession = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/export",
  access: EVERYONE,
  params: { id: "ses" },
  query: "ExportQuery",
  answer: answer<void>(),
});

export const createShare = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/shares",
  access: EVERYONE,
  params: { id: "ses" },
  body: "ShareBody",
  answer: answer<{ id: string; url: string; token: string; expiresAt: string }>(),
});

export const listShares = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/shares",
  access: EVERYONE,
  params: { id: "ses" },
  answer: answer<{ shares: ShareLink[] }>(),
});

/** Whoever holds the link: no credentials; 410 once revoked or expired. */
export const readShare = defineRoute({
  method: "get",
  path: "/api/v1/shares/:token",
  access: "public",
  query: "ShareQuery",
  answer: answer<SharedRecord>(),
});

export const revokeShare = defineRoute({
  method: "post",
  path: "/api/v1/shares/:id/revoke",
  access: EVERYONE,
  params: { id: "shr" },
  answer: answer<void>(),
});

// Bearer secrets name their tenant so a request can be routed to the one Tenant object that can check it; only a
// SHA-256 of the whole token is stored (the secret part has 256 bits, so a fast hash is enough).

import { randomBytes, toBase64Url } from "@caisey/core";
import { sha256Hex } from "./crypto.ts";

export type TokenKind = "cst" | "cse" | "csa" | "css"; // access token, enrollment token, one-time approval link, share link

const PATTERN = /^(cst|cse|csa|css)_(ten_[a-z2-7]{20})_([A-Za-z0-9_-]{43})$/;

export function newToken(kind: TokenKind, tenantId: string): { token: string; hash: string } {
  const token = `${kind}_${tenantId}_${toBase64Url(randomBytes(32))}`;
  return { token, hash: sha256Hex(token) };
}

export function parseToken(token: string, kind: TokenKind): { tenantId: string; hash: string } | null {
  const match = PATTERN.exec(token);
  if (!match || match[1] !== kind) return null;
  return { tenantId: match[2] as string, hash: sha256Hex(token) };
}

// The one place exports and share links read a session's seal (DESIGN.md, Evidence: `GET …/seal`), from the tenant's
// transparency log. A session not sealed yet (open, or its seal still on the way to the log) reads as null, and every
// reader says "not sealed yet" plainly rather than implying a seal that is not there.

import type { SessionSeal } from "@caisey/core";
import { type Env, transparencyLog } from "../env.ts";
import { unwrap } from "../http.ts";

/** How to check the record's hash chain by hand, which holds with or without a seal. */
export const HOW_TO_CHECK_CHAIN =
  'h0 = SHA-256("caisey-session-v1\\n" + session id); for each record line i: h_i = SHA-256(h_(i-1) || SHA-256(line_i)), over raw 32-byte digests (a redacted line {"seq","redacted"} gives SHA-256(line_i) itself). The last h_i must equal the record\'s fingerprint above.';

export async function sessionSeal(env: Env, tenantId: string, sessionId: string): Promise<SessionSeal | null> {
  const found = await transparencyLog(env, tenantId).sealOf(tenantId, sessionId);
  return found.ok ? found.value : null;
}

/** The tenant's log key in the signed-note verifier-key format, as `GET /api/v1/log/key` publishes it. */
export async function logVerifierKey(env: Env, tenantId: string): Promise<string> {
  return unwrap(await transparencyLog(env, tenantId).publicKey(tenantId)).vkey;
}

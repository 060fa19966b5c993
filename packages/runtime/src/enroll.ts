// Enrollment: make an Ed25519 key pair, trade an enrollment token and the public key for a machine id and the tenant's
// signing key, keep them all. The signing key is pinned here: from now on only dispatches it signed are run.

import { generateKeyPairSync } from "node:crypto";
import type { MachineFacts } from "@caisey/core";
import { hasConfig, RuntimeConfig, writeConfig } from "./config.ts";
import { isSigningKey } from "./signing.ts";

export interface EnrollOptions {
  server: string;
  token: string;
  dataDir: string;
  force?: boolean;
  facts: MachineFacts;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export type EnrollResult = { ok: true; config: RuntimeConfig } | { ok: false; message: string };

/** `http://host:8787/` → `http://host:8787`; only http(s). */
export function normalizeServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`invalid server URL: ${server}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`server URL must be http(s): ${server}`);
  if (url.search || url.hash) throw new Error(`server URL must not have a query or fragment: ${server}`);
  return url.toString().replace(/\/+$/, "");
}

export function generateIdentity(): { privateKeyPem: string; publicKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new Error("Ed25519 public key has no x");
  return { privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), publicKey: jwk.x };
}

export async function enroll(options: EnrollOptions): Promise<EnrollResult> {
  let server: string;
  try {
    server = normalizeServer(options.server);
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
  if (!options.force && (await hasConfig(options.dataDir))) {
    return {
      ok: false,
      message: `${options.dataDir} already holds an enrollment; use --force to replace it (the old machine identity is lost)`,
    };
  }
  const identity = generateIdentity();
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(`${server}/api/v1/runtime/enroll`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ token: options.token, publicKey: identity.publicKey, facts: options.facts }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return { ok: false, message: `cannot reach ${server}: ${cause ?? (error as Error).message}` };
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.status !== 201) {
    const message = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
    return {
      ok: false,
      message: typeof message === "string" ? message : `server answered ${response.status} ${response.statusText}`,
    };
  }
  const answer = body as { machineId?: unknown; tenantId?: unknown; signingKey?: unknown } | undefined;
  if (typeof answer?.machineId !== "string" || typeof answer.tenantId !== "string") {
    return { ok: false, message: "server answered 201 without machineId and tenantId" };
  }
  if (!isSigningKey(answer.signingKey)) {
    // Without the tenant's key the runtime could not tell the tenant's commands from anyone's: refuse to enroll.
    return { ok: false, message: "the server did not provide a signing key" };
  }
  const config: RuntimeConfig = {
    server,
    machineId: answer.machineId,
    tenantId: answer.tenantId,
    privateKey: identity.privateKeyPem,
    publicKey: identity.publicKey,
    signingKey: answer.signingKey,
    enrolledAt: new Date().toISOString(),
  };
  const valid = RuntimeConfig.safeParse(config);
  if (!valid.success) {
    return { ok: false, message: `server answered with an unusable enrollment: ${valid.error.issues[0]?.message}` };
  }
  try {
    await writeConfig(options.dataDir, config);
  } catch (error) {
    return { ok: false, message: `enrolled as ${config.machineId} but could not save: ${(error as Error).message}` };
  }
  return { ok: true, config };
}

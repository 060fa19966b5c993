// Private keys at rest: every private key an object stores (the tenant's dispatch-signing key; the log key that seals
// sessions) is kept wrapped with the deployment's secret, CAISEY_KEY_SECRET, so reading the objects' SQLite files
// (CAISEY_DATA) is not enough to sign a command. AES-256-GCM under a key derived per purpose with HKDF-SHA-256, so a
// wrapped key only opens under the secret and for the purpose (and tenant) it was wrapped for. While
// CAISEY_KEY_SECRET_PREVIOUS is set, keys wrapped under it still open and are reported stale, for the owner of the key
// to wrap again under the current secret (README: rotating the key secret).

import { fromBase64Url, randomBytes, toBase64Url, utf8 } from "@caisey/core";
import { sha256Hex } from "./crypto.ts";
import type { Env } from "./env.ts";
import { fail, ok, type Result } from "./result.ts";

/** Shorter secrets are refused: the secret is the only thing between a copied data dir and every tenant's keys. */
export const KEY_SECRET_MIN_LENGTH = 32;
const FORMAT = "caisey-wrap-v1";

interface Secret {
  /** Names the secret in a wrapped key without revealing it, so a rotation knows which one opens it. */
  id: string;
  material: Uint8Array<ArrayBuffer>;
}

function secret(value: string): Secret {
  return {
    id: sha256Hex(`caisey key secret id\n${value}`).slice(0, 16),
    material: utf8(value) as Uint8Array<ArrayBuffer>,
  };
}

/** The deployment's key secrets: the current one, and the previous one while a rotation is under way. */
export function keySecrets(env: Env): Result<{ current: Secret; previous: Secret | null }> {
  const current = env.CAISEY_KEY_SECRET ?? "";
  if (current.length < KEY_SECRET_MIN_LENGTH)
    return fail(
      503,
      "key_secret_missing",
      `CAISEY_KEY_SECRET must be set to ${KEY_SECRET_MIN_LENGTH} or more characters (private keys are stored wrapped with it)`,
    );
  const previous = env.CAISEY_KEY_SECRET_PREVIOUS;
  return ok({ current: secret(current), previous: previous ? secret(previous) : null });
}

async function aesKey(s: Secret, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", s.material, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: utf8(FORMAT) as Uint8Array<ArrayBuffer>, info: utf8(purpose) },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Whether a stored key is already wrapped under the current secret (false: clear, or under the previous secret). */
export function wrappedUnderCurrent(env: Env, wrapped: string | null): boolean {
  const secrets = keySecrets(env);
  return !secrets.ok || (wrapped?.split(".")[1] ?? null) === secrets.value.current.id;
}

/** `plaintext` wrapped under the current secret for `purpose` (say `signing-key:<tenantId>`), as text to store. */
export async function wrapKey(env: Env, purpose: string, plaintext: Uint8Array): Promise<Result<string>> {
  const secrets = keySecrets(env);
  if (!secrets.ok) return secrets;
  const iv = randomBytes(12) as Uint8Array<ArrayBuffer>;
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(purpose) as Uint8Array<ArrayBuffer> },
    await aesKey(secrets.value.current, purpose),
    plaintext as Uint8Array<ArrayBuffer>,
  );
  return ok([FORMAT, secrets.value.current.id, toBase64Url(iv), toBase64Url(new Uint8Array(sealed))].join("."));
}

/**
 * The key `wrapKey` wrapped, and whether it was wrapped under the previous secret (`stale`: wrap it again). A key
 * wrapped under neither secret, or altered, is refused with a clear error: nothing is ever signed with a guess.
 */
export async function unwrapKey(
  env: Env,
  purpose: string,
  wrapped: string,
): Promise<Result<{ plaintext: Uint8Array; stale: boolean }>> {
  const secrets = keySecrets(env);
  if (!secrets.ok) return secrets;
  const [format, id, iv, sealed] = wrapped.split(".");
  if (format !== FORMAT || !id || !iv || !sealed)
    return fail(503, "key_unreadable", `a stored private key for ${purpose} is not in the ${FORMAT} format`);
  const { current, previous } = secrets.value;
  const under = [current, previous].find((s) => s?.id === id);
  if (!under)
    return fail(
      503,
      "key_secret_mismatch",
      `the private key for ${purpose} was wrapped with another CAISEY_KEY_SECRET (id ${id}); start the server with that secret, or with it as CAISEY_KEY_SECRET_PREVIOUS to rotate`,
    );
  try {
    const plaintext = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: fromBase64Url(iv) as Uint8Array<ArrayBuffer>,
        additionalData: utf8(purpose) as Uint8Array<ArrayBuffer>,
      },
      await aesKey(under, purpose),
      fromBase64Url(sealed) as Uint8Array<ArrayBuffer>,
    );
    return ok({ plaintext: new Uint8Array(plaintext), stale: under !== current });
  } catch {
    return fail(503, "key_unreadable", `the stored private key for ${purpose} does not open: it was altered`);
  }
}

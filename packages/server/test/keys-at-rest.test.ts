// Private keys at rest (issue 11): the tenant's signing key is stored wrapped with the deployment's key secret, a
// server with another secret (or none) refuses to sign rather than sign with a guess, a rotation wraps it again, and
// a key an earlier release kept in the clear is wrapped on first use.

import { env, runInDurableObject } from "cloudflare:test";
import { fromBase64Url, newId, utf8 } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { tenant } from "../src/env.ts";
import { TENANT_MIGRATIONS, Tenant } from "../src/objects/tenant.ts";
import { call, everythingStored, json, ownerOnce, previousRelease } from "./harness.ts";

const owner = ownerOnce("olivia@keys.test");
const NEW_SECRET = "the-rotated-key-secret-0123456789abcdef";
const OTHER_SECRET = "some-other-deployments-secret-0123456789";

async function tenantId(): Promise<string> {
  return (await json(await call("/api/v1/me", { token: await owner() }), 200)).user.tenantId;
}

function storedKey(state: DurableObjectState) {
  return state.storage.sql
    .exec<{ private_jwk: string; private_wrapped: string | null; public_raw: string }>(
      "SELECT private_jwk, private_wrapped, public_raw FROM signing_key",
    )
    .one();
}

/** Does `signature` verify against the tenant's public key, as a runtime that pinned it checks? */
async function verifies(publicRaw: string, message: string, signature: string): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", fromBase64Url(publicRaw), { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64Url(signature), utf8(message));
}

async function signsVerifiably(t: Tenant, state: DurableObjectState): Promise<boolean> {
  const signed = await t.sign("caisey-dispatch-v1\nexample");
  if (!signed.ok) throw new Error(signed.message);
  return verifies(storedKey(state).public_raw, "caisey-dispatch-v1\nexample", signed.value);
}

describe("the tenant's signing key at rest", () => {
  it("holds no clear private key in the tenant's SQLite after setup, and still signs", async () => {
    await runInDurableObject(tenant(env, await tenantId()), async (instance: Tenant, state) => {
      const everything = everythingStored(state);
      expect(everything).not.toMatch(/\\"d\\":/);
      expect(everything).not.toMatch(/"kty"/);
      expect(storedKey(state)).toMatchObject({
        private_jwk: "",
        private_wrapped: expect.stringMatching(/^caisey-wrap-v1\./),
      });
      expect(await signsVerifiably(instance, state)).toBe(true);
    });
  });

  it("refuses to sign, saying why, with another key secret, without one, or when the stored key was altered", async () => {
    await runInDurableObject(tenant(env, await tenantId()), async (_instance: Tenant, state) => {
      const id = /^caisey-wrap-v1\.([0-9a-f]{16})\./.exec(storedKey(state).private_wrapped as string)?.[1];
      expect(await new Tenant(state, { ...env, CAISEY_KEY_SECRET: OTHER_SECRET }).sign("m")).toEqual({
        ok: false,
        status: 503,
        code: "key_secret_mismatch",
        message: expect.stringContaining(`was wrapped with another CAISEY_KEY_SECRET (id ${id})`),
      });
      expect(await new Tenant(state, { ...env, CAISEY_KEY_SECRET: undefined }).sign("m")).toMatchObject({
        ok: false,
        code: "key_secret_missing",
        message: "CAISEY_KEY_SECRET must be set to 32 or more characters (private keys are stored wrapped with it)",
      });
      const wrapped = storedKey(state).private_wrapped as string;
      const altered = wrapped.slice(0, -2) + (wrapped.endsWith("AA") ? "BB" : "AA");
      state.storage.sql.exec("UPDATE signing_key SET private_wrapped = ?", altered);
      expect(await new Tenant(state, env).sign("m")).toMatchObject({ ok: false, code: "key_unreadable" });
      state.storage.sql.exec("UPDATE signing_key SET private_wrapped = ?", wrapped);
      expect(await signsVerifiably(new Tenant(state, env), state)).toBe(true);
    });
  });

  it("rotates: with the old secret as CAISEY_KEY_SECRET_PREVIOUS, the key is wrapped again under the new one", async () => {
    await runInDurableObject(tenant(env, await tenantId()), async (_instance: Tenant, state) => {
      const before = storedKey(state);
      const rotating = { ...env, CAISEY_KEY_SECRET: NEW_SECRET, CAISEY_KEY_SECRET_PREVIOUS: env.CAISEY_KEY_SECRET };
      expect(await signsVerifiably(new Tenant(state, rotating), state)).toBe(true);
      const after = storedKey(state);
      expect(after.public_raw).toBe(before.public_raw); // the same key: runtimes keep the one they pinned
      expect(after.private_wrapped).not.toBe(before.private_wrapped);
      // The old secret is no longer needed, and no longer enough.
      expect(await signsVerifiably(new Tenant(state, { ...env, CAISEY_KEY_SECRET: NEW_SECRET }), state)).toBe(true);
      expect(await new Tenant(state, env).sign("m")).toMatchObject({ ok: false, code: "key_secret_mismatch" });
      // Rotated back, for the tests after this one.
      const back = { ...env, CAISEY_KEY_SECRET_PREVIOUS: NEW_SECRET };
      expect(await signsVerifiably(new Tenant(state, back), state)).toBe(true);
    });
  });

  it("wraps a key an earlier release kept in the clear on first use, and keeps signing with it", async () => {
    const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const clear = JSON.stringify(await crypto.subtle.exportKey("jwk", keys.privateKey));
    const publicRaw = new Uint8Array((await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer);
    const id = newId("ten");
    await runInDurableObject(tenant(env, id), async (_instance: Tenant, state) => {
      await previousRelease(state, TENANT_MIGRATIONS, TENANT_MIGRATIONS.length - 1, (sql) => {
        sql.exec(
          "INSERT INTO organization (id, name, created_at) VALUES (?, 'Northwind IT', '2026-03-01T09:00:00Z')",
          id,
        );
        sql.exec(
          "INSERT INTO signing_key (id, private_jwk, public_raw, created_at) VALUES (1, ?, ?, '2026-03-01T09:00:00Z')",
          clear,
          Buffer.from(publicRaw).toString("base64url"),
        );
      });
    });
    await runInDurableObject(tenant(env, id), async (_instance: Tenant, state) => {
      const upgraded = new Tenant(state, env);
      expect(upgraded.signingKey()).toBe(Buffer.from(publicRaw).toString("base64url"));
      expect(await signsVerifiably(upgraded, state)).toBe(true);
      expect(storedKey(state)).toMatchObject({
        private_jwk: "",
        private_wrapped: expect.stringMatching(/^caisey-wrap-v1\./),
      });
    });
  });
});

// Sign-in under abuse (issue 11): made-up emails lock nobody out, a client-sent address is believed only where the
// deployment has an edge that sets it, a flood of logins cannot stall the server on password hashing, and the
// operator's secret is throttled like a password.

import { THROTTLE } from "@caisey/core";
import { describe, expect, it, vi } from "vitest";
import { DUMMY_PASSWORD_HASH, HASHING, hashingFreeAt, verifyPassword } from "../src/crypto.ts";
import { call, callWith, json, ownerOnce, PASSWORD } from "./harness.ts";

const owner = ownerOnce("olivia@hostile.test");
const BEHIND_EDGE = { CAISEY_TRUSTED_ADDRESS_HEADER: "cf-connecting-ip" };
const OPERATOR = "operator-secret-for-the-server-tests";

const login = (email: string, password = PASSWORD, headers: Record<string, string> = {}) =>
  call("/api/v1/auth/login", { body: { email, password }, headers });

async function addTechnician(email: string) {
  await json(
    await call("/api/v1/users", {
      token: await owner(),
      body: { name: "Tess Tech", email, role: "technician", password: PASSWORD },
    }),
    201,
  );
}

async function signInAudit(email: string) {
  const { entries } = await json(await call("/api/v1/audit?limit=500", { token: await owner() }), 200);
  return (entries as any[]).filter((e) => e.action.startsWith("sign_in.") && e.detail.email === email);
}

describe("sign-in under abuse", () => {
  it("locally, twenty failed logins with made-up emails lock nobody out", async () => {
    await addTechnician("tess@hostile.test");
    for (let i = 0; i < 20; i++) expect((await login(`made-up-${i}@nowhere.test`, "wrong password!")).status).toBe(401);
    expect((await login("tess@hostile.test")).status).toBe(200);
  }, 120_000); // twenty-one scrypt hashes, one after another

  it("locally, a rotating cf-connecting-ip neither escapes an account's slowdown nor reaches the audit log", async () => {
    await addTechnician("tom@hostile.test");
    for (let i = 0; i < THROTTLE.allowance.account; i++)
      expect(
        (await login("tom@hostile.test", "wrong password!", { "cf-connecting-ip": `198.51.100.${i}` })).status,
      ).toBe(401);
    const slowed = await login("tom@hostile.test", "wrong password!", { "cf-connecting-ip": "198.51.100.77" });
    expect(slowed.status).toBe(429);
    expect(slowed.headers.get("retry-after")).toBe("1");
    const audit = await signInAudit("tom@hostile.test");
    expect(audit.map((e) => [e.action, e.address])).toEqual(
      Array.from({ length: THROTTLE.allowance.account }, () => ["sign_in.failed", null]),
    );
  });

  it("behind Cloudflare's edge, the edge's address is the one in the audit log and counts per address", async () => {
    await addTechnician("tara@hostile.test");
    const res = await callWith(BEHIND_EDGE, "/api/v1/auth/login", {
      body: { email: "tara@hostile.test", password: PASSWORD },
      headers: { "cf-connecting-ip": "203.0.113.9" },
    });
    await json(res, 200);
    expect((await signInAudit("tara@hostile.test")).map((e) => [e.action, e.address])).toEqual([
      ["sign_in.succeeded", "203.0.113.9"],
    ]);
    // A value that is not one address (a list, a name) is no address.
    await json(
      await callWith(BEHIND_EDGE, "/api/v1/auth/login", {
        body: { email: "tara@hostile.test", password: PASSWORD },
        headers: { "cf-connecting-ip": "203.0.113.9, 10.0.0.1" },
      }),
      200,
    );
    expect((await signInAudit("tara@hostile.test"))[0].address).toBeNull();
  });

  it("hashes one password at a time, lets eight callers wait, and answers the rest 429 busy at once", async () => {
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThanOrEqual(hashingFreeAt()), { timeout: 10_000 });
    const checks = await Promise.allSettled(
      Array.from({ length: 20 }, () => verifyPassword("wrong password!", DUMMY_PASSWORD_HASH)),
    );
    expect(checks.filter((c) => c.status === "fulfilled").map((c) => c.value)).toEqual(
      Array.from({ length: HASHING.concurrent + HASHING.waiting }, () => false),
    );
    expect(
      checks.flatMap((c) => (c.status === "rejected" ? [[c.reason.status, c.reason.code, c.reason.headers]] : [])),
    ).toEqual(Array.from({ length: 20 - 9 }, () => [429, "busy", { "retry-after": "1" }]));
    // Capacity comes back as the hashes finish.
    expect(await verifyPassword("wrong password!", DUMMY_PASSWORD_HASH)).toBe(false);
  });
});

describe("the operator's secret", () => {
  const createTenant = (secret: string, email: string, settings = {}) =>
    callWith(settings, "/api/v1/tenants", {
      headers: { authorization: `Bearer ${secret}` },
      body: { organization: "Fabrikam MSP", name: "Bea", email, password: PASSWORD },
    });

  it("is refused when shorter than 32 characters", async () => {
    expect(
      await json(await createTenant("short-secret", "bea@short.test", { CAISEY_OPERATOR_TOKEN: "short-secret" }), 503),
    ).toEqual({
      error: { code: "operator_token_too_short", message: "CAISEY_OPERATOR_TOKEN must be 32 or more characters" },
    });
  });

  it("slows down after ten wrong guesses, then the right secret gets in once the delay has passed", async () => {
    for (let i = 0; i < THROTTLE.allowance.operator; i++)
      expect((await createTenant(`guess-${i}-${"x".repeat(32)}`, "bea@guess.test")).status).toBe(401);
    const slowed = await createTenant(OPERATOR, "bea@guess.test");
    expect(slowed.status).toBe(429);
    expect(slowed.headers.get("retry-after")).toBe("1");
    await vi.waitFor(async () => expect((await createTenant(OPERATOR, "bea@guess.test")).status).toBe(201), {
      timeout: 10_000,
      interval: 250,
    });
  });
});

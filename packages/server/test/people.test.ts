// Sign-in done properly: throttling, tokens scoped and revocable, disabling and password changes that take effect at
// once, the last owner kept, and every such act in the audit log.

import { THROTTLE } from "@caisey/core";
import { describe, expect, it, vi } from "vitest";
import { call, callWith, json, ownerOnce, PASSWORD } from "./harness.ts";

const owner = ownerOnce("olivia@people.test");

async function addStaff(token: string, email: string, role: string) {
  return (
    await json(await call("/api/v1/users", { token, body: { name: role, email, role, password: PASSWORD } }), 201)
  ).id as string;
}
// Signing in as on Cloudflare, where the edge's CF-Connecting-IP is the client's address (hostile-sign-in.test.ts has
// the same without an edge, as `npm start` runs).
const BEHIND_EDGE = { CAISEY_TRUSTED_ADDRESS_HEADER: "cf-connecting-ip" };
const login = (email: string, password = PASSWORD) =>
  callWith(BEHIND_EDGE, "/api/v1/auth/login", {
    body: { email, password },
    headers: { "cf-connecting-ip": `10.0.0.${email.length}` },
  });

describe("people, tokens and sign-in", () => {
  it("slows an account down after five wrong passwords with 429 and Retry-After; the right password waits too, then gets in", async () => {
    const token = await owner();
    await addStaff(token, "tina@people.test", "technician");
    for (let i = 0; i < THROTTLE.allowance.account; i++)
      expect((await login("tina@people.test", "wrong password!")).status).toBe(401);
    const slowed = await login("tina@people.test", "wrong password!");
    expect(slowed.status).toBe(429);
    expect(slowed.headers.get("retry-after")).toBe("1");
    expect(((await slowed.json()) as any).error.code).toBe("too_many_attempts");
    expect((await login("tina@people.test")).status).toBe(429);
    // Another account is unaffected.
    expect((await login("olivia@people.test")).status).toBe(200);
    // Never locked: once the delay has passed, the owner of the account signs in.
    await vi.waitFor(async () => expect((await login("tina@people.test")).status).toBe(200), {
      timeout: 10_000,
      interval: 250,
    });
  });

  it("behind Cloudflare's edge, slows an address spraying many accounts", async () => {
    const spray = (i: number) =>
      callWith(BEHIND_EDGE, "/api/v1/auth/login", {
        body: { email: `nobody${i}@people.test`, password: "wrong password!" },
        headers: { "cf-connecting-ip": "192.0.2.99" },
      });
    for (let i = 0; i < THROTTLE.allowance.address; i++) expect((await spray(i)).status).toBe(401);
    const slowed = await spray(99);
    expect(slowed.status).toBe(429);
    expect(slowed.headers.get("retry-after")).toBe("1");
  });

  it("disabling a person revokes every token at once; re-enabling does not bring them back", async () => {
    const token = await owner();
    const id = await addStaff(token, "dan@people.test", "dispatcher");
    const dan = ((await json(await login("dan@people.test"), 200)) as any).token;
    const api = (await json(await call("/api/v1/tokens", { token: dan, body: { name: "report script" } }), 201)).token;
    expect((await call("/api/v1/machines", { token: api })).status).toBe(200);
    await json(await call(`/api/v1/users/${id}`, { token, body: { disabled: true } }), 200);
    for (const t of [dan, api]) expect((await call("/api/v1/machines", { token: t })).status).toBe(401);
    expect((await login("dan@people.test")).status).toBe(401);
    await json(await call(`/api/v1/users/${id}`, { token, body: { disabled: false } }), 200);
    expect((await call("/api/v1/machines", { token: dan })).status).toBe(401);
    expect((await login("dan@people.test")).status).toBe(200);
  });

  it("issues API tokens at most the creator's role, lists them without secrets, and revokes them", async () => {
    const token = await owner();
    await addStaff(token, "tom@people.test", "technician");
    const tom = ((await json(await login("tom@people.test"), 200)) as any).token;
    expect(await json(await call("/api/v1/tokens", { token: tom, body: { name: "x", role: "owner" } }), 403)).toEqual({
      error: { code: "role_too_high", message: "a technician may not issue a owner token" },
    });
    const issued = await json(
      await call("/api/v1/tokens", { token, body: { name: "read-only board", role: "dispatcher", ttlSeconds: 3600 } }),
      201,
    );
    expect(issued.role).toBe("dispatcher");
    // The token acts as a dispatcher: it can read sessions but not create people.
    expect((await call("/api/v1/sessions", { token: issued.token })).status).toBe(200);
    expect(
      (
        await call("/api/v1/users", {
          token: issued.token,
          body: { name: "x", email: "x@people.test", role: "owner", password: PASSWORD },
        })
      ).status,
    ).toBe(403);
    const { tokens } = await json(await call("/api/v1/tokens", { token }), 200);
    const listed = tokens.find((t: any) => t.id === issued.id);
    expect(listed).toMatchObject({ name: "read-only board", role: "dispatcher", revokedAt: null });
    expect(JSON.stringify(tokens)).not.toContain(issued.token);
    expect((await call(`/api/v1/tokens/${issued.id}/revoke`, { token, body: {} })).status).toBe(204);
    expect((await call("/api/v1/sessions", { token: issued.token })).status).toBe(401);
  });

  it("changing the password signs out everywhere else; sign out everywhere ends the caller's own token too", async () => {
    const token = await owner();
    await addStaff(token, "pat@people.test", "technician");
    const first = ((await json(await login("pat@people.test"), 200)) as any).token;
    const second = ((await json(await login("pat@people.test"), 200)) as any).token;
    expect(
      (
        await call("/api/v1/auth/password", {
          token: first,
          body: { currentPassword: "not it at all", newPassword: "a much newer passphrase" },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call("/api/v1/auth/password", {
          token: first,
          body: { currentPassword: PASSWORD, newPassword: "a much newer passphrase" },
        })
      ).status,
    ).toBe(204);
    expect((await call("/api/v1/me", { token: first })).status).toBe(200);
    expect((await call("/api/v1/me", { token: second })).status).toBe(401);
    expect((await login("pat@people.test")).status).toBe(401);
    expect((await login("pat@people.test", "a much newer passphrase")).status).toBe(200);
    expect((await call("/api/v1/auth/logout-all", { token: first, body: {} })).status).toBe(204);
    expect((await call("/api/v1/me", { token: first })).status).toBe(401);
  });

  it("keeps at least one active owner and records people changes in the audit log", async () => {
    const token = await owner();
    const { user } = await json(await call("/api/v1/me", { token }), 200);
    expect(await json(await call(`/api/v1/users/${user.id}`, { token, body: { role: "technician" } }), 409)).toEqual({
      error: { code: "last_owner", message: "the organization must keep at least one active owner" },
    });
    const { entries } = await json(await call("/api/v1/audit?limit=500", { token }), 200);
    const actions = new Set(entries.map((e: any) => e.action));
    for (const a of [
      "organization.created",
      "person.added",
      "sign_in.succeeded",
      "sign_in.failed",
      "person.disabled",
      "token.issued",
      "token.revoked",
      "person.password_changed",
      "tokens.revoked_all",
    ]) {
      expect([a, actions.has(a)]).toEqual([a, true]);
    }
    const failed = entries.find((e: any) => e.action === "sign_in.failed");
    expect(failed).toMatchObject({
      detail: { email: expect.any(String), reason: expect.any(String) },
      address: expect.any(String),
    });
  });

  it("filters the audit log on the server by actor, action and date range, paging within the filter", async () => {
    const token = await owner();
    const { entries: all } = await json(await call("/api/v1/audit?limit=500", { token }), 200);
    const page = async (query: string) =>
      (await json(await call(`/api/v1/audit?${query}`, { token }), 200)) as { entries: any[]; next: number | null };

    const added = await page("action=person.added&limit=500");
    expect(added.entries.map((e) => e.id)).toEqual(
      all.filter((e: any) => e.action === "person.added").map((e: any) => e.id),
    );
    expect(added.entries.length).toBeGreaterThan(1);
    // Paging stays inside the filter.
    const first = await page("action=person.added&limit=1");
    expect(first.entries.map((e) => e.id)).toEqual([added.entries[0].id]);
    const second = await page(`action=person.added&limit=1&before=${first.next}`);
    expect(second.entries.map((e) => e.id)).toEqual([added.entries[1].id]);

    const { user } = await json(await call("/api/v1/me", { token }), 200);
    const mine = await page(`actor=user:${user.id}&limit=500`);
    expect(mine.entries.map((e) => e.id)).toEqual(
      all.filter((e: any) => e.actor === `user:${user.id}`).map((e: any) => e.id),
    );
    expect(new Set(all.map((e: any) => e.actor)).size).toBeGreaterThan(1);

    // A date range: from inclusive, to exclusive; a date alone counts the whole (UTC) day.
    const middle = all[Math.floor(all.length / 2)];
    const since = await page(`from=${encodeURIComponent(middle.at)}&limit=500`);
    expect(since.entries.map((e) => e.id)).toEqual(all.filter((e: any) => e.at >= middle.at).map((e: any) => e.id));
    const until = await page(`to=${encodeURIComponent(middle.at)}&limit=500`);
    expect(until.entries.map((e) => e.id)).toEqual(all.filter((e: any) => e.at < middle.at).map((e: any) => e.id));
    const today = middle.at.slice(0, 10);
    expect((await page(`from=${today}&to=${today}&limit=500`)).entries.map((e) => e.id)).toEqual(
      all.filter((e: any) => e.at.startsWith(today)).map((e: any) => e.id),
    );
    expect((await page(`action=person.added&actor=system&limit=500`)).entries).toEqual([]);

    for (const bad of [
      "action=DROP TABLE",
      "actor=nobody",
      "from=yesterday",
      `from=${today}T10:00Z&to=${today}T09:00Z`,
    ]) {
      const res = await call(`/api/v1/audit?${bad.replace(/ /g, "%20")}`, { token });
      expect([bad, res.status]).toEqual([bad, bad.startsWith("from=2") ? 422 : 400]);
    }
  });
});

// The authorization matrix, generated from the route table: every route × every kind of caller, with the status
// each must get. A route added without a fixture here fails the suite, so no route ships without an access rule
// that is tested.

import { DEFINED_ROUTES } from "@caisey/core/routes";
import { describe, expect, it } from "vitest";
import "../src/index.ts"; // registers every route in the table
import { ROUTES } from "../src/routes/table.ts";
import { call, enrollMachine, json, PASSWORD } from "./harness.ts";

type Who = "anonymous" | "owner" | "dispatcher" | "technician" | "contact" | "contactOther" | "otherTenant";
const EVERYONE: Who[] = ["anonymous", "owner", "dispatcher", "technician", "contact", "contactOther", "otherTenant"];
const ROLE: Record<Who, string | null> = {
  anonymous: null,
  owner: "owner",
  dispatcher: "dispatcher",
  technician: "technician",
  contact: "contact",
  contactOther: "contact",
  otherTenant: "owner",
};

interface World {
  tokens: Record<Exclude<Who, "anonymous">, string>;
  emails: Record<Exclude<Who, "anonymous">, string>;
  clientX: string;
  machineM: string;
  machineSpare: string;
  sessionS: string;
  commandC: string;
  userSpare: string;
  enrollment: string;
  ownerApiToken: string;
  contactId: string;
  technicianId: string;
  approvalLink: string;
}

let n = 0;
const unique = () => `${Date.now().toString(36)}${n++}`;

/** A command on machine M awaiting the client's approval (the technician asked for it). */
async function pendingApproval(w: World): Promise<{ sessionId: string; approvalId: string }> {
  const { id } = await json(
    await call("/api/v1/sessions", { token: w.tokens.owner, body: { machineId: w.machineM } }),
    201,
  );
  const { approvalId } = await json(
    await call(`/api/v1/sessions/${id}/commands`, {
      token: w.tokens.owner,
      body: { command: "uptime", requireApproval: true },
    }),
    202,
  );
  return { sessionId: id, approvalId };
}

async function approvalLink(w: World): Promise<string> {
  const { approvalId } = await pendingApproval(w);
  return (
    await json(
      await call(`/api/v1/approvals/${approvalId}/link`, { token: w.tokens.owner, body: { contactId: w.contactId } }),
      201,
    )
  ).token;
}

/** A share link to session S, made by the owner. */
async function shareLink(w: World): Promise<{ id: string; token: string }> {
  return json(await call(`/api/v1/sessions/${w.sessionS}/shares`, { token: w.tokens.owner, body: {} }), 201);
}

/** A session on machine M with one queued command, opened by the owner. */
async function freshSession(w: World): Promise<{ id: string; commandId: string }> {
  const { id } = await json(
    await call("/api/v1/sessions", { token: w.tokens.owner, body: { machineId: w.machineM } }),
    201,
  );
  const { commandId } = await json(
    await call(`/api/v1/sessions/${id}/commands`, { token: w.tokens.owner, body: { command: "hostname" } }),
    202,
  );
  return { id, commandId };
}

interface Fixture {
  /** Path (and body) of the request; may prepare something first (a fresh resource for a state-changing call). */
  request: (
    w: World,
    who: Who,
  ) =>
    | Promise<{ path: string; body?: unknown; headers?: Record<string, string> }>
    | { path: string; body?: unknown; headers?: Record<string, string> };
  /** Status for a caller who is allowed. */
  ok: number;
  /** The target belongs to client X of tenant A: another tenant and a contact of another client get 404. */
  scoped?: boolean;
  /** The target belongs to tenant A but not to a client (people, tokens…): another tenant gets 404. */
  tenantOwned?: boolean;
  /** Per-role exceptions among allowed callers. */
  byRole?: Partial<Record<string, number>>;
  /** Sign in afresh for this call (the route ends the caller's token). */
  freshToken?: boolean;
  /** The other tenant's owner, allowed, reads their own tenant's resource, which answers this instead. */
  otherTenant?: number;
}

let sealedSession: Promise<string> | null = null;
/** A session of client X, closed (and so sealed): the tenant's log holds at least this seal. */
const closedSession = (w: World) =>
  (sealedSession ??= (async () => {
    const { id } = await json(
      await call("/api/v1/sessions", { token: w.tokens.owner, body: { machineId: w.machineM } }),
      201,
    );
    await json(await call(`/api/v1/sessions/${id}/close`, { token: w.tokens.owner, body: {} }), 200);
    return id as string;
  })());

const FIXTURES: Record<string, Fixture> = {
  "get /api/v1/search": { request: () => ({ path: "/api/v1/search?q=hostname" }), ok: 200 },
  "post /api/v1/search/rebuild": { request: () => ({ path: "/api/v1/search/rebuild", body: {} }), ok: 202 },
  "get /api/v1/setup": { request: () => ({ path: "/api/v1/setup" }), ok: 200 },
  "post /api/v1/setup": {
    request: () => ({
      path: "/api/v1/setup",
      body: { organization: "Again", name: "Eve", email: `eve${unique()}@x.test`, password: PASSWORD },
    }),
    ok: 409,
  },
  "post /api/v1/tenants": {
    // Callers' own tokens are not the operator secret.
    request: () => ({
      path: "/api/v1/tenants",
      body: { organization: "T", name: "T", email: `t${unique()}@x.test`, password: PASSWORD },
    }),
    ok: 401,
  },
  "post /api/v1/auth/login": {
    request: (w) => ({ path: "/api/v1/auth/login", body: { email: w.emails.owner, password: PASSWORD } }),
    ok: 200,
  },
  "post /api/v1/auth/logout": { request: () => ({ path: "/api/v1/auth/logout", body: {} }), ok: 204, freshToken: true },
  "post /api/v1/auth/logout-all": {
    request: () => ({ path: "/api/v1/auth/logout-all", body: {} }),
    ok: 204,
    freshToken: true,
  },
  "post /api/v1/auth/password": {
    request: () => ({ path: "/api/v1/auth/password", body: { currentPassword: PASSWORD, newPassword: PASSWORD } }),
    ok: 204,
    freshToken: true,
  },
  "get /api/v1/me": { request: () => ({ path: "/api/v1/me" }), ok: 200 },
  "get /api/v1/users": { request: () => ({ path: "/api/v1/users" }), ok: 200 },
  "post /api/v1/users": {
    request: () => ({
      path: "/api/v1/users",
      body: { name: "New Tech", email: `new${unique()}@x.test`, role: "technician", password: PASSWORD },
    }),
    ok: 201,
  },
  "post /api/v1/users/:id": {
    request: (w) => ({ path: `/api/v1/users/${w.userSpare}`, body: { name: `Spare ${unique()}` } }),
    ok: 200,
    tenantOwned: true,
  },
  "get /api/v1/clients/:id/contacts": {
    request: (w) => ({ path: `/api/v1/clients/${w.clientX}/contacts` }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/clients/:id/contacts": {
    request: (w) => ({
      path: `/api/v1/clients/${w.clientX}/contacts`,
      body: { name: "C", email: `c${unique()}@x.test`, password: PASSWORD },
    }),
    ok: 201,
    scoped: true,
  },
  "get /api/v1/tokens": { request: () => ({ path: "/api/v1/tokens" }), ok: 200 },
  "post /api/v1/tokens": { request: () => ({ path: "/api/v1/tokens", body: { name: "script" } }), ok: 201 },
  "post /api/v1/tokens/:id/revoke": {
    request: (w) => ({ path: `/api/v1/tokens/${w.ownerApiToken}/revoke`, body: {} }),
    ok: 204,
    tenantOwned: true,
    byRole: { dispatcher: 404, technician: 404 }, // not theirs: only its holder or an owner may revoke it
  },
  "get /api/v1/audit": { request: () => ({ path: "/api/v1/audit" }), ok: 200 },
  "get /api/v1/settings": { request: () => ({ path: "/api/v1/settings" }), ok: 200 },
  "put /api/v1/settings": {
    request: () => ({ path: "/api/v1/settings", body: { idleCloseSeconds: 86_400 } }),
    ok: 200,
  },
  "get /api/v1/clients": { request: () => ({ path: "/api/v1/clients" }), ok: 200 },
  "post /api/v1/clients": {
    request: () => ({ path: "/api/v1/clients", body: { name: `Client ${unique()}` } }),
    ok: 201,
  },
  "post /api/v1/clients/:id": {
    request: (w) => ({ path: `/api/v1/clients/${w.clientX}`, body: { approvalPolicy: "changes" } }),
    ok: 200,
    scoped: true,
  },
  "get /api/v1/enrollments": { request: () => ({ path: "/api/v1/enrollments" }), ok: 200 },
  "post /api/v1/enrollments": {
    request: (w) => ({ path: "/api/v1/enrollments", body: { clientId: w.clientX } }),
    ok: 201,
    scoped: true,
  },
  "post /api/v1/enrollments/:id/revoke": {
    request: (w) => ({ path: `/api/v1/enrollments/${w.enrollment}/revoke`, body: {} }),
    ok: 204,
    scoped: true,
  },
  "post /api/v1/runtime/enroll": {
    request: () => ({
      path: "/api/v1/runtime/enroll",
      body: {
        token: "cse_nope",
        publicKey: "A".repeat(43),
        facts: { hostname: "h", os: "linux", osVersion: "", arch: "x64", runtimeVersion: "0" },
      },
    }),
    ok: 401,
  },
  "get /api/v1/runtime/connect": {
    request: (w) => ({ path: `/api/v1/runtime/connect?machineId=${w.machineM}` }),
    ok: 426,
  },
  "get /api/v1/machines": { request: () => ({ path: "/api/v1/machines" }), ok: 200 },
  "get /api/v1/machines/:id": { request: (w) => ({ path: `/api/v1/machines/${w.machineM}` }), ok: 200, scoped: true },
  "post /api/v1/machines/:id/revoke": {
    request: (w) => ({ path: `/api/v1/machines/${w.machineSpare}/revoke`, body: {} }),
    ok: 204,
    scoped: true,
  },
  "post /api/v1/machines/:id/move": {
    request: (w) => ({ path: `/api/v1/machines/${w.machineSpare}/move`, body: { clientId: w.clientX } }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/sessions": {
    request: (w) => ({ path: "/api/v1/sessions", body: { machineId: w.machineM } }),
    ok: 201,
    scoped: true,
  },
  "get /api/v1/sessions": { request: () => ({ path: "/api/v1/sessions" }), ok: 200 },
  "get /api/v1/sessions/:id": { request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}` }), ok: 200, scoped: true },
  "post /api/v1/sessions/:id/commands": {
    // Only the session's technician runs commands (handoff.test.ts): the technician in a session of their own.
    request: async (w, who) => {
      const id =
        who === "technician"
          ? (
              await json(
                await call("/api/v1/sessions", { token: w.tokens.technician, body: { machineId: w.machineM } }),
                201,
              )
            ).id
          : w.sessionS;
      return { path: `/api/v1/sessions/${id}/commands`, body: { command: "whoami" } };
    },
    ok: 202,
    scoped: true,
  },
  "get /api/v1/sessions/:id/commands/:cid": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/commands/${w.commandC}` }),
    ok: 200,
    scoped: true,
  },
  "get /api/v1/sessions/:id/commands/:cid/output": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/commands/${w.commandC}/output?stream=stdout` }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/sessions/:id/commands/:cid/cancel": {
    request: async (w) => {
      const { id, commandId } = await freshSession(w);
      return { path: `/api/v1/sessions/${id}/commands/${commandId}/cancel`, body: {} };
    },
    ok: 202,
    scoped: true,
  },
  "post /api/v1/sessions/:id/commands/:cid/verify": {
    // Access passes, then the baseline is refused (409): without a runtime, no command here ever ran.
    request: async (w, who) => {
      const token = who === "technician" ? w.tokens.technician : w.tokens.owner;
      const { id } = await json(await call("/api/v1/sessions", { token, body: { machineId: w.machineM } }), 201);
      const { commandId } = await json(
        await call(`/api/v1/sessions/${id}/commands`, { token, body: { command: "hostname" } }),
        202,
      );
      return { path: `/api/v1/sessions/${id}/commands/${commandId}/verify`, body: {} };
    },
    ok: 409,
    scoped: true,
  },
  "get /api/v1/sessions/:id/commands/:cid/diff": {
    // A command cancelled before it started has ended (with no output): it compares with itself.
    request: async (w) => {
      const { id, commandId } = await freshSession(w);
      await json(
        await call(`/api/v1/sessions/${id}/commands/${commandId}/cancel`, { token: w.tokens.owner, body: {} }),
        202,
      );
      return { path: `/api/v1/sessions/${id}/commands/${commandId}/diff?against=${commandId}` };
    },
    ok: 200,
    scoped: true,
  },
  "post /api/v1/sessions/:id/messages": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/messages`, body: { text: "hello" } }),
    ok: 201,
    scoped: true,
  },
  "post /api/v1/sessions/:id/notes": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/notes`, body: { text: "note" } }),
    ok: 201,
    scoped: true,
  },
  "post /api/v1/sessions/:id/close": {
    request: async (w) => {
      const { id } = await json(
        await call("/api/v1/sessions", { token: w.tokens.owner, body: { machineId: w.machineM } }),
        201,
      );
      return { path: `/api/v1/sessions/${id}/close`, body: {} };
    },
    ok: 200,
    scoped: true,
  },
  // No runtime here, so no command finishes: an allowed caller gets past access to the verdict's own rules (422),
  // and a session that was never sent for review answers 409. Only the session's holder records its verdicts.
  "post /api/v1/sessions/:id/verdicts": {
    request: (w) => ({
      path: `/api/v1/sessions/${w.sessionS}/verdicts`,
      body: { baselineCommandId: w.commandC, verdict: "fixed", note: "" },
    }),
    ok: 422,
    scoped: true,
    byRole: { technician: 403 },
  },
  "post /api/v1/sessions/:id/review": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/review`, body: { decision: "accept" } }),
    ok: 409,
    scoped: true,
  },
  "get /api/v1/reviews": { request: () => ({ path: "/api/v1/reviews" }), ok: 200 },
  "get /api/v1/metrics": { request: () => ({ path: "/api/v1/metrics?groupBy=client" }), ok: 200 },
  "get /api/v1/sessions/:id/events": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/events` }),
    ok: 200,
    scoped: true,
  },
  "get /api/v1/sessions/:id/record": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/record` }),
    ok: 200,
    scoped: true,
  },
  "get /api/v1/sessions/:id/seal": {
    request: async (w) => ({ path: `/api/v1/sessions/${await closedSession(w)}/seal` }),
    ok: 200,
    scoped: true,
  },
  "get /api/v1/log/key": { request: () => ({ path: "/api/v1/log/key" }), ok: 200 },
  "get /api/v1/log/checkpoint": { request: () => ({ path: "/api/v1/log/checkpoint" }), ok: 200 },
  "get /api/v1/log/consistency": {
    request: async (w) => {
      await closedSession(w);
      return { path: "/api/v1/log/consistency?from=1&to=1" };
    },
    ok: 200,
    otherTenant: 422, // their log holds no seal yet
  },
  "get /api/v1/sessions/:id/export": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/export?format=asciicast` }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/sessions/:id/shares": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/shares`, body: {} }),
    ok: 201,
    scoped: true,
  },
  "get /api/v1/sessions/:id/shares": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/shares` }),
    ok: 200,
    scoped: true,
  },
  "get /api/v1/shares/:token": {
    request: async (w) => ({ path: `/api/v1/shares/${(await shareLink(w)).token}` }),
    ok: 200,
  },
  "post /api/v1/shares/:id/revoke": {
    request: async (w) => ({ path: `/api/v1/shares/${(await shareLink(w)).id}/revoke`, body: {} }),
    ok: 204,
    scoped: true,
  },
  "get /api/v1/sessions/:id/commands/:cid/reverse": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/commands/${w.commandC}/reverse` }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/rollbacks": {
    // The world's command only reads: an allowed caller reaches the rule that refuses it (rollbacks.test.ts runs one).
    request: (w) => ({ path: "/api/v1/rollbacks", body: { sessionId: w.sessionS, commandId: w.commandC } }),
    ok: 409,
    scoped: true,
  },
  "get /api/v1/approvals": { request: () => ({ path: "/api/v1/approvals?state=pending" }), ok: 200 },
  "get /api/v1/approvals/:id": {
    request: async (w) => ({ path: `/api/v1/approvals/${(await pendingApproval(w)).approvalId}` }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/approvals/:id/decision": {
    request: async (w) => ({
      path: `/api/v1/approvals/${(await pendingApproval(w)).approvalId}/decision`,
      body: { decision: "decline" },
    }),
    ok: 200,
    scoped: true,
  },
  "post /api/v1/approvals/:id/link": {
    request: async (w) => ({
      path: `/api/v1/approvals/${(await pendingApproval(w)).approvalId}/link`,
      body: { contactId: w.contactId },
    }),
    ok: 201,
    scoped: true,
  },
  "get /api/v1/approval-links/:token": {
    request: (w) => ({ path: `/api/v1/approval-links/${w.approvalLink}` }),
    ok: 200,
  },
  "post /api/v1/approval-links/:token/decision": {
    request: async (w) => ({
      path: `/api/v1/approval-links/${await approvalLink(w)}/decision`,
      body: { decision: "decline" },
    }),
    ok: 200,
  },
  "get /api/v1/webhooks": { request: () => ({ path: "/api/v1/webhooks" }), ok: 200 },
  "post /api/v1/webhooks": {
    request: () => ({ path: "/api/v1/webhooks", body: { url: "http://127.0.0.1:9/hook" } }),
    ok: 201,
  },
  "post /api/v1/webhooks/:id/delete": {
    request: async (w) => {
      const { id } = await json(
        await call("/api/v1/webhooks", { token: w.tokens.owner, body: { url: "http://127.0.0.1:9/hook" } }),
        201,
      );
      return { path: `/api/v1/webhooks/${id}/delete`, body: {} };
    },
    ok: 204,
    tenantOwned: true,
  },
  "post /api/v1/sessions/:id/assign": {
    request: async (w) => {
      const { id } = await json(
        await call("/api/v1/sessions", { token: w.tokens.owner, body: { machineId: w.machineM } }),
        201,
      );
      return { path: `/api/v1/sessions/${id}/assign`, body: { technicianId: w.technicianId, note: "over to you" } };
    },
    ok: 200,
    scoped: true,
  },
  "get /api/v1/sessions/:id/live": {
    request: (w) => ({ path: `/api/v1/sessions/${w.sessionS}/live`, headers: { upgrade: "websocket" } }),
    ok: 101,
    scoped: true,
  },
};

function expected(route: (typeof ROUTES)[number], fixture: Fixture, who: Who): number {
  if (route.access === "public" || route.access === "operator") return fixture.ok;
  if (who === "anonymous") return 401;
  const role = ROLE[who] as string;
  if (!(route.access as readonly string[]).includes(role)) return 403;
  if (who === "otherTenant" && (fixture.scoped || fixture.tenantOwned)) return 404;
  if (who === "contactOther" && fixture.scoped) return 404;
  if (who === "otherTenant" && fixture.otherTenant !== undefined) return fixture.otherTenant;
  return fixture.byRole?.[role] ?? fixture.ok;
}

async function login(email: string): Promise<string> {
  return (await json(await call("/api/v1/auth/login", { body: { email, password: PASSWORD } }), 200)).token;
}

let worldOnce: Promise<World> | null = null;
const world = () => (worldOnce ??= buildWorld());

async function buildWorld(): Promise<World> {
  const setup = await json(
    await call("/api/v1/setup", {
      body: { organization: "Northwind IT", name: "Olivia", email: "owner@a.test", password: PASSWORD },
    }),
    201,
  );
  const owner = setup.token as string;
  const add = async (email: string, role: string) =>
    json(await call("/api/v1/users", { token: owner, body: { name: role, email, role, password: PASSWORD } }), 201);
  await add("dispatcher@a.test", "dispatcher");
  const tech = await add("technician@a.test", "technician");
  const spare = await add("spare@a.test", "technician");
  const m = await enrollMachine(owner, "Contoso Dental");
  const spareMachine = await enrollMachine(owner, "Spare Client");
  const { id: clientY } = await json(
    await call("/api/v1/clients", { token: owner, body: { name: "Litware Law" } }),
    201,
  );
  const contactX = await json(
    await call(`/api/v1/clients/${m.clientId}/contacts`, {
      token: owner,
      body: { name: "Carol", email: "contact@x.test", password: PASSWORD },
    }),
    201,
  );
  await json(
    await call(`/api/v1/clients/${clientY}/contacts`, {
      token: owner,
      body: { name: "Yuri", email: "contact@y.test", password: PASSWORD },
    }),
    201,
  );
  const b = await json(
    await call("/api/v1/tenants", {
      headers: { authorization: "Bearer operator-secret-for-the-server-tests" },
      body: { organization: "Fabrikam MSP", name: "Bea", email: "owner@b.test", password: PASSWORD },
    }),
    201,
  );
  const { id: enrollment } = await json(
    await call("/api/v1/enrollments", { token: owner, body: { clientId: m.clientId } }),
    201,
  );
  const { id: ownerApiToken } = await json(
    await call("/api/v1/tokens", { token: owner, body: { name: "backup script" } }),
    201,
  );
  const emails = {
    owner: "owner@a.test",
    dispatcher: "dispatcher@a.test",
    technician: "technician@a.test",
    contact: "contact@x.test",
    contactOther: "contact@y.test",
    otherTenant: "owner@b.test",
  };
  const world: World = {
    tokens: {
      owner,
      dispatcher: await login(emails.dispatcher),
      technician: await login(emails.technician),
      contact: await login(emails.contact),
      contactOther: await login(emails.contactOther),
      otherTenant: b.token,
    },
    emails,
    clientX: m.clientId,
    machineM: m.machineId,
    machineSpare: spareMachine.machineId,
    sessionS: "",
    commandC: "",
    userSpare: spare.id,
    enrollment,
    ownerApiToken,
    contactId: contactX.id,
    technicianId: tech.id,
    approvalLink: "",
  };
  world.approvalLink = await approvalLink(world);
  const s = await freshSession(world);
  world.sessionS = s.id;
  world.commandC = s.commandId;
  return world;
}

describe("authorization matrix", () => {
  it("covers every route in the route table", () => {
    const missing = ROUTES.map((r) => `${r.method} ${r.path}`).filter((key) => !FIXTURES[key]);
    expect(missing).toEqual([]);
    expect(ROUTES.length).toBeGreaterThanOrEqual(40);
  });

  it("serves every route the API defines, once, with the definition's access", () => {
    const served = ROUTES.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.access)}`);
    expect(served).toEqual([...new Set(served)]);
    expect(served.sort()).toEqual(
      DEFINED_ROUTES.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.access)}`).sort(),
    );
  });

  it("gives every caller exactly the status its role and tenant allow", async () => {
    const w = await world();
    const mismatches: string[] = [];
    for (const route of ROUTES) {
      const key = `${route.method} ${route.path}`;
      const fixture = FIXTURES[key] as Fixture;
      for (const who of EVERYONE) {
        const { path, body, headers } = await fixture.request(w, who);
        let token = who === "anonymous" ? undefined : w.tokens[who];
        if (fixture.freshToken && who !== "anonymous") token = await login(w.emails[who]);
        const res = await call(path, {
          method: route.method.toUpperCase(),
          ...(token ? { token } : {}),
          ...(body !== undefined ? { body } : {}),
          ...(headers ? { headers } : {}),
        });
        const want = expected(route, fixture, who);
        if (res.status !== want)
          mismatches.push(`${key} as ${who}: ${res.status}, expected ${want} (${(await res.text()).slice(0, 120)})`);
        else if (res.status >= 400) {
          // Every refusal has the contract's error shape.
          const err = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
          if (typeof err.error?.code !== "string" || typeof err.error?.message !== "string")
            mismatches.push(`${key} as ${who}: bad error shape`);
        }
        res.webSocket?.accept();
        res.webSocket?.close();
        // Signing out everywhere or changing the password also ended the caller's standing token: sign in again.
        if (fixture.freshToken && who !== "anonymous" && res.status < 300) w.tokens[who] = await login(w.emails[who]);
      }
    }
    expect(mismatches).toEqual([]);
  }, 180_000); // ~50 routes × 5 callers × 2 tenants, each a real request: about 25 s on a quiet 2-core machine

  it("lists nothing of another tenant, and a contact nothing of another client", async () => {
    const w = await world();
    // The newest session, so that it is on the first page of every listing after the matrix's many sessions.
    w.sessionS = (await freshSession(w)).id;
    const listed = async (token: string) => {
      const bodies = await Promise.all(
        [
          "/api/v1/machines",
          "/api/v1/sessions",
          "/api/v1/clients",
          "/api/v1/users",
          "/api/v1/audit",
          "/api/v1/tokens",
          "/api/v1/enrollments",
        ].map(async (path) => {
          const res = await call(path, { token });
          return res.status === 200 ? await res.text() : "";
        }),
      );
      return bodies.join("\n");
    };
    const aIds = [
      w.clientX,
      w.machineM,
      w.machineSpare,
      w.sessionS,
      w.userSpare,
      w.enrollment,
      w.ownerApiToken,
      "owner@a.test",
    ];
    const b = await listed(w.tokens.otherTenant);
    expect(aIds.filter((id) => b.includes(id))).toEqual([]);
    expect(b).toContain("owner@b.test");
    const y = await listed(w.tokens.contactOther);
    expect([w.clientX, w.machineM, w.sessionS].filter((id) => y.includes(id))).toEqual([]);
    const x = await listed(w.tokens.contact);
    expect([w.clientX, w.machineM, w.sessionS].filter((id) => !x.includes(id))).toEqual([]);
  });
});

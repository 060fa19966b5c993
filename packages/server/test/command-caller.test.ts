// A command's caller with a bearer token is authenticated by the Tenant in the call the Session makes there for the
// client's policy (routeByToken), not by the Worker first: every answer and its precedence are those of any route, a
// revoked token is refused on the very next request, a refused caller records nothing, and the dispatch is signed for
// the person the token names.

import { describe, expect, it } from "vitest";
import { call, dispatchVerifies, json, ownerOnce, PASSWORD, sessionOnline } from "./harness.ts";

const owner = ownerOnce("cora@caller.test", "Caller MSP");
/** The owner of a second organization on the same server (created with the operator's secret). */
async function otherOwner(): Promise<string> {
  const created = await json(
    await call("/api/v1/tenants", {
      headers: { authorization: "Bearer operator-secret-for-the-server-tests" },
      body: { organization: "Other Caller MSP", name: "Olga", email: "olga@other-caller.test", password: PASSWORD },
    }),
    201,
  );
  return created.token as string;
}

const commands = (sessionId: string) => `/api/v1/sessions/${sessionId}/commands`;

/** The session's record, as the types of its events. */
async function recorded(token: string, sessionId: string): Promise<string[]> {
  const { events } = await json(await call(`/api/v1/sessions/${sessionId}/events?after=0`, { token }), 200);
  return events.map((e: { type: string }) => e.type);
}

describe("a command's caller, authenticated with the command's policy", () => {
  it("runs the command as the token's person, signed for them; a revoked token is refused on the very next request", async () => {
    const { token, m, runtime, sessionId } = await sessionOnline(owner);
    const { user } = await json(await call("/api/v1/me", { token }), 200);
    const api = await json(await call("/api/v1/tokens", { token, body: { name: "runbook" } }), 201);
    const { commandId, state } = await json(
      await call(commands(sessionId), { token: api.token, body: { command: "echo one" } }),
      202,
    );
    expect(state).toBe("queued");
    await runtime.box.until((items) => items.some((f) => f.t === "dispatch" && f.commandId === commandId));
    const dispatch = runtime.box.items.find((f) => f.t === "dispatch" && f.commandId === commandId);
    expect(dispatch).toMatchObject({ sessionId, command: "echo one", technicianId: user.id, approvalRequired: false });
    expect(await dispatchVerifies(m, dispatch)).toBe(true);
    const { command } = await json(await call(`${commands(sessionId)}/${commandId}`, { token }), 200);
    expect(command).toMatchObject({ requestedBy: user.id, state: "queued" });

    expect((await call(`/api/v1/tokens/${api.id}/revoke`, { token, body: {} })).status).toBe(204);
    const before = await recorded(token, sessionId);
    expect(
      await json(await call(commands(sessionId), { token: api.token, body: { command: "echo two" } }), 401),
    ).toEqual({ error: { code: "unauthenticated", message: "token is invalid, expired or revoked" } });
    expect(await recorded(token, sessionId)).toEqual(before);
    expect(runtime.box.items.filter((f) => f.t === "dispatch")).toHaveLength(1);
    runtime.ws.close();
  });

  it("answers as every route does: 401 before 403 before the input's 422 or the session's 404", async () => {
    const { token, runtime, sessionId } = await sessionOnline(owner);
    await json(
      await call("/api/v1/users", {
        token,
        body: { name: "Dee", email: "dee@caller.test", role: "dispatcher", password: PASSWORD },
      }),
      201,
    );
    const dee = (
      await json(await call("/api/v1/auth/login", { body: { email: "dee@caller.test", password: PASSWORD } }), 200)
    ).token as string;
    const unknown = `cst_${token.split("_").slice(1, 3).join("_")}_${"A".repeat(43)}`;
    const good = { command: "echo hi" };
    const bad = { command: "" };
    const refusedToken = { error: { code: "unauthenticated", message: "token is invalid, expired or revoked" } };
    const refusedRole = { error: { code: "forbidden", message: "a dispatcher may not do this" } };
    expect(await json(await call(commands(sessionId), { token: unknown, body: good }), 401)).toEqual(refusedToken);
    expect(await json(await call(commands(sessionId), { token: unknown, body: bad }), 401)).toEqual(refusedToken);
    expect(await json(await call(commands("ses_aaaaaaaaaaaaaaaaaaaa"), { token: unknown, body: good }), 401)).toEqual(
      refusedToken,
    );
    expect(await json(await call(commands(sessionId), { token: dee, body: good }), 403)).toEqual(refusedRole);
    expect(await json(await call(commands(sessionId), { token: dee, body: bad }), 403)).toEqual(refusedRole);
    expect((await call(commands(sessionId), { token, body: bad })).status).toBe(422);
    // Another organization's owner: no such session for them.
    expect(await json(await call(commands(sessionId), { token: await otherOwner(), body: good }), 404)).toEqual({
      error: { code: "not_found", message: "session not found" },
    });
    expect(await recorded(token, sessionId)).toEqual(["session.opened"]);
    // The console's cookie is authenticated by the Worker, with its CSRF header, as before.
    const cookie = { cookie: `caisey_token=${token}` };
    expect((await json(await call(commands(sessionId), { body: good, headers: cookie }), 403)).error.code).toBe(
      "csrf_required",
    );
    const viaCookie = await json(
      await call(commands(sessionId), { body: good, headers: { ...cookie, "x-caisey-csrf": "1" } }),
      202,
    );
    expect(viaCookie.state).toBe("queued");
    expect(await recorded(token, sessionId)).toEqual(["session.opened", "command.requested"]);
    runtime.ws.close();
  });
});

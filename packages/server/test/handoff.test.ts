// Who runs commands in a session, and who hears of it: only the session's technician runs commands (the opener,
// until a handoff); a colleague takes the session over, recorded as a handoff; each handoff and each approval request
// reaches the people it is for by webhook, with what an email or a text message needs.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { call, enrollMachine, json, ownerOnce, PASSWORD, webhookReceiver } from "./harness.ts";

const ALICE = { name: "Alice Adams", email: "alice@handoff.test", role: "technician" };
const BOB = { name: "Bob Brown", email: "bob@handoff.test", role: "technician" };
const DANA = { name: "Dana Dispatch", email: "dana@handoff.test", role: "dispatcher" };
const CAROL = { name: "Carol Contoso", email: "carol@contoso.test" };

let owner: string;
let ownerId: string;
let hooks: ReturnType<typeof webhookReceiver>;
const people: Record<string, { id: string; token: string }> = {};

async function login(email: string): Promise<string> {
  return (await json(await call("/api/v1/auth/login", { body: { email, password: PASSWORD } }), 200)).token;
}

beforeAll(async () => {
  owner = await ownerOnce("owner@handoff.test")();
  ownerId = (await json(await call("/api/v1/me", { token: owner }), 200)).user.id;
  for (const p of [ALICE, BOB, DANA]) {
    const { id } = await json(await call("/api/v1/users", { token: owner, body: { ...p, password: PASSWORD } }), 201);
    people[p.email] = { id, token: await login(p.email) };
  }
  hooks = webhookReceiver("https://hooks.test/");
  const hook = await json(
    await call("/api/v1/webhooks", {
      token: owner,
      body: {
        url: "https://hooks.test/notify",
        events: ["approval.requested", "approval.declined", "session.assigned"],
      },
    }),
    201,
  );
  hooks.keySecret(hook.secret);
});

afterAll(() => {
  vi.restoreAllMocks();
});

const nthMessage = (type: string, n: number) => hooks.nth(type, n);

const run = (token: string, sessionId: string, body: object = { command: "uptime" }) =>
  call(`/api/v1/sessions/${sessionId}/commands`, { token, body });

async function refusal(res: Response) {
  return { status: res.status, ...((await res.json()) as { error: object }).error };
}

describe("the session's technician", () => {
  it("alone runs commands: the opener until a handoff, then the assignee; a takeover is a handoff too", async () => {
    const alice = people[ALICE.email] as { id: string; token: string };
    const bob = people[BOB.email] as { id: string; token: string };
    const dana = people[DANA.email] as { id: string; token: string };
    const m = await enrollMachine(owner, "Contoso Dental");
    const carol = await json(
      await call(`/api/v1/clients/${m.clientId}/contacts`, { token: owner, body: { ...CAROL, password: PASSWORD } }),
      201,
    );
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: alice.token, body: { machineId: m.machineId, ticket: "INC-7" } }),
      201,
    );

    // Before any handoff the opener holds the session: a colleague, even the owner, is refused by name.
    const aliceHolds = {
      status: 403,
      code: "not_assigned",
      message:
        "Alice Adams holds this session: only the session's technician runs commands here. Take the session over to run commands.",
    };
    expect(await refusal(await run(bob.token, sessionId))).toEqual(aliceHolds);
    expect(await refusal(await run(owner, sessionId))).toEqual(aliceHolds);
    const asked = await json(
      await run(alice.token, sessionId, { command: "systemctl restart cups", requireApproval: true }),
      202,
    );

    // The approval request reaches the client's contact: everything an email or a text message needs, no secret.
    const requested = await nthMessage("approval.requested", 1);
    expect(requested).toEqual({ type: "approval.requested", timestamp: expect.any(String), data: expect.any(Object) });
    expect(requested.data).toEqual({
      id: asked.approvalId,
      sessionId,
      commandId: asked.commandId,
      clientId: m.clientId,
      clientName: "Contoso Dental",
      machineId: m.machineId,
      hostname: "FRONTDESK-01",
      command: "systemctl restart cups",
      shell: "bash",
      summary: "Restart the cups service",
      changes: [{ kind: "change", text: "Restart the cups service" }],
      reason: null,
      requestedBy: alice.id,
      requestedByName: "Alice Adams",
      requestedAt: expect.any(String),
      expiresAt: expect.any(String),
      state: "pending",
      decidedBy: null,
      decidedByName: null,
      decidedAt: null,
      comment: null,
      url: "https://support.northwind.test/approvals",
      recipients: [{ id: carol.id, name: "Carol Contoso", email: "carol@contoso.test" }],
    });
    expect(Date.parse(requested.data.expiresAt)).toBeGreaterThan(Date.parse(requested.data.requestedAt));

    // Alice hands over to Bob: Bob is told, and from now on only Bob runs commands.
    await json(
      await call(`/api/v1/sessions/${sessionId}/assign`, {
        token: alice.token,
        body: { technicianId: bob.id, note: "End of my shift" },
      }),
      200,
    );
    const handedOver = await nthMessage("session.assigned", 1);
    expect(handedOver.data).toEqual({
      sessionId,
      url: `https://support.northwind.test/sessions/${sessionId}`,
      machineId: m.machineId,
      hostname: "FRONTDESK-01",
      clientId: m.clientId,
      clientName: "Contoso Dental",
      ticket: "INC-7",
      from: alice.id,
      fromName: "Alice Adams",
      to: bob.id,
      toName: "Bob Brown",
      by: alice.id,
      byName: "Alice Adams",
      note: "End of my shift",
      takeover: false,
      assignedAt: expect.any(String),
      recipients: [{ id: bob.id, name: "Bob Brown", email: "bob@handoff.test" }],
    });
    expect(await refusal(await run(alice.token, sessionId))).toEqual({
      ...aliceHolds,
      message: aliceHolds.message.replace("Alice Adams", "Bob Brown"),
    });
    expect((await run(bob.token, sessionId)).status).toBe(202);
    const mine = async (token: string, id: string) =>
      (await json(await call(`/api/v1/sessions?technicianId=${id}&state=open`, { token }), 200)).sessions.map(
        (s: { id: string }) => s.id,
      );
    expect(await mine(bob.token, bob.id)).toContain(sessionId);
    expect(await mine(alice.token, alice.id)).not.toContain(sessionId);

    // A dispatcher moves work but does not take a session over; the owner does, and both are told.
    const danaTakes = await call(`/api/v1/sessions/${sessionId}/assign`, {
      token: dana.token,
      body: { technicianId: dana.id },
    });
    expect(await refusal(danaTakes)).toEqual({
      status: 422,
      code: "invalid_assignee",
      message: "only someone who can run commands takes a session over",
    });
    const took = await json(
      await call(`/api/v1/sessions/${sessionId}/assign`, { token: owner, body: { technicianId: ownerId } }),
      200,
    );
    const takenOver = await nthMessage("session.assigned", 2);
    expect(takenOver.data).toMatchObject({
      from: bob.id,
      fromName: "Bob Brown",
      to: ownerId,
      toName: "Olivia Owner",
      by: ownerId,
      byName: "Olivia Owner",
      note: null,
      takeover: true,
      recipients: [
        { id: bob.id, name: "Bob Brown", email: "bob@handoff.test" },
        { id: ownerId, name: "Olivia Owner", email: "owner@handoff.test" },
      ],
    });
    const { events } = await json(
      await call(`/api/v1/sessions/${sessionId}/events?after=${took.seq - 1}&limit=1`, { token: owner }),
      200,
    );
    expect(events[0]).toMatchObject({
      type: "session.assigned",
      actor: `user:${ownerId}`,
      data: { from: bob.id, to: ownerId, toName: "Olivia Owner", byName: "Olivia Owner", note: null, takeover: true },
    });
    expect((await run(bob.token, sessionId)).status).toBe(403);
    expect((await run(owner, sessionId)).status).toBe(202);
    // The client's answer reaches the technician who asked, though the session changed hands since.
    const carolToken = await login(CAROL.email);
    await json(
      await call(`/api/v1/approvals/${asked.approvalId}/decision`, {
        token: carolToken,
        body: { decision: "decline" },
      }),
      200,
    );
    const declined = await nthMessage("approval.declined", 1);
    expect(declined.data).toMatchObject({
      id: asked.approvalId,
      state: "declined",
      decidedBy: carol.id,
      decidedByName: "Carol Contoso",
      recipients: [{ id: alice.id, name: "Alice Adams", email: "alice@handoff.test" }],
    });
    // Taking over a session one already holds is refused.
    const again = await call(`/api/v1/sessions/${sessionId}/assign`, { token: owner, body: { technicianId: ownerId } });
    expect(await refusal(again)).toEqual({
      status: 409,
      code: "already_assigned",
      message: "the session is already assigned to Olivia Owner",
    });
  });
});

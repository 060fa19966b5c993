// Client approval gates end to end, with a real runtime and real shells: nothing gated runs before the client's
// contact approves that exact command; declined, expired, reused or mismatched approvals never run anything; and
// the organization's webhook announces each request, signed per Standard Webhooks.

import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, fetchRecord, tempDir } from "../helpers.ts";
import { expectHeldForApproval, runToEnd, useOrganization, waitCommand } from "../organization.ts";

const PASSWORD = "correct horse battery staple";
const CAROL = { name: "Carol Contoso", email: "carol@contoso.test", password: PASSWORD };
const LIAM = { name: "Liam Litware", email: "liam@litware.test", password: PASSWORD };
const TESS = { name: "Tess Tech", email: "tess@northwind.test", password: PASSWORD };

const org = useOrganization({
  technicians: [TESS],
  clients: [
    { name: "Contoso Dental", machine: true, contacts: [CAROL] },
    { name: "Litware Law", contacts: [LIAM] },
  ],
});
let contact: Api;
let technician: Api;
let otherContact: Api;

// A local receiver standing in for the MSP's email/SMS/Teams bridge, verifying exactly as a receiver would.
const received: { headers: Record<string, string>; body: string }[] = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (d) => {
    body += d;
  });
  req.on("end", () => {
    received.push({ headers: req.headers as Record<string, string>, body });
    // The first delivery fails, to prove retries.
    res.writeHead(received.length === 1 ? 503 : 204).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  contact = await org.login(CAROL.email);
  otherContact = await org.login(LIAM.email);
  technician = await org.login(TESS.email);
});

afterAll(() => {
  receiver.close();
});

async function request(command: string, extra: object = {}) {
  const { id: sessionId } = await technician.json("/api/v1/sessions", { machineId: org.runtime.machineId });
  const res = await technician.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash", ...extra });
  return { sessionId, ...res } as { sessionId: string; commandId: string; state: string; approvalId: string | null };
}

const markerPath = () => join(tempDir("approval"), "ran");

describe("approval gates", () => {
  it("holds a change until the contact approves it, then runs exactly it; a read runs at once", async () => {
    const marker = markerPath();
    const r = await request(`touch '${marker}'`, { reason: "create the marker the ticket asks for" });
    expect(r.state).toBe("awaiting_approval");
    expect(r.approvalId).toMatch(/^apr_/);
    await expectHeldForApproval(technician, r.sessionId, r.commandId);
    expect(existsSync(marker)).toBe(false);
    expect((await technician.json(`/api/v1/sessions/${r.sessionId}/commands/${r.commandId}`)).command.state).toBe(
      "awaiting_approval",
    );

    const { approvals } = await contact.json("/api/v1/approvals?state=pending");
    const mine = approvals.find((a: any) => a.id === r.approvalId);
    expect(mine).toMatchObject({
      sessionId: r.sessionId,
      commandId: r.commandId,
      command: `touch '${marker}'`,
      requestedBy: expect.stringMatching(/^usr_/),
      requestedByName: "Tess Tech",
    });
    expect(mine.summary.length).toBeGreaterThan(0);

    // A technician cannot approve; a contact of another client cannot see or decide.
    const techTry = await technician.post(`/api/v1/approvals/${r.approvalId}/decision`, { decision: "approve" });
    expect(techTry.status).toBe(403);
    expect(
      (await otherContact.json("/api/v1/approvals?state=pending")).approvals.some((a: any) => a.id === r.approvalId),
    ).toBe(false);
    const otherTry = await otherContact.post(`/api/v1/approvals/${r.approvalId}/decision`, { decision: "approve" });
    expect([otherTry.status, (await otherTry.json()).error.code]).toEqual([404, "not_found"]);
    expect(existsSync(marker)).toBe(false);

    expect(
      await contact.json(`/api/v1/approvals/${r.approvalId}/decision`, { decision: "approve", comment: "Go ahead" }),
    ).toEqual({ state: "granted", commandState: "queued" });
    expect(await waitCommand(technician, r.sessionId, r.commandId)).toMatchObject({ state: "finished", exitCode: 0 });
    expect(existsSync(marker)).toBe(true);

    const { events } = await fetchRecord(org.owner, r.sessionId);
    const types = events.map((e) => e.type).filter((t) => !t.startsWith("participant."));
    expect(types).toEqual([
      "session.opened",
      "command.requested",
      "approval.requested",
      "approval.granted",
      "command.started",
      "command.finished",
    ]);
    const granted = events.find((e) => e.type === "approval.granted");
    expect(granted.actor).toMatch(/^contact:usr_/);
    expect(granted.data).toMatchObject({
      approvalId: r.approvalId,
      commandId: r.commandId,
      contactName: "Carol Contoso",
      channel: "portal",
      comment: "Go ahead",
    });
    expect(events.find((e) => e.type === "approval.requested").data).toMatchObject({
      reason: "create the marker the ticket asks for",
      technicianName: "Tess Tech",
      digest: granted.data.digest,
    });

    // The same approval cannot be used again.
    const again = await contact.post(`/api/v1/approvals/${r.approvalId}/decision`, { decision: "approve" });
    expect([again.status, (await again.json()).error.code]).toEqual([409, "approval_decided"]);

    // A read-only command under the "changes" policy needs no approval.
    const read = await request("ls /");
    expect([read.state, read.approvalId]).toEqual(["queued", null]);
    expect(await waitCommand(technician, read.sessionId, read.commandId)).toMatchObject({
      state: "finished",
      exitCode: 0,
    });
  });

  it("never runs a declined command", async () => {
    const marker = markerPath();
    const r = await request(`touch '${marker}'`);
    expect(
      await contact.json(`/api/v1/approvals/${r.approvalId}/decision`, {
        decision: "decline",
        comment: "Not during payroll",
      }),
    ).toEqual({ state: "declined", commandState: "declined" });
    const done = await waitCommand(technician, r.sessionId, r.commandId);
    expect(done).toMatchObject({ state: "declined", finalReason: "declined by Carol Contoso: Not during payroll" });
    // The session's commands run in order: once a later one has run, a dispatch of the declined one would have too.
    expect(await runToEnd(technician, r.sessionId, "ls /")).toMatchObject({ state: "finished", exitCode: 0 });
    expect(existsSync(marker)).toBe(false);
  });

  it("never runs a command whose approval expired", async () => {
    const marker = markerPath();
    const r = await request(`touch '${marker}'`, { approvalTimeoutSeconds: 1 });
    const done = await waitCommand(technician, r.sessionId, r.commandId, 15_000);
    expect(done).toMatchObject({
      state: "failed",
      finalReason: "the client's approval was not given before it expired",
    });
    const late = await contact.post(`/api/v1/approvals/${r.approvalId}/decision`, { decision: "approve" });
    expect([late.status, (await late.json()).error.code]).toEqual([409, "approval_decided"]);
    expect(existsSync(marker)).toBe(false);
    const { events } = await fetchRecord(org.owner, r.sessionId);
    expect(events.some((e) => e.type === "approval.expired" && e.data.approvalId === r.approvalId)).toBe(true);
  });

  it("binds an approval to its command: a changed command needs a new one; the technician can always ask", async () => {
    const first = await request("touch /tmp/caisey-first-$$");
    const second = await request("touch /tmp/caisey-second-$$");
    expect(second.approvalId).not.toBe(first.approvalId);
    const record = await fetchRecord(org.owner, first.sessionId);
    const d1 = record.events.find((e) => e.type === "approval.requested").data.digest;
    const d2 = (await fetchRecord(org.owner, second.sessionId)).events.find((e) => e.type === "approval.requested").data
      .digest;
    expect(d1).not.toBe(d2);
    // Asking for approval on a read-only command gates it too.
    const asked = await request("uptime", { requireApproval: true });
    expect(asked.state).toBe("awaiting_approval");
    for (const r of [first, second, asked])
      await technician.post(`/api/v1/sessions/${r.sessionId}/commands/${r.commandId}/cancel`);
    // Cancelling withdraws the request: it leaves the client's pending list and can no longer be decided.
    const pending = (await contact.json("/api/v1/approvals?state=pending")).approvals.map((a: any) => a.id);
    expect(pending).not.toContain(asked.approvalId);
    expect((await contact.json(`/api/v1/approvals/${asked.approvalId}`)).approval.state).toBe("withdrawn");
    const late = await contact.post(`/api/v1/approvals/${asked.approvalId}/decision`, { decision: "approve" });
    expect([late.status, (await late.json()).error.code]).toEqual([409, "approval_decided"]);
  });

  it("announces requests by webhook, signed per Standard Webhooks, retried after a failure", async () => {
    const port = (receiver.address() as { port: number }).port;
    const hook = await org.owner.json("/api/v1/webhooks", {
      url: `http://127.0.0.1:${port}/caisey`,
      events: ["approval.requested"],
    });
    expect(hook.secret).toMatch(/^whsec_/);
    const r = await request("touch /tmp/caisey-webhook-$$");
    await expect
      .poll(() => received.length, { timeout: 30_000, interval: 100, message: "delivered after one failed attempt" })
      .toBeGreaterThanOrEqual(2);
    const wh = new Webhook(hook.secret);
    for (const delivery of received) {
      const payload = wh.verify(delivery.body, {
        "webhook-id": delivery.headers["webhook-id"] as string,
        "webhook-timestamp": delivery.headers["webhook-timestamp"] as string,
        "webhook-signature": delivery.headers["webhook-signature"] as string,
      }) as any;
      expect(payload).toMatchObject({
        type: "approval.requested",
        data: { id: r.approvalId, sessionId: r.sessionId, clientName: "Contoso Dental", requestedByName: "Tess Tech" },
      });
    }
    expect(received[0]?.headers["webhook-id"]).toBe(received[1]?.headers["webhook-id"]); // the same message, retried
    // A tampered body fails verification, as it would at the receiver.
    expect(() => wh.verify(`${received[1]?.body} `, received[1]?.headers as Record<string, string>)).toThrow();
    await technician.post(`/api/v1/sessions/${r.sessionId}/commands/${r.commandId}/cancel`);
  });

  it("lets a one-time link decide its one approval, once", async () => {
    const marker = markerPath();
    const r = await request(`touch '${marker}'`);
    const { contacts } = await org.owner.json(`/api/v1/clients/${org.runtime.clientId}/contacts`);
    const link = await technician.json(`/api/v1/approvals/${r.approvalId}/link`, { contactId: contacts[0].id });
    expect(link.url).toMatch(/\/approve\/csa_ten_/);
    const shown = await (await fetch(`${org.server.url}/api/v1/approval-links/${link.token}`)).json();
    expect(shown).toMatchObject({
      approval: { id: r.approvalId, command: `touch '${marker}'` },
      contact: { name: "Carol Contoso" },
    });
    const decide = (decision: string) =>
      fetch(`${org.server.url}/api/v1/approval-links/${link.token}/decision`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ decision }),
      });
    expect((await decide("approve")).status).toBe(200);
    const reuse = await decide("approve");
    expect([reuse.status, (await reuse.json()).error.code]).toEqual([410, "link_used"]);
    expect(await waitCommand(technician, r.sessionId, r.commandId)).toMatchObject({ state: "finished", exitCode: 0 });
    expect(existsSync(marker)).toBe(true);
    const { events } = await fetchRecord(org.owner, r.sessionId);
    expect(events.find((e) => e.type === "approval.granted").data).toMatchObject({
      channel: "link",
      contactName: "Carol Contoso",
    });
    // The link gives access to nothing else.
    expect(
      (
        await fetch(`${org.server.url}/api/v1/sessions/${r.sessionId}`, {
          headers: { authorization: `Bearer ${link.token}` },
        })
      ).status,
    ).toBe(401);
  });
});

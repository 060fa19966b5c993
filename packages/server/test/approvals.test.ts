// What a client's contact approves: every change the command makes in their words, the technician's reason and the
// exact command — the same in the approval itself, the portal's list, a one-time link and the session's record.

import { beforeAll, describe, expect, it } from "vitest";
import { call, enrollMachine, json, ownerOnce, PASSWORD } from "./harness.ts";

const owner = ownerOnce("owner@approvals.test");
const COMMAND = "echo 'DisableRestart=1' >> /srv/app.conf\nsystemctl restart app\nfrobnicate --fix";
const REASON = "The app keeps restarting overnight; this turns off the watchdog and restarts it once.";
const CHANGES = [
  { kind: "change", text: "Add a line to the file /srv/app.conf" },
  { kind: "change", text: "Restart the app service" },
  { kind: "unknown", text: "Caisey cannot tell what this part does: frobnicate --fix" },
];

let staff: string;
let contact: string;
let otherContact: string;
let contactId: string;
let sessionId: string;
let approvalId: string;

async function contactOf(clientId: string, email: string): Promise<{ id: string; token: string }> {
  const { id } = await json(
    await call(`/api/v1/clients/${clientId}/contacts`, {
      token: staff,
      body: { name: email === "carla@approvals.test" ? "Carla Contact" : "Oscar Other", email, password: PASSWORD },
    }),
    201,
  );
  const { token } = await json(await call("/api/v1/auth/login", { body: { email, password: PASSWORD } }), 200);
  return { id, token };
}

beforeAll(async () => {
  staff = await owner();
  const m = await enrollMachine(staff, "Contoso Dental");
  const other = await enrollMachine(staff, "Fabrikam Legal");
  ({ id: contactId, token: contact } = await contactOf(m.clientId, "carla@approvals.test"));
  ({ token: otherContact } = await contactOf(other.clientId, "oscar@approvals.test"));
  sessionId = (await json(await call("/api/v1/sessions", { token: staff, body: { machineId: m.machineId } }), 201)).id;
  ({ approvalId } = await json(
    await call(`/api/v1/sessions/${sessionId}/commands`, {
      token: staff,
      body: { command: COMMAND, shell: "bash", reason: REASON },
    }),
    202,
  ));
});

const asked = {
  command: COMMAND,
  shell: "bash",
  summary: "Run a shell script of 3 lines that makes 2 changes; Caisey cannot tell what one part of it does",
  changes: CHANGES,
  reason: REASON,
};

describe("an approval says what will change, and why", () => {
  it("GET /api/v1/approvals/:id carries the changes and the reason, for the client's contact and for staff", async () => {
    for (const token of [contact, staff]) {
      const { approval } = await json(await call(`/api/v1/approvals/${approvalId}`, { token }), 200);
      expect(approval).toMatchObject({ id: approvalId, state: "pending", ...asked });
    }
    // a contact of another client does not see it
    const missing = await json(await call(`/api/v1/approvals/${approvalId}`, { token: otherContact }), 404);
    expect(missing.error.code).toBe("not_found");
  });

  it("the portal's pending list carries them", async () => {
    const { approvals } = await json(await call("/api/v1/approvals?state=pending", { token: contact }), 200);
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({ id: approvalId, ...asked });
  });

  it("a one-time link's page data carries them", async () => {
    const { token } = await json(
      await call(`/api/v1/approvals/${approvalId}/link`, { token: staff, body: { contactId } }),
      201,
    );
    const page = await json(await call(`/api/v1/approval-links/${token}`), 200);
    expect(page.contact).toEqual({ id: contactId, name: "Carla Contact" });
    expect(page.approval).toMatchObject({ id: approvalId, ...asked });
  });

  it("the record keeps what the contact was asked: the changes and the reason", async () => {
    const { events } = await json(await call(`/api/v1/sessions/${sessionId}/events`, { token: staff }), 200);
    const request = events.find((e: { type: string }) => e.type === "approval.requested");
    expect(request.data).toMatchObject({ approvalId, ...asked, lines: 3 });
  });
});

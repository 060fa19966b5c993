// Shift handoff and presence: a technician hands a running session to a colleague, who is told (webhook), sees
// everything so far and carries on alone until the first takes the session back; staff watching live are recorded
// as participants. Also the machine card after sessions on two machines of two clients.

import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Api, fetchRecord } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";
import { useWebhookReceiver } from "../webhooks.ts";

const PASSWORD = "correct horse battery staple";
const ALICE = { name: "Alice Adams", email: "alice@northwind.test", password: PASSWORD };
const BOB = { name: "Bob Brown", email: "bob@northwind.test", password: PASSWORD };
const org = useOrganization({
  technicians: [ALICE, BOB],
  clients: [
    { name: "Contoso Dental", machine: true },
    { name: "Litware Law", machine: true },
  ],
});
let alice: Api;
let bob: Api;
let aliceId: string;
let bobId: string;

// The MSP's bridge to email or chat: it verifies each message as a receiver would and keeps it.
const announced = useWebhookReceiver(org, ["session.assigned"]).messages;

beforeAll(async () => {
  alice = await org.login(ALICE.email);
  bob = await org.login(BOB.email);
  aliceId = org.personId[ALICE.email] as string;
  bobId = org.personId[BOB.email] as string;
});

function watch(as: Api, sessionId: string) {
  const events: any[] = [];
  const ws = new WebSocket(`${org.server.url.replace("http", "ws")}/api/v1/sessions/${sessionId}/live?after=0`, {
    headers: { authorization: `Bearer ${as.token}` },
  });
  ws.on("message", (m) => events.push(JSON.parse(m.toString())));
  return { ws, events, open: new Promise((r) => ws.on("open", r)) };
}

describe("handoff", () => {
  it("moves a running session to a colleague who sees everything so far and carries on", async () => {
    const { machineId } = org.machine("Contoso Dental");
    const { id: sessionId } = await alice.json("/api/v1/sessions", { machineId, ticket: "INC-2044" });
    const aliceWatch = watch(alice, sessionId);
    await aliceWatch.open;
    const { commandId } = await alice.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "for i in 1 2 3 4 5 6; do echo step $i; sleep 0.4; done",
      shell: "bash",
    });
    await expect
      .poll(async () => (await alice.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`)).command.stdoutBytes, {
        message: "two steps of output",
      })
      .toBeGreaterThanOrEqual(14);

    const assigned = await alice.json(`/api/v1/sessions/${sessionId}/assign`, {
      technicianId: bobId,
      note: "End of my shift: disk cleanup still running",
    });
    expect(assigned.seq).toBeGreaterThan(0);
    aliceWatch.ws.close();

    // Bob sees the whole history including the running command's output so far, then it finishes under his watch.
    const bobWatch = watch(bob, sessionId);
    await bobWatch.open;
    await expect
      .poll(() => bobWatch.events.some((e) => e.type === "command.output"), { message: "Bob to see output so far" })
      .toBe(true);
    const { session } = await bob.json(`/api/v1/sessions/${sessionId}`);
    expect(session.technicianId).toBe(bobId);
    expect(session.participants.map((p: any) => p.name)).toContain("Bob Brown");
    const done = await waitCommand(bob, sessionId, commandId);
    expect(done).toMatchObject({ state: "finished", exitCode: 0 });
    const next = await bob.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "echo picked up by bob",
      shell: "bash",
    });
    expect(await waitCommand(bob, sessionId, next.commandId)).toMatchObject({ state: "finished", exitCode: 0 });
    await expect
      .poll(() => bobWatch.events.some((e) => e.type === "command.finished" && e.data.commandId === next.commandId), {
        message: "Bob's live view",
      })
      .toBe(true);
    bobWatch.ws.close();

    // Bob was told, and from now on only he runs commands; Alice takes the session back, which Bob is told too.
    await expect.poll(() => announced.length, { message: "the handoff announced" }).toBeGreaterThanOrEqual(1);
    expect(announced[0]).toMatchObject({
      type: "session.assigned",
      data: {
        sessionId,
        url: `${org.server.url}/sessions/${sessionId}`,
        clientName: "Contoso Dental",
        ticket: "INC-2044",
        from: aliceId,
        to: bobId,
        by: aliceId,
        toName: "Bob Brown",
        note: "End of my shift: disk cleanup still running",
        takeover: false,
        recipients: [{ id: bobId, name: "Bob Brown", email: BOB.email }],
      },
    });
    const refused = await alice.post(`/api/v1/sessions/${sessionId}/commands`, { command: "id", shell: "bash" });
    expect([refused.status, (await refused.json()).error]).toEqual([
      403,
      {
        code: "not_assigned",
        message:
          "Bob Brown holds this session: only the session's technician runs commands here. Take the session over to run commands.",
      },
    ]);
    await alice.json(`/api/v1/sessions/${sessionId}/assign`, { technicianId: aliceId });
    await expect.poll(() => announced.length, { message: "the takeover announced" }).toBe(2);
    expect(announced[1].data).toMatchObject({
      from: bobId,
      to: aliceId,
      by: aliceId,
      takeover: true,
      recipients: [
        { id: aliceId, name: "Alice Adams", email: ALICE.email },
        { id: bobId, name: "Bob Brown", email: BOB.email },
      ],
    });
    const bobRefused = await bob.post(`/api/v1/sessions/${sessionId}/commands`, { command: "id", shell: "bash" });
    expect([bobRefused.status, (await bobRefused.json()).error.code]).toEqual([403, "not_assigned"]);
    const back = await alice.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "echo back to alice",
      shell: "bash",
    });
    expect(await waitCommand(alice, sessionId, back.commandId)).toMatchObject({ state: "finished", exitCode: 0 });

    const { events } = await fetchRecord(org.owner, sessionId);
    const [assignedEvent, takeoverEvent] = events.filter((e) => e.type === "session.assigned");
    expect(takeoverEvent).toMatchObject({
      actor: `user:${aliceId}`,
      data: { from: bobId, to: aliceId, toName: "Alice Adams", byName: "Alice Adams", note: null, takeover: true },
    });
    expect(assignedEvent?.data).not.toHaveProperty("takeover");
    expect(assignedEvent).toMatchObject({
      actor: `user:${aliceId}`,
      data: {
        from: aliceId,
        to: bobId,
        toName: "Bob Brown",
        byName: "Alice Adams",
        note: "End of my shift: disk cleanup still running",
      },
    });
    const order = events.map((e) => `${e.type}${e.type.startsWith("participant.") ? ` ${e.data.name}` : ""}`);
    expect(order.indexOf("participant.joined Alice Adams")).toBeLessThan(order.indexOf("session.assigned"));
    expect(order.indexOf("session.assigned")).toBeLessThan(order.indexOf("participant.left Alice Adams"));
    expect(order.indexOf("participant.joined Bob Brown")).toBeGreaterThan(order.indexOf("session.assigned"));
    // The output of the handed-over command is complete and in order across the handoff.
    const stdout = events
      .filter((e) => e.type === "command.output" && e.data.commandId === commandId)
      .map((e) => Buffer.from(e.data.data, "base64").toString())
      .join("");
    expect(stdout).toBe("step 1\nstep 2\nstep 3\nstep 4\nstep 5\nstep 6\n");
  });
});

describe("machine cards", () => {
  it("show each machine's facts and its sessions newest first, per client", async () => {
    const [a, b] = [org.machine("Contoso Dental"), org.machine("Litware Law")];
    const { id: s1 } = await alice.json("/api/v1/sessions", { machineId: a?.machineId, ticket: "T-1" });
    const failed = await alice.json(`/api/v1/sessions/${s1}/commands`, { command: "exit 4", shell: "sh" });
    await waitCommand(alice, s1, failed.commandId);
    const { id: s2 } = await bob.json("/api/v1/sessions", { machineId: a?.machineId, ticket: "T-2" });
    const { id: s3 } = await bob.json("/api/v1/sessions", { machineId: b?.machineId, ticket: "T-3" });
    const cardA = await org.owner.json(`/api/v1/machines/${a?.machineId}`);
    expect(cardA.machine).toMatchObject({
      id: a?.machineId,
      clientId: a?.clientId,
      clientName: "Contoso Dental",
      os: "linux",
      online: true,
      runtimeVersion: "0.1.0",
    });
    const ids = cardA.sessions.map((s: any) => s.id);
    expect(ids.indexOf(s2)).toBeLessThan(ids.indexOf(s1));
    expect(ids).not.toContain(s3);
    expect(cardA.sessions.find((s: any) => s.id === s1)).toMatchObject({
      technicianId: aliceId,
      ticket: "T-1",
      state: "open",
      commandCount: 1,
      failedCount: 1,
    });
    const cardB = await org.owner.json(`/api/v1/machines/${b?.machineId}`);
    expect(cardB.machine.clientName).toBe("Litware Law");
    expect(cardB.sessions.map((s: any) => s.id)).toEqual([s3]);
  });
});

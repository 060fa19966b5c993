// Shift handoff and presence: a technician hands a running session to a colleague, who sees everything so far and
// carries on; staff watching live are recorded as participants. Also the machine card after sessions on two
// machines of two clients.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type Api,
  enrollRuntime,
  fetchRecord,
  login as loginAs,
  type Proc,
  type Runtime,
  type Server,
  setupOrganization,
  startServer,
  waitCommand,
  waitFor,
  waitOnline,
} from "../helpers.ts";

const PASSWORD = "correct horse battery staple";
let server: Server;
let owner: Api;
let alice: Api;
let bob: Api;
let bobId: string;
let aliceId: string;
const runtimes: { runtime: Runtime; proc: Proc }[] = [];

function login(email: string): Promise<Api> {
  return loginAs(server.url, email, PASSWORD);
}

beforeAll(async () => {
  server = await startServer();
  owner = await setupOrganization(server.url);
  aliceId = (
    await owner.json("/api/v1/users", {
      name: "Alice Adams",
      email: "alice@northwind.test",
      role: "technician",
      password: PASSWORD,
    })
  ).id;
  bobId = (
    await owner.json("/api/v1/users", {
      name: "Bob Brown",
      email: "bob@northwind.test",
      role: "technician",
      password: PASSWORD,
    })
  ).id;
  alice = await login("alice@northwind.test");
  bob = await login("bob@northwind.test");
  for (const client of ["Contoso Dental", "Litware Law"]) {
    const runtime = await enrollRuntime(server.url, owner, client);
    const proc = runtime.start();
    runtimes.push({ runtime, proc });
    await waitOnline(owner, runtime.machineId);
  }
});

afterAll(async () => {
  for (const r of runtimes) await r.proc.stop();
  await server?.stop();
});

function watch(as: Api, sessionId: string) {
  const events: any[] = [];
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/sessions/${sessionId}/live?after=0`, {
    headers: { authorization: `Bearer ${as.token}` },
  });
  ws.on("message", (m) => events.push(JSON.parse(m.toString())));
  return { ws, events, open: new Promise((r) => ws.on("open", r)) };
}

describe("handoff", () => {
  it("moves a running session to a colleague who sees everything so far and carries on", async () => {
    const machineId = runtimes[0]?.runtime.machineId as string;
    const { id: sessionId } = await alice.json("/api/v1/sessions", { machineId, ticket: "INC-2044" });
    const aliceWatch = watch(alice, sessionId);
    await aliceWatch.open;
    const { commandId } = await alice.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "for i in 1 2 3 4 5 6; do echo step $i; sleep 0.4; done",
      shell: "bash",
    });
    await waitFor(
      async () => (await alice.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`)).command.stdoutBytes >= 14,
      "two steps of output",
    );

    const assigned = await alice.json(`/api/v1/sessions/${sessionId}/assign`, {
      technicianId: bobId,
      note: "End of my shift: disk cleanup still running",
    });
    expect(assigned.seq).toBeGreaterThan(0);
    aliceWatch.ws.close();

    // Bob sees the whole history including the running command's output so far, then it finishes under his watch.
    const bobWatch = watch(bob, sessionId);
    await bobWatch.open;
    await waitFor(() => bobWatch.events.some((e) => e.type === "command.output"), "Bob to see output so far");
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
    await waitFor(
      () => bobWatch.events.some((e) => e.type === "command.finished" && e.data.commandId === next.commandId),
      "Bob's live view",
    );
    bobWatch.ws.close();

    const { events } = await fetchRecord(owner, sessionId);
    const assignedEvent = events.find((e) => e.type === "session.assigned");
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
    const [a, b] = runtimes.map((r) => r.runtime);
    const { id: s1 } = await alice.json("/api/v1/sessions", { machineId: a?.machineId, ticket: "T-1" });
    const failed = await alice.json(`/api/v1/sessions/${s1}/commands`, { command: "exit 4", shell: "sh" });
    await waitCommand(alice, s1, failed.commandId);
    const { id: s2 } = await bob.json("/api/v1/sessions", { machineId: a?.machineId, ticket: "T-2" });
    const { id: s3 } = await bob.json("/api/v1/sessions", { machineId: b?.machineId, ticket: "T-3" });
    const cardA = await owner.json(`/api/v1/machines/${a?.machineId}`);
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
    const cardB = await owner.json(`/api/v1/machines/${b?.machineId}`);
    expect(cardB.machine.clientName).toBe("Litware Law");
    expect(cardB.sessions.map((s: any) => s.id)).toEqual([s3]);
  });
});

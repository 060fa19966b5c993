// Inside workerd: a change's pre-state arrives from the runtime in parts ahead of its start, and the Session records it
// as one command.prestate right before command.started, in the same commit; resent after a reconnect, it is not
// recorded twice; a bad or incomplete one changes nothing but says so.

import { type Prestate, prestateParts } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { call, connectRuntime, enrollMachine, json, ownerOnce, startedFrame } from "./harness.ts";

const owner = ownerOnce("paula@northwind.test");

/** A machine whose client approves nothing, so a change runs at once, and a session on it. */
async function sessionOnMachine() {
  const token = await owner();
  const m = await enrollMachine(token, "Fabrikam Print");
  await json(await call(`/api/v1/clients/${m.clientId}`, { token, body: { approvalPolicy: "never" } }), 200);
  const runtime = await connectRuntime(m);
  const { id: sessionId } = await json(
    await call("/api/v1/sessions", { token, body: { machineId: m.machineId } }),
    201,
  );
  const command = async (text: string) => {
    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: text, shell: "bash" } }),
      202,
    );
    const dispatch = await runtime.box.next();
    expect(dispatch).toMatchObject({ t: "dispatch", commandId });
    return { sessionId, commandId };
  };
  const events = async () => (await json(await call(`/api/v1/sessions/${sessionId}/events`, { token }), 200)).events;
  return { token, m, runtime, sessionId, command, events };
}

const mixed = Buffer.from([0x6b, 0x3d, 0x31, 0x00, 0xc3, 0x28, 0x0d, 0x0a]);
const PROBES: Prestate[] = [
  {
    kind: "file",
    target: "/srv/app.conf",
    exists: true,
    sha256: "9b3c4a1f0d6e2f6a34c8b1d0e5f7a9c2b4d6e8f0a1c3e5f7091b2d3f4a5c6e7f",
    bytes: mixed.length,
    mode: "0644",
    owner: "0:0",
    data: mixed.toString("base64"),
  },
  { kind: "file", target: "/srv/new.conf", exists: false },
  { kind: "file", target: "/srv/locked.conf", exists: false, error: "permission denied" },
];

/** The records' text cut in two, as a larger pre-state would be. */
function twoParts(ref: { sessionId: string; commandId: string }, probes: Prestate[]) {
  const [text] = prestateParts(probes).parts as [string];
  const cut = Math.floor(text.length / 2);
  return [text.slice(0, cut), text.slice(cut)].map((t, part) => ({ t: "prestate", ...ref, part, parts: 2, text: t }));
}

describe("the pre-state of a change", () => {
  it("is recorded once, as command.prestate right before command.started, however often it is resent", async () => {
    const { m, runtime, command, events } = await sessionOnMachine();
    const ref = await command("sed -i 's/1/2/' /srv/app.conf; echo x > /srv/new.conf; rm /srv/locked.conf");
    const [first, second] = twoParts(ref, PROBES);
    const notStarted = { t: "ack", ...ref, started: false, stdout: 0, stderr: 0, finished: false };
    runtime.ws.send(JSON.stringify(first));
    expect(await runtime.box.next()).toEqual(notStarted);
    runtime.ws.send(JSON.stringify(first)); // sent again: replaces itself
    expect(await runtime.box.next()).toEqual(notStarted);
    runtime.ws.send(JSON.stringify(second));
    expect(await runtime.box.next()).toEqual(notStarted);
    expect((await events()).map((e: { type: string }) => e.type)).toEqual(["session.opened", "command.requested"]);

    const started = startedFrame(ref, { pid: 7, user: "root", cwd: "/srv" });
    runtime.ws.send(JSON.stringify(started));
    const startedAck = { ...notStarted, started: true };
    expect(await runtime.box.next()).toEqual(startedAck);

    const recorded = await events();
    expect(recorded.slice(2)).toEqual([
      {
        seq: 3,
        ts: expect.any(String),
        type: "command.prestate",
        actor: `machine:${m.machineId}`,
        data: { commandId: ref.commandId, probes: PROBES },
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      {
        seq: 4,
        ts: recorded[2].ts,
        type: "command.started",
        actor: `machine:${m.machineId}`,
        data: expect.objectContaining({ commandId: ref.commandId, pid: 7 }),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);

    // The runtime reconnects without having seen the acks: it sends everything again, and nothing is recorded twice.
    runtime.ws.close(1000, "network lost");
    const again = await connectRuntime(m);
    const resent = await again.box.next();
    expect(resent).toMatchObject({ t: "dispatch", ...ref, resume: true });
    for (const frame of [first, second, started]) {
      again.ws.send(JSON.stringify(frame));
      expect(await again.box.next()).toEqual(startedAck);
    }
    expect(await events()).toEqual(recorded);
  });

  it("is recorded with no records and the reason when a part never arrived", async () => {
    const { runtime, command, events } = await sessionOnMachine();
    const ref = await command("echo x > /srv/new.conf");
    const [first] = twoParts(ref, PROBES);
    runtime.ws.send(JSON.stringify(first));
    await runtime.box.next();
    runtime.ws.send(JSON.stringify(startedFrame(ref)));
    expect(await runtime.box.next()).toMatchObject({ started: true });
    const recorded = await events();
    expect(recorded.map((e: { type: string }) => e.type)).toEqual([
      "session.opened",
      "command.requested",
      "command.prestate",
      "command.started",
    ]);
    expect(recorded[2].data).toEqual({
      commandId: ref.commandId,
      probes: [],
      error: "the pre-state arrived incomplete (1 of 2 parts)",
    });
  });

  it("refuses bad frames with the protocol's error, recording nothing", async () => {
    const { runtime, command, events } = await sessionOnMachine();
    const ref = await command("rm /srv/old.conf");
    const frame = { t: "prestate", ...ref, part: 0, parts: 1, text: JSON.stringify([PROBES[1]]) };
    const bad: [object, string][] = [
      [{ ...frame, part: 1 }, "part: part must be below parts"],
      [{ ...frame, text: '["é"]' }, "text: must be printable ASCII"],
      [{ ...frame, parts: 13 }, "parts: Too big: expected number to be <=12"],
    ];
    for (const [f, message] of bad) {
      runtime.ws.send(JSON.stringify(f));
      expect(await runtime.box.next()).toEqual({ t: "error", code: "invalid_frame", message });
    }
    // Well-formed but not records: kept until the start, then recorded as unreadable, never as records.
    runtime.ws.send(JSON.stringify({ ...frame, text: '[{"kind":"file","target":"/a"}]' }));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", started: false });
    runtime.ws.send(JSON.stringify({ ...frame, commandId: "cmd_zzzzzzzzzzzzzzzzzzzz" }));
    expect(await runtime.box.next()).toMatchObject({ t: "error", code: "not_found" });
    expect((await events()).map((e: { type: string }) => e.type)).toEqual(["session.opened", "command.requested"]);
    runtime.ws.send(JSON.stringify(startedFrame(ref)));
    await runtime.box.next();
    const recorded = await events();
    expect(recorded[2]).toMatchObject({
      type: "command.prestate",
      data: {
        commandId: ref.commandId,
        probes: [],
        error: "the pre-state was not readable: 0.exists: Invalid input: expected boolean, received undefined",
      },
    });
  });
});

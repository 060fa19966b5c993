// Inside workerd: a runtime's health (its outbox backlog and last error) reaches the machine card and the machine
// list, from the hello and then from health frames; a malformed health frame is refused and changes nothing.

import { describe, expect, it, vi } from "vitest";
import { call, connectRuntime, enrollMachine, json, ownerOnce } from "./harness.ts";

const owner = ownerOnce("hana@health.test", "Healthy Endpoints IT");

async function card(token: string, machineId: string) {
  return (await json(await call(`/api/v1/machines/${machineId}`, { token }), 200)).machine;
}

/** Wait until the card shows the report (health frames are not answered: the card is where they land). */
async function cardShows(token: string, machineId: string, backlogFrames: number) {
  await vi.waitFor(async () => expect((await card(token, machineId)).health?.backlogFrames).toBe(backlogFrames), {
    timeout: 5000,
    interval: 20,
  });
  return (await card(token, machineId)).health;
}

const ageOf = (health: { reportedAt: string }, at: string) => Date.parse(health.reportedAt) - Date.parse(at);

describe("runtime health", () => {
  it("reaches the machine card from the hello, then from each health frame, and stays after the runtime goes", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Contoso Dental");
    expect((await card(t, m.machineId)).health).toBeNull();

    const hello = { backlogFrames: 2, backlogBytes: 4096, oldestAgeMs: 5000, lastError: null };
    const runtime = await connectRuntime(m, { health: hello });
    const fromHello = await cardShows(t, m.machineId, 2);
    expect(fromHello).toMatchObject({ backlogFrames: 2, backlogBytes: 4096, lastError: null });
    expect(ageOf(fromHello, fromHello.oldestAt)).toBe(5000);

    const message = "cannot write the outbox journal: ENOSPC: no space left on device";
    runtime.ws.send(
      JSON.stringify({
        t: "health",
        backlogFrames: 3,
        backlogBytes: 1_258_291,
        oldestAgeMs: 240_000,
        lastError: { ageMs: 60_000, message },
      }),
    );
    const reported = await cardShows(t, m.machineId, 3);
    expect(reported).toMatchObject({ backlogBytes: 1_258_291, lastError: { message } });
    expect(ageOf(reported, reported.oldestAt)).toBe(240_000);
    expect(ageOf(reported, reported.lastError.at)).toBe(60_000);
    // The list carries the same, for its marker.
    const listed = (await json(await call("/api/v1/machines", { token: t }), 200)).machines;
    expect(listed.find((x: { id: string }) => x.id === m.machineId).health).toEqual(reported);

    // Malformed: refused with the protocol's error, and the card is as it was.
    const bad: [object, string][] = [
      [
        { t: "health", backlogFrames: -1, backlogBytes: 0, oldestAgeMs: 1, lastError: null },
        "backlogFrames: Too small: expected number to be >=0",
      ],
      [
        { t: "health", backlogFrames: 0, backlogBytes: 0, oldestAgeMs: 1000, lastError: null },
        "oldestAgeMs: oldestAgeMs must be null exactly when no frame is waiting",
      ],
      [{ t: "health", backlogFrames: 1 }, "backlogBytes: Invalid input: expected number, received undefined"],
    ];
    for (const [frame, why] of bad) {
      runtime.ws.send(JSON.stringify(frame));
      expect(await runtime.box.next()).toEqual({ t: "error", code: "invalid_frame", message: why });
    }
    expect((await card(t, m.machineId)).health).toEqual(reported);

    // Drained: none waiting, the last error still shown.
    runtime.ws.send(
      JSON.stringify({
        t: "health",
        backlogFrames: 0,
        backlogBytes: 0,
        oldestAgeMs: null,
        lastError: { ageMs: 61_000, message },
      }),
    );
    const drained = await cardShows(t, m.machineId, 0);
    expect(drained).toMatchObject({ backlogBytes: 0, oldestAt: null, lastError: { message } });

    runtime.ws.close(1000, "runtime stopping");
    await vi.waitFor(async () => expect((await card(t, m.machineId)).online).toBe(false), { timeout: 5000 });
    expect((await card(t, m.machineId)).health).toEqual(drained);
  });

  it("is not taken before the runtime has proven itself", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Litware Law");
    const res = await call(`/api/v1/runtime/connect?machineId=${m.machineId}`, { headers: { upgrade: "websocket" } });
    const ws = res.webSocket as WebSocket;
    ws.accept();
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    ws.send(JSON.stringify({ t: "health", backlogFrames: 0, backlogBytes: 0, oldestAgeMs: null, lastError: null }));
    expect(await closed).toBe(4401);
    expect((await card(t, m.machineId)).health).toBeNull();
  });
});

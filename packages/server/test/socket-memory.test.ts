// Inside workerd: a Machine whose runtime has gone keeps nothing scheduled, so workerd can evict it and nothing wakes
// it again until the runtime reconnects (bench/memory.mjs measures the memory this is about).

import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { machine } from "../src/env.ts";
import type { Machine } from "../src/objects/machine.ts";
import { call, connectRuntime, enrollMachine, json, ownerOnce } from "./harness.ts";

const owner = ownerOnce("mona@memory.test", "Memory MSP");

async function listedOnline(token: string, machineId: string): Promise<boolean> {
  const { machines } = await json(await call("/api/v1/machines", { token }), 200);
  return machines.find((m: { id: string }) => m.id === machineId).online;
}

describe("a machine whose runtime disconnected", () => {
  it("has no heartbeat alarm left once it is listed offline", async () => {
    const t = await owner();
    const m = await enrollMachine(t);
    const { ws } = await connectRuntime(m);
    await runInDurableObject(machine(env, m.machineId), async (_instance: Machine, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull(); // the heartbeat, while connected
    });
    ws.close(1000, "runtime stopping");
    while (await listedOnline(t, m.machineId)) await new Promise((r) => setTimeout(r, 10));
    await runInDurableObject(machine(env, m.machineId), async (_instance: Machine, state) => {
      expect(await state.storage.getAlarm()).toBeNull();
    });
  });
});

// Inside workerd: a connected runtime's presence is a lease its Machine renews once per PRESENCE_RENEW_MS (not a
// 30 s heartbeat), and the list and the card show what the lease says: online while it is current, offline (stale)
// once it has run out unrenewed, online again after the next renewal.

import { env, runInDurableObject } from "cloudflare:test";
import { PRESENCE_LEASE_MS, PRESENCE_RENEW_MS } from "@caisey/core";
import { describe, expect, it, vi } from "vitest";
import { fleet, machine } from "../src/env.ts";
import type { Fleet } from "../src/objects/fleet.ts";
import type { Machine } from "../src/objects/machine.ts";
import { call, connectRuntime, enrollMachine, json, ownerOnce } from "./harness.ts";

const owner = ownerOnce("pia@presence.test", "Present Endpoints IT");

async function shown(token: string, machineId: string): Promise<{ listed: boolean; card: boolean }> {
  const { machines } = await json(await call("/api/v1/machines", { token }), 200);
  const { machine: card } = await json(await call(`/api/v1/machines/${machineId}`, { token }), 200);
  return { listed: machines.find((m: { id: string }) => m.id === machineId).online, card: card.online };
}

const alarmOf = (machineId: string) =>
  runInDurableObject(machine(env, machineId), async (_instance: Machine, state) => state.storage.getAlarm());

const tenantOf = (machineId: string) =>
  runInDurableObject(
    machine(env, machineId),
    async (_instance: Machine, state) =>
      state.storage.sql.exec<{ tenant_id: string }>("SELECT tenant_id FROM identity").one().tenant_id,
  );

/** The Fleet's lease as if it had last been renewed `ago` ms before now. */
async function leaseRenewedAgo(machineId: string, ago: number): Promise<void> {
  const at = new Date(Date.now() - ago).toISOString();
  await runInDurableObject(fleet(env, await tenantOf(machineId)), async (_instance: Fleet, state) => {
    state.storage.sql.exec("UPDATE machines SET presence_at = ? WHERE id = ?", at, machineId);
  });
}

describe("a connected machine's presence lease", () => {
  it("is renewed by an alarm set for the first renewal (in the second half of the period), not 10 s later", async () => {
    const t = await owner();
    const m = await enrollMachine(t);
    const connectedAt = Date.now();
    await connectRuntime(m);
    await vi.waitFor(async () => expect(await shown(t, m.machineId)).toEqual({ listed: true, card: true }));
    // The challenge's 10 s alarm was replaced by the renewal once the runtime answered.
    await vi.waitFor(async () => expect(await alarmOf(m.machineId)).toBeGreaterThan(connectedAt + 60_000));
    const alarm = (await alarmOf(m.machineId)) as number;
    expect(alarm).toBeGreaterThanOrEqual(connectedAt + PRESENCE_RENEW_MS / 2);
    expect(alarm).toBeLessThanOrEqual(Date.now() + PRESENCE_RENEW_MS);
  });

  it("shows online within the lease, offline once it ran out unrenewed, and online again after the renewal", async () => {
    const t = await owner();
    const m = await enrollMachine(t);
    await connectRuntime(m);
    await vi.waitFor(async () => expect(await shown(t, m.machineId)).toEqual({ listed: true, card: true }));

    // Two renewals missed, not yet three periods: still online (a 90 s heartbeat's staleness no longer applies).
    await leaseRenewedAgo(m.machineId, PRESENCE_LEASE_MS - 60_000);
    expect(await shown(t, m.machineId)).toEqual({ listed: true, card: true });

    // The Machine stopped renewing for the whole lease: stale, shown offline.
    await leaseRenewedAgo(m.machineId, PRESENCE_LEASE_MS + 1000);
    expect(await shown(t, m.machineId)).toEqual({ listed: false, card: false });

    // Its alarm renews the lease (the runtime is still connected) and sets the next renewal within one period.
    const renewedAt = Date.now();
    await runInDurableObject(machine(env, m.machineId), (instance: Machine) => instance.alarm());
    expect(await shown(t, m.machineId)).toEqual({ listed: true, card: true });
    const alarm = (await alarmOf(m.machineId)) as number;
    expect(alarm).toBeGreaterThanOrEqual(renewedAt + PRESENCE_RENEW_MS * 0.9);
    expect(alarm).toBeLessThanOrEqual(Date.now() + PRESENCE_RENEW_MS);
  });

  it("ends at once when the runtime disconnects, and a reconnect shows it online again", async () => {
    const t = await owner();
    const m = await enrollMachine(t);
    const { ws } = await connectRuntime(m);
    await vi.waitFor(async () => expect(await shown(t, m.machineId)).toEqual({ listed: true, card: true }));
    ws.close(1000, "runtime stopping");
    await vi.waitFor(async () => expect(await shown(t, m.machineId)).toEqual({ listed: false, card: false }));
    await connectRuntime(m);
    await vi.waitFor(async () => expect(await shown(t, m.machineId)).toEqual({ listed: true, card: true }));
  });
});

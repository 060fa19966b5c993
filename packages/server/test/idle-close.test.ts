// Inside workerd: the organization's settings, and an open session with nothing happening closing itself after the
// organization's idle time, with the reason in the record; a session with a command waiting stays open.

import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { call, enrollMachine, json, ownerOnce } from "./harness.ts";

const owner = ownerOnce("iris@idle.test", "Idle Hands IT");

/** The settings this file does not change (the close policy's are review.test.ts's). */
const DEFAULTS = { closePolicy: "none", callbackDays: 7 };

const sessionStub = (id: string) => env.SESSION.get(env.SESSION.idFromName(id));

async function state(token: string, sessionId: string): Promise<string> {
  return (await json(await call(`/api/v1/sessions/${sessionId}`, { token }), 200)).session.state;
}

/** Ring the session's alarm until it has closed (each ring only runs what is due by then). */
async function ringUntilClosed(token: string, sessionId: string): Promise<void> {
  await vi.waitFor(
    async () => {
      await runDurableObjectAlarm(sessionStub(sessionId));
      expect(await state(token, sessionId)).toBe("closed");
    },
    { timeout: 10_000, interval: 200 },
  );
}

describe("organization settings", () => {
  it("default to closing idle sessions after a day; the owner changes it, audited; bad input changes nothing", async () => {
    const t = await owner();
    expect(await json(await call("/api/v1/settings", { token: t }), 200)).toEqual({
      ...DEFAULTS,
      idleCloseSeconds: 86_400,
    });
    for (const body of [{}, { idleCloseSeconds: 0 }, { idleCloseSeconds: 1.5 }, { idleCloseSeconds: "3600" }]) {
      const res = await call("/api/v1/settings", { method: "PUT", token: t, body });
      expect((await json(res, 422)).error.code).toBe("invalid_request");
    }
    expect(await json(await call("/api/v1/settings", { token: t }), 200)).toEqual({
      ...DEFAULTS,
      idleCloseSeconds: 86_400,
    });

    expect(
      await json(await call("/api/v1/settings", { method: "PUT", token: t, body: { idleCloseSeconds: 7200 } }), 200),
    ).toEqual({ ...DEFAULTS, idleCloseSeconds: 7200 });
    expect(await json(await call("/api/v1/settings", { token: t }), 200)).toEqual({
      ...DEFAULTS,
      idleCloseSeconds: 7200,
    });
    const { entries } = await json(await call("/api/v1/audit?action=setting.changed", { token: t }), 200);
    expect(entries.map((e: any) => [e.action, e.detail])).toEqual([
      ["setting.changed", { name: "idleCloseSeconds", from: 86_400, to: 7200 }],
    ]);
  });
});

describe("an open session with no activity", () => {
  it("closes itself after the idle time with the reason recorded, but not while a command waits", async () => {
    const t = await owner();
    await json(await call("/api/v1/settings", { method: "PUT", token: t, body: { idleCloseSeconds: 1 } }), 200);
    const m = await enrollMachine(t, "Quiet Clinic"); // never connected: its commands stay queued
    const open = async () =>
      (await json(await call("/api/v1/sessions", { token: t, body: { machineId: m.machineId } }), 201)).id as string;

    const busy = await open();
    const waiting = await json(
      await call(`/api/v1/sessions/${busy}/commands`, { token: t, body: { command: "uptime" } }),
      202,
    );
    expect(waiting.state).toBe("queued");
    const quiet = await open();

    await ringUntilClosed(t, quiet);
    const { events } = await json(await call(`/api/v1/sessions/${quiet}/events`, { token: t }), 200);
    expect(events.map((e: any) => e.type)).toEqual(["session.opened", "session.closed"]);
    const closed = events[1];
    expect(closed).toMatchObject({ actor: "system", data: { reason: "idle", idleCloseSeconds: 1 } });
    expect(closed.data.idleSeconds).toBeGreaterThanOrEqual(1);
    expect(closed.data.idleSeconds).toBe(Math.floor((Date.parse(closed.ts) - Date.parse(events[0].ts)) / 1000));
    // The session list learns it too.
    await vi.waitFor(async () => {
      const { sessions } = await json(await call(`/api/v1/sessions?machineId=${m.machineId}`, { token: t }), 200);
      expect(sessions.map((s: any) => [s.id, s.state]).sort()).toEqual(
        [
          [busy, "open"],
          [quiet, "closed"],
        ].sort(),
      );
    });

    // The busy session was opened before the quiet one, so it has been idle as long; its queued command keeps it open.
    expect(await runDurableObjectAlarm(sessionStub(busy))).toBe(true);
    expect(await state(t, busy)).toBe("open");

    // Once its command is cancelled, the session is idle from then on and closes in its turn.
    await json(
      await call(`/api/v1/sessions/${busy}/commands/${waiting.commandId}/cancel`, { token: t, body: {} }),
      202,
    );
    await ringUntilClosed(t, busy);
    const after = await json(await call(`/api/v1/sessions/${busy}/events`, { token: t }), 200);
    expect(after.events.map((e: any) => e.type)).toEqual([
      "session.opened",
      "command.requested",
      "command.finished",
      "session.closed",
    ]);
    expect(after.events.at(-1)).toMatchObject({ actor: "system", data: { reason: "idle", idleCloseSeconds: 1 } });
    await json(await call("/api/v1/settings", { method: "PUT", token: t, body: { idleCloseSeconds: 86_400 } }), 200);
  });
});

// Durable effects between objects: the receiving object fails N times, an answer is lost, a webhook receiver
// refuses, and still each effect lands exactly once — retried by the sender's outbox with the one backoff policy
// (the tests ring the retry at once instead of waiting it out), received idempotently by sender and seq.

import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { AlarmScheduler } from "../src/durable/alarms.ts";
import { Later } from "../src/durable/later.ts";
import { type Delivery, type Effect, OUTBOX_ALARM, Outbox } from "../src/durable/outbox.ts";
import { fleet, session, tenant } from "../src/env.ts";
import type { Fleet } from "../src/objects/fleet.ts";
import type { Session } from "../src/objects/session/index.ts";
import type { Tenant } from "../src/objects/tenant.ts";
import {
  call,
  connectRuntime,
  enrollMachine,
  finishedFrame,
  json,
  PASSWORD,
  type SimulatedMachine,
  startedFrame,
} from "./harness.ts";

type Sender = ReturnType<typeof fleet> | ReturnType<typeof tenant> | ReturnType<typeof session>;
type Receiving = { applyEffect(source: string, effect: Effect): void };
type Sending = { deliverEffects(to: string, effects: Effect[]): Promise<Delivery> };

/** The object's next `n` receipts fail (each rolls back its transaction); counts the faults actually injected. */
async function failReceipts(stub: Sender, n: number): Promise<{ injected: number }> {
  const faults = { injected: 0 };
  await runInDurableObject(stub, (instance: Fleet | Tenant | Session) => {
    const receiving = instance as unknown as Receiving;
    const apply = receiving.applyEffect.bind(instance);
    receiving.applyEffect = (source, effect) => {
      if (faults.injected < n) {
        faults.injected++;
        throw new Error("injected fault");
      }
      apply(source, effect);
    };
  });
  return faults;
}

/** The sender's next delivery lands, but its answer is lost: the sender sees a failure and sends it again. */
async function loseNextAnswer(sender: Sender): Promise<{ lost: number }> {
  const lost = { lost: 0 };
  await runInDurableObject(sender, (instance: Fleet | Tenant | Session) => {
    const sending = instance as unknown as Sending;
    const deliver = sending.deliverEffects.bind(instance);
    sending.deliverEffects = async (to, effects) => {
      const answer = await deliver(to, effects);
      if (lost.lost > 0 || answer.error !== undefined) return answer;
      lost.lost++;
      return { delivered: 0, error: "the answer was lost" };
    };
  });
  return lost;
}

function undelivered(stub: Sender): Promise<number> {
  return runInDurableObject(
    stub,
    (_instance: Fleet | Tenant | Session, state) =>
      state.storage.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL AND given_up = 0")
        .one().n,
  );
}

/** Ring the sender's outbox alarm now, as if each backoff had passed. */
async function retryNow(stub: Sender): Promise<void> {
  await runInDurableObject(stub, (_instance: Fleet | Tenant | Session, state) => {
    state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE delivered_at IS NULL AND given_up = 0");
    state.storage.sql.exec("UPDATE alarms SET at = 0");
  });
  await runDurableObjectAlarm(stub);
}

/** Retry until the sender's outbox is empty (at most `rounds` times). */
async function retryUntilDelivered(stub: Sender, rounds = 10): Promise<number> {
  let n = 0;
  while ((await undelivered(stub)) > 0) {
    if (++n > rounds) throw new Error("the outbox did not empty");
    await retryNow(stub);
  }
  return n;
}

let owner: string;
let tenantId: string;
let ownerId: string;

beforeAll(async () => {
  const setup = await json(
    await call("/api/v1/setup", {
      body: { organization: "Northwind IT", name: "Olivia Owner", email: "owner@effects.test", password: PASSWORD },
    }),
    201,
  );
  owner = setup.token;
  tenantId = setup.tenantId;
  ownerId = setup.userId;
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("durable effects under faults", () => {
  it("lands an enrolled machine and its client's name in the Fleet once, though the Fleet fails 3 times", async () => {
    const faults = await failReceipts(fleet(env, tenantId), 3);
    const m: SimulatedMachine = await enrollMachine(owner, "Contoso Dental");
    await retryUntilDelivered(tenant(env, tenantId));
    expect(faults.injected).toBe(3);
    const { machines } = await json(await call("/api/v1/machines", { token: owner }), 200);
    expect(machines.map((x: { id: string; clientName: string }) => [x.id, x.clientName])).toEqual([
      [m.machineId, "Contoso Dental"],
    ]);
    // The first effect took four attempts; the ones behind it waited, in order, and went in one delivery.
    const rows = await runInDurableObject(tenant(env, tenantId), (_i: Tenant, state) =>
      state.storage.sql
        .exec<{ kind: string; attempts: number }>(
          "SELECT kind, attempts FROM outbox WHERE target = ? AND key IN (?, ?) ORDER BY seq",
          `fleet:${tenantId}`,
          m.clientId,
          m.machineId,
        )
        .toArray(),
    );
    expect(rows).toEqual([
      { kind: "client.named", attempts: 4 },
      { kind: "machine.enrolled", attempts: 1 },
    ]);
  });

  it("adds the Fleet's audit entry to the Tenant once, though the Tenant fails twice and then an answer is lost", async () => {
    const m = await enrollMachine(owner, "Litware Law");
    const faults = await failReceipts(tenant(env, tenantId), 2);
    const lost = await loseNextAnswer(fleet(env, tenantId));
    expect((await call(`/api/v1/machines/${m.machineId}/revoke`, { token: owner, body: {} })).status).toBe(204);
    await retryUntilDelivered(fleet(env, tenantId));
    expect([faults.injected, lost.lost]).toEqual([2, 1]);
    const { entries } = await json(await call("/api/v1/audit?limit=500", { token: owner }), 200);
    const revoked = entries.filter(
      (e: { action: string; target: string }) => e.action === "machine.revoked" && e.target === m.machineId,
    );
    expect(revoked).toEqual([
      expect.objectContaining({
        actor: `user:${ownerId}`,
        detail: { hostname: "FRONTDESK-01", clientId: m.clientId },
      }),
    ]);
  });

  it("announces an approval by one webhook message, though the Tenant fails once and the receiver twice", async () => {
    const hook = await json(
      await call("/api/v1/webhooks", {
        token: owner,
        body: { url: "https://hooks.test/caisey", events: ["approval.requested"] },
      }),
      201,
    );
    const received: { headers: Record<string, string>; body: string }[] = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith("https://hooks.test/")) return realFetch(input, init);
      received.push({
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        body: String(init?.body),
      });
      return new Response(null, { status: received.length <= 2 ? 503 : 204 });
    });
    const m = await enrollMachine(owner, "Fabrikam Clinic");
    const faults = await failReceipts(tenant(env, tenantId), 1);
    const approval = {
      id: "apr_effects1",
      sessionId: "ses_effects1",
      commandId: "cmd_effects1",
      clientId: m.clientId,
      machineId: m.machineId,
      hostname: "FRONTDESK-01",
      command: "touch /tmp/x",
      shell: "bash",
      summary: "Creates a file",
      requestedBy: ownerId,
      requestedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      state: "pending",
      decidedBy: null,
      decidedAt: null,
      comment: null,
    };
    // Reported by its session twice, the second time unchanged (a later seq): announced once.
    const reported = (seq: number) => ({
      seq,
      kind: "approval.changed",
      key: approval.id,
      payload: JSON.stringify(approval),
    });
    expect(await fleet(env, tenantId).receive("session:ses_effects1", [reported(1)])).toEqual({
      ok: true,
      value: { applied: 1 },
    });
    expect(await fleet(env, tenantId).receive("session:ses_effects1", [reported(2)])).toEqual({
      ok: true,
      value: { applied: 1 },
    });
    await retryUntilDelivered(fleet(env, tenantId));
    await retryUntilDelivered(tenant(env, tenantId));
    expect(faults.injected).toBe(1);
    expect(received.length).toBe(3);
    const wh = new Webhook(hook.secret);
    for (const delivery of received) {
      expect(wh.verify(delivery.body, delivery.headers)).toMatchObject({
        type: "approval.requested",
        data: { id: approval.id, clientName: "Fabrikam Clinic", requestedByName: "Olivia Owner" },
      });
    }
    expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(1); // one message, retried
    const { deliveries } = await json(await call("/api/v1/webhooks", { token: owner }), 200);
    expect(deliveries).toEqual([
      {
        id: received[0]?.headers["webhook-id"],
        webhookId: hook.id,
        event: "approval.requested",
        attempts: 3,
        deliveredAt: expect.any(String),
        lastError: null,
      },
    ]); // Removed, so later tests announce to no one.
    expect((await call(`/api/v1/webhooks/${hook.id}/delete`, { token: owner, body: {} })).status).toBe(204);
  });

  it("lands a Session's reports in the Fleet once each (list, counters, timeline, last user), though the Fleet fails 3 times and an answer is lost", async () => {
    const m = await enrollMachine(owner, "Tailspin Toys");
    await json(await call(`/api/v1/clients/${m.clientId}`, { token: owner, body: { approvalPolicy: "never" } }), 200);
    const { ws, box } = await connectRuntime(m);
    const f = fleet(env, tenantId);
    const faults = await failReceipts(f, 3);
    // Which (source, seq) the Fleet applied, counted where it applies them.
    const applied: string[] = [];
    await runInDurableObject(f, (instance: Fleet) => {
      const receiving = instance as unknown as Receiving;
      const apply = receiving.applyEffect.bind(instance);
      receiving.applyEffect = (source, effect) => {
        apply(source, effect);
        if (source.startsWith("session:")) applied.push(`${effect.seq} ${effect.kind}`);
      };
    });
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: owner, body: { machineId: m.machineId } }),
      201,
    );
    const s = session(env, sessionId);
    const lost = await loseNextAnswer(s);
    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token: owner, body: { command: "touch /srv/flag" } }),
      202,
    );
    const ref = { sessionId, commandId };
    await box.until((items) => items.some((x) => x.t === "dispatch" && x.commandId === commandId));
    ws.send(JSON.stringify(startedFrame(ref, { user: "svc-backup" })));
    ws.send(JSON.stringify(finishedFrame(ref)));
    await box.until((items) => items.some((x) => x.t === "ack" && x.commandId === commandId && x.finished));
    await retryUntilDelivered(s);
    expect([faults.injected, lost.lost]).toEqual([3, 1]);

    // Each effect the Session kept was applied exactly once, in its order.
    const kept = await runInDurableObject(s, (_i: Session, state) =>
      state.storage.sql.exec<{ seq: number; kind: string }>("SELECT seq, kind FROM outbox ORDER BY seq").toArray(),
    );
    expect(kept.map((e) => e.kind)).toEqual([
      "session.opened",
      "session.updated",
      "machine.user",
      "change.recorded",
      "session.updated",
    ]);
    expect(applied).toEqual(kept.map((e) => `${e.seq} ${e.kind}`));
    const { sessions } = await json(await call(`/api/v1/sessions?machineId=${m.machineId}`, { token: owner }), 200);
    expect(sessions).toEqual([
      expect.objectContaining({ id: sessionId, state: "open", commandCount: 1, failedCount: 0, approvalCount: 0 }),
    ]);
    const card = await json(await call(`/api/v1/machines/${m.machineId}`, { token: owner }), 200);
    expect(card.machine.lastUser).toBe("svc-backup");
    expect(card.changes.map((c: { commandId: string; state: string }) => [c.commandId, c.state])).toEqual([
      [commandId, "finished"],
    ]);
    ws.close();
  });
});

describe("the Fleet's receiving side for a Session's outbox", () => {
  it("applies a Session's reports once per (source, seq), and none of a delivery that fails", async () => {
    const m = await enrollMachine(owner, "Adatum Dental");
    const f = fleet(env, tenantId);
    const sessionId = "ses_effects2";
    const openedAt = new Date().toISOString();
    const source = `session:${sessionId}`;
    const effect = (seq: number, kind: string, payload: unknown) => ({
      seq,
      kind,
      key: sessionId,
      payload: JSON.stringify(payload),
    });
    const update = (commandCount: number) => ({
      sessionId,
      update: {
        state: "open",
        closedAt: null,
        commandCount,
        failedCount: 0,
        approvalCount: 1,
        headSeq: 9,
        technicianId: ownerId,
      },
    });
    const approvalId = "apr_effects2";
    const effects = [
      effect(2, "session.updated", update(1)),
      effect(3, "change.recorded", {
        commandId: "cmd_effects2",
        machineId: m.machineId,
        sessionId,
        command: "touch /tmp/y",
        shell: "bash",
        requestedBy: ownerId,
        startedAt: openedAt,
        state: "finished",
        exitCode: 0,
        approvalId,
      }),
      effect(4, "machine.user", { machineId: m.machineId, user: "root" }),
      effect(5, "approval.changed", {
        id: approvalId,
        sessionId,
        commandId: "cmd_effects2",
        clientId: m.clientId,
        machineId: m.machineId,
        hostname: "FRONTDESK-01",
        command: "touch /tmp/y",
        shell: "bash",
        summary: "Creates a file",
        requestedBy: ownerId,
        requestedAt: openedAt,
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
        state: "pending",
        decidedBy: null,
        decidedAt: null,
        comment: null,
      }),
    ];
    // A machine not here yet (its enrollment still on its way): the last user waits for it, nothing applied.
    expect(
      await f.receive("session:ses_machinenotyet", [
        effect(1, "machine.user", { machineId: "mch_notknownhereyet", user: "root" }),
      ]),
    ).toEqual({
      ok: false,
      status: 503,
      code: "not_applied",
      message: "machines mch_notknownhereyet is not known here yet",
    });
    // Before the session is on the list (e.g. the Tenant's hand-over is still on its way), its reports wait.
    expect(await f.receive(source, effects)).toEqual({
      ok: false,
      status: 503,
      code: "not_applied",
      message: `sessions ${sessionId} is not known here yet`,
    });
    expect(
      await f.receive(source, [
        effect(1, "session.opened", {
          id: sessionId,
          machineId: m.machineId,
          clientId: m.clientId,
          technicianId: ownerId,
          ticket: null,
          openedAt,
        }),
      ]),
    ).toEqual({ ok: true, value: { applied: 1 } });
    const faults = await failReceipts(f, 2);
    for (let i = 0; i < 2; i++)
      expect(await f.receive(source, effects)).toEqual({
        ok: false,
        status: 503,
        code: "not_applied",
        message: "injected fault",
      });
    expect((await f.listSessions({ machineId: m.machineId, limit: 5 }))[0]?.commandCount).toBe(0);
    expect(await f.receive(source, effects)).toEqual({ ok: true, value: { applied: 4 } });
    expect(await f.receive(source, effects)).toEqual({ ok: true, value: { applied: 0 } });
    // A late duplicate with other data changes nothing: seq 2 was applied.
    expect(await f.receive(source, [effect(2, "session.updated", update(7))])).toEqual({
      ok: true,
      value: { applied: 0 },
    });
    expect(faults.injected).toBe(2);

    expect((await f.listSessions({ machineId: m.machineId, limit: 5 }))[0]).toMatchObject({
      commandCount: 1,
      approvalCount: 1,
    });
    expect((await f.machineChanges(m.machineId, 5)).map((c) => c.commandId)).toEqual(["cmd_effects2"]);
    expect((await f.getMachine(m.machineId))?.lastUser).toBe("root");
    expect((await f.getApproval(approvalId, m.clientId))?.state).toBe("pending");
    const announced = await runInDurableObject(f, (_i: Fleet, state) =>
      state.storage.sql.exec("SELECT kind FROM outbox WHERE key = ?", approvalId).toArray(),
    );
    expect(announced).toEqual([{ kind: "webhook.event" }]);
  });
});

describe("the outbox's held delivery (a command's reports in one round trip)", () => {
  it("carries the effects queued during the hold in one delivery, in order, and a failed one is retried and applied once", async () => {
    const stub = fleet(env, "ten_outboxhold0000000001");
    const to = "fleet:ten_outboxheld";
    const result = await runInDurableObject(stub, async (_instance: Fleet, state) => {
      // A receiver that keeps receipts like receiveOnce (highest seq applied) and can lose its next answer.
      const deliveries: string[][] = [];
      const applied: string[] = [];
      let last = 0;
      let loseNext = false;
      const later = new Later(() => state.storage.transactionSync(() => {}));
      const outbox = new Outbox(state.storage, new AlarmScheduler(state.storage), later, {
        deliver: async (target, effects) => {
          expect(target).toBe(to);
          deliveries.push(effects.map((e) => e.kind));
          for (const e of effects) {
            if (e.seq <= last) continue;
            applied.push(e.kind);
            last = e.seq;
          }
          if (loseNext) {
            loseNext = false;
            return { delivered: 0, error: "the answer was lost" };
          }
          return { delivered: effects.length };
        },
        maxAttempts: () => Number.POSITIVE_INFINITY,
        // Each landing marked at once (as for a webhook), so `waiting` reads what was delivered from storage.
        marksLater: () => false,
      });
      const waiting = () =>
        state.storage.sql
          .exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE target = ? AND delivered_at IS NULL", to)
          .one().n;
      // A command's three steps, each in a later task (as the runtime's frames arrive): each keeps its report and asks
      // for a held delivery; the later ones join the first (the hold is long here so the test never races it).
      const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
      outbox.enqueue(to, "session.updated", "s", { step: "sent" });
      const first = outbox.drainSoon(to, 1000);
      await nextTask();
      outbox.enqueue(to, "change.recorded", "c", { step: "started" });
      const second = outbox.drainSoon(to, 1000);
      await nextTask();
      outbox.enqueue(to, "session.updated", "s", { step: "finished" });
      const third = outbox.drainSoon(to, 1000);
      await Promise.all([first, second, third]);
      const batched = { deliveries: [...deliveries], applied: [...applied], waiting: waiting() };

      // The next command's report is delivered, but the answer is lost: it stays in the outbox, the alarm is set for its
      // retry, and the retry (what the alarm does) lands it without applying it twice.
      loseNext = true;
      outbox.enqueue(to, "session.updated", "s", { step: "next" });
      await outbox.drainSoon(to, 20);
      const afterLoss = {
        waiting: waiting(),
        retryArmed:
          state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM alarms WHERE name = ?", OUTBOX_ALARM).one()
            .n === 1,
      };
      state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE target = ? AND delivered_at IS NULL", to);
      await outbox.drain();
      return { batched, afterLoss, deliveries, applied, waiting: waiting() };
    });
    expect(result.batched).toEqual({
      deliveries: [["session.updated", "change.recorded", "session.updated"]],
      applied: ["session.updated", "change.recorded", "session.updated"],
      waiting: 0,
    });
    expect(result.afterLoss).toEqual({ waiting: 1, retryArmed: true });
    expect(result.deliveries.slice(1)).toEqual([["session.updated"], ["session.updated"]]);
    expect(result.applied).toEqual(["session.updated", "change.recorded", "session.updated", "session.updated"]);
    expect(result.waiting).toBe(0);
  });
});

describe("the outbox's rows held in memory", () => {
  it("sends exactly the stored rows: none of a rolled-back enqueue, and storage's after a failure", async () => {
    const stub = fleet(env, "ten_outboxknown000000001");
    const to = "fleet:ten_outboxknown";
    const seen = await runInDurableObject(stub, async (instance: Fleet, state) => {
      const { outbox } = instance as unknown as { outbox: Outbox };
      const deliveries: Effect[][] = [];
      let failNext = false;
      (instance as unknown as Sending).deliverEffects = async (target, effects) => {
        expect(target).toBe(to);
        deliveries.push(effects);
        if (!failNext) return { delivered: effects.length };
        failNext = false;
        return { delivered: 0, error: "refused" };
      };
      const stored = () =>
        state.storage.sql
          .exec<{ seq: number; kind: string; key: string; payload: string; delivered: number }>(
            "SELECT seq, kind, key, payload, delivered_at IS NOT NULL AS delivered FROM outbox WHERE target = ? ORDER BY seq",
            to,
          )
          .toArray();
      outbox.enqueue(to, "first", "k", { n: 1 });
      await outbox.drain(to); // read from storage, then held
      // Kept in a transaction that rolls back: it never existed, so it is never sent.
      expect(() =>
        state.storage.transactionSync(() => {
          outbox.enqueue(to, "rolled-back", "k", { n: 2 });
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      outbox.enqueue(to, "second", "k", { n: 3 });
      await outbox.drain(to);
      // A refused delivery: its retry is sent from storage, once storage says it is due.
      failNext = true;
      outbox.enqueue(to, "third", "k", { n: 4 });
      await outbox.drain(to);
      outbox.enqueue(to, "fourth", "k", { n: 5 });
      await outbox.drain(to); // nothing goes: the third waits out its backoff, and the fourth behind it
      state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE target = ? AND delivered_at IS NULL", to);
      await outbox.drain(to);
      return { deliveries, stored: stored() };
    });
    expect(seen.stored.map((r) => [r.kind, r.payload, r.delivered])).toEqual([
      ["first", '{"n":1}', 1],
      ["second", '{"n":3}', 1],
      ["third", '{"n":4}', 1],
      ["fourth", '{"n":5}', 1],
    ]);
    const [first, second, third, fourth] = seen.stored.map(({ seq, kind, key, payload }) => ({
      seq,
      kind,
      key,
      payload,
    }));
    expect(seen.deliveries).toEqual([[first], [second], [third], [third, fourth]]);
  });
});

describe("the outbox's landings at an object with receipts", () => {
  it("are marked with the sender's next transaction, and rows delivered but not marked when the object goes are delivered again and applied once", async () => {
    const stub = fleet(env, "ten_outboxlater000000001");
    const to = "fleet:ten_outboxlater";
    const seen = await runInDurableObject(stub, async (instance: Fleet, state) => {
      const { outbox } = instance as unknown as { outbox: Outbox };
      // A receiver that keeps receipts as receive() does: the highest seq applied.
      const deliveries: string[][] = [];
      const applied: string[] = [];
      let last = 0;
      const deliver = async (target: string, effects: Effect[]): Promise<Delivery> => {
        expect(target).toBe(to);
        deliveries.push(effects.map((e) => e.kind));
        for (const e of effects.filter((e) => e.seq > last)) {
          applied.push(e.kind);
          last = e.seq;
        }
        return { delivered: effects.length };
      };
      (instance as unknown as Sending).deliverEffects = deliver;
      // Marked later as a Session marks its reports to the Fleet (this Fleet stands in as the sender).
      (instance as unknown as { marksLater(to: string): boolean }).marksLater = (target) => target === to;
      const marked = () =>
        state.storage.sql
          .exec<{ kind: string; delivered: number }>(
            "SELECT kind, delivered_at IS NOT NULL AS delivered FROM outbox WHERE target = ? ORDER BY seq",
            to,
          )
          .toArray()
          .map((r) => [r.kind, r.delivered]);
      state.storage.transactionSync(() => outbox.enqueue(to, "first", "k", { n: 1 }));
      await outbox.drain(to);
      const afterDelivery = marked();
      // The next step's transaction (a command's next report) carries the mark.
      state.storage.transactionSync(() => outbox.enqueue(to, "second", "k", { n: 2 }));
      const afterNextStep = marked();
      await outbox.drain(to);
      // The object goes before its next transaction: a new instance knows only storage, and sends "second" again.
      const fresh = new Outbox(
        state.storage,
        new AlarmScheduler(state.storage),
        new Later(() => state.storage.transactionSync(() => {})),
        { deliver, maxAttempts: () => Number.POSITIVE_INFINITY, marksLater: () => false },
      );
      await fresh.drain(to);
      return { afterDelivery, afterNextStep, deliveries, applied, end: marked() };
    });
    expect(seen.afterDelivery).toEqual([["first", 0]]);
    expect(seen.afterNextStep).toEqual([
      ["first", 1],
      ["second", 0],
    ]);
    expect(seen.deliveries).toEqual([["first"], ["second"], ["second"]]);
    expect(seen.applied).toEqual(["first", "second"]);
    expect(seen.end).toEqual([
      ["first", 1],
      ["second", 1],
    ]);
  });
});

describe("the named-alarm scheduler", () => {
  it("rings each due name once through onAlarm, keeps the later ones, and sets the one alarm for the earliest", async () => {
    const stub = fleet(env, "ten_schedulertest0000001");
    const rang: string[] = [];
    const later = Date.now() + 3600_000;
    await runInDurableObject(stub, (instance: Fleet) => {
      const scheduled = instance as unknown as {
        alarms: { set(name: string, at: number): void };
        onAlarm(name: string): Promise<void>;
      };
      scheduled.onAlarm = async (name) => {
        rang.push(name);
      };
      scheduled.alarms.set("expire", 1);
      scheduled.alarms.set("review", 2);
      scheduled.alarms.set("seal", later);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(rang).toEqual(["expire", "review"]);
    const left = await runInDurableObject(stub, async (_instance: Fleet, state) => ({
      rows: state.storage.sql.exec("SELECT name, at FROM alarms").toArray(),
      alarm: await state.storage.getAlarm(),
    }));
    expect(left).toEqual({ rows: [{ name: "seal", at: later }], alarm: later });
  });

  it("keeps its rows and the one alarm as stored through a rolled-back transaction and a new instance", async () => {
    const stub = fleet(env, "ten_schedulertest0000002");
    const at = Date.now() + 3600_000;
    const stored = async (state: DurableObjectState) => ({
      rows: state.storage.sql.exec("SELECT name, at FROM alarms WHERE name != 'outbox' ORDER BY name").toArray(),
      alarm: await state.storage.getAlarm(),
    });
    const seen = await runInDurableObject(stub, async (instance: Fleet, state) => {
      const alarms = (instance as unknown as { alarms: AlarmScheduler }).alarms;
      state.storage.sql.exec("DELETE FROM alarms");
      alarms.forget();
      alarms.set("expire", at + 5000);
      // Written inside a transaction that rolls back: storage keeps none of it, and neither does the scheduler.
      expect(() =>
        state.storage.transactionSync(() => {
          alarms.setEarliest("expire", at);
          alarms.set("review", at + 1000);
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      const afterRollback = await stored(state);
      // Asks that change nothing stored write nothing, and ones that do are written (not taken as set already).
      alarms.setEarliest("expire", at + 9000);
      alarms.setUnlessSet("review", at + 2000);
      alarms.setEarliest("review", at + 3000);
      const afterAsks = await stored(state);
      // Another instance on the same storage (the object woken again) reads the rows, not what the first one held.
      const woken = new AlarmScheduler(state.storage);
      woken.setEarliest("expire", at + 1000);
      woken.clear("review");
      return { afterRollback, afterAsks, woken: await stored(state) };
    });
    expect(seen).toEqual({
      afterRollback: { rows: [{ name: "expire", at: at + 5000 }], alarm: at + 5000 },
      afterAsks: {
        rows: [
          { name: "expire", at: at + 5000 },
          { name: "review", at: at + 2000 },
        ],
        alarm: at + 2000,
      },
      woken: { rows: [{ name: "expire", at: at + 1000 }], alarm: at + 1000 },
    });
  });
});

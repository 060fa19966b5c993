import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dueAlarms, HTTP_ATTEMPTS, planDrain, RETRY_SCHEDULE_S, retryAt } from "../src/index.ts";

describe("the one backoff policy", () => {
  it("waits 5 s, 30 s, 2 min, 10 min, 1 h, then 6 h, and gives a webhook up after 10 attempts", () => {
    const waits = Array.from({ length: HTTP_ATTEMPTS }, (_, i) => retryAt(i + 1, 0, HTTP_ATTEMPTS));
    expect(waits).toEqual(
      [5, 30, 120, 600, 3600, 21600, 21600, 21600, 21600, null].map((s) => (s === null ? s : s * 1000)),
    );
  });

  it("never gives up on another object, retrying every 6 h at most", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 2 ** 40 }), (attempts, now) => {
        const at = retryAt(attempts, now) as number;
        expect(at - now).toBeGreaterThanOrEqual(5000);
        expect(at - now).toBeLessThanOrEqual(Math.max(...RETRY_SCHEDULE_S) * 1000);
        expect(retryAt(attempts + 1, now) as number).toBeGreaterThanOrEqual(at);
      }),
    );
  });
});

describe("draining the outbox", () => {
  it("sends each due target's oldest rows in order and holds a target whose oldest row waits", () => {
    const plan = planDrain(
      [
        { seq: 4, target: "fleet:a", nextAt: 0 },
        { seq: 1, target: "fleet:a", nextAt: 0 },
        { seq: 2, target: "webhook:w", nextAt: 500 },
        { seq: 3, target: "webhook:w", nextAt: 0 },
        { seq: 5, target: "tenant:t", nextAt: 900 },
        { seq: 6, target: "fleet:a", nextAt: 0 },
      ],
      100,
      2,
    );
    expect(plan).toEqual({ batches: [{ target: "fleet:a", seqs: [1, 4] }], wakeAt: 500 });
  });

  it("sends every row exactly once across batches, in seq order per target", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ target: fc.constantFrom("a", "b", "c"), nextAt: fc.constant(0) }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        (rows, batch) => {
          let pending = rows.map((r, i) => ({ ...r, seq: i + 1 }));
          const sent = new Map<string, number[]>();
          while (pending.length > 0) {
            const plan = planDrain(pending, 0, batch);
            expect(plan.wakeAt).toBeNull();
            for (const b of plan.batches) sent.set(b.target, [...(sent.get(b.target) ?? []), ...b.seqs]);
            const done = new Set(plan.batches.flatMap((b) => b.seqs));
            pending = pending.filter((r) => !done.has(r.seq));
          }
          for (const [target, seqs] of sent) {
            expect(seqs).toEqual(rows.map((r, i) => (r.target === target ? i + 1 : 0)).filter((s) => s > 0));
          }
          expect([...sent.values()].flat().length).toBe(rows.length);
        },
      ),
    );
  });
});

describe("named alarms", () => {
  it("rings every due name, earliest first, and sets the one alarm for the earliest later one", () => {
    expect(
      dueAlarms(
        [
          { name: "outbox", at: 50 },
          { name: "expire", at: 10 },
          { name: "feed", at: 300 },
          { name: "guard", at: 200 },
        ],
        100,
      ),
    ).toEqual({ due: ["expire", "outbox"], next: 200 });
    expect(dueAlarms([], 100)).toEqual({ due: [], next: null });
    expect(dueAlarms([{ name: "a", at: 100 }], 100)).toEqual({ due: ["a"], next: null });
  });
});

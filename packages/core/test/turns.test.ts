// Turns for bulk frames: a small frame with nothing of its session waiting goes at once; bulk frames go one slot at a
// time, round-robin across sessions; a session's frames always come out in the order they were offered.

import { describe, expect, it } from "vitest";
import { BulkGate, Turns } from "../src/turns.ts";

/** Take every item the free slots allow, finishing each at once: the order they come out in. */
function drain<T>(turns: Turns<T>, slots = 1): T[] {
  const out: T[] = [];
  for (let item = turns.take(slots); item !== null; item = turns.take(slots)) {
    out.push(item);
    turns.finished();
  }
  return out;
}

describe("Turns", () => {
  it("lets a small item with nothing of its key waiting go at once, and queues a bulk one", () => {
    const turns = new Turns<string>();
    expect(turns.offer("s1", "started", false)).toBe("now");
    expect(turns.offer("s1", "big-1", true)).toBe("queued");
    expect(turns.waiting).toBe(1);
  });

  it("keeps a key's order: a small item behind its key's waiting bulk item waits too", () => {
    const turns = new Turns<string>();
    turns.offer("s1", "big-1", true);
    expect(turns.offer("s1", "finished", false)).toBe("queued");
    expect(turns.offer("s2", "echo-started", false)).toBe("now"); // another session passes the backlog
    expect(drain(turns)).toEqual(["big-1", "finished"]);
  });

  it("hands out no more items than the slots allow until one is finished", () => {
    const turns = new Turns<string>();
    for (const item of ["a1", "a2", "a3", "a4"]) turns.offer("s1", item, true);
    expect(turns.take(2)).toBe("a1");
    expect(turns.take(2)).toBe("a2");
    expect(turns.take(2)).toBeNull();
    turns.finished();
    expect(turns.take(1)).toBeNull(); // fewer slots under contention: one still under way
    turns.finished();
    expect(turns.take(1)).toBe("a3");
    expect(turns.take(1)).toBeNull();
    turns.finished();
    expect(turns.take(0)).toBe("a4"); // never fewer than one
    turns.finished();
    expect(turns.take(1)).toBeNull();
    expect(turns.waiting).toBe(0);
  });

  it("goes round-robin across keys, in each key's order", () => {
    const turns = new Turns<string>();
    for (const item of ["a1", "a2", "a3"]) turns.offer("a", item, true);
    for (const item of ["b1", "b2"]) turns.offer("b", item, true);
    turns.offer("c", "c1", true);
    expect(drain(turns, 2)).toEqual(["a1", "b1", "c1", "a2", "b2", "a3"]);
  });

  it("lets a key's small items go at once again once its queue is empty", () => {
    const turns = new Turns<string>();
    turns.offer("s1", "big-1", true);
    expect(drain(turns)).toEqual(["big-1"]);
    expect(turns.offer("s1", "finished", false)).toBe("now");
  });

  it("says whether take would hand over an item", () => {
    const turns = new Turns<string>();
    expect(turns.ready(1)).toBe(false);
    turns.offer("s1", "big-1", true);
    expect(turns.ready(1)).toBe(true);
    turns.take(1);
    expect(turns.ready(1)).toBe(false); // its one slot is under way
    expect(turns.ready(2)).toBe(false); // and nothing else waits
  });
});

// The times below are made up: the gate is pure, the caller passes the clock.
describe("BulkGate", () => {
  it("lets one holder at a time through, then rests as long as the item took", () => {
    const gate = new BulkGate({ leaseMs: 1000 });
    expect(gate.enter("m1", 0)).toBe(0);
    expect(gate.enter("m2", 1)).toBeGreaterThan(0); // m1 holds it
    gate.done("m1", 0, 10);
    expect(gate.enter("m2", 10)).toBe(10); // the thread rests for 10 ms
    expect(gate.enter("m2", 15)).toBe(5);
    expect(gate.enter("m2", 20)).toBe(0);
  });

  it("bounds the rest by maxRestMs and scales it by restFactor", () => {
    const gate = new BulkGate({ leaseMs: 1000, restFactor: 2, maxRestMs: 30 });
    gate.enter("m1", 0);
    gate.done("m1", 0, 10);
    expect(gate.enter("m1", 10)).toBe(20);
    gate.enter("m1", 30);
    gate.done("m1", 30, 130);
    expect(gate.enter("m1", 130)).toBe(30);
  });

  it("lets another holder that asked meanwhile go before the last one again", () => {
    const gate = new BulkGate({ leaseMs: 1000, restFactor: 0 });
    gate.enter("m1", 0);
    expect(gate.enter("m2", 1)).toBeGreaterThan(0);
    gate.done("m1", 0, 5);
    expect(gate.enter("m1", 5)).toBeGreaterThan(0); // m2 asked while m1 held it
    expect(gate.enter("m2", 6)).toBe(0);
    gate.done("m2", 6, 8);
    expect(gate.enter("m1", 8)).toBe(0);
  });

  it("lets the last holder go again when nobody else asks any more", () => {
    const gate = new BulkGate({ leaseMs: 1000, restFactor: 0, maxRestMs: 10 });
    gate.enter("m1", 0);
    gate.enter("m2", 1); // asked once, then went quiet (its stream ended)
    gate.done("m1", 0, 2);
    expect(gate.enter("m1", 500)).toBe(0);
  });

  it("frees the gate when a holder's lease runs out, and ignores that holder's late done", () => {
    const gate = new BulkGate({ leaseMs: 100, restFactor: 1 });
    gate.enter("m1", 0);
    expect(gate.enter("m2", 50)).toBeGreaterThan(0);
    expect(gate.enter("m2", 100)).toBe(0); // m1 never said done (its object went away)
    gate.done("m1", 0, 150); // too late: m2 holds it now
    expect(gate.enter("m3", 150)).toBeGreaterThan(0);
    gate.done("m2", 100, 160);
    expect(gate.enter("m3", 220)).toBe(0);
  });
});

// Turns for bulk frames: a small frame with nothing of its session waiting goes at once; bulk frames go one slot at a
// time, round-robin across sessions; a session's frames always come out in the order they were offered.

import { describe, expect, it } from "vitest";
import { Turns } from "../src/turns.ts";

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
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { acceptOutput, type CommandState } from "../../src/index.ts";

const running = (stdoutBytes: number, stderrBytes = 0) => ({
  state: "running" as CommandState,
  stdoutBytes,
  stderrBytes,
});

describe("the exactly-once output rule", () => {
  it.each([
    // committed, offset, length → decision
    [0, 0, 5, { kind: "commit", skip: 0, offset: 0, end: 5 }],
    [5, 5, 3, { kind: "commit", skip: 0, offset: 5, end: 8 }],
    [5, 2, 6, { kind: "commit", skip: 3, offset: 5, end: 8 }],
    [5, 0, 5, { kind: "skip", why: "duplicate" }],
    [5, 1, 2, { kind: "skip", why: "duplicate" }],
    [5, 6, 2, { kind: "skip", why: "gap" }],
  ] as const)("committed %i, chunk at %i of %i bytes", (committed, offset, length, decision) => {
    expect(acceptOutput(running(committed), { stream: "stdout", offset, length })).toEqual(decision);
  });

  it("counts each stream on its own", () => {
    expect(acceptOutput(running(10, 2), { stream: "stderr", offset: 2, length: 1 })).toEqual({
      kind: "commit",
      skip: 0,
      offset: 2,
      end: 3,
    });
    expect(acceptOutput(running(10, 2), { stream: "stderr", offset: 10, length: 1 })).toEqual({
      kind: "skip",
      why: "gap",
    });
  });

  it("skips output for an ended command and refuses it before the command started", () => {
    for (const state of ["finished", "cancelled", "timed_out", "interrupted", "failed", "declined"] as const)
      expect(
        acceptOutput({ state, stdoutBytes: 0, stderrBytes: 0 }, { stream: "stdout", offset: 0, length: 1 }),
      ).toEqual({ kind: "skip", why: "final" });
    for (const state of ["queued", "awaiting_approval"] as const)
      expect(
        acceptOutput({ state, stdoutBytes: 0, stderrBytes: 0 }, { stream: "stdout", offset: 0, length: 1 }),
      ).toEqual({ kind: "refuse", code: "not_started", message: "output before command.started" });
  });

  it("commits exactly the stream's bytes once, in order, whatever the runtime resends, repeats or reorders", () => {
    const delivery = fc.uint8Array({ minLength: 1, maxLength: 200 }).chain((stream) =>
      fc.record({
        stream: fc.constant(stream),
        // Chunks the runtime sends: any slice of the stream (overlapping, repeated), in any order.
        sends: fc.array(
          fc
            .tuple(fc.nat({ max: stream.length - 1 }), fc.integer({ min: 1, max: stream.length }))
            .map(([from, length]) => ({ offset: from, length: Math.min(length, stream.length - from) })),
          { maxLength: 40 },
        ),
        resendBytes: fc.integer({ min: 1, max: 64 }),
      }),
    );
    fc.assert(
      fc.property(delivery, ({ stream, sends, resendBytes }) => {
        const record: number[] = [];
        let committed = 0;
        const offer = (offset: number, length: number) => {
          const d = acceptOutput(running(committed), { stream: "stdout", offset, length });
          if (d.kind !== "commit") return;
          expect(d.offset).toBe(record.length); // appended right after what is committed: never twice, never a hole
          record.push(...stream.subarray(offset + d.skip, offset + length));
          committed = d.end;
        };
        for (const s of sends) offer(s.offset, s.length);
        // Then the runtime resends from the acknowledged length until everything is acknowledged.
        while (committed < stream.length) offer(committed, Math.min(resendBytes, stream.length - committed));
        expect(Uint8Array.from(record)).toEqual(stream);
      }),
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { frameWait, OUTPUT_COALESCING } from "../src/index.ts";

describe("when the runtime frames read output (frameWait)", () => {
  const c = OUTPUT_COALESCING;

  it("waits while reads keep coming, and frames once the stream is quiet", () => {
    // First byte at 100, the last just read: wait the whole quiet time.
    expect(frameWait(100, 110, 110, c)).toBe(2);
    // Read 1 ms ago: the rest of the quiet time.
    expect(frameWait(100, 110, 111, c)).toBe(1);
    // Quiet for 2 ms: now.
    expect(frameWait(100, 110, 112, c)).toBe(0);
  });

  it("frames a stream that never goes quiet 25 ms after its first byte, whatever still comes", () => {
    expect(frameWait(100, 124, 124, c)).toBe(1);
    expect(frameWait(100, 125, 125, c)).toBe(0);
    expect(frameWait(100, 130, 130, c)).toBe(0);
  });

  it("never waits past either bound, and says 0 exactly when a bound is reached", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(100), fc.nat(100), (firstAt, readAfter, checkAfter) => {
        const lastAt = firstAt + readAfter;
        const now = lastAt + checkAfter;
        const wait = frameWait(firstAt, lastAt, now, c);
        expect(wait).toBeGreaterThanOrEqual(0);
        expect(now + wait - lastAt).toBeLessThanOrEqual(Math.max(c.quietMs, now - lastAt));
        expect(now + wait - firstAt).toBeLessThanOrEqual(Math.max(c.maxMs, now - firstAt));
        expect(wait === 0).toBe(now - lastAt >= c.quietMs || now - firstAt >= c.maxMs);
      }),
    );
  });
});

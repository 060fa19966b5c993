// Credential throttling: a key slows down after its allowance with a doubling, bounded delay; it is never locked, a
// success starts the account afresh, and keys are forgotten after a quiet spell.

import { describe, expect, it } from "vitest";
import {
  type Attempts,
  admitted,
  failed,
  retryAfterSeconds,
  succeeded,
  THROTTLE,
  throttleKey,
  waitMs,
  withdrawn,
} from "../src/throttle.ts";

const T = 1_700_000_000_000;
const account = throttleKey("account", "Tina@Example.test");

/** `n` attempts admitted back to back at T, each failing. */
function failures(n: number): Attempts | null {
  let a: Attempts | null = null;
  for (let i = 0; i < n; i++) a = failed(admitted(a, T), T);
  return a;
}

describe("credential throttling", () => {
  it("names keys by kind, emails without case", () => {
    expect(account).toBe("account:tina@example.test");
    expect(throttleKey("address", "192.0.2.7")).toBe("address:192.0.2.7");
    expect(throttleKey("operator")).toBe("operator");
  });

  it("admits an account's first five failures at once, then waits 1 s, 2 s, 4 s … up to 60 s", () => {
    for (let n = 0; n < THROTTLE.allowance.account; n++) expect(waitMs(account, failures(n), T)).toBe(0);
    expect(waitMs(account, failures(5), T)).toBe(1000);
    expect(waitMs(account, failures(6), T)).toBe(2000);
    expect(waitMs(account, failures(7), T)).toBe(4000);
    expect(waitMs(account, failures(11), T)).toBe(60_000);
    expect(waitMs(account, failures(500), T)).toBe(60_000);
    // The wait runs from the last attempt: half-way through, half is left; after it, the next attempt is admitted.
    expect(waitMs(account, failures(6), T + 1500)).toBe(500);
    expect(waitMs(account, failures(500), T + 60_000)).toBe(0);
  });

  it("runs the delay from the failed answer, not from the admission (a slow hash does not use it up)", () => {
    const fifth = admitted(failures(4), T);
    expect(waitMs(account, fifth, T)).toBe(1000); // concurrent attempts wait while the fifth is being checked
    const answered = failed(fifth, T + 900);
    expect(answered).toEqual({ failures: 5, lastAt: T + 900 });
    expect(waitMs(account, answered, T + 1000)).toBe(900);
  });

  it("allows a trusted address twenty failures and the operator secret ten", () => {
    const address = throttleKey("address", "192.0.2.7");
    expect(waitMs(address, failures(19), T)).toBe(0);
    expect(waitMs(address, failures(20), T)).toBe(1000);
    expect(waitMs("operator", failures(9), T)).toBe(0);
    expect(waitMs("operator", failures(10), T)).toBe(1000);
  });

  it("forgets a key's failures after a quiet spell", () => {
    const many = failures(9);
    expect(admitted(many, T + THROTTLE.forgetAfterMs - 1)).toEqual({
      failures: 10,
      lastAt: T + THROTTLE.forgetAfterMs - 1,
    });
    expect(admitted(many, T + THROTTLE.forgetAfterMs)).toEqual({ failures: 1, lastAt: T + THROTTLE.forgetAfterMs });
    expect(waitMs(account, many, T + THROTTLE.forgetAfterMs)).toBe(0);
  });

  it("starts an account afresh on success; an address and a withdrawn attempt give back one", () => {
    expect(succeeded(account, failures(7))).toBeNull();
    expect(succeeded("operator", failures(7))).toBeNull();
    expect(succeeded(throttleKey("address", "192.0.2.7"), failures(7))).toEqual({ failures: 6, lastAt: T });
    expect(succeeded(throttleKey("address", "192.0.2.7"), failures(1))).toBeNull();
    expect(withdrawn(failures(3))).toEqual({ failures: 2, lastAt: T });
    expect(withdrawn(failures(1))).toBeNull();
    expect(withdrawn(null)).toBeNull();
  });

  it("says Retry-After in whole seconds, never 0", () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(60_000)).toBe(60);
  });
});

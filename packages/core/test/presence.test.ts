import { describe, expect, it } from "vitest";
import { nextRenewal, PRESENCE_LEASE_MS, PRESENCE_RENEW_MS, shownOnline } from "../src/presence.ts";

describe("presence lease", () => {
  it("renews first in the second half of the period, then within its last tenth", () => {
    expect(nextRenewal(1000, true, 0)).toBe(1000 + PRESENCE_RENEW_MS / 2);
    expect(nextRenewal(1000, true, 0.999999)).toBeLessThanOrEqual(1000 + PRESENCE_RENEW_MS);
    expect(nextRenewal(1000, false, 0)).toBe(1000 + PRESENCE_RENEW_MS);
    expect(nextRenewal(1000, false, 0.999999)).toBeGreaterThanOrEqual(1000 + PRESENCE_RENEW_MS * 0.9);
    // A missed renewal or two never lets a connected machine's lease run out.
    expect(PRESENCE_LEASE_MS).toBeGreaterThan(2 * PRESENCE_RENEW_MS);
  });

  it("shows online only a connected, unrevoked machine whose lease is current", () => {
    const now = Date.parse("2026-01-01T12:00:00.000Z");
    const at = (ago: number) => new Date(now - ago).toISOString();
    const machine = { online: true, presenceAt: at(PRESENCE_LEASE_MS - 1), revoked: false };
    expect(shownOnline(machine, now)).toBe(true);
    expect(shownOnline({ ...machine, presenceAt: at(PRESENCE_LEASE_MS) }, now)).toBe(false);
    expect(shownOnline({ ...machine, presenceAt: null }, now)).toBe(false);
    expect(shownOnline({ ...machine, online: false }, now)).toBe(false);
    expect(shownOnline({ ...machine, revoked: true }, now)).toBe(false);
  });
});

// The runtime's health: its outbox backlog (frames, output bytes, since when the oldest waits) and last error, as the
// hello and health frames report them and as `status` prints them.
import type { HealthFrame } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { HealthWatch } from "../src/health.ts";
import { Outbox } from "../src/outbox.ts";
import { describeStatus, statusOf } from "../src/status.ts";

const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };
const output = (offset: number, bytes: number) =>
  ({ t: "output", ...ref, stream: "stdout", offset, data: Buffer.alloc(bytes, 0x61).toString("base64") }) as const;
const ack = (stdout: number) => ({ t: "ack", ...ref, started: false, stdout, stderr: 0, finished: false }) as const;

function watched() {
  let now = Date.parse("2026-12-01T10:00:00.000Z");
  const outbox = new Outbox({ windowBytes: 1 << 30 });
  const health = new HealthWatch(() => now);
  health.watch(outbox.store);
  const sent: HealthFrame[] = [];
  return {
    outbox,
    health,
    sent,
    connect: () => health.connected((frame) => sent.push(frame)),
    later: (ms: number) => {
      now += ms;
    },
  };
}

describe("health", () => {
  it("counts the frames and output bytes waiting for an ack, and dates the oldest from when it was first seen", () => {
    const w = watched();
    expect(w.health.backlog()).toEqual({ frames: 0, bytes: 0, oldestAt: null, lastError: null });
    w.outbox.push(output(0, 1000));
    w.outbox.push(output(1000, 500));
    const t0 = Date.parse("2026-12-01T10:00:00.000Z");
    expect(w.health.backlog()).toEqual({ frames: 2, bytes: 1500, oldestAt: t0, lastError: null });
    w.later(30_000);
    w.outbox.push(output(1500, 20));
    expect(w.health.backlog()).toMatchObject({ frames: 3, bytes: 1520, oldestAt: t0 });
    w.later(10_000);
    w.outbox.ack(ack(1500)); // the first two are in: the oldest left was first seen 30 s in
    expect(w.health.backlog()).toMatchObject({ frames: 1, bytes: 20, oldestAt: t0 + 30_000 });
    w.outbox.ack(ack(1520));
    expect(w.health.backlog()).toMatchObject({ frames: 0, bytes: 0, oldestAt: null });
  });

  it("keeps the last error line, not ordinary ones", () => {
    const w = watched();
    w.health.noteLine("connected");
    expect(w.health.backlog().lastError).toBeNull();
    w.health.noteLine("cannot connect: connect ECONNREFUSED 127.0.0.1:8787");
    w.later(1000);
    w.health.noteLine("running cmd_x (bash)");
    expect(w.health.backlog().lastError).toEqual({
      at: Date.parse("2026-12-01T10:00:00.000Z"),
      message: "cannot connect: connect ECONNREFUSED 127.0.0.1:8787",
    });
  });

  it("tells the server in the hello, then only what changed, as ages", () => {
    const w = watched();
    w.outbox.push(output(0, 100));
    expect(w.health.hello()).toEqual({ backlogFrames: 1, backlogBytes: 100, oldestAgeMs: 0, lastError: null });
    w.connect();
    expect(w.sent).toEqual([]); // the hello said it all
    w.later(5000);
    w.health.noteLine("server error invalid_frame: started cmd_x: unknown session");
    w.later(2000);
    w.connect(); // a look (as the timer takes every two seconds)
    expect(w.sent).toEqual([
      {
        t: "health",
        backlogFrames: 1,
        backlogBytes: 100,
        oldestAgeMs: 7000,
        lastError: { ageMs: 2000, message: "server error invalid_frame: started cmd_x: unknown session" },
      },
    ]);
    w.later(2000);
    w.connect();
    expect(w.sent).toHaveLength(1); // nothing changed: the server's picture ages by itself
    w.outbox.ack(ack(100));
    w.connect();
    expect(w.sent.at(-1)).toEqual({
      t: "health",
      backlogFrames: 0,
      backlogBytes: 0,
      oldestAgeMs: null,
      lastError: { ageMs: 4000, message: "server error invalid_frame: started cmd_x: unknown session" },
    });
    w.health.disconnected();
    w.outbox.push(output(100, 1));
    w.connect();
    expect(w.sent.at(-1)).toMatchObject({ backlogFrames: 1 });
  });

  it("is what `status` prints", () => {
    const w = watched();
    w.outbox.push(output(0, 1_258_291));
    w.outbox.push(output(1_258_291, 9));
    const status = { ...statusOf(4242, "0.1.0", true, w.health.backlog()), updatedAt: "2026-12-01T10:00:02.000Z" };
    expect(
      describeStatus("/d", { server: "https://c.test", machineId: "mch_x", enrolledAt: "x" } as never, status, true),
    ).toContain(
      "outbox:      2 frames waiting for the server (1258300 bytes of output, the oldest journalled 2026-12-01T10:00:00.000Z)\n",
    );
  });
});

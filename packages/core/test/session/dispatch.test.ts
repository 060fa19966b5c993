import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CommandState, nextDispatch, type Queued, resumeDispatch } from "../../src/index.ts";

const cmd = (id: string, state: CommandState, flags: Partial<Queued> = {}): Queued => ({
  id,
  state,
  dispatched: false,
  delivered: false,
  cancelRequested: false,
  ...flags,
});

describe("strict-order dispatch", () => {
  it.each([
    ["nothing to do", [], null],
    ["the first queued command", [cmd("a", "finished"), cmd("b", "queued"), cmd("c", "queued")], "b"],
    ["none while one runs", [cmd("a", "running"), cmd("b", "queued")], null],
    ["none while one is on its way", [cmd("a", "queued", { dispatched: true }), cmd("b", "queued")], null],
    ["none behind a command awaiting approval", [cmd("a", "awaiting_approval"), cmd("b", "queued")], null],
    ["the next once the earlier ones ended", [cmd("a", "declined"), cmd("b", "cancelled"), cmd("c", "queued")], "c"],
  ] as const)("%s", (_, commands, next) => {
    expect(nextDispatch(commands)).toBe(next);
  });

  it.each([
    ["idle when all ended", [cmd("a", "finished")], { kind: "idle" }],
    ["waits for the client", [cmd("a", "awaiting_approval"), cmd("b", "queued")], { kind: "awaiting_approval" }],
    ["sends the running command again", [cmd("a", "running", { delivered: true })], { kind: "send", id: "a" }],
    ["sends the queued command", [cmd("a", "failed"), cmd("b", "queued")], { kind: "send", id: "b" }],
    [
      "settles a cancel asked for on the way to an offline machine",
      [cmd("a", "queued", { dispatched: true, cancelRequested: true }), cmd("b", "queued")],
      { kind: "settle_cancel", id: "a" },
    ],
    [
      "sends a delivered command even when a cancel is pending (the runtime records the cancel)",
      [cmd("a", "queued", { delivered: true, cancelRequested: true })],
      { kind: "send", id: "a" },
    ],
  ] as const)("on reconnect: %s", (_, commands, resume) => {
    expect(resumeDispatch(commands)).toEqual(resume);
  });

  it("hands commands to the machine one at a time, in request order, whatever ends them", () => {
    // Each step: a new request (needing approval or not), or something happening to the command in flight or waiting.
    const step = fc.oneof(
      fc.record({ kind: fc.constant("request" as const), approval: fc.boolean() }),
      fc.record({ kind: fc.constant("grant" as const) }),
      fc.record({ kind: fc.constant("decline" as const) }),
      fc.record({ kind: fc.constant("start" as const) }),
      fc.record({
        kind: fc.constant("end" as const),
        state: fc.constantFrom("finished", "failed", "cancelled" as const),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const commands: Queued[] = [];
        const dispatchedOrder: string[] = [];
        const pump = () => {
          const id = nextDispatch(commands);
          if (id === null) return;
          const c = commands.find((c) => c.id === id) as Queued;
          expect(commands.filter((c) => c.state === "running" || (c.state === "queued" && c.dispatched))).toEqual([]);
          c.dispatched = true;
          dispatchedOrder.push(id);
        };
        for (const s of steps) {
          const waiting = commands.find((c) => c.state === "awaiting_approval");
          const inFlight = commands.find((c) => c.state === "running" || (c.state === "queued" && c.dispatched));
          if (s.kind === "request")
            commands.push(
              cmd(`c${String(commands.length).padStart(3, "0")}`, s.approval ? "awaiting_approval" : "queued"),
            );
          else if (s.kind === "grant" && waiting) waiting.state = "queued";
          else if (s.kind === "decline" && waiting) waiting.state = "declined";
          else if (s.kind === "start" && inFlight?.state === "queued") inFlight.state = "running";
          else if (s.kind === "end" && inFlight) inFlight.state = s.state;
          pump();
        }
        expect(dispatchedOrder).toEqual([...dispatchedOrder].sort());
        expect(new Set(dispatchedOrder).size).toBe(dispatchedOrder.length);
        // A command is never handed over while an earlier one still waits for the client or runs.
        for (const id of dispatchedOrder) {
          const earlier = commands.filter((c) => c.id < id);
          expect(earlier.every((c) => c.dispatched || c.state === "declined")).toBe(true);
        }
      }),
    );
  });
});

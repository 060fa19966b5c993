import { describe, expect, it } from "vitest";
import { commandRefusal, type Handoff, handoffRefusal, isTakeover } from "../../src/index.ts";

const ALICE = { id: "usr_alice", name: "Alice Adams", role: "technician" } as const;
const BOB = { id: "usr_bob", name: "Bob Brown", role: "technician" } as const;
const OWEN = { id: "usr_owen", name: "Owen Owner", role: "owner" } as const;
const DANA = { id: "usr_dana", name: "Dana Dispatch", role: "dispatcher" } as const;

describe("who runs commands in a session", () => {
  it("is its holder, and no one else, whatever their role", () => {
    expect(commandRefusal({ id: ALICE.id, name: ALICE.name }, ALICE.id)).toBeNull();
    for (const caller of [BOB, OWEN]) {
      expect(commandRefusal({ id: ALICE.id, name: ALICE.name }, caller.id)).toEqual({
        status: 403,
        code: "not_assigned",
        message:
          "Alice Adams holds this session: only the session's technician runs commands here. Take the session over to run commands.",
      });
    }
  });

  it("says so without a name when the holder's name is not known", () => {
    expect(commandRefusal({ id: ALICE.id, name: null }, BOB.id)?.message).toMatch(/^Another technician holds this/);
  });
});

describe("handoffs", () => {
  const open = { open: true, holderId: ALICE.id };
  const handoff = (by: { id: string }, to: Handoff["to"]): Handoff => ({ by, to });

  it("any staff member hands the session to someone who can run commands", () => {
    expect(handoffRefusal(open, handoff(ALICE, BOB))).toBeNull();
    expect(handoffRefusal(open, handoff(DANA, OWEN))).toBeNull();
    expect(handoffRefusal(open, handoff(ALICE, DANA))).toMatchObject({ status: 422, code: "invalid_assignee" });
  });

  it("a technician or owner takes the session over; a dispatcher cannot, and the holder need not", () => {
    expect(handoffRefusal(open, handoff(BOB, BOB))).toBeNull();
    expect(isTakeover(ALICE.id, handoff(BOB, BOB))).toBe(true);
    expect(handoffRefusal(open, handoff(OWEN, OWEN))).toBeNull();
    expect(handoffRefusal(open, handoff(DANA, DANA))).toEqual({
      status: 422,
      code: "invalid_assignee",
      message: "only someone who can run commands takes a session over",
    });
    expect(handoffRefusal(open, handoff(ALICE, ALICE))).toEqual({
      status: 409,
      code: "already_assigned",
      message: "the session is already assigned to Alice Adams",
    });
  });

  it("a handoff by the holder, or by a third person, is not a takeover", () => {
    expect(isTakeover(ALICE.id, handoff(ALICE, BOB))).toBe(false);
    expect(isTakeover(ALICE.id, handoff(DANA, BOB))).toBe(false);
  });

  it("a closed session is not handed on", () => {
    expect(handoffRefusal({ open: false, holderId: ALICE.id }, handoff(BOB, BOB))).toMatchObject({
      status: 409,
      code: "session_closed",
    });
  });
});

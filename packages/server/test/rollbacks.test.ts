// Rolling back yesterday's fix (issue 12): the reverse proposed from what was recorded before the change, and the
// rollback as a new command on the same machine, always approved by the client, linked to the change's
// `command.finished` event both ways (record, machine card, search).

import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { session } from "../src/env.ts";
import type { Session } from "../src/objects/session/index.ts";
import {
  call,
  connectRuntime,
  enrollMachine,
  finishedFrame,
  json,
  ownerOnce,
  PASSWORD,
  type SimulatedMachine,
  startedFrame,
} from "./harness.ts";

const owner = ownerOnce("owner@rollbacks.test");
const KEY = "HKLM\\Software\\PrintSpooler";
const FIX = `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 1 /f`;
const BEFORE = [{ kind: "registry", target: KEY, name: "DisableRestart", exists: true, type: "REG_DWORD", value: "0" }];
const REVERSE = {
  command: `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 0 /f`,
  shell: "cmd",
  summary: `Set the registry value DisableRestart under ${KEY} back to 0`,
  basis: "prestate",
};

let staff: string;
let alice: string;
let dispatcher: string;
let contact: string;
let m: SimulatedMachine;
let runtime: Awaited<ReturnType<typeof connectRuntime>>;
/** Yesterday's session and its fix. */
let fixSession: string;
let fixCommand: string;

async function person(role: string, name: string, email: string): Promise<string> {
  await json(await call("/api/v1/users", { token: staff, body: { name, email, role, password: PASSWORD } }), 201);
  return (await json(await call("/api/v1/auth/login", { body: { email, password: PASSWORD } }), 200)).token;
}

/**
 * What the runtime records before a change starts (the prestate part of issue 12 brings the runtime's side): the
 * Session appends `command.prestate` as it will, right before `command.started`.
 */
async function recordPrestate(sessionId: string, commandId: string, probes: unknown[]): Promise<void> {
  await runInDurableObject(session(env, sessionId), (instance: Session) => {
    const store = (instance as unknown as { store: { append(t: string, a: string, d: unknown): unknown } }).store;
    store.append("command.prestate", `machine:${m.machineId}`, { commandId, probes });
  });
}

/** The simulated runtime runs the command (once it is dispatched to it) and finishes it with exit code 0. */
async function run(sessionId: string, commandId: string, prestate?: unknown[]): Promise<void> {
  const { ws, box } = runtime;
  await box.until((items) => items.some((x) => x.t === "dispatch" && x.commandId === commandId));
  if (prestate) await recordPrestate(sessionId, commandId, prestate);
  const ref = { sessionId, commandId };
  ws.send(JSON.stringify(startedFrame(ref, { shell: "cmd" })));
  ws.send(JSON.stringify(finishedFrame(ref)));
  await box.until((items) => items.some((x) => x.t === "ack" && x.commandId === commandId && x.finished));
}

async function openSession(token = alice): Promise<string> {
  return (await json(await call("/api/v1/sessions", { token, body: { machineId: m.machineId } }), 201)).id;
}

async function request(sessionId: string, command: string): Promise<string> {
  const body = { command, shell: "cmd" };
  return (await json(await call(`/api/v1/sessions/${sessionId}/commands`, { token: alice, body }), 202)).commandId;
}

const rollback = (body: Record<string, unknown>, token = alice) => call("/api/v1/rollbacks", { token, body });

async function decide(approvalId: string, decision: "approve" | "decline"): Promise<void> {
  await json(await call(`/api/v1/approvals/${approvalId}/decision`, { token: contact, body: { decision } }), 200);
}

async function events(sessionId: string): Promise<any[]> {
  return (await json(await call(`/api/v1/sessions/${sessionId}/events?after=0`, { token: staff }), 200)).events;
}

async function card(): Promise<any> {
  return json(await call(`/api/v1/machines/${m.machineId}`, { token: staff }), 200);
}

beforeAll(async () => {
  staff = await owner();
  m = await enrollMachine(staff, "Contoso Dental", "windows");
  // The client approves nothing: a rollback still asks them.
  await json(await call(`/api/v1/clients/${m.clientId}`, { token: staff, body: { approvalPolicy: "never" } }), 200);
  await json(
    await call(`/api/v1/clients/${m.clientId}/contacts`, {
      token: staff,
      body: { name: "Carla Contact", email: "carla@rollbacks.test", password: PASSWORD },
    }),
    201,
  );
  contact = (
    await json(await call("/api/v1/auth/login", { body: { email: "carla@rollbacks.test", password: PASSWORD } }), 200)
  ).token;
  alice = await person("technician", "Alice Tech", "alice@rollbacks.test");
  dispatcher = await person("dispatcher", "Dan Dispatch", "dan@rollbacks.test");
  runtime = await connectRuntime(m);
  fixSession = await openSession();
  fixCommand = await request(fixSession, FIX);
  await run(fixSession, fixCommand, BEFORE);
  await json(await call(`/api/v1/sessions/${fixSession}/close`, { token: alice, body: {} }), 200);
});

describe("GET …/commands/:cid/reverse", () => {
  it("proposes the command that puts back what was recorded before the change, to staff", async () => {
    for (const token of [alice, dispatcher, staff]) {
      const answer = await json(
        await call(`/api/v1/sessions/${fixSession}/commands/${fixCommand}/reverse`, { token }),
        200,
      );
      expect(answer).toMatchObject({
        reverse: REVERSE,
        reason: "Puts back what Caisey recorded before the change",
        prestate: BEFORE,
        change: { sessionId: fixSession, commandId: fixCommand, command: FIX, requestedByName: "Alice Tech" },
        refusal: null,
      });
      expect(answer.approvalSummary).toMatch(
        /^Reverse a change made on \d{1,2} [A-Z][a-z]+ at \d\d:\d\d by Alice Tech: set the registry value DisableRestart under HKLM\\Software\\PrintSpooler back to 0$/,
      );
    }
  });

  it("is never a contact's (403), and 404 for a command the session does not hold", async () => {
    const refused = await json(
      await call(`/api/v1/sessions/${fixSession}/commands/${fixCommand}/reverse`, { token: contact }),
      403,
    );
    expect(refused.error.code).toBe("forbidden");
    const unknown = "cmd_aaaaaaaaaaaaaaaaaaaa";
    const missing = await json(
      await call(`/api/v1/sessions/${fixSession}/commands/${unknown}/reverse`, { token: alice }),
      404,
    );
    expect(missing.error).toEqual({ code: "not_found", message: "command not found" });
  });

  it("says why there is none: a command Caisey cannot undo, a command that only reads", async () => {
    const s = await openSession();
    const unknown = await request(s, "frobnicate --fix");
    await run(s, unknown);
    const none = await json(await call(`/api/v1/sessions/${s}/commands/${unknown}/reverse`, { token: alice }), 200);
    expect(none).toMatchObject({ reverse: null, refusal: null, approvalSummary: null });
    expect(none.reason).toMatch(/^Caisey cannot/);
    const read = await request(s, "hostname");
    await run(s, read);
    const reads = await json(await call(`/api/v1/sessions/${s}/commands/${read}/reverse`, { token: alice }), 200);
    expect(reads).toMatchObject({
      reverse: null,
      reason: "The command only reads: there is nothing to undo",
      refusal: { code: "not_a_change" },
    });
    await json(await call(`/api/v1/sessions/${s}/close`, { token: alice, body: {} }), 200);
  });
});

describe("POST /api/v1/rollbacks", () => {
  let first: { sessionId: string; commandId: string; approvalId: string; state: string };
  let second: typeof first;

  it("requests the reverse in a new session on the same machine, awaiting the client though its policy is never", async () => {
    first = await json(await rollback({ sessionId: fixSession, commandId: fixCommand }), 202);
    expect(first).toMatchObject({ state: "awaiting_approval" });
    expect(first.sessionId).not.toBe(fixSession);
    const { session: opened, commands } = await json(
      await call(`/api/v1/sessions/${first.sessionId}`, { token: alice }),
      200,
    );
    expect(opened).toMatchObject({ machineId: m.machineId, state: "open" });
    expect(commands).toEqual([
      expect.objectContaining({
        id: first.commandId,
        command: REVERSE.command,
        shell: "cmd",
        state: "awaiting_approval",
      }),
    ]);
  });

  it("links to the original's command.finished: its seq and the chain hash there, as GET …/events shows them", async () => {
    const finished = (await events(fixSession)).find(
      (e) => e.type === "command.finished" && e.data.commandId === fixCommand,
    );
    const requested = (await events(first.sessionId)).find((e) => e.type === "command.requested");
    expect(requested.data.rollbackOf).toEqual({
      sessionId: fixSession,
      commandId: fixCommand,
      seq: finished.seq,
      hash: finished.hash,
    });
  });

  it("asks the contact in words that say what it undoes, when and whose change it was", async () => {
    const { command } = await json(
      await call(`/api/v1/sessions/${fixSession}/commands/${fixCommand}`, { token: alice }),
      200,
    );
    const at = new Date(command.startedAt);
    const day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", timeZone: "UTC" }).format(at);
    const time = new Intl.DateTimeFormat("en-GB", {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZone: "UTC",
    }).format(at);
    const { approvals } = await json(await call("/api/v1/approvals?state=pending", { token: contact }), 200);
    expect(approvals).toEqual([
      expect.objectContaining({
        id: first.approvalId,
        command: REVERSE.command,
        summary: `Reverse a change made on ${day} at ${time} by Alice Tech: set the registry value DisableRestart under ${KEY} back to 0`,
      }),
    ]);
    const asked = (await events(first.sessionId)).find((e) => e.type === "approval.requested");
    expect(asked.data).toMatchObject({
      summary: approvals[0].summary,
      because: "a rollback is always approved by the client",
    });
  });

  it("refuses a second rollback of the same change while the first stands (409), and lets one through once declined", async () => {
    const again = await json(await rollback({ sessionId: fixSession, commandId: fixCommand }), 409);
    expect(again.error.code).toBe("already_rolled_back");
    expect(again.error.message).toContain(first.commandId);
    await decide(first.approvalId, "decline");
    second = await json(
      await rollback({ sessionId: fixSession, commandId: fixCommand, reason: "The accounting app no longer starts" }),
      202,
    );
    expect(second.commandId).not.toBe(first.commandId);
  });

  it("runs once approved; the machine card links both ways and search finds it", async () => {
    await decide(second.approvalId, "approve");
    await run(second.sessionId, second.commandId);
    await vi.waitFor(
      async () => {
        const { changes } = await card();
        const fix = changes.find((c: any) => c.commandId === fixCommand);
        const undo = changes.find((c: any) => c.commandId === second.commandId);
        expect(fix.rollback).toEqual({ sessionId: second.sessionId, commandId: second.commandId, state: "finished" });
        expect(fix.rollbackOf).toBeNull();
        expect(undo.rollback).toBeNull();
        expect(undo.rollbackOf).toMatchObject({ sessionId: fixSession, commandId: fixCommand });
      },
      { timeout: 10_000, interval: 50 },
    );
    await vi.waitFor(
      async () => {
        const { results } = await json(await call("/api/v1/search?q=rollback", { token: staff }), 200);
        expect(results.map((r: any) => r.sessionId)).toEqual(
          expect.arrayContaining([first.sessionId, second.sessionId]),
        );
        expect(results.every((r: any) => r.sessionId !== fixSession)).toBe(true);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it("rolls back again only with force: true", async () => {
    const refused = await json(await rollback({ sessionId: fixSession, commandId: fixCommand }), 409);
    expect(refused.error.code).toBe("already_rolled_back");
    const forced = await json(await rollback({ sessionId: fixSession, commandId: fixCommand, force: true }), 202);
    expect(forced.state).toBe("awaiting_approval");
    const { changes } = await card();
    expect(changes.find((c: any) => c.commandId === fixCommand).rollback).toEqual({
      sessionId: forced.sessionId,
      commandId: forced.commandId,
      state: "awaiting_approval",
    });
  });

  it("takes a command written by hand where Caisey has none, re-described, into an open session on the machine", async () => {
    const s = await openSession();
    const unknown = await request(s, "frobnicate --fix");
    await run(s, unknown);
    const none = await json(await rollback({ sessionId: s, commandId: unknown }), 409);
    expect(none.error.code).toBe("no_reverse");
    expect(none.error.message).toMatch(/^Caisey cannot .*Write the command that undoes it/);
    const into = await openSession();
    const byHand = await json(
      await rollback({
        sessionId: s,
        commandId: unknown,
        command: "sc stop Spooler",
        shell: "cmd",
        sessionIdInto: into,
      }),
      202,
    );
    expect(byHand).toMatchObject({ sessionId: into, state: "awaiting_approval" });
    const asked = (await events(into)).find((e) => e.type === "approval.requested");
    expect(asked.data.summary).toMatch(/^Reverse a change made on .* by Alice Tech: stop the Print Spooler service$/);
  });

  it("refuses what cannot be rolled back, and bad input, changing nothing", async () => {
    const s = await openSession();
    const read = await request(s, "hostname");
    await run(s, read);
    const before = (await card()).changes.length;
    const cases: [Record<string, unknown>, number, string, string?][] = [
      [{ sessionId: s, commandId: read }, 409, "not_a_change"],
      [{ sessionId: s, commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" }, 404, "not_found"],
      [{ sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: fixCommand }, 404, "not_found"],
      [{ sessionId: fixSession }, 422, "invalid_request"],
      [{ sessionId: fixSession, commandId: fixCommand, shell: "powershell" }, 422, "invalid_request"],
      [
        { sessionId: fixSession, commandId: fixCommand, force: true, command: "ls /", shell: "bash" },
        422,
        "shell_unavailable",
      ],
    ];
    for (const [body, status, code] of cases) {
      const answer = await json(await rollback(body), status);
      expect(answer.error.code, JSON.stringify(body)).toBe(code);
      expect(answer.error.message.length).toBeGreaterThan(0);
    }
    // A contact never rolls back; a dispatcher does not run commands.
    for (const token of [contact, dispatcher]) {
      expect((await rollback({ sessionId: fixSession, commandId: fixCommand, force: true }, token)).status).toBe(403);
    }
    // Nothing was requested by any of them.
    const { approvals } = await json(await call("/api/v1/approvals?state=pending", { token: contact }), 200);
    expect(approvals).toHaveLength(2);
    expect((await card()).changes).toHaveLength(before);
  });

  it("refuses a sessionIdInto on another machine", async () => {
    const other = await enrollMachine(staff, "Fabrikam Legal", "windows");
    const there = (
      await json(await call("/api/v1/sessions", { token: alice, body: { machineId: other.machineId } }), 201)
    ).id;
    const answer = await json(
      await rollback({ sessionId: fixSession, commandId: fixCommand, force: true, sessionIdInto: there }),
      422,
    );
    expect(answer.error.code).toBe("other_machine");
  });
});

// Verify before you close, inside workerd: a technician's verdicts on before/after pairs, the organization's close
// policy (none, verdict, review), the dispatcher's review gate with its list and webhooks, and the figures computed
// from the session list (callbacks within the organization's window, and not outside it).

import { env, runInDurableObject } from "cloudflare:test";
import { encodeOutputFrame, toHex, utf8 } from "@caisey/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sha256 } from "../src/crypto.ts";
import type { Fleet } from "../src/objects/fleet.ts";
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
  webhookReceiver,
} from "./harness.ts";

const owner = ownerOnce("olivia@review.test", "Review Ready IT");
const ALICE = { name: "Alice Adams", email: "alice@review.test", role: "technician" };
const DANA = { name: "Dana Dispatch", email: "dana@review.test", role: "dispatcher" };

let hooks: ReturnType<typeof webhookReceiver>;
let ownerToken: string;
let tenantId: string;
const people: Record<string, { id: string; token: string }> = {};
let machine: SimulatedMachine;
let runtime: Awaited<ReturnType<typeof connectRuntime>>;

const put = (token: string, body: object) => call("/api/v1/settings", { method: "PUT", token, body });
const refusal = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: object }).error });

beforeAll(async () => {
  ownerToken = await owner();
  tenantId = (await json(await call("/api/v1/me", { token: ownerToken }), 200)).user.tenantId;
  for (const p of [ALICE, DANA]) {
    const { id } = await json(
      await call("/api/v1/users", { token: ownerToken, body: { ...p, password: PASSWORD } }),
      201,
    );
    const { token } = await json(
      await call("/api/v1/auth/login", { body: { email: p.email, password: PASSWORD } }),
      200,
    );
    people[p.email] = { id, token };
  }
  hooks = webhookReceiver("https://psa.test/");
  hooks.keySecret(
    (
      await json(
        await call("/api/v1/webhooks", {
          token: ownerToken,
          body: {
            url: "https://psa.test/resolution",
            events: ["session.closed", "session.review_requested", "session.reviewed"],
          },
        }),
        201,
      )
    ).secret,
  );
  machine = await enrollMachine(ownerToken, "Contoso Dental");
  // The printer commands run without the client's approval: this file is about what happens after them.
  await json(
    await call(`/api/v1/clients/${machine.clientId}`, { token: ownerToken, body: { approvalPolicy: "never" } }),
    200,
  );
  runtime = await connectRuntime(machine);
});

afterAll(() => {
  vi.restoreAllMocks();
});

const alice = () => people[ALICE.email] as { id: string; token: string };
const dana = () => people[DANA.email] as { id: string; token: string };

const message = (type: string, sessionId: string, n = 1) => hooks.nth(type, n, (m) => m.data.sessionId === sessionId);

async function openSession(token: string, ticket?: string): Promise<string> {
  const body = ticket ? { machineId: machine.machineId, ticket } : { machineId: machine.machineId };
  return (await json(await call("/api/v1/sessions", { token, body }), 201)).id;
}

/** Run a command to its finish through the simulated runtime, with this stdout. */
async function ran(token: string, sessionId: string, command: string, stdout: string): Promise<string> {
  const { commandId } = await json(
    await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command } }),
    202,
  );
  const ref = { sessionId, commandId };
  await runtime.box.until((i) => i.some((f) => f.t === "dispatch" && f.commandId === commandId));
  const acked = () => runtime.box.items.filter((f) => f.t === "ack" && f.commandId === commandId).length;
  runtime.ws.send(JSON.stringify(startedFrame(ref)));
  await runtime.box.until(() => acked() >= 1);
  const bytes = utf8(stdout);
  runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, bytes));
  await runtime.box.until(() => acked() >= 2);
  runtime.ws.send(
    JSON.stringify(finishedFrame(ref, { stdoutBytes: bytes.length, stdoutSha256: toHex(sha256(bytes)) })),
  );
  await vi.waitFor(async () => {
    const { command: c } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${commandId}`, { token }),
      200,
    );
    expect(c.state).toBe("finished");
  });
  return commandId;
}

/** A printer's before and after, as Get-Printer shows them. */
async function beforeAndAfter(token: string, sessionId: string) {
  const baseline = await ran(token, sessionId, "Get-Printer", "Name  Status\nFrontDesk  Error\n");
  const verify = await ran(token, sessionId, "Get-Printer", "Name  Status\nFrontDesk  OK\n");
  return { baseline, verify };
}

const verdict = (token: string, sessionId: string, body: object) =>
  call(`/api/v1/sessions/${sessionId}/verdicts`, { token, body });
const close = (token: string, sessionId: string) => call(`/api/v1/sessions/${sessionId}/close`, { token, body: {} });
const review = (token: string, sessionId: string, body: object) =>
  call(`/api/v1/sessions/${sessionId}/review`, { token, body });
const eventsOf = async (token: string, sessionId: string) =>
  (await json(await call(`/api/v1/sessions/${sessionId}/events`, { token }), 200)).events as any[];

describe("settings", () => {
  it("carry the close policy (default none) and the callback window (default 7 days), audited; bad ones change nothing", async () => {
    const t = ownerToken;
    expect(await json(await call("/api/v1/settings", { token: t }), 200)).toEqual({
      idleCloseSeconds: 86_400,
      closePolicy: "none",
      callbackDays: 7,
    });
    for (const body of [{ closePolicy: "strict" }, { callbackDays: 0 }, { callbackDays: 91 }, { callbackDays: 2.5 }]) {
      expect((await json(await put(t, body), 422)).error.code).toBe("invalid_request");
    }
    expect(await refusal(await put(dana().token, { closePolicy: "none" }))).toMatchObject({ status: 403 });
    expect(await json(await put(t, { closePolicy: "verdict", callbackDays: 14 }), 200)).toEqual({
      idleCloseSeconds: 86_400,
      closePolicy: "verdict",
      callbackDays: 14,
    });
    const { entries } = await json(await call("/api/v1/audit?action=setting.changed", { token: t }), 200);
    expect(entries.map((e: any) => e.detail)).toEqual([
      { name: "callbackDays", from: 7, to: 14 },
      { name: "closePolicy", from: "none", to: "verdict" },
    ]);
    await json(await put(t, { closePolicy: "none", callbackDays: 7 }), 200);
  });
});

describe("a verdict", () => {
  it("names a finished baseline and verification of the session, and is recorded with the actor", async () => {
    const a = alice();
    const sessionId = await openSession(a.token, "INC-100");
    const { baseline, verify } = await beforeAndAfter(a.token, sessionId);
    const body = { baselineCommandId: baseline, verifyCommandId: verify, verdict: "fixed", note: "Status Error → OK" };

    // Bad shapes, someone else's session, commands it does not hold: refused, nothing recorded.
    for (const bad of [
      { ...body, verdict: "maybe" },
      { ...body, baselineCommandId: "nope" },
      { ...body, verifyCommandId: baseline },
      { baselineCommandId: baseline, verdict: "unverifiable", note: "  " },
    ]) {
      expect((await json(await verdict(a.token, sessionId, bad), 422)).error.code).toBe("invalid_request");
    }
    expect(
      await refusal(await verdict(a.token, sessionId, { ...body, verifyCommandId: "cmd_aaaaaaaaaaaaaaaaaaaa" })),
    ).toEqual({ status: 422, code: "unknown_command", message: "the verify command is not a command of this session" });
    expect((await refusal(await verdict(dana().token, sessionId, body))).status).toBe(403);
    expect(await refusal(await verdict(ownerToken, sessionId, body))).toMatchObject({
      status: 403,
      code: "not_assigned",
    });
    // A command still running is not something to judge.
    const { commandId: running } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token: a.token, body: { command: "sleep 100" } }),
      202,
    );
    expect(await refusal(await verdict(a.token, sessionId, { ...body, verifyCommandId: running }))).toEqual({
      status: 422,
      code: "command_not_finished",
      message: "the verify command is queued: a verdict compares commands that finished",
    });
    await runtime.box.until((i) => i.some((f) => f.t === "dispatch" && f.commandId === running));
    runtime.ws.send(
      JSON.stringify(
        finishedFrame({ sessionId, commandId: running }, { state: "failed", exitCode: null, reason: "test" }),
      ),
    );
    expect((await eventsOf(a.token, sessionId)).filter((e) => e.type === "verification.recorded")).toEqual([]);

    const { seq } = await json(await verdict(a.token, sessionId, body), 201);
    const unverifiable = {
      baselineCommandId: baseline,
      verdict: "unverifiable",
      note: "the crash is intermittent: event log clean for an hour",
    };
    const second = await json(await verdict(a.token, sessionId, unverifiable), 201);
    const events = await eventsOf(a.token, sessionId);
    expect(events.filter((e) => e.type === "verification.recorded")).toEqual([
      expect.objectContaining({ seq, actor: `user:${a.id}`, data: body }),
      expect.objectContaining({ seq: second.seq, actor: `user:${a.id}`, data: unverifiable }),
    ]);
    await json(await close(a.token, sessionId), 200);
  });
});

describe("the close policy", () => {
  it("verdict: closing without a verdict is 409 verification_required; with one it closes", async () => {
    const a = alice();
    await json(await put(ownerToken, { closePolicy: "verdict" }), 200);
    const sessionId = await openSession(a.token);
    const { baseline, verify } = await beforeAndAfter(a.token, sessionId);
    const refused = await refusal(await close(a.token, sessionId));
    expect(refused).toMatchObject({ status: 409, code: "verification_required" });
    expect((await eventsOf(a.token, sessionId)).some((e) => e.type.startsWith("session.c"))).toBe(false);
    await json(
      await verdict(a.token, sessionId, {
        baselineCommandId: baseline,
        verifyCommandId: verify,
        verdict: "not_fixed",
        note: "",
      }),
      201,
    );
    expect(await json(await close(a.token, sessionId), 200)).toMatchObject({ state: "closed" });
    const closed = await message("session.closed", sessionId);
    expect(closed.data).toMatchObject({
      sessionId,
      ticket: null,
      technicianId: a.id,
      technicianName: "Alice Adams",
      hostname: "FRONTDESK-01",
      clientName: "Contoso Dental",
      state: "closed",
      by: `user:${a.id}`,
      verdicts: [{ verdict: "not_fixed", baselineCommandId: baseline, verifyCommandId: verify }],
      recipients: [{ id: a.id, name: "Alice Adams", email: "alice@review.test" }],
    });
  });

  it("review: close sends it for review; nothing runs; return reopens it; accept closes it; each step is announced", async () => {
    const a = alice();
    const d = dana();
    await json(await put(ownerToken, { closePolicy: "review" }), 200);
    const sessionId = await openSession(a.token, "PSA-4711");
    const { baseline, verify } = await beforeAndAfter(a.token, sessionId);
    expect(await refusal(await close(a.token, sessionId))).toMatchObject({
      status: 409,
      code: "verification_required",
    });
    const note = "Status: Error → OK after the spooler restart";
    await json(
      await verdict(a.token, sessionId, {
        baselineCommandId: baseline,
        verifyCommandId: verify,
        verdict: "fixed",
        note,
      }),
      201,
    );

    expect(await json(await close(a.token, sessionId), 200)).toMatchObject({ state: "review_pending" });
    const summary = async () =>
      (await json(await call(`/api/v1/sessions/${sessionId}`, { token: a.token }), 200)).session;
    expect((await summary()).state).toBe("review_pending");
    // Frozen while pending: no command, no chat, no verdict, no second request; the technician cannot review it.
    const pending = { status: 409, code: "review_pending" };
    expect(
      await refusal(await call(`/api/v1/sessions/${sessionId}/commands`, { token: a.token, body: { command: "ls" } })),
    ).toMatchObject(pending);
    expect(
      await refusal(await call(`/api/v1/sessions/${sessionId}/messages`, { token: a.token, body: { text: "hi" } })),
    ).toMatchObject(pending);
    expect(
      await refusal(await verdict(a.token, sessionId, { baselineCommandId: baseline, verdict: "fixed" })),
    ).toMatchObject(pending);
    expect(await refusal(await close(a.token, sessionId))).toMatchObject(pending);
    expect((await refusal(await review(a.token, sessionId, { decision: "accept" }))).status).toBe(403);
    expect((await json(await review(d.token, sessionId, { decision: "maybe" }), 422)).error.code).toBe(
      "invalid_request",
    );

    // The dispatcher's list: the session with its machine, client, technician, ticket and the pair's first lines.
    const { reviews } = await json(await call("/api/v1/reviews", { token: d.token }), 200);
    const listed = reviews.find((r: any) => r.sessionId === sessionId);
    expect(listed).toMatchObject({
      machineId: machine.machineId,
      hostname: "FRONTDESK-01",
      clientName: "Contoso Dental",
      technicianId: a.id,
      technicianName: "Alice Adams",
      ticket: "PSA-4711",
      returns: 0,
      verdicts: [
        {
          verdict: "fixed",
          note,
          actor: `user:${a.id}`,
          baseline: {
            id: baseline,
            command: "Get-Printer",
            exitCode: 0,
            firstLines: "Name  Status\nFrontDesk  Error",
            truncated: false,
          },
          verify: {
            id: verify,
            command: "Get-Printer",
            exitCode: 0,
            firstLines: "Name  Status\nFrontDesk  OK",
            truncated: false,
          },
        },
      ],
    });
    expect(Date.parse(listed.requestedAt)).not.toBeNaN();
    expect((await refusal(await call("/api/v1/reviews", { token: a.token }))).status).toBe(403);
    const requested = await message("session.review_requested", sessionId);
    expect(requested.data).toMatchObject({ ticket: "PSA-4711", verdicts: [{ verdict: "fixed", note }] });
    expect(requested.data.recipients.map((r: any) => r.name).sort()).toEqual(["Dana Dispatch", "Olivia Owner"]);

    // Returned with a comment: open again for its technician, who is told.
    expect(
      await json(await review(d.token, sessionId, { decision: "return", comment: "Print a test page too" }), 200),
    ).toMatchObject({ state: "open" });
    expect((await summary()).state).toBe("open");
    const returned = await message("session.reviewed", sessionId);
    expect(returned.data).toMatchObject({
      decision: "return",
      comment: "Print a test page too",
      by: `user:${d.id}`,
      byName: "Dana Dispatch",
      state: "open",
      recipients: [{ id: a.id }],
    });
    const page = await ran(a.token, sessionId, "Print-TestPage", "sent\n");
    await json(
      await verdict(a.token, sessionId, { baselineCommandId: page, verdict: "fixed", note: "test page printed" }),
      201,
    );
    expect(await json(await close(a.token, sessionId), 200)).toMatchObject({ state: "review_pending" });
    expect(await json(await review(d.token, sessionId, { decision: "accept" }), 200)).toMatchObject({
      state: "closed",
    });
    expect((await summary()).state).toBe("closed");
    expect(await refusal(await review(d.token, sessionId, { decision: "return" }))).toMatchObject({
      status: 409,
      code: "not_pending",
    });

    const types = (await eventsOf(a.token, sessionId)).filter(
      (e) => /^(session|verification)\./.test(e.type) && e.type !== "session.opened",
    );
    expect(types.map((e) => [e.type, e.actor, e.data])).toEqual([
      [
        "verification.recorded",
        `user:${a.id}`,
        { baselineCommandId: baseline, verifyCommandId: verify, verdict: "fixed", note },
      ],
      ["session.review_requested", `user:${a.id}`, {}],
      ["session.reviewed", `user:${d.id}`, { decision: "return", comment: "Print a test page too" }],
      [
        "verification.recorded",
        `user:${a.id}`,
        { baselineCommandId: page, verdict: "fixed", note: "test page printed" },
      ],
      ["session.review_requested", `user:${a.id}`, {}],
      ["session.reviewed", `user:${d.id}`, { decision: "accept", comment: null }],
      ["session.closed", `user:${d.id}`, { review: "accepted" }],
    ]);
    const accepted = await message("session.reviewed", sessionId, 2);
    expect(accepted.data).toMatchObject({ decision: "accept", state: "closed", ticket: "PSA-4711" });
    const closed = await message("session.closed", sessionId);
    expect(closed.data).toMatchObject({ ticket: "PSA-4711", reason: "review_accepted", state: "closed" });
    expect(closed.data.verdicts.map((v: any) => v.note)).toEqual([note, "test page printed"]);
    const after = await json(await call("/api/v1/reviews", { token: d.token }), 200);
    expect(after.reviews.map((r: any) => r.sessionId)).not.toContain(sessionId);
    await json(await put(ownerToken, { closePolicy: "none" }), 200);
  });
});

describe("the figures", () => {
  it("count a callback when another session opens on the same machine within the window, and not outside it", async () => {
    const a = alice();
    const other = await enrollMachine(ownerToken, "Fabrikam Law");
    // Three sessions on the machine: the first closes, a second opens (a callback of the first), closes too.
    const first = await openSession(a.token);
    const { baseline, verify } = await beforeAndAfter(a.token, first);
    await json(
      await verdict(a.token, first, {
        baselineCommandId: baseline,
        verifyCommandId: verify,
        verdict: "fixed",
        note: "",
      }),
      201,
    );
    await json(await close(a.token, first), 200);
    const second = await openSession(a.token);
    await json(await close(a.token, second), 200);
    // A session on another machine is no callback of anything.
    const elsewhere = (
      await json(await call("/api/v1/sessions", { token: a.token, body: { machineId: other.machineId } }), 201)
    ).id;
    await json(await close(a.token, elsewhere), 200);

    const fleetStub = env.FLEET.get(env.FLEET.idFromName(tenantId));
    const listed = async () =>
      await runInDurableObject(fleetStub, (f: Fleet) =>
        f.sessionFacts("2000-01-01").sessions.filter((s) => [first, second, elsewhere].includes(s.id)),
      );
    await vi.waitFor(async () => expect((await listed()).map((s) => s.state)).toEqual(["closed", "closed", "closed"]));
    // Only these three sessions count: every other session of this file is moved out of the period.
    await runInDurableObject(fleetStub, (f: Fleet) => {
      const sql = (f as unknown as { ctx: DurableObjectState }).ctx.storage.sql;
      sql.exec(
        "UPDATE sessions SET opened_at = '2001-01-01T00:00:00.000Z', closed_at = '2001-01-01T00:01:00.000Z' WHERE id NOT IN (?, ?, ?)",
        first,
        second,
        elsewhere,
      );
    });
    const figures = async (groupBy: string) =>
      (await json(await call(`/api/v1/metrics?from=2020-01-01&groupBy=${groupBy}`, { token: dana().token }), 200)).rows;

    // Rows come in key order (client ids): sorted by name here.
    const byClient = (await figures("client")).sort((x: any, y: any) => x.label.localeCompare(y.label));
    expect(
      byClient.map((r: any) => [
        r.label,
        r.sessions,
        r.closed,
        r.verified,
        r.callbacks,
        r.callbackRate,
        r.firstContactResolution,
      ]),
    ).toEqual([
      ["Contoso Dental", 2, 2, 1, 1, 0.5, 0.5],
      ["Fabrikam Law", 1, 1, 0, 0, 0, 1],
    ]);
    expect((await figures("technician")).map((r: any) => [r.key, r.label, r.sessions, r.callbacks])).toEqual([
      [a.id, "Alice Adams", 3, 1],
    ]);
    expect((await refusal(await call("/api/v1/metrics?groupBy=machine", { token: ownerToken }))).status).toBe(400);
    expect((await refusal(await call("/api/v1/metrics", { token: a.token }))).status).toBe(403);

    // The first session's close moved eight days before the second opened: outside the 7-day window, no callback.
    await runInDurableObject(fleetStub, (f: Fleet) => {
      const sql = (f as unknown as { ctx: DurableObjectState }).ctx.storage.sql;
      const opened = sql
        .exec<{ opened_at: string }>("SELECT opened_at FROM sessions WHERE id = ?", second)
        .one().opened_at;
      const eightDaysBefore = new Date(Date.parse(opened) - 8 * 24 * 3600_000).toISOString();
      sql.exec(
        "UPDATE sessions SET opened_at = ?, closed_at = ? WHERE id = ?",
        eightDaysBefore,
        eightDaysBefore,
        first,
      );
    });
    expect((await figures("client")).find((r: any) => r.label === "Contoso Dental")).toMatchObject({
      label: "Contoso Dental",
      sessions: 2,
      callbacks: 0,
      callbackRate: 0,
    });
    // A 10-day window takes it in again.
    await json(await put(ownerToken, { callbackDays: 10 }), 200);
    expect((await figures("client")).find((r: any) => r.label === "Contoso Dental")).toMatchObject({ callbacks: 1 });
    await json(await put(ownerToken, { callbackDays: 7 }), 200);
  });
});

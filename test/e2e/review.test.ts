// Verify before you close, on real processes, under each of the organization's close policies: a failed service's
// baseline, the technician's fix run on the machine, the same diagnostic re-run as its verification, a verdict, then
// the close (at once, gated by the verdict, or through a dispatcher's review that can send it back). Then the
// figures: a callback counted from these real records when a second session opens on the same machine.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { weekOf } from "@caisey/core/metrics";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type Api, fetchRecord, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";
import { listUnits, NGINX_FAILED, NGINX_RUNNING, UNITS } from "../service-units.ts";
import { useWebhookReceiver } from "../webhooks.ts";

const PRINT = "Fabrikam Print";
const LAW = "Litware Law";
const THEO = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const DANA = { name: "Dana Dispatch", email: "dana@northwind.test", password: "dana's long password" };
const org = useOrganization({
  technicians: [THEO],
  dispatchers: [DANA],
  // The fix and its checks run without the client's approval: this file is about what happens after them.
  clients: [
    { name: PRINT, approvalPolicy: "never", machine: true },
    { name: LAW, approvalPolicy: "never", machine: true },
  ],
});
const hooks = useWebhookReceiver(org, ["session.closed", "session.review_requested", "session.reviewed"]);

let theo: Api;
let dana: Api;
let theoId: string;
let danaId: string;

beforeAll(async () => {
  theo = await org.login(THEO.email);
  dana = await org.login(DANA.email);
  theoId = org.personId[THEO.email] as string;
  danaId = org.personId[DANA.email] as string;
});

/** The organization's close policy (the owner's setting); answers the settings as they now stand. */
async function closePolicy(closePolicy: "none" | "verdict" | "review") {
  const res = await org.owner.put("/api/v1/settings", { closePolicy });
  expect(res.status).toBe(200);
  return res.json();
}

/** A refused request's status and error code. */
async function refused(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
}

/** Wait until the session list (the figures' source) shows the session in this state. */
async function listedAs(sessionId: string, machineId: string, state: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const { sessions } = await org.owner.json(`/api/v1/sessions?machineId=${machineId}`);
      const listed = sessions.find((s: any) => s.id === sessionId);
      if (listed?.state !== state) throw new Error(`listed as ${listed?.state}`);
    },
    { timeout: 20_000, interval: 100, message: `session ${sessionId} listed as ${state}` },
  );
}

async function run(sessionId: string, command: string): Promise<any> {
  const { commandId } = await theo.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" });
  return waitCommand(theo, sessionId, commandId);
}

/**
 * On a machine whose nginx has failed: Theo opens a session, lists the units (the baseline, exit 3), fixes the unit
 * on the machine with a command of the session, and re-runs the list as its verification (exit 0).
 */
async function fixAndVerify(client = PRINT, ticket?: string) {
  const dir = tempDir("units");
  org.removeLater(dir);
  const file = join(dir, "units.txt");
  writeFileSync(file, UNITS(NGINX_FAILED));
  const machineId = org.machine(client).machineId;
  const { id: sessionId } = await theo.json("/api/v1/sessions", { machineId, ...(ticket ? { ticket } : {}) });
  const baseline = await run(sessionId, listUnits(file));
  expect(baseline).toMatchObject({ state: "finished", exitCode: 3 });
  const fix = await run(sessionId, `sed -i 's/${NGINX_FAILED}/${NGINX_RUNNING}/' '${file}'`);
  expect(fix).toMatchObject({ state: "finished", exitCode: 0 });
  const { commandId } = await theo.json(`/api/v1/sessions/${sessionId}/commands/${baseline.id}/verify`, {});
  const verify = await waitCommand(theo, sessionId, commandId);
  expect(verify).toMatchObject({ state: "finished", exitCode: 0, verifies: baseline.id });
  const diff = await theo.json(`/api/v1/sessions/${sessionId}/commands/${baseline.id}/diff?against=${verify.id}`);
  expect(diff).toMatchObject({
    changed: true,
    summary: { added: 1, removed: 1 },
    exitCode: { before: 3, after: 0, changed: true },
    view: { kind: "table", rows: [{ key: "nginx.service", change: "changed" }] },
  });
  return { sessionId, machineId, baseline: baseline.id as string, fix: fix.id as string, verify: verify.id as string };
}

const FIXED_NOTE = "nginx.service: failed → active (running); the site answers again";

function recordVerdict(sessionId: string, body: object) {
  return theo.post(`/api/v1/sessions/${sessionId}/verdicts`, body);
}

const close = (as: Api, sessionId: string) => as.post(`/api/v1/sessions/${sessionId}/close`, {});
const review = (sessionId: string, decision: "accept" | "return", comment?: string) =>
  dana.post(`/api/v1/sessions/${sessionId}/review`, { decision, ...(comment ? { comment } : {}) });

/**
 * The record as the story reads: every event but the output chunks, with what identifies it (the command, what it
 * verifies, the verdict, the review's decision). The record is fetched and its chain checked against the head.
 */
async function story(sessionId: string): Promise<unknown[][]> {
  const { events } = await fetchRecord(org.owner, sessionId);
  return events
    .filter((e) => e.type !== "command.output")
    .map((e) => {
      const d = e.data;
      switch (e.type) {
        case "command.requested":
          return [e.type, e.actor, d.commandId, d.verifies ?? null];
        case "command.prestate":
        case "command.started":
          return [e.type, d.commandId];
        case "command.finished":
          return [e.type, d.commandId, d.state, d.exitCode];
        case "session.opened":
          return [e.type, e.actor];
        default:
          return [e.type, e.actor, d];
      }
    });
}

/** The record's events up to the verdict, for the session `fixAndVerify` made. */
function fixedStory(s: Awaited<ReturnType<typeof fixAndVerify>>): unknown[][] {
  const ran = (id: string, exitCode: number, verifies: string | null = null, prestate = false) => [
    ["command.requested", `user:${theoId}`, id, verifies],
    ...(prestate ? [["command.prestate", id]] : []),
    ["command.started", id],
    ["command.finished", id, "finished", exitCode],
  ];
  return [
    ["session.opened", `user:${theoId}`],
    ...ran(s.baseline, 3),
    ...ran(s.fix, 0, null, true),
    ...ran(s.verify, 0, s.baseline),
  ];
}

describe("closing under each close policy", () => {
  it("none: the session closes at once, a verdict or not", async () => {
    expect(await closePolicy("none")).toMatchObject({ closePolicy: "none", callbackDays: 7 });
    const s = await fixAndVerify();
    expect(await theo.json(`/api/v1/sessions/${s.sessionId}/close`, {})).toMatchObject({ state: "closed" });
    expect((await theo.json(`/api/v1/sessions/${s.sessionId}`)).session.state).toBe("closed");
    expect(await story(s.sessionId)).toEqual([...fixedStory(s), ["session.closed", `user:${theoId}`, {}]]);
  });

  it("verdict: close is 409 verification_required until a verdict is recorded, then it closes", async () => {
    await closePolicy("verdict");
    const s = await fixAndVerify();
    expect(await refused(await close(theo, s.sessionId))).toEqual([409, "verification_required"]);
    expect((await theo.json(`/api/v1/sessions/${s.sessionId}`)).session.state).toBe("open");
    // "Cannot verify" without its note is refused, and records nothing.
    const unverifiable = { baselineCommandId: s.baseline, verdict: "unverifiable", note: " " };
    expect(await refused(await recordVerdict(s.sessionId, unverifiable))).toEqual([422, "invalid_request"]);
    expect(await refused(await close(theo, s.sessionId))).toEqual([409, "verification_required"]);

    const verdict = { baselineCommandId: s.baseline, verifyCommandId: s.verify, verdict: "fixed", note: FIXED_NOTE };
    expect((await recordVerdict(s.sessionId, verdict)).status).toBe(201);
    expect(await theo.json(`/api/v1/sessions/${s.sessionId}/close`, {})).toMatchObject({ state: "closed" });
    expect(await story(s.sessionId)).toEqual([
      ...fixedStory(s),
      ["verification.recorded", `user:${theoId}`, verdict],
      ["session.closed", `user:${theoId}`, {}],
    ]);
  });

  it("review: close waits for the dispatcher, who returns it with a comment; sent again, accepted, closed and sealed", async () => {
    await closePolicy("review");
    const s = await fixAndVerify(PRINT, "PSA-5120");
    expect(await refused(await close(theo, s.sessionId))).toEqual([409, "verification_required"]);
    const verdict = { baselineCommandId: s.baseline, verifyCommandId: s.verify, verdict: "fixed", note: FIXED_NOTE };
    expect((await recordVerdict(s.sessionId, verdict)).status).toBe(201);

    expect(await theo.json(`/api/v1/sessions/${s.sessionId}/close`, {})).toMatchObject({ state: "review_pending" });
    expect((await theo.json(`/api/v1/sessions/${s.sessionId}`)).session.state).toBe("review_pending");
    // The sessions list narrows to what waits for review (the Fleet hears of the close after the record has it).
    await expect
      .poll(
        async () => (await org.owner.json("/api/v1/sessions?state=review_pending")).sessions.map((x: any) => x.id),
        {
          timeout: 10_000,
        },
      )
      .toEqual([s.sessionId]);
    // Frozen for the review: nothing runs, not even a re-check; no second close; the technician does not judge it.
    const pending = [409, "review_pending"];
    expect(
      await refused(await theo.post(`/api/v1/sessions/${s.sessionId}/commands`, { command: "uptime", shell: "bash" })),
    ).toEqual(pending);
    expect(await refused(await theo.post(`/api/v1/sessions/${s.sessionId}/commands/${s.baseline}/verify`, {}))).toEqual(
      pending,
    );
    expect(await refused(await close(theo, s.sessionId))).toEqual(pending);
    expect((await theo.post(`/api/v1/sessions/${s.sessionId}/review`, { decision: "accept" })).status).toBe(403);
    expect((await org.owner.get(`/api/v1/sessions/${s.sessionId}/seal`)).status).toBe(404);

    // The dispatcher's list holds it, with the ticket and the pair's opening lines.
    const { reviews } = await dana.json("/api/v1/reviews");
    expect(reviews.map((r: any) => r.sessionId)).toEqual([s.sessionId]);
    expect(reviews[0]).toMatchObject({
      ticket: "PSA-5120",
      clientName: PRINT,
      technicianName: THEO.name,
      returns: 0,
      verdicts: [{ verdict: "fixed", note: FIXED_NOTE, baseline: { exitCode: 3 }, verify: { exitCode: 0 } }],
    });

    // Returned with a comment: open again, and its technician is told, in the record and by webhook.
    const comment = "Reload the site from the front desk too, then send it again";
    expect(await dana.json(`/api/v1/sessions/${s.sessionId}/review`, { decision: "return", comment })).toMatchObject({
      state: "open",
    });
    expect((await theo.json(`/api/v1/sessions/${s.sessionId}`)).session.state).toBe("open");
    const returned = await hooks.nth("session.reviewed", s.sessionId);
    expect(returned.data).toMatchObject({
      sessionId: s.sessionId,
      ticket: "PSA-5120",
      decision: "return",
      comment,
      state: "open",
      by: `user:${danaId}`,
      byName: DANA.name,
      recipients: [{ id: theoId, name: THEO.name, email: THEO.email }],
    });
    expect((await dana.json("/api/v1/reviews")).reviews).toEqual([]);

    // Theo does what was asked, records it, and sends the session again; Dana accepts it.
    const curl = await run(s.sessionId, "echo 'HTTP/1.1 200 OK'");
    const second = { baselineCommandId: curl.id, verdict: "fixed", note: "the front desk page loads" };
    expect((await recordVerdict(s.sessionId, second)).status).toBe(201);
    expect(await theo.json(`/api/v1/sessions/${s.sessionId}/close`, {})).toMatchObject({ state: "review_pending" });
    expect((await dana.json("/api/v1/reviews")).reviews).toMatchObject([{ sessionId: s.sessionId, returns: 1 }]);
    expect(await dana.json(`/api/v1/sessions/${s.sessionId}/review`, { decision: "accept" })).toMatchObject({
      state: "closed",
    });
    expect(await refused(await review(s.sessionId, "return"))).toEqual([409, "not_pending"]);

    const { session } = await theo.json(`/api/v1/sessions/${s.sessionId}`);
    expect(session.state).toBe("closed");
    expect(await story(s.sessionId)).toEqual([
      ...fixedStory(s),
      ["verification.recorded", `user:${theoId}`, verdict],
      ["session.review_requested", `user:${theoId}`, {}],
      ["session.reviewed", `user:${danaId}`, { decision: "return", comment }],
      ["command.requested", `user:${theoId}`, curl.id, null],
      ["command.started", curl.id],
      ["command.finished", curl.id, "finished", 0],
      ["verification.recorded", `user:${theoId}`, second],
      ["session.review_requested", `user:${theoId}`, {}],
      ["session.reviewed", `user:${danaId}`, { decision: "accept", comment: null }],
      ["session.closed", `user:${danaId}`, { review: "accepted" }],
    ]);
    // Sealed at the accepted close: the seal names the record's last event.
    const seal = await org.owner.json(`/api/v1/sessions/${s.sessionId}/seal`);
    expect(seal.note.split("\n").slice(0, 5)).toEqual([
      "caisey-seal/v1",
      (await org.owner.json("/api/v1/me")).user.tenantId,
      s.sessionId,
      String(session.head.seq),
      session.head.hash,
    ]);
    const closed = await hooks.nth("session.closed", s.sessionId);
    expect(closed.data).toMatchObject({ ticket: "PSA-5120", reason: "review_accepted", state: "closed" });
    expect(closed.data.verdicts.map((v: any) => [v.verdict, v.note])).toEqual([
      ["fixed", FIXED_NOTE],
      ["fixed", "the front desk page loads"],
    ]);
  });
});

describe("the figures, from real records", () => {
  it("count a callback when a second session opens on the machine after an accepted close, not one elsewhere", async () => {
    await closePolicy("review");
    const from = new Date().toISOString(); // only this story's sessions count
    // The rows, by label (technician or client name, week).
    const figures = async (groupBy: string): Promise<any[]> =>
      (await dana.json(`/api/v1/metrics?from=${encodeURIComponent(from)}&groupBy=${groupBy}`)).rows.sort(
        (x: any, y: any) => x.label.localeCompare(y.label),
      );
    const closeAccepted = async (s: Awaited<ReturnType<typeof fixAndVerify>>) => {
      const verdict = { baselineCommandId: s.baseline, verifyCommandId: s.verify, verdict: "fixed", note: "" };
      expect((await recordVerdict(s.sessionId, verdict)).status).toBe(201);
      expect(await theo.json(`/api/v1/sessions/${s.sessionId}/close`, {})).toMatchObject({ state: "review_pending" });
      expect(await dana.json(`/api/v1/sessions/${s.sessionId}/review`, { decision: "accept" })).toMatchObject({
        state: "closed",
      });
      await listedAs(s.sessionId, s.machineId, "closed");
    };

    // A, on the print shop's machine, closes accepted; then C, on the law firm's machine, opens and closes too.
    const a = await fixAndVerify(PRINT);
    await closeAccepted(a);
    const c = await fixAndVerify(LAW);
    await closeAccepted(c);
    // A session on another machine is no callback of A.
    const allFixed = { verified: 2, verificationRate: 1 };
    expect(await figures("technician")).toMatchObject([
      {
        label: THEO.name,
        sessions: 2,
        closed: 2,
        ...allFixed,
        callbacks: 0,
        callbackRate: 0,
        firstContactResolution: 1,
      },
    ]);

    // B opens on A's machine, well within the 7 days: A was called back.
    const { id: b } = await theo.json("/api/v1/sessions", { machineId: a.machineId });
    await listedAs(b, a.machineId, "open");
    const all = { sessions: 3, closed: 2, ...allFixed, callbacks: 1, callbackRate: 0.5, firstContactResolution: 0.5 };
    expect(await figures("technician")).toMatchObject([{ key: theoId, label: THEO.name, ...all }]);
    expect(await figures("client")).toMatchObject([
      { label: PRINT, sessions: 2, closed: 1, verified: 1, callbacks: 1, callbackRate: 1, firstContactResolution: 0 },
      { label: LAW, sessions: 1, closed: 1, verified: 1, callbacks: 0, callbackRate: 0, firstContactResolution: 1 },
    ]);
    const { session } = await theo.json(`/api/v1/sessions/${b}`);
    expect(await figures("week")).toMatchObject([{ label: `Week of ${weekOf(session.openedAt)}`, ...all }]);
  });
});

// Inside workerd: a finished command re-run as its verification, now or at a set time (a scheduled re-check kept by
// the Session's alarm), linked to its baseline in the record; and the before/after diff of the two.

import { env, runDurableObjectAlarm } from "cloudflare:test";
import { encodeOutputFrame, toHex, utf8 } from "@caisey/core";
import { describe, expect, it, vi } from "vitest";
import { sha256 } from "../src/crypto.ts";
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

const owner = ownerOnce("vera@verify.test", "Verify First IT");
const sessionStub = (id: string) => env.SESSION.get(env.SESSION.idFromName(id));

const UNITS_BEFORE = `  UNIT                     LOAD   ACTIVE SUB     DESCRIPTION
  cron.service             loaded active running Regular background program processing daemon
● nginx.service            loaded failed failed  A high performance web server and a reverse proxy server

2 loaded units listed.
`;
const UNITS_AFTER = UNITS_BEFORE.replace(
  "● nginx.service            loaded failed failed ",
  "  nginx.service            loaded active running",
);

type Runtime = Awaited<ReturnType<typeof connectRuntime>>;

/** The runtime's side of one command: the dispatch it gets, then started, output and finished. */
async function runAsRuntime(
  runtime: Runtime,
  sessionId: string,
  out: { stdout: string; stderr?: string; exitCode: number },
): Promise<any> {
  await runtime.box.until((items) => items.some((f) => f.t === "dispatch" && f.sessionId === sessionId && !f.seen));
  const dispatch = runtime.box.items.find((f) => f.t === "dispatch" && f.sessionId === sessionId && !f.seen);
  dispatch.seen = true;
  const ref = { sessionId, commandId: dispatch.commandId };
  runtime.ws.send(JSON.stringify(startedFrame(ref)));
  const stdout = utf8(out.stdout);
  const stderr = utf8(out.stderr ?? "");
  if (stdout.length) runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, stdout));
  if (stderr.length) runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stderr", offset: 0 }, stderr));
  runtime.ws.send(
    JSON.stringify(
      finishedFrame(ref, {
        exitCode: out.exitCode,
        stdoutBytes: stdout.length,
        stderrBytes: stderr.length,
        stdoutSha256: toHex(sha256(stdout)),
        stderrSha256: toHex(sha256(stderr)),
      }),
    ),
  );
  await runtime.box.until((items) => items.some((f) => f.t === "ack" && f.commandId === ref.commandId && f.finished));
  return dispatch;
}

async function events(token: string, sessionId: string): Promise<any[]> {
  return (await json(await call(`/api/v1/sessions/${sessionId}/events`, { token }), 200)).events;
}

async function sessionWithBaseline(token: string, m: SimulatedMachine, runtime: Runtime) {
  const { id } = await json(await call("/api/v1/sessions", { token, body: { machineId: m.machineId } }), 201);
  const { commandId } = await json(
    await call(`/api/v1/sessions/${id}/commands`, {
      token,
      body: { command: "systemctl list-units --type=service", shell: "bash", timeoutSeconds: 30 },
    }),
    202,
  );
  await runAsRuntime(runtime, id, { stdout: UNITS_BEFORE, stderr: "nginx: failed\n", exitCode: 3 });
  return { sessionId: id, baselineId: commandId as string };
}

describe("verify a command now", () => {
  it("re-runs the baseline verbatim, linked by `verifies`, and the diff shows what changed", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Fabrikam Print");
    const runtime = await connectRuntime(m);
    const { sessionId, baselineId } = await sessionWithBaseline(t, m, runtime);

    const asked = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, { token: t, body: {} }),
      202,
    );
    expect(asked).toEqual({ commandId: expect.stringMatching(/^cmd_/), state: "queued", approvalId: null });
    const dispatch = await runAsRuntime(runtime, sessionId, { stdout: UNITS_AFTER, exitCode: 0 });
    expect(dispatch).toMatchObject({
      commandId: asked.commandId,
      command: "systemctl list-units --type=service",
      shell: "bash",
      timeoutSeconds: 30,
    });
    const requested = (await events(t, sessionId)).filter((e) => e.type === "command.requested");
    expect(requested.map((e) => e.data.verifies)).toEqual([undefined, baselineId]);
    const { command } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${asked.commandId}`, { token: t }),
      200,
    );
    expect(command).toMatchObject({ verifies: baselineId, state: "finished", exitCode: 0 });

    // Either order names the same pair: the earlier command is `before`.
    for (const [cid, against] of [
      [baselineId, asked.commandId],
      [asked.commandId, baselineId],
    ]) {
      const diff = await json(
        await call(`/api/v1/sessions/${sessionId}/commands/${cid}/diff?against=${against}`, { token: t }),
        200,
      );
      expect(diff).toMatchObject({
        changed: true,
        differs: true,
        summary: { added: 1, removed: 1 },
        hunkCount: 1,
        before: { commandId: baselineId, exitCode: 3, lines: 5 },
        after: { commandId: asked.commandId, exitCode: 0, lines: 5 },
        exitCode: { before: 3, after: 0, changed: true },
        stderr: { changed: true, summary: { added: 0, removed: 1 } },
        // Cell by cell in core's tests: here, that the route gives the row view.
        view: { kind: "table", keyColumn: "UNIT", rows: [expect.objectContaining({ key: "nginx.service" })] },
      });
      expect(diff.hunks[0].lines.filter((l: any) => l.op !== "same")).toEqual([
        {
          op: "removed",
          text: "● nginx.service            loaded failed failed  A high performance web server and a reverse proxy server",
          before: 3,
        },
        {
          op: "added",
          text: "  nginx.service            loaded active running A high performance web server and a reverse proxy server",
          after: 3,
        },
      ]);
    }

    // A page past the last hunk is empty; the figures stay.
    const past = await json(
      await call(
        `/api/v1/sessions/${sessionId}/commands/${baselineId}/diff?against=${asked.commandId}&hunk=1&hunks=5`,
        {
          token: t,
        },
      ),
      200,
    );
    expect(past).toMatchObject({
      hunkCount: 1,
      hunks: [],
      summary: { added: 1, removed: 1 },
      page: { hunk: 1, hunks: 5 },
    });
    runtime.ws.close();
  });

  it("refuses what cannot be verified or compared, changing nothing", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Refusals Inc");
    const runtime = await connectRuntime(m);
    const { sessionId, baselineId } = await sessionWithBaseline(t, m, runtime);
    runtime.ws.close();
    // The machine is offline now: this one stays queued.
    const { commandId: queued } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body: { command: "uptime" } }),
      202,
    );
    const before = (await events(t, sessionId)).length;
    const verify = (cid: string, body: unknown) =>
      call(`/api/v1/sessions/${sessionId}/commands/${cid}/verify`, { token: t, body });
    const code = async (res: Response, status: number) => (await json(res, status)).error.code;

    expect(await code(await verify(queued, {}), 409)).toBe("baseline_not_finished");
    expect(await code(await verify("cmd_aaaaaaaaaaaaaaaaaaaa", {}), 404)).toBe("not_found");
    const soon = (ms: number) => new Date(Date.now() + ms).toISOString();
    expect(await code(await verify(baselineId, { at: soon(-60_000) }), 422)).toBe("invalid_time");
    expect(await code(await verify(baselineId, { at: soon(31 * 24 * 3600 * 1000) }), 422)).toBe("invalid_time");
    for (const at of ["tomorrow", "2026-12-02", 1733130000, "2026-13-02T09:00:00Z"])
      expect(await code(await verify(baselineId, { at }), 422)).toBe("invalid_request");

    const diff = (cid: string, q: string) =>
      call(`/api/v1/sessions/${sessionId}/commands/${cid}/diff${q}`, { token: t });
    expect(await code(await diff(baselineId, ""), 400)).toBe("invalid_query");
    expect(await code(await diff(baselineId, "?against=nope"), 400)).toBe("invalid_query");
    expect(await code(await diff(baselineId, `?against=${baselineId}&hunks=101`), 400)).toBe("invalid_query");
    expect(await code(await diff(baselineId, "?against=cmd_aaaaaaaaaaaaaaaaaaaa"), 404)).toBe("not_found");
    expect(await code(await diff(baselineId, `?against=${queued}`), 409)).toBe("command_not_finished");
    expect(await events(t, sessionId)).toHaveLength(before);

    // A dispatcher reads the comparison but runs nothing.
    await json(
      await call("/api/v1/users", {
        token: t,
        body: { name: "Dana Dispatch", email: "dana@verify.test", role: "dispatcher", password: PASSWORD },
      }),
      201,
    );
    const { token: d } = await json(
      await call("/api/v1/auth/login", { body: { email: "dana@verify.test", password: PASSWORD } }),
      200,
    );
    expect(
      (await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, { token: d, body: {} })).status,
    ).toBe(403);
    expect(
      await json(
        await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/diff?against=${baselineId}`, { token: d }),
        200,
      ),
    ).toMatchObject({ changed: false, differs: false, hunks: [], summary: { added: 0, removed: 0 } });
  });
});

describe("a scheduled re-check", () => {
  it("is recorded as check.scheduled and requested through the runtime when due, as a verification", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Intermittent Ltd");
    const runtime = await connectRuntime(m);
    const { sessionId, baselineId } = await sessionWithBaseline(t, m, runtime);
    const at = new Date(Date.now() + 1500).toISOString();

    const asked = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, { token: t, body: { at } }),
      202,
    );
    expect(asked).toEqual({ commandId: expect.stringMatching(/^cmd_/), state: "scheduled", approvalId: null, at });
    const scheduled = (await events(t, sessionId)).at(-1);
    expect(scheduled).toMatchObject({
      type: "check.scheduled",
      data: { commandId: baselineId, at, checkCommandId: asked.commandId },
    });
    const { checks } = await json(await call(`/api/v1/sessions/${sessionId}`, { token: t }), 200);
    expect(checks).toEqual([{ commandId: asked.commandId, baselineId, at, requestedBy: expect.any(String) }]);

    // When due, the alarm requests it: the runtime gets it like any command.
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(sessionStub(sessionId));
        expect(runtime.box.items.some((f) => f.t === "dispatch" && f.commandId === asked.commandId)).toBe(true);
      },
      { timeout: 10_000, interval: 250 },
    );
    await runAsRuntime(runtime, sessionId, { stdout: UNITS_BEFORE, stderr: "nginx: failed\n", exitCode: 3 });
    const requested = (await events(t, sessionId)).find(
      (e) => e.type === "command.requested" && e.data.commandId === asked.commandId,
    );
    expect(requested.data).toMatchObject({ verifies: baselineId, command: "systemctl list-units --type=service" });
    expect(Date.parse(requested.ts)).toBeGreaterThanOrEqual(Date.parse(at));
    expect((await json(await call(`/api/v1/sessions/${sessionId}`, { token: t }), 200)).checks).toEqual([]);
    const diff = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/diff?against=${asked.commandId}`, { token: t }),
      200,
    );
    expect(diff).toMatchObject({ changed: false, differs: false, view: null });
    runtime.ws.close();
  });

  it("keeps an idle session open until it has run", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Idle But Waiting");
    const runtime = await connectRuntime(m);
    // Idle after 3 s: without the check counting as work, the session would close 3 s after it was scheduled.
    await json(await call("/api/v1/settings", { method: "PUT", token: t, body: { idleCloseSeconds: 3 } }), 200);
    const { sessionId, baselineId } = await sessionWithBaseline(t, m, runtime);
    runtime.ws.close(); // the check will wait in the queue for the machine
    const at = new Date(Date.now() + 5000).toISOString();
    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, { token: t, body: { at } }),
      202,
    );
    // Each ring runs what is due: the idle looks (from 3 s after the last event on) and, once due, the check.
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(sessionStub(sessionId));
        expect((await events(t, sessionId)).some((e) => e.data.commandId === commandId)).toBe(true);
      },
      { timeout: 15_000, interval: 250 },
    );
    const types = (await events(t, sessionId)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(["check.scheduled", "command.requested"]);
    await json(await call("/api/v1/settings", { method: "PUT", token: t, body: { idleCloseSeconds: 86_400 } }), 200);
  });

  it("is cancelled, in the record, when the session closes before it is due", async () => {
    const t = await owner();
    const m = await enrollMachine(t, "Closing Early");
    const runtime = await connectRuntime(m);
    const { sessionId, baselineId } = await sessionWithBaseline(t, m, runtime);
    runtime.ws.close();
    const at = new Date(Date.now() + 3600_000).toISOString();
    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, { token: t, body: { at } }),
      202,
    );
    await json(await call(`/api/v1/sessions/${sessionId}/close`, { token: t, body: {} }), 200);
    const tail = (await events(t, sessionId)).slice(-2);
    expect(tail.map((e) => [e.type, e.data])).toEqual([
      [
        "check.cancelled",
        {
          commandId: baselineId,
          checkCommandId: commandId,
          at,
          reason: "the session was closed before the re-check was due",
        },
      ],
      ["session.closed", {}],
    ]);
    expect((await json(await call(`/api/v1/sessions/${sessionId}`, { token: t }), 200)).checks).toEqual([]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  COMMAND_STATES,
  type CommandEvent,
  type CommandState,
  countsAsFailed,
  decisionRefusal,
  FINAL_COMMAND_STATES,
  type FinishedFrame,
  finishReason,
  queueExpiryReason,
  requestCommand,
  type SessionCommand,
  transition,
} from "../../src/index.ts";
import { finishedFrame, startedFrame } from "../frames.ts";

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const digests = () => ({ stdoutSha256: EMPTY, stderrSha256: EMPTY });
const ref = { sessionId: "ses_1", commandId: "cmd_1" };

const command = (state: CommandState, fields: Partial<SessionCommand> = {}): SessionCommand => ({
  id: "cmd_1",
  state,
  delivered: false,
  cancelRequested: false,
  started: false,
  stdoutBytes: 0,
  stderrBytes: 0,
  approvalId: null,
  classification: "read",
  ...fields,
});

const started = startedFrame(ref);
const finished = (fields: Partial<FinishedFrame> = {}) => finishedFrame(ref, { durationMs: 12, ...fields });

const notRun = (state: string, reason: string) => ({
  commandId: "cmd_1",
  state,
  exitCode: null,
  signal: null,
  reason,
  stdoutBytes: 0,
  stderrBytes: 0,
  stdoutSha256: EMPTY,
  stderrSha256: EMPTY,
  durationMs: 0,
});

const decided = (granted: boolean, comment: string | null = null): CommandEvent => ({
  type: "decided",
  granted,
  approvalId: "apr_1",
  digest: "d1",
  contact: { id: "usr_c", name: "Carla Contact" },
  channel: "portal",
  comment,
});

const decisionData = (comment: string | null) => ({
  approvalId: "apr_1",
  commandId: "cmd_1",
  digest: "d1",
  contactId: "usr_c",
  contactName: "Carla Contact",
  channel: "portal",
  comment,
});

describe("the command lifecycle", () => {
  it("grants: the command queues and the next dispatch may take it", () => {
    expect(transition(command("awaiting_approval", { approvalId: "apr_1" }), decided(true), digests)).toEqual({
      state: "queued",
      events: [{ type: "approval.granted", actor: "contact:usr_c", data: decisionData(null) }],
      effects: [
        { kind: "approval_changed", approvalId: "apr_1" },
        { kind: "dispatch_next" },
        { kind: "session_changed" },
      ],
    });
  });

  it("declines: the decision, then the command ends declined with who declined and why", () => {
    expect(transition(command("awaiting_approval"), decided(false, "not now"), digests)).toEqual({
      state: "declined",
      events: [
        { type: "approval.declined", actor: "contact:usr_c", data: decisionData("not now") },
        { type: "command.finished", actor: "system", data: notRun("declined", "declined by Carla Contact: not now") },
      ],
      effects: [
        { kind: "dispatch_next" },
        { kind: "session_changed" },
        { kind: "approval_changed", approvalId: "apr_1" },
      ],
    });
    expect(transition(command("awaiting_approval"), decided(false), digests).events[1]?.data.reason).toBe(
      "declined by Carla Contact",
    );
  });

  it("expires an approval: the command fails with the reason", () => {
    const step = transition(command("awaiting_approval"), { type: "approval_expired", approvalId: "apr_1" }, digests);
    expect(step.state).toBe("failed");
    expect(step.events).toEqual([
      { type: "approval.expired", actor: "system", data: { approvalId: "apr_1", commandId: "cmd_1" } },
      {
        type: "command.finished",
        actor: "system",
        data: notRun("failed", "the client's approval was not given before it expired"),
      },
    ]);
  });

  it.each([
    [3600, "1 h"],
    [300, "5 min"],
    [90, "90 s"],
    [7200, "2 h"],
  ])("expires a queued command after %i s: 'within %s'", (seconds, said) => {
    const requestedAt = "2026-01-01T00:00:00.000Z";
    const expiresAt = new Date(Date.parse(requestedAt) + seconds * 1000).toISOString();
    expect(queueExpiryReason(requestedAt, expiresAt)).toBe(`expired: the machine did not come online within ${said}`);
    const step = transition(command("queued"), { type: "queue_expired", requestedAt, expiresAt }, digests);
    expect(step.state).toBe("failed");
    expect(step.events).toEqual([
      {
        type: "command.finished",
        actor: "system",
        data: notRun("failed", `expired: the machine did not come online within ${said}`),
      },
    ]);
  });

  it("does not expire a command the machine already has", () => {
    const event: CommandEvent = { type: "queue_expired", requestedAt: "2026-01-01T00:00:00.000Z", expiresAt: "x" };
    expect(transition(command("queued", { delivered: true }), event, digests)).toEqual({
      state: "queued",
      events: [],
      effects: [],
    });
  });

  it("cancels before delivery at once, withdrawing a pending approval", () => {
    const cancel: CommandEvent = { type: "cancel", actor: "user:usr_t" };
    expect(transition(command("queued"), cancel, digests)).toEqual({
      state: "cancelled",
      events: [
        { type: "command.finished", actor: "user:usr_t", data: notRun("cancelled", "cancelled before it started") },
      ],
      effects: [{ kind: "dispatch_next" }, { kind: "session_changed" }],
    });
    expect(transition(command("awaiting_approval", { approvalId: "apr_1" }), cancel, digests).effects).toEqual([
      { kind: "dispatch_next" },
      { kind: "session_changed" },
      { kind: "approval_withdrawn", approvalId: "apr_1" },
      { kind: "approval_changed", approvalId: "apr_1" },
    ]);
  });

  it("asks the runtime to cancel a command in the machine's hands, and refuses to cancel an ended one", () => {
    const cancel: CommandEvent = { type: "cancel", actor: "user:usr_t" };
    for (const c of [command("queued", { delivered: true }), command("running", { delivered: true, started: true })])
      expect(transition(c, cancel, digests)).toEqual({
        state: c.state,
        events: [],
        effects: [{ kind: "ask_runtime_to_cancel" }],
      });
    expect(transition(command("finished"), cancel, digests)).toEqual({
      state: "finished",
      events: [],
      effects: [],
      refused: { code: "command_finished", message: "command already finished" },
    });
  });

  it("settles a cancel asked for on the way to a machine that was offline", () => {
    const settle: CommandEvent = { type: "settle_cancel" };
    expect(transition(command("queued", { cancelRequested: true }), settle, digests).events).toEqual([
      { type: "command.finished", actor: "system", data: notRun("cancelled", "cancelled before it started") },
    ]);
    expect(transition(command("queued"), settle, digests).events).toEqual([]);
    expect(transition(command("queued", { cancelRequested: true, delivered: true }), settle, digests).events).toEqual(
      [],
    );
  });

  it("starts a queued command once, recording the context the runtime reports", () => {
    const step = transition(
      command("queued", { delivered: true }),
      { type: "started", actor: "machine:m", frame: started },
      digests,
    );
    expect(step).toMatchObject({ state: "running", effects: [{ kind: "machine_user", user: "u" }] });
    // The record's bytes: the frame's fields in the runtime's order, without its type and session.
    expect(step.events.map((e) => [e.type, e.actor, JSON.stringify(e.data)])).toEqual([
      [
        "command.started",
        "machine:m",
        '{"commandId":"cmd_1","pid":7,"user":"u","cwd":"/","executable":"/bin/bash","shell":"bash","shellVersion":"5","env":{}}',
      ],
    ]);
    expect(
      transition(command("running"), { type: "started", actor: "machine:m", frame: started }, digests).events,
    ).toEqual([]);
  });

  it("accepts a finished frame only once all the output it claims is committed", () => {
    const running = command("running", { delivered: true, started: true, stdoutBytes: 5, stderrBytes: 1 });
    const early = finished({ stdoutBytes: 6, stderrBytes: 1 });
    expect(transition(running, { type: "finished", actor: "machine:m", frame: early }, digests)).toEqual({
      state: "running",
      events: [],
      effects: [],
    });
    const step = transition(
      running,
      { type: "finished", actor: "machine:m", frame: finished({ stdoutBytes: 5, stderrBytes: 1 }) },
      () => ({
        stdoutSha256: "s1",
        stderrSha256: "s2",
      }),
    );
    expect(step.state).toBe("finished");
    expect(step.events).toEqual([
      {
        type: "command.finished",
        actor: "machine:m",
        data: {
          commandId: "cmd_1",
          state: "finished",
          exitCode: 0,
          signal: null,
          reason: null,
          stdoutBytes: 5,
          stderrBytes: 1,
          stdoutSha256: "s1",
          stderrSha256: "s2",
          durationMs: 12,
        },
      },
    ]);
    expect(Object.keys(step.events[0]?.data ?? {})).toEqual([
      "commandId",
      "state",
      "exitCode",
      "signal",
      "reason",
      "stdoutBytes",
      "stderrBytes",
      "stdoutSha256",
      "stderrSha256",
      "durationMs",
    ]);
  });

  it("puts a change that ran on the machine's timeline, and nothing that did not run", () => {
    const change = command("running", { started: true, classification: "change" });
    const frame = finished();
    expect(transition(change, { type: "finished", actor: "machine:m", frame }, digests).effects).toEqual([
      { kind: "change_recorded" },
      { kind: "dispatch_next" },
      { kind: "session_changed" },
    ]);
    expect(
      transition(command("queued", { classification: "change" }), { type: "cancel", actor: "user:u" }, digests).effects,
    ).toEqual([{ kind: "dispatch_next" }, { kind: "session_changed" }]);
  });

  it.each([
    [
      "counts and hashes agree",
      { stdoutBytes: 3, stderrBytes: 0, stdoutSha256: "a", stderrSha256: null },
      "runtime note",
      "runtime note",
    ],
    ["no claims at all", null, null, null],
    [
      "the endpoint wrote more than the record holds",
      { stdoutBytes: 4, stderrBytes: 2, stdoutSha256: "a", stderrSha256: "b" },
      null,
      "the endpoint reported 4 stdout bytes; the record holds 3; the endpoint reported 2 stderr bytes; the record holds 0",
    ],
    [
      "same count, other bytes",
      { stdoutBytes: 3, stderrBytes: 0, stdoutSha256: "x", stderrSha256: "e" },
      "killed",
      "killed; the endpoint's stdout SHA-256 x differs from the record's",
    ],
  ] as const)("finish reconciliation: %s", (_, claimed, reason, said) => {
    expect(
      finishReason(reason, claimed, { stdoutBytes: 3, stderrBytes: 0, stdoutSha256: "a", stderrSha256: "e" }),
    ).toBe(said);
  });

  it("never changes a final command again, whatever arrives", () => {
    const event = fc.oneof(
      fc.constantFrom<CommandEvent>(
        decided(true),
        decided(false, "no"),
        { type: "approval_expired", approvalId: "apr_1" },
        { type: "queue_expired", requestedAt: "2026-01-01T00:00:00.000Z", expiresAt: "2026-01-01T01:00:00.000Z" },
        { type: "cancel", actor: "user:u" },
        { type: "settle_cancel" },
        { type: "started", actor: "machine:m", frame: started },
      ),
      fc
        .record({
          state: fc.constantFrom("finished", "failed", "cancelled", "timed_out", "interrupted" as const),
          stdoutBytes: fc.nat({ max: 4 }),
          stderrBytes: fc.nat({ max: 4 }),
        })
        .map((f): CommandEvent => ({ type: "finished", actor: "machine:m", frame: finished(f) })),
      fc.nat({ max: 4 }).map((n) => ({ type: "output" as const, stream: "stdout" as const, bytes: n })),
    );
    const start = fc.record({
      state: fc.constantFrom<CommandState>("queued", "awaiting_approval"),
      delivered: fc.boolean(),
      cancelRequested: fc.boolean(),
    });
    fc.assert(
      fc.property(start, fc.array(event, { maxLength: 30 }), (initial, events) => {
        let c = command(initial.state, { ...initial, delivered: initial.state === "queued" && initial.delivered });
        let ended: CommandState | null = null;
        for (const e of events) {
          if (e.type === "output") {
            if (c.state === "running") c = { ...c, stdoutBytes: c.stdoutBytes + e.bytes };
            continue;
          }
          const step = transition(c, e, digests);
          expect(COMMAND_STATES).toContain(step.state);
          if (ended !== null) {
            expect(step.state).toBe(ended);
            expect(step.events).toEqual([]);
            expect(step.effects).toEqual([]);
          }
          // An ending is recorded exactly when the state becomes final, as the last event of the step.
          const endings = step.events.filter((ev) => ev.type === "command.finished");
          expect(endings.length).toBe(ended === null && FINAL_COMMAND_STATES.has(step.state) ? 1 : 0);
          if (endings.length === 1) expect(step.events.at(-1)?.data.state).toBe(step.state);
          c = { ...c, state: step.state, started: c.started || step.state === "running" };
          if (FINAL_COMMAND_STATES.has(step.state)) ended ??= step.state;
        }
      }),
    );
  });
});

describe("a command request", () => {
  const base = {
    commandId: "cmd_1",
    command: "Restart-Service Spooler",
    shell: "powershell" as const,
    timeoutSeconds: null,
    queueTimeoutSeconds: 3600,
    reason: null,
    requireApproval: false,
    technician: { id: "usr_t", name: "Tom Tech" },
    classification: { kind: "change" as const, reasons: ["restarts a service"] },
    session: { id: "ses_1", machineId: "mch_1", hostname: "FRONTDESK-01" },
    atMs: Date.parse("2026-01-01T00:00:00.000Z"),
  };

  it("queues a command that needs no approval", () => {
    expect(requestCommand({ ...base, approval: null })).toEqual({
      state: "queued",
      events: [
        {
          type: "command.requested",
          actor: "user:usr_t",
          data: {
            commandId: "cmd_1",
            command: "Restart-Service Spooler",
            shell: "powershell",
            timeoutSeconds: null,
            queueTimeoutSeconds: 3600,
            reason: null,
            requestedBy: "usr_t",
            classification: "change",
            approvalRequired: false,
          },
        },
      ],
      effects: [{ kind: "arm_deadline" }, { kind: "dispatch_next" }, { kind: "session_changed" }],
    });
  });

  it.each([
    [false, "changes", null, "restarts a service", "2026-01-01T00:30:00.000Z"],
    [false, "always", 60, "the client approves every command", "2026-01-01T00:01:00.000Z"],
    [true, "changes", null, "the technician asked for approval", "2026-01-01T00:30:00.000Z"],
  ] as const)(
    "asks for approval (technician asked: %s, policy %s, timeout %s): because %s",
    (asked, policy, timeoutSeconds, because, expiresAt) => {
      const step = requestCommand({
        ...base,
        requireApproval: asked,
        approval: { id: "apr_1", digest: "d1", timeoutSeconds, policy },
      });
      expect(step.state).toBe("awaiting_approval");
      expect(step.events.map((e) => e.type)).toEqual(["command.requested", "approval.requested"]);
      expect(step.events[0]?.data.approvalRequired).toBe(true);
      expect(step.events[1]).toEqual({
        type: "approval.requested",
        actor: "user:usr_t",
        data: {
          approvalId: "apr_1",
          commandId: "cmd_1",
          command: "Restart-Service Spooler",
          shell: "powershell",
          summary: "Restart the Print Spooler service",
          lines: 1,
          changes: [{ kind: "change", text: "Restart the Print Spooler service" }],
          reason: null,
          technicianId: "usr_t",
          technicianName: "Tom Tech",
          machineId: "mch_1",
          hostname: "FRONTDESK-01",
          sessionId: "ses_1",
          digest: "d1",
          expiresAt,
          because,
        },
      });
      expect(step.effects[0]).toEqual({ kind: "approval_changed", approvalId: "apr_1" });
    },
  );
});

describe("a client contact's decision", () => {
  const now = Date.parse("2026-01-01T00:10:00.000Z");
  const pending = { state: "pending" as const, expiresAt: "2026-01-01T00:30:00.000Z", digestMatches: true };

  it.each([
    ["a pending approval of the waiting command", pending, true, null],
    [
      "an approval already decided",
      { ...pending, state: "granted" as const },
      true,
      { code: "approval_decided", message: "approval already granted", expire: false },
    ],
    [
      "an approval past its time (expired on the spot)",
      { ...pending, expiresAt: "2026-01-01T00:10:00.000Z" },
      true,
      { code: "approval_decided", message: "approval already expired", expire: true },
    ],
    [
      "a command that no longer matches",
      { ...pending, digestMatches: false },
      true,
      {
        code: "approval_mismatch",
        message: "the command no longer matches what approval was requested for",
        expire: false,
      },
    ],
    [
      "a command no longer waiting",
      pending,
      false,
      {
        code: "approval_mismatch",
        message: "the command no longer matches what approval was requested for",
        expire: false,
      },
    ],
  ] as const)("%s", (_, approval, waiting, refusal) => {
    expect(decisionRefusal(approval, waiting, now)).toEqual(refusal);
  });
});

describe("countsAsFailed", () => {
  it("counts a failed end, and a finish with a known non-zero exit code; nothing else", () => {
    const failed = COMMAND_STATES.flatMap((state) =>
      [null, 0, 1, 127].filter((code) => countsAsFailed(state, code)).map((code) => `${state}:${code}`),
    );
    expect(failed).toEqual([
      "finished:1",
      "finished:127",
      ...["timed_out", "interrupted", "failed"].flatMap((state) => [null, 0, 1, 127].map((code) => `${state}:${code}`)),
    ]);
  });
});

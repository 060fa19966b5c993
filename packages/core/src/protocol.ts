// Frames between the endpoint runtime and its Machine object, over one outbound WebSocket: JSON text frames, and
// binary frames for output (see encodeOutputFrame).
//
//   server → runtime: challenge, welcome, dispatch, cancel, ack, error
//   runtime → server: hello (answers the challenge), prestate, started, output (binary), finished, health
//
// Identity: the server sends a fresh nonce; the runtime signs authMessage(machineId, nonce) with its Ed25519 key.
// Delivery: every started/output/finished frame is answered by an ack carrying what the Session object has
// committed for that command; the runtime keeps a frame until an ack covers it and resends after reconnecting, and
// the Session object ignores what it already holds (dedup by commandId, stream, offset). A change's prestate frames
// come before its started frame and are covered by the ack that says started (or finished): the Session keeps them
// aside and records them, as command.prestate, in the same commit as command.started.

import { z } from "zod";
import { PRESTATE_LIMITS } from "./commands/prestate.ts";
import { LIMITS } from "./limits.ts";
import { SHELLS } from "./shells.ts";

export const PROTOCOL_VERSION = 1;

const idPattern = (prefix: string) => new RegExp(`^${prefix}_[a-z2-7]{20}$`);
const id = (prefix: string) => z.string().regex(idPattern(prefix));
const SHA256_HEX = /^[0-9a-f]{64}$/;
const sha256Hex = z.string().regex(SHA256_HEX);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export function authMessage(machineId: string, nonce: string): string {
  return `caisey-runtime-auth-v1\n${machineId}\n${nonce}`;
}

/**
 * What the tenant's signing key signs for a dispatch: everything that decides what runs, and where. The runtime
 * pinned the tenant's public key at enrollment and runs nothing whose signature does not verify, so neither a
 * spoofed server nor a tampered message can make it execute anything. (`resume` is not signed: it can only make the
 * runtime refuse to run, never run.)
 */
export function dispatchMessage(
  machineId: string,
  d: {
    sessionId: string;
    commandId: string;
    command: string;
    shell: string;
    timeoutSeconds: number | null;
    technicianId: string;
    approvalRequired: boolean;
    approval: { id: string; digest: string } | null;
  },
): string {
  return `caisey-dispatch-v1\n${JSON.stringify([
    machineId,
    d.sessionId,
    d.commandId,
    d.shell,
    d.timeoutSeconds,
    d.command,
    d.technicianId,
    d.approvalRequired,
    d.approval ? [d.approval.id, d.approval.digest] : null,
  ])}`;
}

/**
 * What a client's approval is bound to: the exact command, in its shell, on that machine, in that session, for that
 * technician. The runtime recomputes it before running an approval-gated dispatch.
 */
export function approvalSubject(a: {
  shell: string;
  command: string;
  machineId: string;
  sessionId: string;
  technicianId: string;
}): string {
  return `caisey-approval-v1\n${JSON.stringify([a.shell, a.command, a.machineId, a.sessionId, a.technicianId])}`;
}

/** What the tenant's signing key signs for a cancel. */
export function cancelMessage(machineId: string, c: { sessionId: string; commandId: string }): string {
  return `caisey-cancel-v1\n${JSON.stringify([machineId, c.sessionId, c.commandId])}`;
}

export const MachineFacts = z.object({
  hostname: z.string().min(1).max(255),
  os: z.enum(["linux", "darwin", "windows", "freebsd", "other"]),
  osVersion: z.string().max(255),
  arch: z.string().min(1).max(32),
  runtimeVersion: z.string().min(1).max(64),
});
export type MachineFacts = z.infer<typeof MachineFacts>;

// ---- runtime → server

/**
 * How the runtime's outbox stands: frames (and the output bytes they carry) journalled and not yet acknowledged, how
 * long the oldest has waited, and the last thing that went wrong. Ages, not times: an endpoint's clock may be off, so
 * the server turns them into times by its own clock when the report arrives.
 */
const runtimeHealthFields = {
  backlogFrames: count,
  backlogBytes: count,
  /** Null exactly when nothing is waiting. */
  oldestAgeMs: count.nullable(),
  lastError: z.object({ ageMs: count, message: z.string().min(1).max(1024) }).nullable(),
};
const backlogAgreesWithAge = {
  check: (h: { backlogFrames: number; oldestAgeMs: number | null }) =>
    (h.backlogFrames === 0) === (h.oldestAgeMs === null),
  message: { message: "oldestAgeMs must be null exactly when no frame is waiting", path: ["oldestAgeMs"] },
};
export const RuntimeHealth = z
  .object(runtimeHealthFields)
  .refine(backlogAgreesWithAge.check, backlogAgreesWithAge.message);
export type RuntimeHealth = z.infer<typeof RuntimeHealth>;

export const HelloFrame = z.object({
  t: z.literal("hello"),
  v: z.literal(PROTOCOL_VERSION),
  machineId: id("mch"),
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/), // base64url of 64 bytes
  facts: MachineFacts,
  /** The outbox as it stands when connecting (absent from runtimes older than health reports). */
  health: RuntimeHealth.optional(),
});

/** The runtime's health again, sent when it changed and at most every few seconds (see the runtime's health.ts). */
export const HealthFrame = z
  .object({ t: z.literal("health"), ...runtimeHealthFields })
  .refine(backlogAgreesWithAge.check, backlogAgreesWithAge.message);
export type HealthFrame = z.infer<typeof HealthFrame>;

const commandRef = { sessionId: id("ses"), commandId: id("cmd") };

/** A started frame's environment: at most `count` variables, names and values strings within their lengths. */
export const ENV_LIMITS = { count: 500, nameChars: 256, valueChars: 8192 } as const;

/**
 * What is wrong with an environment, or null: the same rules as z.record(z.string().max(256), z.string().max(8192))
 * with at most 500 entries, in one pass. Two zod schemas per variable were most of the started frame's parse, which
 * the server runs for every command (a runtime under npm carries ~70 variables).
 */
export function envRefusal(env: unknown): string | null {
  if (typeof env !== "object" || env === null || Array.isArray(env)) return "expected an object of strings";
  let count = 0;
  for (const name in env) {
    if (!Object.hasOwn(env, name)) continue;
    if (++count > ENV_LIMITS.count) return `at most ${ENV_LIMITS.count} environment variables`;
    if (name.length > ENV_LIMITS.nameChars) return `a variable's name exceeds ${ENV_LIMITS.nameChars} characters`;
    const value = (env as Record<string, unknown>)[name];
    if (typeof value !== "string") return `${name.slice(0, 64)}: expected a string`;
    if (value.length > ENV_LIMITS.valueChars)
      return `${name.slice(0, 64)}: exceeds ${ENV_LIMITS.valueChars} characters`;
  }
  return null;
}

const Environment = z.custom<Record<string, string>>().superRefine((env, ctx) => {
  const refusal = envRefusal(env);
  if (refusal !== null) ctx.addIssue({ code: "custom", message: refusal });
});

/** The longest text fields of a started frame (the schema's bounds, and checkedStarted's). */
const STARTED_CHARS = { user: 256, cwd: 4096, executable: 4096, shellVersion: 512 } as const;

export const StartedFrame = z.object({
  t: z.literal("started"),
  ...commandRef,
  pid: count,
  user: z.string().max(STARTED_CHARS.user),
  cwd: z.string().max(STARTED_CHARS.cwd),
  executable: z.string().max(STARTED_CHARS.executable),
  shell: z.enum(SHELLS),
  shellVersion: z.string().max(STARTED_CHARS.shellVersion),
  env: Environment,
});

/**
 * One part of a change's pre-state: the records' JSON (printable ASCII), cut into `parts` pieces sent in order before
 * the command's started frame (see commands/prestate.ts).
 */
export const PrestateFrame = z
  .object({
    t: z.literal("prestate"),
    ...commandRef,
    part: z
      .number()
      .int()
      .nonnegative()
      .max(PRESTATE_LIMITS.parts - 1),
    parts: z.number().int().positive().max(PRESTATE_LIMITS.parts),
    text: z
      .string()
      .min(1)
      .max(PRESTATE_LIMITS.partChars)
      .regex(/^[\x20-\x7e]*$/, "must be printable ASCII"),
  })
  .refine((f) => f.part < f.parts, { message: "part must be below parts", path: ["part"] });

const STREAMS = ["stdout", "stderr"] as const;

export const OutputFrame = z.object({
  t: z.literal("output"),
  ...commandRef,
  stream: z.enum(STREAMS),
  offset: count,
  // Standard padded base64. The alphabet is checked where the bytes are decoded (decode and re-encode must agree):
  // a regex over every output frame cost as much as hashing it.
  data: z
    .string()
    .min(4)
    .max(Math.ceil(LIMITS.outputChunkBytes / 3) * 4)
    .refine((d) => d.length % 4 === 0, "must be padded base64"),
});

export const RUNTIME_FINAL_STATES = ["finished", "cancelled", "timed_out", "interrupted", "failed"] as const;

/** A finished frame's bounds (the schema's, and checkedFinished's): an exit code is a signed or unsigned 32-bit value. */
const FINISHED_LIMITS = { exitCodeMin: -2147483648, exitCodeMax: 4294967295, signalChars: 32, reasonChars: 1024 };

export const FinishedFrame = z.object({
  t: z.literal("finished"),
  ...commandRef,
  state: z.enum(RUNTIME_FINAL_STATES),
  exitCode: z.number().int().min(FINISHED_LIMITS.exitCodeMin).max(FINISHED_LIMITS.exitCodeMax).nullable(),
  signal: z.string().max(FINISHED_LIMITS.signalChars).nullable(),
  reason: z.string().max(FINISHED_LIMITS.reasonChars).nullable(),
  stdoutBytes: count,
  stderrBytes: count,
  /** SHA-256 of everything the process wrote to the stream; null when the runtime no longer knows (after a crash). */
  stdoutSha256: sha256Hex.nullable(),
  stderrSha256: sha256Hex.nullable(),
  durationMs: count,
});

/**
 * The runtime refused a build the server offered it (release.ts: a wrong size, hash or signature), so an owner sees it
 * in the audit log. Not acknowledged: the runtime's own log and `status` keep it too.
 */
export const UpdateRefusedFrame = z.object({
  t: z.literal("update_refused"),
  version: z.string().min(1).max(64),
  reason: z.string().min(1).max(512),
});
export type UpdateRefusedFrame = z.infer<typeof UpdateRefusedFrame>;

/** A runtime's text frames. Output travels in binary frames (encodeOutputFrame / parseOutputFrame). */
export const RuntimeFrame = z.discriminatedUnion("t", [HelloFrame, StartedFrame, FinishedFrame, PrestateFrame]);
/** What the Machine object reads from a runtime's text frames: RuntimeFrame, and the reports about the runtime itself. */
export type RuntimeFrame = z.infer<typeof RuntimeFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type StartedFrame = z.infer<typeof StartedFrame>;
export type PrestateFrame = z.infer<typeof PrestateFrame>;
export type OutputFrame = z.infer<typeof OutputFrame>;

// ---- binary output frames
//
// Output crosses the socket as raw bytes in a binary WebSocket message:
//   <header length: u16 big-endian> <header: JSON of OutputHeader, UTF-8> <the output bytes: 1 to outputChunkBytes>
// As JSON it was base64: a third larger, and the server spent more time decoding and checking it than storing it.

/** An output frame without its bytes. */
export const OutputHeader = OutputFrame.omit({ data: true });
export type OutputHeader = z.infer<typeof OutputHeader>;

/** Longest header a binary output frame may carry (a real one is ~130 bytes). */
export const OUTPUT_HEADER_MAX = 1024;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** What precedes the bytes in a binary output frame: the header's length and its JSON. */
export function encodeOutputHead(header: OutputHeader): Uint8Array {
  const json = utf8Encoder.encode(
    JSON.stringify({
      t: "output",
      sessionId: header.sessionId,
      commandId: header.commandId,
      stream: header.stream,
      offset: header.offset,
    }),
  );
  const head = new Uint8Array(2 + json.length);
  head[0] = json.length >> 8;
  head[1] = json.length & 0xff;
  head.set(json, 2);
  return head;
}

export function encodeOutputFrame(header: OutputHeader, bytes: Uint8Array): Uint8Array {
  const head = encodeOutputHead(header);
  const frame = new Uint8Array(head.length + bytes.length);
  frame.set(head);
  frame.set(bytes, head.length);
  return frame;
}

export type ParsedOutput =
  | { ok: true; header: OutputHeader; bytes: Uint8Array }
  | { ok: false; code: string; message: string };

/** Parse a binary output frame from a peer: size bounds, header JSON, schema. Never throws. */
export function parseOutputFrame(raw: ArrayBuffer | Uint8Array, maxBytes: number): ParsedOutput {
  const frame = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
  if (frame.length > maxBytes)
    return { ok: false, code: "frame_too_large", message: `frame exceeds ${maxBytes} bytes` };
  if (frame.length < 2) return { ok: false, code: "bad_frame", message: "binary frame shorter than its header length" };
  const headerLength = ((frame[0] as number) << 8) | (frame[1] as number);
  if (headerLength === 0 || headerLength > OUTPUT_HEADER_MAX || 2 + headerLength > frame.length) {
    return { ok: false, code: "bad_frame", message: `binary frame header length ${headerLength} is out of bounds` };
  }
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(frame.subarray(2, 2 + headerLength)));
  } catch {
    return { ok: false, code: "bad_frame", message: "binary frame header is not valid UTF-8 JSON" };
  }
  let header = checkedOutputHeader(value);
  if (header === null) {
    const parsed = OutputHeader.safeParse(value);
    if (!parsed.success) return invalidFrame(parsed.error);
    header = parsed.data;
  }
  const bytes = frame.subarray(2 + headerLength);
  if (bytes.length === 0) return { ok: false, code: "invalid_frame", message: "output frame carries no bytes" };
  if (bytes.length > LIMITS.outputChunkBytes) {
    return {
      ok: false,
      code: "invalid_frame",
      message: `output frame carries more than ${LIMITS.outputChunkBytes} bytes`,
    };
  }
  return { ok: true, header, bytes };
}
export type FinishedFrame = z.infer<typeof FinishedFrame>;

// ---- server → runtime

export const ChallengeFrame = z.object({ t: z.literal("challenge"), nonce: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });
export const WelcomeFrame = z.object({ t: z.literal("welcome"), machineId: id("mch") });
export const DispatchFrame = z.object({
  t: z.literal("dispatch"),
  ...commandRef,
  command: z.string().min(1).max(LIMITS.commandChars),
  shell: z.enum(SHELLS),
  timeoutSeconds: z.number().int().positive().max(LIMITS.maxTimeoutSeconds).nullable(),
  /**
   * The server already holds command.started for this command. A runtime that does not know the command (it lost
   * it in a crash) must not run it again: it reports it `interrupted` instead.
   */
  resume: z.boolean(),
  /** Who asked for the command (an approval is bound to them). */
  technicianId: id("usr"),
  /** Policy required a client's approval for this command: it may run only with `approval` matching its digest. */
  approvalRequired: z.boolean(),
  /** The granted approval: its id, and the SHA-256 (hex) of approvalSubject(...) it was granted for. */
  approval: z.object({ id: id("apr"), digest: sha256Hex }).nullable(),
  /** base64url Ed25519 signature by the tenant's signing key over dispatchMessage(machineId, frame). */
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export const CancelFrame = z.object({
  t: z.literal("cancel"),
  ...commandRef,
  /** base64url Ed25519 signature by the tenant's signing key over cancelMessage(machineId, frame). */
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
/** What the Session object has committed for a command: output byte counts, and whether start/finish are in. */
export const AckFrame = z.object({
  t: z.literal("ack"),
  ...commandRef,
  started: z.boolean(),
  stdout: count,
  stderr: count,
  finished: z.boolean(),
});
export const ErrorFrame = z.object({ t: z.literal("error"), code: z.string().max(64), message: z.string().max(1024) });

export const ServerFrame = z.discriminatedUnion("t", [
  ChallengeFrame,
  WelcomeFrame,
  DispatchFrame,
  CancelFrame,
  AckFrame,
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type DispatchFrame = z.infer<typeof DispatchFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type ChallengeFrame = z.infer<typeof ChallengeFrame>;
export type CancelFrame = z.infer<typeof CancelFrame>;

/** A schema failure as a readable refusal: the first issue, with where it is. */
function invalidFrame(error: z.ZodError): { ok: false; code: string; message: string } {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return { ok: false, code: "invalid_frame", message: `${where}${issue?.message ?? "invalid frame"}` };
}

// ---- the frames of every command, checked without zod
//
// Each command sends a started frame, its output's headers and a finished frame, and the Machine parses every one.
// In workerd zod's generic parse of them was a quarter of the Machine's handling of a runtime's frames (2.5% of
// workerd's CPU samples in bench:profile --echo): these checks accept only what the schema accepts, and give the same
// value (same fields, same order, unknown keys dropped; tests: every field at its bounds, and fast-check, against the
// schemas). Whatever they do not accept goes to the schema, which refuses it (or, were a check stricter than the
// schema somewhere, accepts it): the schema stays the rule, and its errors the readable reasons.

const SESSION_ID = idPattern("ses");
const COMMAND_ID = idPattern("cmd");

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;
const isTextOrNull = (v: unknown, max: number): v is string | null => v === null || isText(v, max);
const isDigestOrNull = (v: unknown): v is string | null => v === null || (typeof v === "string" && SHA256_HEX.test(v));
const isExitCode = (v: unknown): v is number | null =>
  v === null ||
  (Number.isSafeInteger(v) &&
    (v as number) >= FINISHED_LIMITS.exitCodeMin &&
    (v as number) <= FINISHED_LIMITS.exitCodeMax);
const isIn = <T extends string>(v: unknown, options: readonly T[]): v is T => options.includes(v as T);

/** The command a frame is about, when both ids are well-formed. */
function commandOf(f: Record<string, unknown>): { sessionId: string; commandId: string } | null {
  const { sessionId, commandId } = f;
  return typeof sessionId === "string" &&
    typeof commandId === "string" &&
    SESSION_ID.test(sessionId) &&
    COMMAND_ID.test(commandId)
    ? { sessionId, commandId }
    : null;
}

/** StartedFrame, or null for the schema to decide. */
export function checkedStarted(f: Record<string, unknown>): StartedFrame | null {
  const ref = commandOf(f);
  const { pid, user, cwd, executable, shell, shellVersion, env } = f;
  if (f.t !== "started" || ref === null || !isCount(pid) || !isIn(shell, SHELLS) || envRefusal(env) !== null)
    return null;
  if (!isText(user, STARTED_CHARS.user) || !isText(cwd, STARTED_CHARS.cwd)) return null;
  if (!isText(executable, STARTED_CHARS.executable) || !isText(shellVersion, STARTED_CHARS.shellVersion)) return null;
  return { t: "started", ...ref, pid, user, cwd, executable, shell, shellVersion, env: env as Record<string, string> };
}

/** FinishedFrame, or null for the schema to decide. */
export function checkedFinished(f: Record<string, unknown>): FinishedFrame | null {
  const ref = commandOf(f);
  const { state, exitCode, signal, reason, stdoutBytes, stderrBytes, stdoutSha256, stderrSha256, durationMs } = f;
  if (f.t !== "finished" || ref === null || !isIn(state, RUNTIME_FINAL_STATES) || !isExitCode(exitCode)) return null;
  if (!isTextOrNull(signal, FINISHED_LIMITS.signalChars) || !isTextOrNull(reason, FINISHED_LIMITS.reasonChars))
    return null;
  if (!isCount(stdoutBytes) || !isCount(stderrBytes)) return null;
  if (!isDigestOrNull(stdoutSha256) || !isDigestOrNull(stderrSha256) || !isCount(durationMs)) return null;
  return {
    t: "finished",
    ...ref,
    state,
    exitCode,
    signal,
    reason,
    stdoutBytes,
    stderrBytes,
    stdoutSha256,
    stderrSha256,
    durationMs,
  };
}

/** OutputHeader, or null for the schema to decide. */
export function checkedOutputHeader(value: unknown): OutputHeader | null {
  if (typeof value !== "object" || value === null) return null;
  const f = value as Record<string, unknown>;
  const ref = commandOf(f);
  const { stream, offset } = f;
  if (f.t !== "output" || ref === null || !isIn(stream, STREAMS) || !isCount(offset)) return null;
  return { t: "output", ...ref, stream, offset };
}

/** A started or finished frame as checkedStarted / checkedFinished accept it, else null. */
function checkedCommandFrame(value: unknown): StartedFrame | FinishedFrame | null {
  if (typeof value !== "object" || value === null) return null;
  const f = value as Record<string, unknown>;
  return f.t === "started" ? checkedStarted(f) : f.t === "finished" ? checkedFinished(f) : null;
}

/**
 * A runtime's text frame for the Machine object: a health report, or one of RuntimeFrame. Health reports are not
 * in RuntimeFrame: they concern the machine, not a session's command.
 */
export function parseRuntimeFrame(
  raw: string | ArrayBuffer | Uint8Array,
  maxBytes: number,
): { ok: true; frame: RuntimeFrame | HealthFrame | UpdateRefusedFrame } | { ok: false; code: string; message: string } {
  const json = readJson(raw, maxBytes);
  if (!json.ok) return json;
  const checked = checkedCommandFrame(json.value);
  if (checked !== null) return { ok: true, frame: checked };
  const value = json.value as { t?: unknown } | null;
  // Reports about the runtime itself are parsed apart from the command frames, whose error text names their types.
  const t = typeof value === "object" ? value?.t : undefined;
  const schema = t === "health" ? HealthFrame : t === "update_refused" ? UpdateRefusedFrame : RuntimeFrame;
  const result = (schema as z.ZodType<RuntimeFrame | HealthFrame | UpdateRefusedFrame>).safeParse(value);
  return result.success ? { ok: true, frame: result.data } : invalidFrame(result.error);
}

/** Parse a frame from a peer: JSON, size bound, schema. Never throws; a bad frame is a readable error. */
export function parseFrame<T>(
  schema: z.ZodType<T>,
  raw: string | ArrayBuffer | Uint8Array,
  maxBytes: number,
): { ok: true; frame: T } | { ok: false; code: string; message: string } {
  const json = readJson(raw, maxBytes);
  if (!json.ok) return json;
  const result = schema.safeParse(json.value);
  if (!result.success) return invalidFrame(result.error);
  return { ok: true, frame: result.data };
}

/**
 * A text frame's JSON, size-bounded, before any schema. Not `parseFrame(z.unknown(), …)`: building that schema on
 * every frame was a quarter of parseRuntimeFrame's time.
 */
function readJson(
  raw: string | ArrayBuffer | Uint8Array,
  maxBytes: number,
): { ok: true; value: unknown } | { ok: false; code: string; message: string } {
  if (typeof raw !== "string") return { ok: false, code: "bad_frame", message: "this frame must be JSON text" };
  if (raw.length > maxBytes) return { ok: false, code: "frame_too_large", message: `frame exceeds ${maxBytes} bytes` };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, code: "bad_frame", message: "frame is not valid JSON" };
  }
}

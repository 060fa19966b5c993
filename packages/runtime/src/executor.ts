// Runs dispatched commands: one fresh process of the requested shell per command, in order per session (sessions run
// in parallel), output streamed as byte-exact chunks with running SHA-256, every frame handed to the outbox in the order
// its bytes were read (stdout and stderr interleaved as they came).

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import { accessSync, constants, statSync } from "node:fs";
import os from "node:os";
import {
  type Coalescing,
  type DispatchFrame,
  type FinishedFrame,
  frameWait,
  LIMITS,
  OUTPUT_COALESCING,
  prestateParts,
  redactEnv,
  type Shell,
  type StartedFrame,
} from "@caisey/core";
import { LOST_COMMAND_REASON } from "./journal.ts";
import { type FrameSink, outputBuffer, outputFrame } from "./outbox.ts";
import {
  boundEnv,
  describeUser,
  firstLine,
  killTreeCommand,
  resolveExecutable,
  shellInvocation,
  shellVersionProbe,
} from "./platform.ts";
import { capturePrestate, nativeSeams, type ProbeSeams } from "./probes.ts";

const EMPTY_SHA256 = createHash("sha256").digest("hex");

/** Why a command was stopped while the endpoint's disk stayed full (see Executor.storeFull). */
export function diskFullReason(afterMs: number): string {
  const seconds = Number((afterMs / 1000).toFixed(1));
  return `the endpoint's disk stayed full for ${seconds} s, so the command's output could not be kept: the command was stopped (its output until then is recorded)`;
}

export interface ExecutorOptions {
  sink: FrameSink;
  log?: (line: string) => void;
  platform?: NodeJS.Platform;
  /**
   * Environment of the commands (and the PATH searched for shells), read once here. Default: process.env (the runtime
   * never changes its own environment after it starts).
   */
  env?: Record<string, string | undefined>;
  /** Working directory of the commands. Default: the runtime user's home directory. */
  cwd?: string;
  /** The account commands run as, as recorded. Default: the runtime's own user. */
  user?: string;
  /** Version line of a shell executable. Default: asks the shell (cached per executable). */
  shellVersion?: (shell: Shell, executable: string) => Promise<string>;
  /** After the shell exits, how long to wait for background processes holding its stdout/stderr open. */
  drainGraceMs?: number;
  /** How many finished command ids to remember so a late redispatch never runs a command twice. */
  rememberFinished?: number;
  /** When read output is framed (core's frameWait). Default: OUTPUT_COALESCING (quiet for 2 ms, or 25 ms at most). */
  coalescing?: Coalescing;
  /** How long the outbox's store may stay full (the disk) before running commands are stopped as failed. */
  diskFullFailAfterMs?: number;
  /** How the pre-state of a change is read (files, probe commands). Default: the OS, as the commands would see it. */
  probeSeams?: ProbeSeams;
  now?: () => number;
}

type StreamName = "stdout" | "stderr";

interface StreamState {
  /** Bytes handed to the outbox so far (the next frame's offset). */
  offset: number;
  /** SHA-256 of the stream's bytes, made at its first byte: most commands never write to one of their streams. */
  hash: Hash | null;
}

/**
 * Bytes read but not yet framed, all of one stream: reads are coalesced into frames of up to
 * LIMITS.outputChunkBytes, and a read of the other stream frames them first, so frames follow the order of the reads.
 */
interface Pending {
  stream: StreamName;
  chunks: Buffer[];
  bytes: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** When the first and the last of the pending bytes were read (performance.now(): not the injected duration clock). */
  firstAt: number;
  lastAt: number;
}

interface Job {
  dispatch: DispatchFrame;
  state: "queued" | "running" | "done";
  child?: ChildProcess;
  /** Why the process is being killed, if it is. */
  stopping?: { state: FinishedFrame["state"]; reason: string };
  paused: boolean;
  streams: Record<StreamName, StreamState>;
  pending: Pending;
  done: Promise<void>;
  resolveDone: () => void;
}

export class Executor {
  readonly #sink: FrameSink;
  readonly #log: (line: string) => void;
  readonly #platform: NodeJS.Platform;
  readonly #env: Record<string, string>;
  /** The environment as every started frame records it (redacted, bounded): the same for every command. */
  #recordedEnv: { env: Record<string, string>; omitted: number } | undefined;
  readonly #cwd: string;
  readonly #user: string;
  readonly #shellVersion: (shell: Shell, executable: string) => Promise<string>;
  readonly #drainGraceMs: number;
  readonly #rememberFinished: number;
  readonly #coalescing: Coalescing;
  readonly #diskFullFailAfterMs: number;
  #diskFullTimer: NodeJS.Timeout | undefined;
  readonly #probeSeams: ProbeSeams;
  readonly #now: () => number;
  readonly #jobs = new Map<string, Job>();
  readonly #queues = new Map<string, Job[]>();
  /** Command ids that ran to the end and were forgotten; oldest first. */
  readonly #finished = new Set<string>();
  #shuttingDown = false;

  constructor(options: ExecutorOptions) {
    this.#sink = options.sink;
    this.#log = options.log ?? (() => {});
    this.#platform = options.platform ?? process.platform;
    // A plain copy: spawn reads every variable of it per command, and each read of process.env is a call into the
    // C++ environment; the copy also makes the recorded environment the one the command gets, by construction.
    this.#env = plainEnv(options.env ?? process.env);
    this.#cwd = options.cwd ?? os.homedir();
    this.#user = options.user ?? currentUser(this.#platform, this.#env);
    this.#shellVersion = options.shellVersion ?? cachedShellVersion();
    this.#drainGraceMs = options.drainGraceMs ?? 2000;
    this.#rememberFinished = options.rememberFinished ?? 10_000;
    this.#coalescing = options.coalescing ?? OUTPUT_COALESCING;
    this.#diskFullFailAfterMs = options.diskFullFailAfterMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#probeSeams =
      options.probeSeams ??
      nativeSeams({ env: this.#env, cwd: this.#cwd, platform: this.#platform, isExecutable: isExecutableFile });
  }

  /** Queue a command, or, if it is already known, send again what we have for it instead of running it twice. */
  dispatch(dispatch: DispatchFrame): void {
    if (this.#shuttingDown) {
      this.#log(`${dispatch.commandId} not started: the runtime is stopping`);
      return;
    }
    const known = this.#jobs.get(dispatch.commandId);
    if (known || this.#finished.has(dispatch.commandId) || this.#sink.knows(dispatch.commandId)) {
      // Known to this process, or to the outbox's journal from before a restart: never run twice.
      const resent = this.#sink.resend(dispatch.commandId);
      const state = known && known.state !== "done" ? known.state : "finished";
      this.#log(`${dispatch.commandId} already ${state}; not running it again (resent ${resent} frames)`);
      return;
    }
    if (dispatch.resume) {
      // The server holds command.started, but we have no record of it: a runtime before a crash (or another data
      // directory) ran it. Running it again could repeat a change; report what happened instead.
      this.#remember(dispatch.commandId);
      this.#sink.push({
        t: "finished",
        sessionId: dispatch.sessionId,
        commandId: dispatch.commandId,
        state: "interrupted",
        exitCode: null,
        signal: null,
        reason: LOST_COMMAND_REASON,
        stdoutBytes: 0,
        stderrBytes: 0,
        stdoutSha256: null,
        stderrSha256: null,
        durationMs: 0,
      });
      this.#log(`${dispatch.commandId} resumed by the server but unknown here: reported interrupted, not run`);
      return;
    }
    let resolveDone = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const job: Job = {
      dispatch,
      state: "queued",
      paused: false,
      streams: {
        stdout: { offset: 0, hash: null },
        stderr: { offset: 0, hash: null },
      },
      pending: { stream: "stdout", chunks: [], bytes: 0, timer: null, firstAt: 0, lastAt: 0 },
      done,
      resolveDone,
    };
    this.#jobs.set(dispatch.commandId, job);
    const queue = this.#queues.get(dispatch.sessionId) ?? [];
    queue.push(job);
    this.#queues.set(dispatch.sessionId, queue);
    if (queue.length === 1) this.#start(job);
  }

  /** The technician cancelled: kill a running command's process tree, or drop it from its queue. */
  cancel(sessionId: string, commandId: string): void {
    const job = this.#jobs.get(commandId);
    if (!job || job.dispatch.sessionId !== sessionId) {
      this.#log(`cancel for unknown command ${commandId} ignored`);
      return;
    }
    if (job.state === "done") return;
    if (job.state === "queued") {
      const queue = this.#queues.get(sessionId) ?? [];
      const at = queue.indexOf(job);
      // The head of the queue may be between "queued" and spawn; it is stopped as soon as it has a process.
      if (at > 0) {
        queue.splice(at, 1);
        this.#finish(
          job,
          { state: "cancelled", exitCode: null, signal: null, reason: "cancelled by technician" },
          null,
        );
        return;
      }
    }
    this.#stop(job, "cancelled", "cancelled by technician");
  }

  /** Backpressure from the outbox: stop (or resume) reading this command's output pipes. */
  setPaused(commandId: string, paused: boolean): void {
    const job = this.#jobs.get(commandId);
    if (!job || job.paused === paused) return;
    job.paused = paused;
    for (const stream of [job.child?.stdout, job.child?.stderr]) {
      if (paused) stream?.pause();
      else stream?.resume();
    }
    // Bytes left unframed while paused (see #due): framed once the stream goes quiet again.
    if (!paused && job.pending.bytes > 0) this.#arm(job);
  }

  /**
   * The outbox's store is full (true) or has room again. Output is paused meanwhile; while acknowledgements free the
   * disk it soon has room again. If it stays full (the server unreachable too), running commands are stopped as
   * failed with the reason, rather than held forever; their finish is recorded once the disk takes it.
   */
  storeFull(full: boolean): void {
    clearTimeout(this.#diskFullTimer);
    this.#diskFullTimer = undefined;
    if (!full) return;
    this.#diskFullTimer = setTimeout(() => {
      const reason = diskFullReason(this.#diskFullFailAfterMs);
      for (const job of this.#jobs.values()) {
        if (job.state !== "running") continue;
        this.#log(`${job.dispatch.commandId}: ${reason}`);
        this.#stop(job, "failed", reason);
      }
    }, this.#diskFullFailAfterMs);
    this.#diskFullTimer.unref();
  }

  /** The outbox has everything for this command acknowledged: keep only its id, to refuse reruns. */
  forget(commandId: string): void {
    const job = this.#jobs.get(commandId);
    if (job?.state !== "done") return;
    this.#jobs.delete(commandId);
    this.#remember(commandId);
  }

  #remember(commandId: string): void {
    this.#finished.add(commandId);
    if (this.#finished.size > this.#rememberFinished) {
      const oldest = this.#finished.values().next().value;
      if (oldest !== undefined) this.#finished.delete(oldest);
    }
  }

  /** Commands queued or running. */
  active(): number {
    let n = 0;
    for (const job of this.#jobs.values()) if (job.state !== "done") n++;
    return n;
  }

  /**
   * Shutting down: forget queued commands (never started; the server redispatches them), kill every running
   * process tree and wait (bounded) until each has reported `interrupted`.
   */
  async shutdown(timeoutMs = 3000): Promise<void> {
    this.#shuttingDown = true;
    clearTimeout(this.#diskFullTimer);
    const running: Promise<void>[] = [];
    for (const [sessionId, queue] of this.#queues) {
      const head = queue[0];
      for (const job of queue.slice(1)) this.#jobs.delete(job.dispatch.commandId);
      this.#queues.set(sessionId, head ? [head] : []);
      if (head) {
        this.#stop(head, "interrupted", "the runtime was stopped");
        running.push(head.done);
      }
    }
    await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  #start(job: Job): void {
    this.#run(job).catch((error: unknown) => {
      this.#log(`${job.dispatch.commandId}: ${errorMessage(error)}`);
      if (job.state !== "done") {
        if (job.child?.pid !== undefined) killTree(job.child.pid, this.#platform, this.#log);
        this.#finish(job, { state: "failed", exitCode: null, signal: null, reason: errorMessage(error) }, null);
      }
    });
  }

  async #run(job: Job): Promise<void> {
    const { dispatch } = job;
    const started = this.#now();
    const invocation = shellInvocation(dispatch.shell, dispatch.command, this.#platform);
    const executable = resolveExecutable(
      invocation.file,
      this.#env.PATH ?? this.#env.Path,
      this.#platform,
      isExecutableFile,
      this.#env.PATHEXT,
    );
    if (!executable) {
      this.#finish(
        job,
        { state: "failed", exitCode: null, signal: null, reason: `${invocation.file} not found on PATH` },
        started,
      );
      return;
    }
    // On disk before the process exists: after a crash the journal says this command may have run. Written while the
    // shell's version and the pre-state are read, not after them: the spawn waits for the slower of the two only.
    const starting = this.#sink.starting(dispatch.sessionId, dispatch.commandId);
    starting.catch(() => {}); // awaited below; a refusal is thrown there, not reported as unhandled meanwhile
    const shellVersion = await this.#shellVersion(dispatch.shell, executable).catch(() => "");
    if (!job.stopping) await this.#recordPrestate(dispatch);
    await starting;
    if (job.stopping) {
      // Cancelled (or shut down) while the shell version was being read: it never started.
      this.#finish(
        job,
        { state: job.stopping.state, exitCode: null, signal: null, reason: job.stopping.reason },
        started,
      );
      return;
    }

    let child: ChildProcess;
    try {
      child = spawn(executable, invocation.args, {
        cwd: this.#cwd,
        env: this.#env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: this.#platform !== "win32",
        windowsHide: true,
        windowsVerbatimArguments: invocation.windowsVerbatimArguments ?? false,
      });
    } catch (error) {
      this.#finish(job, { state: "failed", exitCode: null, signal: null, reason: errorMessage(error) }, started);
      return;
    }
    if (child.pid === undefined) {
      // spawn reports ENOENT/EACCES asynchronously through "error".
      const error = await new Promise<unknown>((resolve) => child.once("error", resolve));
      this.#finish(job, { state: "failed", exitCode: null, signal: null, reason: errorMessage(error) }, started);
      return;
    }

    job.child = child;
    job.state = "running";
    this.#log(`running ${dispatch.commandId} (${dispatch.shell})`);
    this.#recordedEnv ??= boundEnv(redactEnv(this.#env));
    const { env, omitted } = this.#recordedEnv;
    if (omitted > 0) this.#log(`${dispatch.commandId}: ${omitted} environment variables left out of the record`);
    const startedFrame: StartedFrame = {
      t: "started",
      sessionId: dispatch.sessionId,
      commandId: dispatch.commandId,
      pid: child.pid,
      user: this.#user,
      cwd: this.#cwd,
      executable,
      shell: dispatch.shell,
      shellVersion,
      env,
    };
    this.#sink.push(startedFrame);

    const stdout = child.stdout;
    const stderr = child.stderr;
    if (!stdout || !stderr) throw new Error("spawned without pipes");
    stdout.on("data", (chunk: Buffer) => this.#output(job, "stdout", chunk));
    stderr.on("data", (chunk: Buffer) => this.#output(job, "stderr", chunk));
    if (this.#sink.isPaused(dispatch.commandId)) this.setPaused(dispatch.commandId, true);
    child.on("error", (error) => this.#log(`${dispatch.commandId}: ${errorMessage(error)}`));

    let timer: NodeJS.Timeout | undefined;
    if (dispatch.timeoutSeconds !== null) {
      const seconds = dispatch.timeoutSeconds;
      timer = setTimeout(() => this.#stop(job, "timed_out", `timed out after ${seconds}s`), seconds * 1000);
    }

    // "close" comes after "exit", once every process holding the output pipes (background jobs too) is gone.
    const closed = new Promise<boolean>((resolve) => child.once("close", () => resolve(true)));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    let reason: string | null = null;
    for (;;) {
      if (await Promise.race([closed, delay(this.#drainGraceMs, false)])) break;
      if (job.paused) continue; // backpressure: we are the ones not reading, so keep waiting
      if (!job.stopping) {
        reason = `stopped reading output ${this.#drainGraceMs}ms after the shell exited: a background process still holds stdout/stderr open`;
      }
      stdout.destroy();
      stderr.destroy();
      break;
    }
    clearTimeout(timer);

    const stopped = job.stopping as Job["stopping"]; // set by #stop from a timer or a cancel while we awaited
    if (stopped) {
      this.#finish(job, { state: stopped.state, exitCode: null, signal: "SIGKILL", reason: stopped.reason }, started);
    } else {
      this.#finish(job, { state: "finished", exitCode: exit.code, signal: exit.signal, reason }, started);
    }
  }

  /** Read what a change is about to touch and hand it to the outbox ahead of its started frame. */
  async #recordPrestate(dispatch: DispatchFrame): Promise<void> {
    const home = this.#platform === "win32" ? this.#env.USERPROFILE : this.#env.HOME;
    const context = { cwd: this.#cwd, platform: this.#platform, home };
    const records = await capturePrestate(dispatch.shell, dispatch.command, context, this.#probeSeams).catch(
      (error: unknown) => {
        this.#log(`${dispatch.commandId}: the pre-state could not be read: ${errorMessage(error)}`);
        return [];
      },
    );
    if (records.length === 0) return;
    const { parts, kept } = prestateParts(records);
    if (kept < records.length) {
      this.#log(`${dispatch.commandId}: ${records.length - kept} pre-state records left out (too large to send)`);
    }
    for (const [part, text] of parts.entries()) {
      this.#sink.push({
        t: "prestate",
        sessionId: dispatch.sessionId,
        commandId: dispatch.commandId,
        part,
        parts: parts.length,
        text,
      });
    }
  }

  #output(job: Job, name: StreamName, chunk: Buffer): void {
    if (job.state === "done") return; // nothing may follow the finished frame
    const stream = job.streams[name];
    stream.hash ??= createHash("sha256");
    stream.hash.update(chunk);
    const pending = job.pending;
    // The other stream's bytes were read first: they are framed first, so the record keeps the order of the reads.
    if (pending.stream !== name) {
      if (pending.bytes > 0) this.#frame(job, true);
      pending.stream = name;
    }
    const now = performance.now();
    if (pending.bytes === 0) pending.firstAt = now;
    pending.lastAt = now;
    pending.chunks.push(chunk);
    pending.bytes += chunk.length;
    // Fewer, larger frames: each frame costs the server a fixed amount (a record, a commit, an ack) besides its bytes.
    if (pending.bytes >= LIMITS.outputChunkBytes) this.#frame(job, false);
    else this.#arm(job);
  }

  /** Start the coalescing timer of the job's pending bytes, unless it runs. */
  #arm(job: Job): void {
    job.pending.timer ??= setTimeout(() => this.#due(job), this.#coalescing.quietMs);
  }

  /**
   * The coalescing timer: frame what is pending when core's frameWait says so, else wait the rest. While the command
   * is paused (its window full, or the disk) nothing is gained by framing now: it is framed after reading resumes.
   */
  #due(job: Job): void {
    const pending = job.pending;
    pending.timer = null;
    if (pending.bytes === 0 || job.state === "done" || job.paused) return;
    const wait = frameWait(pending.firstAt, pending.lastAt, performance.now(), this.#coalescing);
    if (wait > 0) pending.timer = setTimeout(() => this.#due(job), wait);
    else this.#frame(job, true);
  }

  /** Turn pending bytes into output frames: whole chunks only, unless `all` (timer fired, stream switch, or the end). */
  #frame(job: Job, all: boolean): void {
    const pending = job.pending;
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = null;
    if (pending.bytes === 0) return;
    const name = pending.stream;
    const stream = job.streams[name];
    const max = LIMITS.outputChunkBytes;
    const framed = all ? pending.bytes : pending.bytes - (pending.bytes % max);
    for (let at = 0; at < framed; at += max) {
      const piece = takeBytes(pending.chunks, Math.min(max, framed - at));
      const { sessionId, commandId } = job.dispatch;
      this.#sink.push(outputFrame({ t: "output", sessionId, commandId, stream: name, offset: stream.offset }, piece));
      stream.offset += piece.length;
    }
    pending.bytes -= framed;
    if (pending.bytes > 0) {
      // The rest of a full read: it waits for more as if just read.
      pending.firstAt = pending.lastAt = performance.now();
      this.#arm(job);
    }
  }

  #stop(job: Job, state: FinishedFrame["state"], reason: string): void {
    if (job.stopping || job.state === "done") return;
    job.stopping = { state, reason };
    const pid = job.child?.pid;
    if (pid === undefined) return; // not spawned yet: #run sees `stopping` before spawning
    if (job.paused) this.setPaused(job.dispatch.commandId, false); // let the pipes drain so "close" can fire
    killTree(pid, this.#platform, this.#log);
  }

  #finish(
    job: Job,
    end: Pick<FinishedFrame, "state" | "exitCode" | "signal" | "reason">,
    startedAt: number | null,
  ): void {
    const { dispatch } = job;
    this.#frame(job, true);
    job.state = "done";
    const frame: FinishedFrame = {
      t: "finished",
      sessionId: dispatch.sessionId,
      commandId: dispatch.commandId,
      ...end,
      stdoutBytes: job.streams.stdout.offset,
      stderrBytes: job.streams.stderr.offset,
      // Every byte hashed is framed by now (#frame above), so a stream without a hash wrote nothing.
      stdoutSha256: job.streams.stdout.hash?.digest("hex") ?? EMPTY_SHA256,
      stderrSha256: job.streams.stderr.hash?.digest("hex") ?? EMPTY_SHA256,
      durationMs: startedAt === null ? 0 : Math.max(0, Math.round(this.#now() - startedAt)),
    };
    this.#sink.push(frame);
    const how = end.state === "finished" ? `exit ${end.exitCode ?? end.signal}` : `${end.state}: ${end.reason}`;
    this.#log(`finished ${dispatch.commandId} ${how}`);
    job.resolveDone();

    const queue = this.#queues.get(dispatch.sessionId) ?? [];
    const at = queue.indexOf(job);
    if (at >= 0) queue.splice(at, 1);
    if (at === 0 && queue[0]) this.#start(queue[0]);
    if (queue.length === 0) this.#queues.delete(dispatch.sessionId);
  }
}

/**
 * The first `length` bytes of `chunks`, taken off them: copied into one outputBuffer (the only copy of output in the
 * runtime; the journal and the socket both use that buffer), leaving the rest of a chunk cut in two.
 */
function takeBytes(chunks: Buffer[], length: number): Buffer {
  const bytes = outputBuffer(length);
  for (let filled = 0; filled < length; ) {
    const chunk = chunks[0] as Buffer;
    const take = Math.min(chunk.length, length - filled);
    bytes.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
    filled += take;
    if (take === chunk.length) chunks.shift();
    else chunks[0] = chunk.subarray(take);
  }
  return bytes;
}

function killTree(pid: number, platform: NodeJS.Platform, log: (line: string) => void): void {
  const command = killTreeCommand(pid, platform);
  if (command) {
    execFile(command.file, command.args, { windowsHide: true }, (error) => {
      if (error) log(`taskkill ${pid}: ${error.message}`);
    });
    return;
  }
  try {
    process.kill(-pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") log(`kill -${pid}: ${errorMessage(error)}`);
  }
}

function isExecutableFile(file: string): boolean {
  try {
    // Most PATH entries lack the shell: no exception (with its stack) for each of them, per command.
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return false;
    if (process.platform !== "win32") accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Ask each shell executable its version once; failures (dash has no --version) record "". */
export function cachedShellVersion(): (shell: Shell, executable: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  return (shell, executable) => {
    const key = `${shell}\0${executable}`;
    let version = cache.get(key);
    if (!version) {
      const probe = shellVersionProbe(shell, executable);
      version = new Promise<string>((resolve) => {
        execFile(
          probe.file,
          probe.args,
          { timeout: 10_000, windowsHide: true, encoding: "utf8", cwd: os.homedir() },
          (error, stdout) => resolve(error ? "" : firstLine(stdout)),
        );
      });
      cache.set(key, version);
    }
    return version;
  };
}

/** The account commands run as, as the record shows it. */
export function currentUser(platform: NodeJS.Platform, env: Record<string, string | undefined>): string {
  const username = os.userInfo().username;
  if (platform !== "win32") return username;
  const profile = (env.USERPROFILE ?? "").toLowerCase();
  return describeUser({
    platform,
    username,
    domain: env.USERDOMAIN,
    isService: profile.includes("\\system32\\config\\systemprofile"),
  });
}

/** The defined variables of an environment, as a plain object. */
function plainEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

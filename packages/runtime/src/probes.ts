// The pre-state: before a change runs, read what it is about to touch (core's planProbes says what), so the record
// holds what was there before and the change can be undone. Files are read here, natively; registry values and
// services by running core's read-only probe command in its shell. Everything the OS is asked goes through
// ProbeSeams, so Windows probing is tested with fake `reg query` / `sc qc` output on any machine.
//
// Decisions:
// - A probe never blocks the command: a failure (unreadable file, probe command failing, timing out or printing too
//   much) is a record with `exists: false` and `error`, and the command runs.
// - Bounded: each probe command gets PROBE_LIMITS.commandMs and PROBE_LIMITS.outputBytes; all probes of one command
//   share PROBE_LIMITS.totalMs, after which the remaining ones are recorded as not read.
// - A file is followed through a symbolic link (what a write through it changes); its mode and owner are POSIX only.
// - Records come in planProbes order, one per probe; the content budget of core's withinContentBudget is applied.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import {
  type FilePrestate,
  PRESTATE_MAX_BYTES,
  type Prestate,
  type Probe,
  type ProbeCommand,
  planProbes,
  readProbe,
  type Shell,
  withinContentBudget,
} from "@caisey/core";
import { resolveExecutable, shellInvocation } from "./platform.ts";

export const PROBE_LIMITS = {
  /** One probe command. */
  commandMs: 5_000,
  /** Everything probed before one command. */
  totalMs: 15_000,
  /** Output one probe command may print (stdout and stderr each). */
  outputBytes: 64 * 1024,
} as const;

export interface FileFacts {
  kind: "file" | "directory" | "other";
  size: number;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
}

/** What probing asks of the OS. */
export interface ProbeSeams {
  /** The file a path names, following links; rejects with code ENOENT when there is none. */
  stat(file: string): Promise<FileFacts>;
  /** The file's bytes, in chunks. */
  read(file: string): AsyncIterable<Uint8Array>;
  /** Run a probe command; rejects when it cannot run, times out or prints more than the bound. */
  run(probe: ProbeCommand, timeoutMs: number): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  now(): number;
}

export interface ProbeContext {
  /** The command's working directory: relative targets are resolved against it. */
  cwd: string;
  platform: NodeJS.Platform;
  /** The home folder `~` stands for (the shells expand it before the program sees it). */
  home?: string | undefined;
}

const messageOf = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === "ENOENT") return "not found";
  if (e?.code === "EACCES" || e?.code === "EPERM") return "permission denied";
  if (e?.code === "ENOTDIR") return "not a directory: part of its path is a file";
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]?.slice(0, 500) || "probe failed";
};

/** A probe that could not be read: recorded as such (nothing is known), never blocking the command. */
function failed(probe: Probe, target: string, error: string): Prestate {
  if (probe.kind === "registry") return { kind: "registry", target, name: probe.name, exists: false, error };
  return { kind: probe.kind, target, exists: false, error };
}

/** The absolute path a command in `cwd` writes when it names `target`. */
export function resolveTarget(target: string, { cwd, platform, home }: ProbeContext): string {
  const paths = platform === "win32" ? path.win32 : path.posix;
  const tilde = /^~(?:$|[/\\])/.test(target) && (platform === "win32" || !target.startsWith("~\\"));
  if (tilde && home) return paths.resolve(home, `.${target.slice(1)}`);
  return paths.resolve(cwd, target);
}

async function readFile(
  file: string,
  seams: ProbeSeams,
  platform: NodeJS.Platform,
  deadline: number,
): Promise<FilePrestate> {
  let facts: FileFacts;
  try {
    facts = await seams.stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "file", target: file, exists: false };
    throw error;
  }
  const posix =
    platform === "win32"
      ? {}
      : { mode: `0${(facts.mode & 0o7777).toString(8).padStart(3, "0")}`, owner: `${facts.uid}:${facts.gid}` };
  if (facts.kind === "directory") return { kind: "file", target: file, exists: true, ...posix, directory: true };
  if (facts.kind !== "file") throw new Error("not a regular file");
  const hash = createHash("sha256");
  const kept: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of seams.read(file)) {
    if (seams.now() > deadline) throw new Error("reading it took too long");
    hash.update(chunk);
    bytes += chunk.length;
    if (bytes <= PRESTATE_MAX_BYTES) kept.push(chunk);
  }
  return {
    kind: "file",
    target: file,
    exists: true,
    sha256: hash.digest("hex"),
    bytes,
    ...posix,
    ...(bytes <= PRESTATE_MAX_BYTES ? { data: Buffer.concat(kept).toString("base64") } : {}),
  };
}

/**
 * What `command` (in `shell`) is about to change, read before it runs: one record per planProbes probe, in its order.
 * None for a command that only reads or whose targets Caisey cannot tell.
 */
export async function capturePrestate(
  shell: Shell,
  command: string,
  context: ProbeContext,
  seams: ProbeSeams,
): Promise<Prestate[]> {
  const probes = planProbes(shell, command);
  const deadline = seams.now() + PROBE_LIMITS.totalMs;
  const records: Prestate[] = [];
  for (const probe of probes) {
    const target = probe.kind === "file" ? resolveTarget(probe.target, context) : probe.target;
    if (seams.now() > deadline) {
      records.push(failed(probe, target, `not read: probing took longer than ${PROBE_LIMITS.totalMs / 1000} s`));
      continue;
    }
    try {
      if (probe.kind === "file") {
        records.push(await readFile(target, seams, context.platform, deadline));
      } else {
        const timeout = Math.max(1, Math.min(PROBE_LIMITS.commandMs, deadline - seams.now()));
        records.push(readProbe(probe, await seams.run(probe.read, timeout)));
      }
    } catch (error) {
      records.push(failed(probe, target, messageOf(error)));
    }
  }
  return withinContentBudget(records);
}

/** The OS itself: the runtime's file system, and probe commands run like commands (same user, env, cwd). */
export function nativeSeams(options: {
  env: Record<string, string | undefined>;
  cwd: string;
  platform: NodeJS.Platform;
  isExecutable: (file: string) => boolean;
}): ProbeSeams {
  const { env, cwd, platform } = options;
  return {
    async stat(file) {
      const s = await fs.stat(file);
      return {
        kind: s.isFile() ? "file" : s.isDirectory() ? "directory" : "other",
        size: s.size,
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
      };
    },
    read: (file) => createReadStream(file),
    run(probe, timeoutMs) {
      const invocation = shellInvocation(probe.shell, probe.command, platform);
      const executable = resolveExecutable(
        invocation.file,
        env.PATH ?? env.Path,
        platform,
        options.isExecutable,
        env.PATHEXT,
      );
      if (!executable) return Promise.reject(new Error(`${invocation.file} not found on PATH`));
      return new Promise((resolve, reject) => {
        execFile(
          executable,
          invocation.args,
          {
            cwd,
            env,
            timeout: timeoutMs,
            killSignal: "SIGKILL",
            maxBuffer: PROBE_LIMITS.outputBytes,
            windowsHide: true,
            windowsVerbatimArguments: invocation.windowsVerbatimArguments ?? false,
            encoding: "utf8",
          },
          (error, stdout, stderr) => {
            const e = error as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
            if (e?.killed) reject(new Error(`the probe took longer than ${timeoutMs} ms`));
            else if (e?.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER")
              reject(new Error(`the probe printed more than ${PROBE_LIMITS.outputBytes} bytes`));
            else if (e && typeof e.code !== "number") reject(e);
            else resolve({ stdout, stderr, exitCode: typeof e?.code === "number" ? e.code : 0 });
          },
        );
      });
    },
    now: () => performance.now(),
  };
}

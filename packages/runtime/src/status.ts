// `caisey-runtime status`: what the running runtime last said about itself (DIR/status.json, written by `run` every
// couple of seconds when something changed) and the enrollment, put in words. describeStatus is pure.

import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { RuntimeConfig } from "./config.ts";
import type { Backlog } from "./health.ts";

export const STATUS_FILE = "status.json";

export const RuntimeStatus = z.object({
  pid: z.number().int(),
  version: z.string(),
  connected: z.boolean(),
  /** Frames (output, starts, finishes) journalled and not yet acknowledged by the server. */
  outboxFrames: z.number().int().nonnegative(),
  /** The output bytes those frames carry, and when the oldest was journalled (absent from older runtimes' files). */
  outboxBytes: z.number().int().nonnegative().optional(),
  outboxOldestAt: z.string().nullable().optional(),
  lastError: z.object({ at: z.string(), message: z.string() }).nullable(),
  updatedAt: z.string(),
});
export type RuntimeStatus = z.infer<typeof RuntimeStatus>;

/** The status of a running runtime, as of its outbox's backlog (without updatedAt, so a change is easy to tell). */
export function statusOf(
  pid: number,
  version: string,
  connected: boolean,
  backlog: Backlog,
): Omit<RuntimeStatus, "updatedAt"> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    pid,
    version,
    connected,
    outboxFrames: backlog.frames,
    outboxBytes: backlog.bytes,
    outboxOldestAt: backlog.oldestAt === null ? null : iso(backlog.oldestAt),
    lastError: backlog.lastError ? { at: iso(backlog.lastError.at), message: backlog.lastError.message } : null,
  };
}

/** A log line that tells the technician something went wrong (the runtime's own wording). */
export function isErrorLine(line: string): boolean {
  return /\b(cannot|failed|error|refused|no word from|no welcome)\b/i.test(line);
}

export async function writeStatus(dataDir: string, status: RuntimeStatus): Promise<void> {
  const file = path.join(dataDir, STATUS_FILE);
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(status)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

export async function readStatus(dataDir: string): Promise<RuntimeStatus | null> {
  try {
    const parsed = RuntimeStatus.safeParse(JSON.parse(await readFile(path.join(dataDir, STATUS_FILE), "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** What `status` prints. `running`: whether the process that wrote the status is still alive. */
export function describeStatus(
  dataDir: string,
  config: RuntimeConfig | null,
  status: RuntimeStatus | null,
  running: boolean,
): string {
  const lines = [`data dir:    ${dataDir}`];
  if (!config) {
    lines.push("enrollment:  not enrolled (run `install` or `enroll`)");
    return `${lines.join("\n")}\n`;
  }
  lines.push(
    `enrollment:  machine ${config.machineId} (enrolled ${config.enrolledAt})`,
    `server:      ${config.server}`,
  );
  if (!status || !running) {
    lines.push(`runtime:     not running${status ? ` (last seen ${status.updatedAt}, pid ${status.pid})` : ""}`);
  } else {
    lines.push(
      `runtime:     running, version ${status.version}, pid ${status.pid}`,
      `connection:  ${status.connected ? "connected" : "not connected (retrying)"} as of ${status.updatedAt}`,
    );
  }
  if (status) {
    const detail = [
      status.outboxBytes ? `${status.outboxBytes} bytes of output` : null,
      status.outboxOldestAt ? `the oldest journalled ${status.outboxOldestAt}` : null,
    ].filter((part) => part !== null);
    lines.push(
      `outbox:      ${status.outboxFrames} frame${status.outboxFrames === 1 ? "" : "s"} waiting for the server${detail.length > 0 ? ` (${detail.join(", ")})` : ""}`,
    );
    lines.push(`last error:  ${status.lastError ? `${status.lastError.at} ${status.lastError.message}` : "none"}`);
  }
  return `${lines.join("\n")}\n`;
}

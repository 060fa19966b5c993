// Test fixtures for the runtime's tests: the machine a fake server knows, its enrollment config, command ids, and what
// a fake server receives from the runtime as frames.

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  type HealthFrame,
  LIMITS,
  type MachineFacts,
  type OutputFrame,
  parseOutputFrame,
  parseRuntimeFrame,
  type RuntimeFrame,
  toBase64,
  type UpdateRefusedFrame,
} from "@caisey/core";
import { expect } from "vitest";
import type { RawData } from "ws";
import type { RuntimeConfig } from "../src/config.ts";

export const MACHINE = "mch_aaaaaaaaaaaaaaaaaaaa";
export const TENANT = "ten_aaaaaaaaaaaaaaaaaaaa";
export const FACTS: MachineFacts = { hostname: "h", os: "linux", osVersion: "6", arch: "x64", runtimeVersion: "0.1.0" };
/** The challenge a fake server sends (43 base64url characters, as a real one). */
export const NONCE = "n".repeat(43);

let counter = 0;
/** A fresh, valid command id; later ids sort after earlier ones. */
export function cmdId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let n = ++counter;
  let suffix = "";
  for (let i = 0; i < 20; i++) {
    suffix += alphabet[n & 31];
    n >>= 5;
  }
  return `cmd_${suffix.split("").reverse().join("")}`;
}

/** The enrollment of MACHINE with a fake server on `port`, pinning `signingKey`. */
export function runtimeConfig(
  port: number,
  identity: { privateKeyPem: string; publicKey: string },
  signingKey: string,
): RuntimeConfig {
  return {
    server: `http://127.0.0.1:${port}`,
    machineId: MACHINE,
    tenantId: TENANT,
    privateKey: identity.privateKeyPem,
    publicKey: identity.publicKey,
    signingKey,
    enrolledAt: new Date().toISOString(),
  };
}

/** What a runtime sends: its command frames, output, and the reports about itself (health, a refused update). */
export type ReceivedFrame = RuntimeFrame | HealthFrame | UpdateRefusedFrame | OutputFrame;

/** A report about the runtime itself rather than a command's frame: fake servers that only track commands skip it. */
export function isRuntimeReport(frame: ReceivedFrame): frame is HealthFrame | UpdateRefusedFrame {
  return frame.t === "health" || frame.t === "update_refused";
}

export function receivedFrame(data: RawData, isBinary: boolean): ReceivedFrame {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
  if (isBinary) {
    const output = parseOutputFrame(buffer, LIMITS.runtimeFrameBytes);
    if (!output.ok) throw new Error(output.message);
    return { ...output.header, data: toBase64(output.bytes) };
  }
  const parsed = parseRuntimeFrame(buffer.toString("utf8"), LIMITS.runtimeFrameBytes);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.frame;
}

/** Wait until `check` holds, polling through vitest; `what` names it in the failure. */
export function until(check: () => boolean, what = "the condition", timeout = 5000): Promise<void> {
  return expect.poll(check, { message: what, timeout, interval: 10 }).toBe(true);
}

/** Live (non-zombie) processes of a process group, from /proc. */
export function liveInGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // the process ended while we listed
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) pids.push(Number(entry));
  }
  return pids;
}

/**
 * A shell command running perl `body`, in which `line(*STDOUT or *STDERR, "text")` writes a line and returns only once
 * the runtime has read it: perl asks the kernel how much of its writes is still unread on the socket (SIOCOUTQ,
 * 0x5411) and waits for none. So the order the runtime reads lines in is the order they were written. Lines written
 * back to back race the reader instead: two lines on one stream can reach it in one read (the three `echo`s
 * did, about half the time, measured), and no reader of two pipes can then tell that a line of the other came between.
 */
export function inReadOrder(body: string): string {
  return (
    'perl -e \'sub line { my ($fh, $text) = @_; syswrite($fh, $text) or die "write: $!"; ' +
    'while (1) { my $n = pack("i", 0); ioctl($fh, 0x5411, $n) or die "SIOCOUTQ: $!"; ' +
    `last if unpack("i", $n) == 0; select(undef, undef, undef, 0.0002) } } ${body}'`
  );
}

/** The backup script of issue 10: a line on stdout, a warning on stderr, a line on stdout, each read on its own. */
export const BACKUP_SCRIPT = {
  command: inReadOrder(
    'line(*STDOUT, "backup: starting\\n"); line(*STDERR, "warning: 91% full\\n"); line(*STDOUT, "backup: done\\n")',
  ),
  /** The lines in the order they were written, with their stream. */
  lines: [
    ["stdout", "backup: starting\n"],
    ["stderr", "warning: 91% full\n"],
    ["stdout", "backup: done\n"],
  ],
} as const;

/**
 * A disk of `capacity` bytes holding the journal's directory, for the journal's write seam (JournalOptions.beforeWrite):
 * a write past the capacity is cut short and fails with ENOSPC, as on a full disk. Also what it ever held at most.
 */
export function smallDisk(dir: string, capacity: number) {
  const used = () => readdirSync(dir).reduce((sum, name) => sum + statSync(path.join(dir, name)).size, 0);
  const disk = {
    peak: 0,
    refused: 0,
    beforeWrite: (file: string, bytes: number): number | undefined => {
      const held = used();
      // An append adds to what the file holds; the reserve file is written whole (it replaces what is there).
      const base = path.basename(file) === "reserve" ? held - sizeOf(file) : held;
      const room = Math.max(0, capacity - base);
      disk.peak = Math.max(disk.peak, base + Math.min(room, bytes));
      if (bytes <= room) return undefined;
      disk.refused++;
      return room;
    },
  };
  return disk;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

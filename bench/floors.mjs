// Floors measured in the same run as Caisey: what this machine charges for the parts no design can skip (a process per
// command, the storage of the bytes). Each runs in a fresh Node process (bench/floors/*.mjs) so the bench's own memory
// and event loop are not in its figures.

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { percentile, root } from "./common.mjs";

const { RUNTIME_NODE_FLAGS } = await import("../packages/runtime/src/service.ts");

function floor(script, args) {
  const out = execFileSync(process.execPath, [...RUNTIME_NODE_FLAGS, join(root, "bench/floors", script), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"], // node:sqlite's experimental warning goes to stderr
    timeout: 600_000,
  });
  return JSON.parse(out);
}

/** Spawning `bash -c 'echo x'` from Node, one at a time: { wallP50Ms, wallP99Ms, parentMs, childrenMs } per command. */
export function spawnFloor(count = 200) {
  const { wallsMs, parentMs, childrenMs } = floor("spawn.mjs", [String(count)]);
  return { wallP50Ms: percentile(wallsMs, 50), wallP99Ms: percentile(wallsMs, 99), parentMs, childrenMs };
}

/** Raw SQLite storing `file` as 512 KiB BLOB rows, one durable commit each: { mibps, cpuMsPerMiB }. */
export const sqliteFloor = (file, dir) => floor("sqlite.mjs", [file, dir]);

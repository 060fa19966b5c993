#!/usr/bin/env node
// The floor under the throughput row: what this machine charges for one command's process alone. A fresh Node process
// (started with the runtime's own flags by floors.mjs) spawns `bash -c 'echo x'` COUNT times, one after another, with
// piped stdout/stderr as the runtime does, and prints the CPU the spawning process and its children used per command
// as JSON, with the wall time of one spawn (p50 and p99). Nothing of Caisey runs here: no journal, no socket, no record.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const COUNT = Number(process.argv[2] ?? 200);

/** utime + stime of this process and of its waited-for children, in ms (/proc/self/stat, clock ticks of 10 ms). */
function cpu() {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  const ms = (i) => Number(fields[i]) * 10;
  return { self: ms(11) + ms(12), children: ms(13) + ms(14) };
}

const run = () =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", "echo x"], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout.resume();
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", resolve);
  });

for (let i = 0; i < 10; i++) await run(); // warm: the first spawns load bash and Node's child_process code
const walls = [];
const before = cpu();
for (let i = 0; i < COUNT; i++) {
  const start = performance.now();
  await run();
  walls.push(performance.now() - start);
}
const after = cpu();
walls.sort((a, b) => a - b);
const percentile = (p) => walls[Math.min(walls.length - 1, Math.ceil((p / 100) * walls.length) - 1)];
console.log(
  JSON.stringify({
    count: COUNT,
    wallP50Ms: percentile(50),
    wallP99Ms: percentile(99),
    parentMs: (after.self - before.self) / COUNT,
    childrenMs: (after.children - before.children) / COUNT,
  }),
);

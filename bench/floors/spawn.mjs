#!/usr/bin/env node
// The floor under the throughput row: what this machine charges for one command's process alone. A fresh Node process
// (started with the runtime's own flags by floors.mjs) spawns `bash -c 'echo x'` COUNT times, one after another, with
// piped stdout/stderr as the runtime does, and prints the CPU the spawning process and its children used per command
// as JSON, with the wall time of each spawn. Nothing of Caisey runs here: no journal, no socket, no record.

import { spawn } from "node:child_process";
import { cpuSeconds } from "../common.mjs";

const COUNT = Number(process.argv[2] ?? 200);

/** CPU ms of this process and of its waited-for children (the shells). */
const cpu = () => ({
  self: cpuSeconds(process.pid) * 1000,
  children: cpuSeconds(process.pid, { children: true }) * 1000,
});

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
console.log(
  JSON.stringify({
    wallsMs: walls,
    parentMs: (after.self - before.self) / COUNT,
    childrenMs: (after.children - before.children) / COUNT,
  }),
);

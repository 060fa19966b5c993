#!/usr/bin/env node
// `npm run bench:profile`: where the CPU goes while Caisey captures one large output. Runs `cat` of BENCH_MIB MiB
// (default 128) through a real server and runtime, and prints
//   - CPU seconds used by each process (workerd, the runtime, the rest), read from /proc
//   - the Worker's hottest functions by self time (a V8 CPU profile taken through workerd's DevTools inspector)
//   - the runtime's hottest functions by self time (node --cpu-prof)
// BENCH_PROFILE_OUT=file also writes the Worker's V8 CPU profile there (as `--echo` does).
// A diagnostic beside `npm run bench`; the summary is appended to bench/RESULTS.md with the machine's description.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { appendResults } from "./common.mjs";
import { profiledCaisey } from "./profiling.mjs";

if (process.argv.includes("--help")) {
  console.log(
    "usage: npm run bench:profile            (BENCH_MIB=128)  one large output\n" +
      "       npm run bench:profile -- --echo  (BENCH_COMMANDS=300, BENCH_TOP=30)  small commands\n" +
      "Prints CPU time per process and the hottest functions.",
  );
  process.exit(0);
}
if (process.argv.includes("--echo")) {
  await import("./profile-echo.mjs");
  process.exit(0);
}
const MIB = Number(process.env.BENCH_MIB ?? 128);
const { tempDir } = await import("../test/helpers.ts");

const dir = tempDir("profile");
const payload = join(dir, "payload.bin");
writeFileSync(payload, Buffer.concat(Array.from({ length: MIB }, () => randomBytes(1 << 20))));

const caisey = await profiledCaisey();
const { owner, sessionId } = caisey;
await caisey.profile(500);
const started = performance.now();
const { commandId } = await owner.json(`/api/v1/sessions/${sessionId}/commands`, {
  command: `cat '${payload}'`,
  shell: "bash",
});
for (;;) {
  const { command } = await owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`);
  if (command.state !== "running" && command.state !== "queued") break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const seconds = (performance.now() - started) / 1000;
// How the output was framed: each frame costs the server a record, a commit and an ack besides its bytes. Counted
// once the profile ended: reading every event back is not part of the capture.
let frames = 0;
const { report: lines, workerProfile } = await caisey.stop(async () => {
  for (let after = 0; ; ) {
    const { events } = await owner.json(`/api/v1/sessions/${sessionId}/events?after=${after}&limit=1000`);
    if (events.length === 0) break;
    frames += events.filter((e) => e.type === "command.output").length;
    after = events.at(-1).seq;
  }
});
if (process.env.BENCH_PROFILE_OUT) writeFileSync(process.env.BENCH_PROFILE_OUT, JSON.stringify(workerProfile));

const report = [
  `captured ${MIB} MiB in ${seconds.toFixed(1)} s = ${(MIB / seconds).toFixed(1)} MiB/s`,
  `in ${frames} output frames (${((MIB * 1024) / Math.max(1, frames)).toFixed(0)} KiB each on average)`,
  "",
];
report.push("CPU seconds per process (per MiB)", "");
report.push(
  ...lines({
    minCpu: 0.05,
    top: 20,
    cpuLine: (name, cpu) =>
      `${name.padEnd(12)} ${cpu.toFixed(1).padStart(6)} s  (${((cpu * 1000) / MIB).toFixed(1)} ms/MiB)`,
  }),
);
console.log(`\n${report.join("\n")}`);
appendResults("where the CPU goes (`npm run bench:profile`)", report.join("\n"));

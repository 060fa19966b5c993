#!/usr/bin/env node
// `npm run bench:profile -- --echo`: where the CPU goes per small command. Sends BENCH_COMMANDS (default 300) `echo x`
// one after another through a real server and runtime (after 20 warm-up), and prints CPU milliseconds per command for
// each process (read from /proc) and the hottest functions of the Worker (workerd's inspector) and of the runtime.
// BENCH_PROFILE_OUT=file also writes the Worker's V8 CPU profile there (open it in Chrome DevTools).

import { writeFileSync } from "node:fs";
import { echoLatencies, p50p99 } from "./caisey.mjs";
import { profiledCaisey } from "./profiling.mjs";

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 300);

const caisey = await profiledCaisey("never");
await echoLatencies(caisey, caisey.sessionId, 0, { warmup: 20 });
await caisey.profile(200);
const { finished } = await echoLatencies(caisey, caisey.sessionId, COMMANDS, { warmup: 0 });
const { workerProfile, report: lines } = await caisey.stop();
if (process.env.BENCH_PROFILE_OUT) writeFileSync(process.env.BENCH_PROFILE_OUT, JSON.stringify(workerProfile));

const report = [`${COMMANDS} × echo x: POST → command.finished p50 / p99 ${p50p99(finished)} ms (profiled)`, ""];
report.push("CPU per command, by process", "");
report.push(
  ...lines({
    minCpu: 0.01,
    top: Number(process.env.BENCH_TOP ?? 30),
    cpuLine: (name, cpu) => `${name.padEnd(12)} ${((cpu * 1000) / COMMANDS).toFixed(2).padStart(7)} ms`,
  }),
);
console.log(`\n${report.join("\n")}`);

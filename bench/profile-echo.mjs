#!/usr/bin/env node
// `npm run bench:profile -- --echo`: where the CPU goes per small command. Sends BENCH_COMMANDS (default 300) `echo x`
// one after another through a real server and runtime (after 20 warm-up), and prints CPU milliseconds per command for
// each process (read from /proc) and the hottest functions of the Worker (workerd's inspector) and of the runtime.
// BENCH_PROFILE_OUT=file also writes the Worker's V8 CPU profile there (open it in Chrome DevTools).

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { echoLatencies, p50p99 } from "./caisey.mjs";
import { cpuSeconds, hottest, inspector, processTree, root, waitOnline } from "./common.mjs";

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 300);
const { startServer, setupOrganization, enrollRuntime, tempDir, freePort, RUNTIME_NODE_FLAGS } = await import(
  "../test/helpers.ts"
);

const processName = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
};

const inspectorPort = await freePort();
const server = await startServer({ env: { CAISEY_INSPECTOR_PORT: String(inspectorPort) } });
const owner = await setupOrganization(server.url);
const runtime = await enrollRuntime(server.url, owner, "Client 1", "never");
const runtimeProfiles = tempDir("runtime-profile");
const runtimeProcess = spawn(
  process.execPath,
  [
    ...RUNTIME_NODE_FLAGS,
    "--cpu-prof",
    "--cpu-prof-dir",
    runtimeProfiles,
    join(root, "packages/runtime/dist/caisey-runtime.mjs"),
    "run",
    "--data-dir",
    runtime.dataDir,
  ],
  { stdio: "ignore" },
);
await waitOnline(owner, runtime.machineId);
const { id: sessionId } = await owner.json("/api/v1/sessions", { machineId: runtime.machineId });
const caisey = { server, owner };
await echoLatencies(caisey, sessionId, 0, { warmup: 20 });

const workerInspector = await inspector(inspectorPort);
await workerInspector.call("Profiler.enable");
await workerInspector.call("Profiler.setSamplingInterval", { interval: 200 });
await workerInspector.call("Profiler.start");
const pids = [...processTree(server.proc.child.pid), runtimeProcess.pid];
const before = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
const { finished } = await echoLatencies(caisey, sessionId, COMMANDS, { warmup: 0 });
const used = pids.map((pid) => [pid, cpuSeconds(pid) - before.get(pid)]);
const { profile: workerProfile } = await workerInspector.call("Profiler.stop");
if (process.env.BENCH_PROFILE_OUT)
  (await import("node:fs")).writeFileSync(process.env.BENCH_PROFILE_OUT, JSON.stringify(workerProfile));
workerInspector.close();
await new Promise((resolve) => {
  runtimeProcess.once("exit", resolve);
  runtimeProcess.kill("SIGTERM");
});
await server.stop();

const report = [`${COMMANDS} × echo x: POST → command.finished p50 / p99 ${p50p99(finished)} ms (profiled)`, ""];
report.push("CPU per command, by process", "");
for (const [pid, cpu] of used.filter(([, cpu]) => cpu > 0.01)) {
  const name = pid === runtimeProcess.pid ? "runtime" : processName(pid);
  report.push(`    ${name.padEnd(12)} ${((cpu * 1000) / COMMANDS).toFixed(2).padStart(7)} ms`);
}
const worker = hottest(workerProfile, Number(process.env.BENCH_TOP ?? 30));
report.push("", `Worker (workerd): hottest functions by self time, of ${worker.total.toFixed(1)} s sampled`, "");
report.push(...worker.lines.map((line) => `    ${line}`));
for (const file of readdirSync(runtimeProfiles)) {
  const result = hottest(JSON.parse(readFileSync(join(runtimeProfiles, file), "utf8")));
  report.push("", `runtime: hottest functions by self time, of ${result.total.toFixed(1)} s sampled`, "");
  report.push(...result.lines.map((line) => `    ${line}`));
}
console.log(`\n${report.join("\n")}`);

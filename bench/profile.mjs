#!/usr/bin/env node
// `npm run bench:profile`: where the CPU goes while Caisey captures one large output. Runs `cat` of BENCH_MIB MiB
// (default 128) through a real server and runtime, and prints
//   - CPU seconds used by each process (workerd, the runtime, the rest), read from /proc
//   - the Worker's hottest functions by self time (a V8 CPU profile taken through workerd's DevTools inspector)
//   - the runtime's hottest functions by self time (node --cpu-prof)
// A diagnostic beside `npm run bench`; the summary is appended to bench/RESULTS.md with the machine's description.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appendResults, cpuSeconds, hottest, inspector, processTree, root, waitOnline } from "./common.mjs";

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

const dir = tempDir("profile");
const payload = join(dir, "payload.bin");
writeFileSync(payload, Buffer.concat(Array.from({ length: MIB }, () => randomBytes(1 << 20))));

const inspectorPort = await freePort();
const server = await startServer({ env: { CAISEY_INSPECTOR_PORT: String(inspectorPort) } });
const owner = await setupOrganization(server.url);
const runtime = await enrollRuntime(server.url, owner);
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

const workerInspector = await inspector(inspectorPort);
await workerInspector.call("Profiler.enable");
await workerInspector.call("Profiler.setSamplingInterval", { interval: 500 });
await workerInspector.call("Profiler.start");
const pids = [...processTree(server.proc.child.pid), runtimeProcess.pid];
const before = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
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
const used = pids.map((pid) => [pid, cpuSeconds(pid) - before.get(pid)]);
const { profile: workerProfile } = await workerInspector.call("Profiler.stop");
workerInspector.close();
await new Promise((resolve) => {
  runtimeProcess.once("exit", resolve);
  runtimeProcess.kill("SIGTERM");
});
await server.stop();

const report = [`captured ${MIB} MiB in ${seconds.toFixed(1)} s = ${(MIB / seconds).toFixed(1)} MiB/s`, ""];
report.push("CPU seconds per process (per MiB)", "");
for (const [pid, cpu] of used.filter(([, cpu]) => cpu > 0.05)) {
  const name = pid === runtimeProcess.pid ? "runtime" : processName(pid);
  report.push(`    ${name.padEnd(12)} ${cpu.toFixed(1).padStart(6)} s  (${((cpu * 1000) / MIB).toFixed(1)} ms/MiB)`);
}
const worker = hottest(workerProfile);
report.push("", `Worker (workerd): hottest functions by self time, of ${worker.total.toFixed(1)} s sampled`, "");
report.push(...worker.lines.map((line) => `    ${line}`));
for (const file of readdirSync(runtimeProfiles)) {
  const result = hottest(JSON.parse(readFileSync(join(runtimeProfiles, file), "utf8")));
  report.push("", `runtime: hottest functions by self time, of ${result.total.toFixed(1)} s sampled`, "");
  report.push(...result.lines.map((line) => `    ${line}`));
}
console.log(`\n${report.join("\n")}`);
appendResults("where the CPU goes (`npm run bench:profile`)", report.join("\n"));

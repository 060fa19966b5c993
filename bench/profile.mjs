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
import WebSocket from "ws";
import { appendResults, cpuSeconds, processTree, root, waitOnline } from "./common.mjs";

if (process.argv.includes("--help")) {
  console.log("usage: npm run bench:profile   (BENCH_MIB=128)\nPrints CPU time per process and the hottest functions.");
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

/** Self time per function of a V8 CPU profile, hottest first. */
function hottest(profile, count = 20) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]).callFrame;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
    const micros = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + micros);
    total += micros;
  }
  const lines = [...self].sort((a, b) => b[1] - a[1]).slice(0, count);
  return {
    total: total / 1e6,
    lines: lines.map(([key, micros]) => `${(micros / 1e3).toFixed(0).padStart(7)} ms  ${key}`),
  };
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function inspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error("the Worker's inspector lists no target");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let nextId = 1;
  const waiting = new Map();
  ws.on("message", (message) => {
    const reply = JSON.parse(message.toString());
    waiting.get(reply.id)?.(reply.result);
    waiting.delete(reply.id);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

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

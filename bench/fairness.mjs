#!/usr/bin/env node
// `npm run bench:fairness`: whether a small command waits behind big ones. Three measures through a real server, real
// runtimes and real shells (loopback only; bounded in count and time):
//
//   idle      `echo x` POST → command.finished (seen on a live socket) p50 / p99 on a quiet server, after a warm-up
//   streams   the same, on another machine and then on the same machine, while two sessions of one machine each
//             stream BENCH_FAIR_MIB MiB
//   load      commands/s of `echo x` across BENCH_FAIR_RUNTIMES runtimes × BENCH_FAIR_SESSIONS sessions, each
//             session sending its next command as soon as the last one finished; every command is then checked
//             (finished, exit 0, exactly "x\n") so a faster path that loses a command shows as loss, not speed
//
// Beside each measure: CPU seconds used by workerd and by the runtimes (from /proc) and the load average, since
// wall-clock figures on a shared machine are noisy. Printed only; nothing is appended to bench/RESULTS.md.

import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { cpuSeconds, hottest, inspector, markdownTable, percentile, processTree, waitOnline } from "./common.mjs";

const COMMANDS = Number(process.env.BENCH_FAIR_COMMANDS ?? 100);
const WARMUP = 20;
const MIB = Number(process.env.BENCH_FAIR_MIB ?? 20);
const RUNTIMES = Number(process.env.BENCH_FAIR_RUNTIMES ?? 10);
const SESSIONS = Number(process.env.BENCH_FAIR_SESSIONS ?? 20);
const SECONDS = Number(process.env.BENCH_FAIR_SECONDS ?? 20);
const args = process.argv.slice(2);
if (args.includes("--help")) {
  console.log(`usage: npm run bench:fairness [-- --only idle,streams,load] [--profile]

  idle     echo x p50/p99 on a quiet server (BENCH_FAIR_COMMANDS=${COMMANDS} after ${WARMUP} warm-up)
  streams  echo x p50/p99 on another machine, then on the same machine, while two sessions stream
           BENCH_FAIR_MIB=${MIB} MiB each
  load     echo x commands/s across BENCH_FAIR_RUNTIMES=${RUNTIMES} runtimes × BENCH_FAIR_SESSIONS=${SESSIONS} sessions
           for BENCH_FAIR_SECONDS=${SECONDS} s, every command checked afterwards (no loss)
Each row has the CPU seconds of workerd and of the runtimes during it, and the 1-minute load average.
--profile also prints the Worker's hottest functions during each measure (a CPU profile through workerd's inspector).`);
  process.exit(0);
}
const onlyAt = args.indexOf("--only");
const phases = new Set(onlyAt >= 0 ? args[onlyAt + 1].split(",") : ["idle", "streams", "load"]);
const profiling = args.includes("--profile");

const { startServer, setupOrganization, enrollRuntime, tempDir, freePort } = await import("../test/helpers.ts");

const FINAL = new Set(["finished", "failed", "interrupted", "timed_out", "cancelled"]);

const inspectorPort = profiling ? await freePort() : null;
const server = await startServer(inspectorPort ? { env: { CAISEY_INSPECTOR_PORT: String(inspectorPort) } } : {});
const workerInspector = inspectorPort ? await inspector(inspectorPort) : null;
await workerInspector?.call("Profiler.enable");
await workerInspector?.call("Profiler.setSamplingInterval", { interval: 500 });
const profiles = [];
const owner = await setupOrganization(server.url);
const machineCount = Math.max(2, phases.has("load") ? RUNTIMES : 2);
const runtimes = [];
for (let i = 0; i < machineCount; i++) {
  const runtime = await enrollRuntime(server.url, owner, `Client ${i}`, "never");
  runtimes.push({ ...runtime, proc: runtime.start() });
}
for (const r of runtimes) await waitOnline(owner, r.machineId);

const workerd = () => processTree(server.proc.child.pid);
const cpu = (pids) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const runtimePids = () => runtimes.map((r) => r.proc.child.pid);
/** CPU seconds of workerd and the runtimes while `work` runs, and the load average after it. */
async function metered(name, work) {
  await workerInspector?.call("Profiler.start");
  const server0 = cpu(workerd());
  const runtimes0 = cpu(runtimePids());
  const value = await work();
  if (workerInspector) profiles.push([name, (await workerInspector.call("Profiler.stop")).profile]);
  return {
    value,
    serverCpu: cpu(workerd()) - server0,
    runtimeCpu: cpu(runtimePids()) - runtimes0,
    load: loadavg()[0],
  };
}

async function openSession(machineId) {
  const { id } = await owner.json("/api/v1/sessions", { machineId });
  const { session } = await owner.json(`/api/v1/sessions/${id}`);
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/sessions/${id}/live?after=${session.head.seq}`, {
    headers: { authorization: `Bearer ${owner.token}` },
  });
  const waiting = new Map();
  const early = new Set();
  ws.on("message", (m) => {
    const event = JSON.parse(m.toString());
    if (event.type !== "command.finished") return;
    const resolve = waiting.get(event.data.commandId);
    if (resolve) resolve();
    else early.add(event.data.commandId);
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const finished = (commandId) =>
    early.delete(commandId) ? Promise.resolve() : new Promise((resolve) => waiting.set(commandId, resolve));
  return {
    id,
    close: () => ws.close(),
    /** POST a command; resolves with its id once command.finished arrives on the live socket. */
    run: async (command) => {
      const { commandId } = await owner.json(`/api/v1/sessions/${id}/commands`, { command, shell: "bash" });
      await finished(commandId);
      return commandId;
    },
    state: async (commandId) => (await owner.json(`/api/v1/sessions/${id}/commands/${commandId}`)).command,
  };
}

/** Milliseconds from POST to command.finished of `echo x`, `count` times back to back (or until `until` resolves). */
async function echoLatencies(session, count, until) {
  let done = false;
  until?.then(() => {
    done = true;
  });
  const latencies = [];
  for (let i = 0; until ? !done : i < count; i++) {
    const start = performance.now();
    await session.run("echo x");
    latencies.push(performance.now() - start);
  }
  return latencies;
}

const rows = [];
const cpuCell = (m) =>
  `workerd ${m.serverCpu.toFixed(2)} s, runtimes ${m.runtimeCpu.toFixed(2)} s, load ${m.load.toFixed(2)}`;
const [streamer, quiet] = runtimes;
const echoSession = await openSession(quiet.machineId);
await echoLatencies(echoSession, WARMUP);
let idleP99 = null;

if (phases.has("idle")) {
  const m = await metered("idle", () => echoLatencies(echoSession, COMMANDS));
  idleP99 = percentile(m.value, 99);
  rows.push([
    `echo x POST → finished, idle, p50 / p99 (ms, n=${COMMANDS})`,
    `${percentile(m.value, 50).toFixed(1)} / ${idleP99.toFixed(1)}`,
    cpuCell(m),
  ]);
}

if (phases.has("streams")) {
  const dir = tempDir("bench-fair");
  const payload = join(dir, "payload.bin");
  writeFileSync(payload, randomBytes(MIB * 1024 * 1024));
  const fd = openSync(payload, "r");
  fsyncSync(fd); // on disk before anything is timed
  closeSync(fd);
  const big = [await openSession(streamer.machineId), await openSession(streamer.machineId)];
  const sameMachine = await openSession(streamer.machineId);
  await echoLatencies(sameMachine, WARMUP);
  for (const [where, session] of [
    ["another machine", echoSession],
    ["the same machine", sameMachine],
  ]) {
    const m = await metered(`streams, echo on ${where}`, async () => {
      const start = performance.now();
      const streams = Promise.all(big.map((s) => s.run(`cat '${payload}'`)));
      const latencies = await echoLatencies(session, 0, streams);
      await streams;
      return { latencies, seconds: (performance.now() - start) / 1000 };
    });
    const { latencies, seconds } = m.value;
    const p99 = percentile(latencies, 99);
    rows.push([
      `echo x on ${where} while 2 sessions stream ${MIB} MiB each, p50 / p99 (ms, n=${latencies.length})`,
      `${percentile(latencies, 50).toFixed(1)} / ${p99.toFixed(1)}${idleP99 ? ` (${(p99 / idleP99).toFixed(1)}× idle p99)` : ""}`,
      `streams took ${seconds.toFixed(1)} s; ${cpuCell(m)}`,
    ]);
  }
  for (const s of [...big, sameMachine]) s.close();
}

if (phases.has("load")) {
  const sessions = [];
  for (let i = 0; i < SESSIONS; i++) sessions.push(await openSession(runtimes[i % RUNTIMES].machineId));
  const m = await metered("load", async () => {
    const deadline = performance.now() + SECONDS * 1000;
    const started = performance.now();
    const ran = await Promise.all(
      sessions.map(async (s) => {
        const ids = [];
        while (performance.now() < deadline) ids.push(await s.run("echo x"));
        return ids;
      }),
    );
    return { ran, seconds: (performance.now() - started) / 1000 };
  });
  const { ran, seconds } = m.value;
  let total = 0;
  let lost = 0;
  for (let i = 0; i < sessions.length; i++) {
    for (const commandId of ran[i]) {
      total++;
      const c = await sessions[i].state(commandId);
      if (!FINAL.has(c.state) || c.exitCode !== 0 || c.stdoutBytes !== 2) lost++;
    }
  }
  rows.push([
    `echo x commands/s across ${RUNTIMES} runtimes × ${SESSIONS} sessions (${SECONDS} s)`,
    `${(total / seconds).toFixed(1)} (${total} commands, ${lost} lost or wrong)`,
    cpuCell(m),
  ]);
  for (const s of sessions) s.close();
}

echoSession.close();
for (const r of runtimes) await r.proc.stop();
await server.stop();
workerInspector?.close();
const profileDir = profiles.length > 0 ? tempDir("bench-fair-profiles") : null;
for (const [name, profile] of profiles) {
  writeFileSync(join(profileDir, `${name.replaceAll(/\W+/g, "-")}.cpuprofile`), JSON.stringify(profile));
  const worker = hottest(profile, 30);
  console.log(`\n${name}: the Worker's hottest functions by self time, of ${worker.total.toFixed(1)} s sampled\n`);
  console.log(worker.lines.map((line) => `    ${line}`).join("\n"));
}
if (profileDir) console.log(`\nthe profiles (open in Chrome DevTools): ${profileDir}`);
console.log(markdownTable(["measure", "Caisey", "CPU during it"], rows));

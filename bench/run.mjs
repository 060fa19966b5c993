#!/usr/bin/env node
// `npm run bench`: Caisey measured beside baselines in the same run, printed as a table and appended to
// bench/RESULTS.md with the machine's description. Loopback only; bounded in size and time.
//
//   capture    256 MiB of stdout, end to end until command.finished is committed, vs the same command into a raw
//              pipe read by Node, and `ssh localhost` into a file when an sshd answers without a password
//   latency    POST /commands of `echo x` → command.finished (seen on a live socket) and → first live event, after 20
//              uncounted warm-up commands, before the capture
//   memory     runtime RSS idle and while streaming; server (Miniflare + workerd) RSS while streaming
//   sign-in    an unrelated request's p99 while 60 concurrent failed logins arrive, beside its quiet p99
//              (bench/login-flood.mjs)
//   sockets    workerd RSS per runtime socket while 600 are open, right after they closed, after 80 s idle and after
//              each machine connected and closed once more, beside a bare workerd Durable Object accepting sockets
//              the same way (bench/memory.mjs, on a fresh server)
//
// Environment: BENCH_MIB (default 256), BENCH_COMMANDS (default 200), BENCH_SOCKETS (default 600),
// BENCH_IDLE_SECONDS (default 80).

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { appendResults, markdownTable, percentile, processTree, rssKiB, waitOnline } from "./common.mjs";
import { loginFlood } from "./login-flood.mjs";
import { socketMemory } from "./memory.mjs";

const MIB = Number(process.env.BENCH_MIB ?? 256);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 200);
const FLOOD_LOGINS = 60;
const WARMUP = 20;
if (process.argv.includes("--help")) {
  console.log(
    "usage: npm run bench   (BENCH_MIB=256 BENCH_COMMANDS=200)\nPrints a comparison table and appends it to bench/RESULTS.md.",
  );
  process.exit(0);
}

// The same real-process helpers the end-to-end tests use (Node 22 runs their TypeScript directly).
const { startServer, setupOrganization, enrollRuntime, tempDir } = await import("../test/helpers.ts");

// ---- the payload: random bytes in a file, so generating them is not measured
const dir = tempDir("bench");
const payloadFile = join(dir, "payload.bin");
{
  const chunk = randomBytes(1024 * 1024);
  const buf = Buffer.alloc(MIB * 1024 * 1024);
  for (let i = 0; i < MIB; i++) chunk.copy(buf, i * chunk.length);
  writeFileSync(payloadFile, buf);
  // On disk before anything is timed: otherwise the kernel writes a GiB back during the latency measurement.
  const fd = openSync(payloadFile, "r");
  fsyncSync(fd);
  closeSync(fd);
}
const payloadSha = createHash("sha256").update(readFileSync(payloadFile)).digest("hex");
const command = `cat '${payloadFile}'`;

// ---- baseline 1: the same command into a raw pipe read by Node
async function rawPipe() {
  const start = performance.now();
  const child = spawn("bash", ["-c", command], { stdio: ["ignore", "pipe", "ignore"] });
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of child.stdout) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const seconds = (performance.now() - start) / 1000;
  if (hash.digest("hex") !== payloadSha) throw new Error("raw pipe hash mismatch");
  return { seconds, bytes };
}

// ---- baseline 2: ssh localhost into a file (only when it works without a password)
function sshLocalhost() {
  const probe = spawnSync(
    "ssh",
    ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "ConnectTimeout=3", "localhost", "true"],
    { timeout: 10_000 },
  );
  if (probe.status !== 0) return null;
  const out = join(dir, "ssh.out");
  const start = performance.now();
  const r = spawnSync("bash", ["-c", `ssh -o BatchMode=yes localhost "${command}" > '${out}'`], { timeout: 600_000 });
  if (r.status !== 0) return null;
  return { seconds: (performance.now() - start) / 1000 };
}

// ---- Caisey
const server = await startServer();
const owner = await setupOrganization(server.url);
const runtime = await enrollRuntime(server.url, owner);
const proc = runtime.start();
await waitOnline(owner, runtime.machineId);
await new Promise((r) => setTimeout(r, 2000));
const runtimeIdleKiB = rssKiB(proc.child.pid);
const { id: sessionId } = await owner.json("/api/v1/sessions", { machineId: runtime.machineId });

function live(after) {
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/sessions/${sessionId}/live?after=${after}`, {
    headers: { authorization: `Bearer ${owner.token}` },
  });
  const listeners = new Set();
  ws.on("message", (m) => {
    const event = JSON.parse(m.toString());
    for (const l of listeners) l(event);
  });
  return { ws, listeners, open: new Promise((r) => ws.on("open", r)) };
}

async function headSeq() {
  return (await owner.json(`/api/v1/sessions/${sessionId}`)).session.head.seq;
}

// latency
const finishLatencies = [];
const firstEventLatencies = [];
const watcher = live(await headSeq());
await watcher.open;
// Measured first, on a quiet server, after WARMUP commands that are not counted (JIT, caches, first SQLite pages).
for (let i = -WARMUP; i < COMMANDS; i++) {
  const start = performance.now();
  let first = null;
  let requestedId = null;
  const finished = new Promise((resolve) => {
    const listener = (event) => {
      if (first === null) first = performance.now() - start;
      if (event.type === "command.finished" && (requestedId === null || event.data.commandId === requestedId)) {
        watcher.listeners.delete(listener);
        resolve(performance.now() - start);
      }
    };
    watcher.listeners.add(listener);
  });
  requestedId = (await owner.json(`/api/v1/sessions/${sessionId}/commands`, { command: "echo x", shell: "bash" }))
    .commandId;
  const finishedAfter = await finished;
  if (i < 0) continue;
  finishLatencies.push(finishedAfter);
  firstEventLatencies.push(first);
}
watcher.ws.close();

// capture
const serverProcesses = processTree(server.proc.child.pid);
let runtimePeakKiB = 0;
let serverPeakKiB = 0;
const sampler = setInterval(() => {
  runtimePeakKiB = Math.max(runtimePeakKiB, rssKiB(proc.child.pid));
  serverPeakKiB = Math.max(
    serverPeakKiB,
    serverProcesses.reduce((sum, pid) => sum + rssKiB(pid), 0),
  );
}, 100);
const captureStart = performance.now();
const { commandId } = await owner.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" });
let state;
for (;;) {
  const { command: c } = await owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`);
  if (["finished", "failed", "interrupted", "timed_out", "cancelled"].includes(c.state)) {
    state = c;
    break;
  }
  await new Promise((r) => setTimeout(r, 20));
}
const captureSeconds = (performance.now() - captureStart) / 1000;
clearInterval(sampler);
if (state.stdoutSha256 !== payloadSha || state.stdoutBytes !== MIB * 1024 * 1024)
  throw new Error(`capture incomplete: ${JSON.stringify(state)}`);

const flood = await loginFlood(server.url, owner, FLOOD_LOGINS);

const raw = await rawPipe();
const ssh = sshLocalhost();

await proc.stop();
await server.stop();

const sockets = await socketMemory();

const mibps = (seconds) => (MIB / seconds).toFixed(1);
const perSocket = (f) => [f.opened, f.closed, f.idle, f.again].map((mb) => mb.toFixed(2)).join(" / ");
const rows = [
  [
    "capture 256 MiB stdout → committed (MiB/s)".replace("256", String(MIB)),
    mibps(captureSeconds),
    `raw pipe ${mibps(raw.seconds)}; ssh localhost ${ssh ? mibps(ssh.seconds) : "n/a (no sshd)"}`,
    "≥ 100",
  ],
  [
    `echo x: POST → command.finished p50 / p99 (ms, n=${COMMANDS} after ${WARMUP} warm-up)`,
    `${percentile(finishLatencies, 50).toFixed(1)} / ${percentile(finishLatencies, 99).toFixed(1)}`,
    "—",
    "p99 ≤ 50",
  ],
  [
    `echo x: POST → first live event p50 / p99 (ms)`,
    `${percentile(firstEventLatencies, 50).toFixed(1)} / ${percentile(firstEventLatencies, 99).toFixed(1)}`,
    "—",
    "",
  ],
  [
    `unrelated request (GET /machines) p99, during ${FLOOD_LOGINS} concurrent failed logins (ms)`,
    flood.floodedP99.toFixed(1),
    `quiet ${flood.quietP99.toFixed(1)}; the logins: ${flood.answers} in ${flood.floodSeconds.toFixed(1)} s`,
    "≤ one scrypt hash over quiet",
  ],
  ["runtime RSS idle (MB)", (runtimeIdleKiB / 1024).toFixed(0), "—", "≤ 80"],
  [`runtime RSS peak while streaming ${MIB} MiB (MB)`, (runtimePeakKiB / 1024).toFixed(0), "—", "≤ 150"],
  [`server RSS peak while streaming (MB, Miniflare + workerd)`, (serverPeakKiB / 1024).toFixed(0), "—", ""],
  [
    `workerd RSS per runtime socket (MB): ${sockets.sockets} open / all closed / ${sockets.idleSeconds} s idle / after a 2nd connect+close`,
    perSocket(sockets.caisey),
    `bare workerd DO ${perSocket(sockets.bare)}`,
    "",
  ],
];

const header = ["measure", "Caisey", "baseline (same run)", "target"];
const table = markdownTable(header, rows);
console.log(table);

appendResults("", table);

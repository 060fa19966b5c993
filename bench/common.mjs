// What the benchmarks share: the machine's description, reading a process's memory and CPU from /proc, appending a
// result to bench/RESULTS.md, and lightweight fake runtimes that speak the real protocol.

import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, type as osType, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

// The frames the tests' simulated runtime sends (Node 22 runs their TypeScript directly).
const { startedFrame, finishedFrame } = await import("../packages/core/test/frames.ts");

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The machine a result was measured on, as RESULTS.md states it. */
export function machineDescription() {
  return `${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${osType()} ${release()}, Node ${process.version}; first write to a fresh page ${pageFaultMicros().toFixed(1)} µs`;
}

/**
 * Microseconds the kernel takes to give this process a page on its first write (median of 5 × 4096 fresh pages). It
 * prices what every process creation pays per page (fork copies the page tables and each page written afterwards
 * faults again), so it tells hosts apart where the spawn floors differ: well under 1 µs on bare metal, 15–16 on the
 * AMD EPYC VM of December 2026, whose spawns cost about four times the Intel VM's.
 */
export function pageFaultMicros() {
  const pages = 4096;
  const runs = [];
  for (let run = 0; run < 5; run++) {
    const bytes = new Uint8Array(new ArrayBuffer(pages * 4096)); // large: mapped fresh, no page touched yet
    const start = performance.now();
    for (let at = 0; at < bytes.length; at += 4096) bytes[at] = 1;
    runs.push(((performance.now() - start) * 1000) / pages);
  }
  return percentile(runs, 50);
}

/**
 * Append a section (a title after the date, and its body) to bench/RESULTS.md, with the machine's description; to the
 * file BENCH_RESULTS names instead when set (`npm run bench` points a benchmark it runs as one of its rows elsewhere).
 */
export function appendResults(title, body) {
  const results = process.env.BENCH_RESULTS ?? join(root, "bench/RESULTS.md");
  if (!existsSync(results))
    writeFileSync(results, "# Benchmark results\n\nAppended by `npm run bench`; newest last.\n");
  const heading = title ? `${new Date().toISOString()} — ${title}` : new Date().toISOString();
  appendFileSync(results, `\n## ${heading}\n\nMachine: ${machineDescription()}\n\n${body}\n`);
  console.log(`\nappended to ${results}`);
}

/** Resident memory of a process in KiB (0 once it is gone). */
export function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * User + system CPU seconds a process has used so far; with `children`, those of its children that have ended and been
 * waited for instead (a runtime's: the commands' shells, from the fork to their exit).
 */
export function cpuSeconds(pid, { children = false } = {}) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    const at = children ? 13 : 11;
    return (Number(fields[at]) + Number(fields[at + 1])) / 100;
  } catch {
    return 0;
  }
}

/** A process and all its descendants. Find them once: running pgrep on every sample would steal a core from the run. */
export function processTree(pid) {
  let children = [];
  try {
    children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {}
  return [pid, ...children.flatMap(processTree)];
}

/** Wait until the machine list shows the machine online (the benchmarks run outside vitest, so they poll here). */
export async function waitOnline(owner, machineId, timeoutMs = 60_000) {
  const { isOnline } = await import("../test/helpers.ts");
  const deadline = Date.now() + timeoutMs;
  while (!(await isOnline(owner, machineId))) {
    if (Date.now() > deadline) throw new Error(`machine ${machineId} not online after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The p-th percentile of a list of numbers (nearest rank). */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A Markdown table, columns padded to their widest cell. */
export function markdownTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)].join("\n");
}

/** One API call: GET without a body, POST with one; throws on a non-2xx answer. */

export async function call(url, path, token, body) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status} ${text}`);
  return JSON.parse(text);
}

/** A new organization with one client and an enrollment token for `machines` machines: the owner's and that token. */
export async function benchOrganization(url, machines) {
  const { token } = await call(url, "/api/v1/setup", null, {
    organization: "Bench IT",
    name: "Bench Owner",
    email: "owner@bench.test",
    password: "correct horse battery staple",
  });
  const { id: clientId } = await call(url, "/api/v1/clients", token, {
    name: "Contoso Dental",
    approvalPolicy: "never",
  });
  const { token: enrollToken } = await call(url, "/api/v1/enrollments", token, { clientId, uses: machines });
  return { token, enrollToken };
}

/** The real runtime's keepalive: a WebSocket ping this often (packages/runtime/src/connection.ts DEFAULT_KEEPALIVE). */
const PING_EVERY_MS = 20_000;

/**
 * A fake runtime: enrolled with a real Ed25519 key, online on the real socket, answering every dispatch at once and
 * pinging as the real runtime does (workerd answers the pings itself; they are what holding a runtime costs besides
 * its Machine's presence). `reconnect()` opens a new socket for the same machine once the last one has closed.
 */
export async function fakeRuntime(url, enrollToken, index) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const facts = {
    hostname: `WS-${String(index).padStart(4, "0")}`,
    os: "linux",
    osVersion: "6.1",
    arch: "x64",
    runtimeVersion: "0.1.0",
  };
  const { machineId } = await call(url, "/api/v1/runtime/enroll", null, {
    token: enrollToken,
    publicKey: raw.toString("base64url"),
    facts,
  });
  let ws;
  const connect = async () => {
    ws = new WebSocket(`${url.replace("http", "ws")}/api/v1/runtime/connect?machineId=${machineId}`);
    const socket = ws;
    const keepalive = setInterval(() => socket.readyState === WebSocket.OPEN && socket.ping(), PING_EVERY_MS);
    keepalive.unref();
    socket.on("close", () => clearInterval(keepalive));
    await new Promise((resolve, reject) => {
      socket.on("error", reject);
      socket.on("message", (data, binary) => {
        if (binary) return;
        const frame = JSON.parse(String(data));
        if (frame.t === "challenge") {
          const signature = sign(null, Buffer.from(`caisey-runtime-auth-v1\n${machineId}\n${frame.nonce}`), privateKey);
          socket.send(
            JSON.stringify({ t: "hello", v: 1, machineId, signature: signature.toString("base64url"), facts }),
          );
        } else if (frame.t === "welcome") {
          resolve();
        } else if (frame.t === "dispatch") {
          const ref = { sessionId: frame.sessionId, commandId: frame.commandId };
          socket.send(JSON.stringify(startedFrame(ref, { user: "bench" })));
          socket.send(JSON.stringify(finishedFrame(ref)));
        }
      });
    });
  };
  await connect();
  const runtime = {
    machineId,
    /** Whether its socket is open (false once the server closed or dropped it). */
    connected: () => ws.readyState === WebSocket.OPEN,
    close: () => ws.terminate(),
    /** A clean close: resolves once the server has answered the close frame (its close handler has run). */
    closeCleanly: () =>
      new Promise((resolve) => {
        ws.once("close", resolve);
        ws.close(1000, "bench done");
      }),
    reconnect: async () => {
      await connect();
      return runtime;
    },
  };
  return runtime;
}

/**
 * Self time per function of a V8 CPU profile, hottest first. A sample stands for the time until the next one (as
 * DevTools counts it), at most two sampling intervals: the sampler takes none while the thread waits outside the
 * isolate (workerd between events) or is descheduled, and the gap before a sample is not time spent in its function.
 * Counted with that gap, whatever runs first after a wait took the wait: readJson (after the request body), the
 * Machine's webSocketMessage (after the runtime's frame) and setTimeout callbacks showed milliseconds per command.
 */
export function hottest(profile, count = 20) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const deltas = [...profile.timeDeltas].sort((a, b) => a - b);
  const longest = 2 * (deltas[Math.floor(deltas.length / 2)] ?? 0);
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]).callFrame;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
    const micros = Math.min(profile.timeDeltas[i + 1] ?? 0, longest);
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
export async function inspector(port) {
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

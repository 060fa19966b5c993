#!/usr/bin/env node
// `npm run bench:api`: API requests per second while many machines are online, optionally beside an earlier commit
// measured in the same run (`-- --compare <rev>`), so a change to which object serves what is judged on one machine.
//
// Each machine is a lightweight fake runtime that speaks the real protocol (Ed25519 enrollment, the signed challenge,
// started/finished frames for every dispatch), so presence, dispatch signatures and authentication all run for real.
// The load: CONCURRENCY clients, each sending requests back to back for SECONDS, a mix of what a busy MSP's consoles
// and scripts send (machine list, machine card, session list, session view, `echo x` on one of the open sessions).
// Loopback only; bounded in count and time.
//
// Environment: BENCH_MACHINES (default 200), BENCH_API_SECONDS (default 30), BENCH_API_CONCURRENCY (default 16).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendResults, benchOrganization, call, fakeRuntime, percentile, root } from "./common.mjs";

const MACHINES = Number(process.env.BENCH_MACHINES ?? 200);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_API_CONCURRENCY ?? 16);
const SESSIONS = 20;
const args = process.argv.slice(2);
if (args.includes("--help")) {
  console.log(`usage: npm run bench:api [-- --compare <git rev>]

Measures API requests/s with BENCH_MACHINES (200) fake runtimes online, BENCH_API_CONCURRENCY (16) clients for
BENCH_API_SECONDS (30) s. With --compare, the same load runs first against <rev> (checked out in a temporary git
worktree, built there) and then against this tree, and both rows are appended to bench/RESULTS.md.`);
  process.exit(0);
}
const compareAt = args.indexOf("--compare");
const compareRev = compareAt >= 0 ? args[compareAt + 1] : null;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startServer(tree) {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "caisey-bench-api-"));
  const child = spawn(process.execPath, [join(tree, "scripts/start.mjs")], {
    env: { ...process.env, PORT: String(port), CAISEY_DATA: data },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${log}`);
    try {
      if ((await fetch(`${url}/api/v1/setup`)).ok) break;
    } catch {}
    if (i > 600) throw new Error(`server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    stop: async () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      rmSync(data, { recursive: true, force: true });
    },
  };
}

async function measure(tree, label) {
  const server = await startServer(tree);
  const runtimes = [];
  try {
    const { token, enrollToken } = await benchOrganization(server.url, MACHINES);
    for (let i = 0; i < MACHINES; i += 20) {
      const batch = [];
      for (let j = i; j < Math.min(MACHINES, i + 20); j++) batch.push(fakeRuntime(server.url, enrollToken, j));
      runtimes.push(...(await Promise.all(batch)));
    }
    for (let i = 0; ; i++) {
      const { machines } = await call(server.url, "/api/v1/machines", token);
      if (machines.filter((m) => m.online).length === MACHINES) break;
      if (i > 300) throw new Error("machines did not all come online");
      await new Promise((r) => setTimeout(r, 100));
    }
    const sessions = [];
    for (let i = 0; i < SESSIONS; i++) {
      const { id } = await call(server.url, "/api/v1/sessions", token, { machineId: runtimes[i % MACHINES].machineId });
      sessions.push(id);
    }
    const kinds = {
      "machine list": () => call(server.url, "/api/v1/machines", token),
      "machine card": (n) => call(server.url, `/api/v1/machines/${runtimes[n % MACHINES].machineId}`, token),
      "session list": () => call(server.url, "/api/v1/sessions", token),
      "session view": (n) => call(server.url, `/api/v1/sessions/${sessions[n % SESSIONS]}`, token),
      "echo x (dispatch)": (n) =>
        call(server.url, `/api/v1/sessions/${sessions[n % SESSIONS]}/commands`, token, { command: "echo x" }),
    };
    // A mix weighted as consoles and scripts send it: reads dominate, one request in ten runs a command.
    const mix = [
      "machine card",
      "machine card",
      "machine card",
      "machine list",
      "machine list",
      "session view",
      "session view",
      "session list",
      "session list",
      "echo x (dispatch)",
    ];
    const latencies = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
    let errors = 0;
    let n = 0;
    const until = performance.now() + SECONDS * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          const i = n++;
          const kind = mix[i % mix.length];
          const t0 = performance.now();
          try {
            await kinds[kind](i);
            latencies[kind].push(performance.now() - t0);
          } catch (error) {
            errors++;
            if (errors < 5) console.error(String(error).slice(0, 300));
          }
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const total = Object.values(latencies).reduce((s, l) => s + l.length, 0);
    const row = {
      label,
      rps: total / seconds,
      errors,
      perKind: Object.fromEntries(
        Object.entries(latencies).map(([k, l]) => [
          k,
          { n: l.length, p50: percentile(l, 50) ?? 0, p99: percentile(l, 99) ?? 0 },
        ]),
      ),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    for (const r of runtimes) r.close();
    await server.stop();
  }
}

/** An earlier commit, checked out beside this tree and built there, sharing this tree's node_modules. */
function checkout(rev) {
  const dir = mkdtempSync(join(tmpdir(), "caisey-bench-rev-"));
  const add = spawnSync("git", ["worktree", "add", "--detach", dir, rev], { cwd: root, encoding: "utf8" });
  if (add.status !== 0) throw new Error(`git worktree add ${rev}: ${add.stderr}`);
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  for (const pkg of ["core", "server", "runtime", "console"]) {
    const own = join(root, "packages", pkg, "node_modules");
    if (existsSync(own)) symlinkSync(own, join(dir, "packages", pkg, "node_modules"));
  }
  const build = spawnSync(process.execPath, [join(dir, "scripts/build.mjs")], { cwd: dir, stdio: "inherit" });
  if (build.status !== 0) throw new Error(`build of ${rev} failed`);
  return {
    dir,
    remove: () => spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: root }),
  };
}

const rows = [];
if (compareRev) {
  const sha = spawnSync("git", ["rev-parse", "--short", compareRev], { cwd: root, encoding: "utf8" }).stdout.trim();
  const before = checkout(compareRev);
  try {
    rows.push(await measure(before.dir, `before (${sha})`));
  } finally {
    before.remove();
  }
}
const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).stdout.trim();
const dirty = spawnSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" }).stdout.trim() ? "+" : "";
rows.push(await measure(root, `this tree (${head}${dirty})`));

const kindNames = Object.keys(rows[0].perKind);
const table = [
  `| tree | requests/s | errors | ${kindNames.map((k) => `${k} p50 / p99 ms`).join(" | ")} |`,
  `| --- | --- | --- | ${kindNames.map(() => "---").join(" | ")} |`,
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.rps.toFixed(0)} | ${r.errors} | ${kindNames
        .map((k) => `${r.perKind[k].p50.toFixed(1)} / ${r.perKind[k].p99.toFixed(1)}`)
        .join(" | ")} |`,
  ),
];
console.log(`\n${table.join("\n")}`);
appendResults(
  `API requests/s with ${MACHINES} machines online (npm run bench:api${compareRev ? ` -- --compare ${compareRev}` : ""})`,
  `${CONCURRENCY} clients for ${SECONDS} s each; fake runtimes speaking the real protocol answer every dispatch at once.\n\n${table.join("\n")}`,
);

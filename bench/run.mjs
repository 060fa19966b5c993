#!/usr/bin/env node
// `npm run bench`: every row of issue 15's target table, each beside its baseline measured in the same run, printed as
// one table and appended to bench/RESULTS.md with the machine's description, the commit and the load average.
// Loopback only; every row bounded in count and time.
//
// Each row is a module in bench/rows/ (default export { name, about, env, measure }, where measure() resolves to
// table rows { measure, caisey, baseline?, target?, met?, cpu? }); ROWS below is the list, so a row is added with one
// line. `--only NAME[,NAME…]` runs some of them; `--no-results` prints without appending; `--help` lists the rows.

import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { appendResults, markdownTable, root } from "./common.mjs";
import capture from "./rows/capture.mjs";
import fairness from "./rows/fairness.mjs";
import latency from "./rows/latency.mjs";
import online from "./rows/online.mjs";
import search from "./rows/search.mjs";
import signIn from "./rows/sign-in.mjs";
import sockets from "./rows/sockets.mjs";
import throughput from "./rows/throughput.mjs";

const ROWS = [capture, latency, fairness, throughput, online, search, signIn, sockets];

const args = process.argv.slice(2);
if (args.includes("--help")) {
  const rows = ROWS.map((row) => {
    const env = Object.entries(row.env ?? {})
      .map(([name, value]) => `${name}=${value}`)
      .join(" ");
    return `  ${row.name.padEnd(11)} ${row.about}${env ? `\n  ${"".padEnd(11)} (${env})` : ""}`;
  });
  console.log(`usage: npm run bench [-- --only ROW[,ROW…]] [-- --no-results]

Measures every row beside its baseline in the same run, prints one table (with the CPU seconds the server and the
runtimes used per unit, from /proc, and the load average) and appends it to bench/RESULTS.md with the machine's
description. --only runs the named rows; --no-results does not append (BENCH_RESULTS=FILE appends elsewhere).

rows, in order (environment and defaults in parentheses):
${rows.join("\n")}`);
  process.exit(0);
}
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? "").split(",").filter(Boolean) : null;
const unknown = (only ?? []).filter((name) => !ROWS.some((row) => row.name === name));
if (unknown.length > 0) {
  console.error(`unknown row ${unknown.join(", ")}; rows: ${ROWS.map((row) => row.name).join(", ")}`);
  process.exit(2);
}
const chosen = only ? ROWS.filter((row) => only.includes(row.name)) : ROWS;

const header = ["measure", "Caisey", "baseline (same run)", "target", "met", "CPU server / runtimes"];
const tableOf = (rows) =>
  markdownTable(
    header,
    rows.map((r) => [r.measure, r.caisey, r.baseline ?? "—", r.target ?? "", r.met ?? "", r.cpu ?? ""]),
  );
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const loadAtStart = load();
// Read before measuring: a commit made during a long run is not what was measured.
let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
} catch {}
const results = [];
for (const row of chosen) {
  const started = performance.now();
  console.log(`— ${row.name}: ${row.about} (load average ${load()})`);
  let rows;
  try {
    rows = await row.measure();
  } catch (error) {
    console.error(error);
    rows = [{ measure: `${row.name}: failed`, caisey: String(error.message).split("\n")[0].slice(0, 200) }];
  }
  results.push(...rows);
  // Printed at once too: a long run stopped part-way still shows what it measured.
  console.log(`  ${row.name} done in ${((performance.now() - started) / 1000).toFixed(0)} s\n${tableOf(rows)}`);
}

const table = tableOf(results);
const about = `Commit ${commit}; rows: ${chosen.map((row) => row.name).join(", ")}. Load average (1, 5, 15 min) at the start ${loadAtStart}, at the end ${load()}.`;
console.log(`\n${about}\n\n${table}`);
if (!args.includes("--no-results")) appendResults("`npm run bench`", `${about}\n\n${table}`);
process.exit(0);

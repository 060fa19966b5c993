// Search ingest: the same documents indexed through the SearchIndex objects and into raw SQLite FTS5, by
// bench/search.mjs (its code, its figures) run at a small size; its own RESULTS.md section goes to a temp file, and
// the two ingest rates are read from the table it prints.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { root } from "../common.mjs";

const { tempDir, removeDir } = await import("../../test/helpers.ts");

const COMMANDS = Number(process.env.BENCH_SEARCH_COMMANDS ?? 20_000);
const LIMIT_SECONDS = 900;

/** The commands/s figure of the table row whose first cell starts with `label`. */
function rate(output, label) {
  const line = output.split("\n").find((l) => l.startsWith(`| ${label}`));
  const match = line && /\|\s*(\d+) commands\/s/.exec(line);
  if (!match) throw new Error(`bench/search.mjs printed no "${label}" row with commands/s`);
  return Number(match[1]);
}

async function measure() {
  const dir = tempDir("bench-search");
  try {
    const child = spawn(process.execPath, [join(root, "bench/search.mjs")], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        BENCH_COMMANDS: String(COMMANDS),
        BENCH_BIG: String(Math.max(1, Math.round(COMMANDS / 5000))),
        BENCH_BIG_MIB: "2",
        BENCH_QUERIES: "3",
        BENCH_RESULTS: join(dir, "RESULTS.md"),
      },
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), LIMIT_SECONDS * 1000);
    const code = await new Promise((resolve) => child.on("close", resolve));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`bench/search.mjs exited ${code}: ${output.slice(-300)}`);
    const objects = rate(output, "ingest through the objects");
    const raw = rate(output, "ingest raw SQLite");
    const ratio = objects / raw;
    return [
      {
        measure: `search ingest through the objects vs raw SQLite, same documents (${COMMANDS.toLocaleString("en")} commands; ratio)`,
        caisey: `${objects} commands/s; ${ratio.toFixed(2)}`,
        baseline: `raw SQLite FTS5 ${raw} commands/s`,
        target: "ratio ≥ 0.5",
        met: ratio >= 0.5 ? "yes" : "no",
      },
    ];
  } finally {
    removeDir(dir);
  }
}

export default {
  name: "search",
  about:
    "search ingest through the SearchIndex objects vs raw SQLite FTS5 on the same documents (bench/search.mjs, small)",
  env: { BENCH_SEARCH_COMMANDS: "20000" },
  measure,
};

// Search ingest: the same documents indexed through the SearchIndex objects and into raw SQLite FTS5, by
// bench/search.mjs's `ingestRatio` (its code, its figures) at a small size.

import { ingestRatio } from "../search.mjs";

const COMMANDS = Number(process.env.BENCH_SEARCH_COMMANDS ?? 20_000);

async function measure() {
  const r = await ingestRatio({ commands: COMMANDS, big: Math.max(1, Math.round(COMMANDS / 5000)), bigMiB: 2 });
  const perSecond = (seconds) => Math.round(r.commands / seconds);
  return [
    {
      measure: `search ingest through the objects vs raw SQLite, same documents (${r.commands.toLocaleString("en")} commands, ${r.documents.toLocaleString("en")} documents; ratio)`,
      caisey: `${perSecond(r.objectsSeconds)} commands/s; ${r.ratio.toFixed(2)}`,
      baseline: `raw SQLite FTS5 ${perSecond(r.rawSeconds)} commands/s`,
      target: "ratio ≥ 0.5",
      met: r.ratio >= 0.5 ? "yes" : "no",
      cpu: `workerd ${r.workerCpuSeconds.toFixed(1)} s / raw ${r.rawCpuSeconds.toFixed(1)} s`,
    },
  ];
}

export default {
  name: "search",
  about:
    "search ingest through the SearchIndex objects vs raw SQLite FTS5 on the same documents (bench/search.mjs, small)",
  env: { BENCH_SEARCH_COMMANDS: "20000" },
  measure,
};

#!/usr/bin/env node
// `npm start`: the control plane and console at http://127.0.0.1:${PORT:-8787}, all state under ${CAISEY_DATA:-./.caisey}.
// Runs the same Worker that `npm run deploy` ships, in workerd through wrangler, with Durable Object state on disk.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(`usage: npm start

Serves the Caisey API and console on http://127.0.0.1:$PORT (default 8787).
  PORT                    port to listen on (default 8787)
  CAISEY_DATA             state directory (default ./.caisey); kept across restarts
  CAISEY_OPERATOR_TOKEN   optional operator secret for creating further organizations
  CAISEY_INDEX_DELAY_MS   delay before records are pushed to the search index (default 250; for fault tests)`);
  process.exit(0);
}
const port = process.env.PORT ?? "8787";
const data = resolve(process.env.CAISEY_DATA ?? join(root, ".caisey"));
mkdirSync(data, { recursive: true });

const args = [
  join(root, "node_modules/wrangler/bin/wrangler.js"),
  "dev",
  "--config",
  join(root, "packages/server/wrangler.jsonc"),
  "--ip",
  "127.0.0.1",
  "--port",
  port,
  "--persist-to",
  data,
  "--local",
  "--inspector-port",
  "0",
  "--show-interactive-dev-session=false",
  "--log-level",
  process.env.CAISEY_LOG_LEVEL ?? "warn",
];
// Settings that reach the Worker as variables (wrangler dev --var NAME:VALUE).
for (const name of ["CAISEY_OPERATOR_TOKEN", "CAISEY_INDEX_DELAY_MS"]) {
  if (process.env[name]) args.push("--var", `${name}:${process.env[name]}`);
}

const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: ["ignore", "inherit", "inherit"],
  env: {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    NO_COLOR: "1",
  },
});
console.log(`Caisey: serving http://127.0.0.1:${port} (state in ${data})`);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

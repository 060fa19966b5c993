#!/usr/bin/env node
// `npm start`: the control plane and console at http://127.0.0.1:${PORT:-8787}, all state under ${CAISEY_DATA:-./.caisey}.
// Runs the Worker bundle that `npm run deploy` ships, in workerd, with Durable Object state on disk (scripts/worker.mjs).
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { workerSettings } from "./settings.mjs";
import { ensureWorker, serveWorker } from "./worker.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(`usage: npm start

Serves the Caisey API and console on http://127.0.0.1:$PORT (default 8787).
  PORT                    port to listen on (default 8787)
  HOST                    address to listen on (default 127.0.0.1)
  CAISEY_DATA             state directory (default ./.caisey); kept across restarts
  CAISEY_OPERATOR_TOKEN   optional operator secret for creating further organizations (32 or more characters)
  CAISEY_KEY_SECRET       secret that private keys are stored wrapped with (default: generated once into
                          $CAISEY_DATA/key-secret, mode 0600)
  CAISEY_KEY_SECRET_PREVIOUS  the secret before a rotation, while keys are wrapped again (README: Security)
  CAISEY_TRUSTED_ADDRESS_HEADER  the header a reverse proxy in front sets to the client's address (default: none,
                          so a client-sent header is never believed)
  CAISEY_INDEX_DELAY_MS   delay before records are pushed to the search index (default 250, then at the session's
                          next command, 250 ms more at most; set, it is kept exactly: for fault tests)
  CAISEY_PUBLIC_URL       the console's address as people reach it, for links in webhook messages
                          (default http://$HOST:$PORT)
  CAISEY_INSPECTOR_PORT   port of the Worker's DevTools inspector (default: none; for profiling)
  CAISEY_RUNTIME_FILES    the runtime build served at /downloads/ (default: dist/runtime, what
                          \`npm run package:runtime\` makes)`);
  process.exit(0);
}
const port = Number(process.env.PORT ?? "8787");
const host = process.env.HOST ?? "127.0.0.1";
const data = resolve(process.env.CAISEY_DATA ?? join(root, ".caisey"));
mkdirSync(data, { recursive: true });

let vars;
try {
  vars = workerSettings(process.env, data, `http://${host}:${port}`);
} catch (error) {
  console.error(`Caisey: not starting: ${error.message}`);
  process.exit(1);
}

ensureWorker(root);
const inspectorPort = process.env.CAISEY_INSPECTOR_PORT ? Number(process.env.CAISEY_INSPECTOR_PORT) : undefined;
const runtimeDir = process.env.CAISEY_RUNTIME_FILES ? resolve(process.env.CAISEY_RUNTIME_FILES) : undefined;
const miniflare = await serveWorker(root, { host, port, data, vars, inspectorPort, runtimeDir });
console.log(`Caisey: serving http://${host}:${port} (state in ${data})`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    miniflare.dispose().finally(() => process.exit(0));
  });
}

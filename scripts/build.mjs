#!/usr/bin/env node
// Builds what is not TypeScript-at-runtime: the console's static assets, the runtime's single-file bundle and the
// Worker's bundle (made by wrangler exactly as `npm run deploy` would upload it; `npm start` serves that file).
//   node scripts/build.mjs            all three
//   node scripts/build.mjs runtime    only the runtime (used by `npm run runtime`)
//   node scripts/build.mjs console    only the console
//   node scripts/build.mjs server     only the Worker
import { cp, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bundleRuntime } from "./runtime-bundle.mjs";
import { buildWorker } from "./worker.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const which = process.argv[2] ?? "all";
if (!["all", "runtime", "console", "server"].includes(which)) {
  console.error("usage: node scripts/build.mjs [all|runtime|console|server]");
  process.exit(2);
}

async function buildRuntime() {
  await bundleRuntime(root, { outfile: join(root, "packages/runtime/dist/caisey-runtime.mjs") });
}

async function buildConsole() {
  const out = join(root, "packages/console/dist");
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [join(root, "packages/console/src/main.tsx")],
    outdir: out,
    entryNames: "app",
    bundle: true,
    platform: "browser",
    target: "es2022",
    format: "esm",
    minify: true,
    sourcemap: "linked",
    jsx: "automatic",
    jsxImportSource: "preact",
    logLevel: "warning",
  });
  await cp(join(root, "packages/console/public"), out, { recursive: true });
}

if (which === "all" || which === "runtime") await buildRuntime();
if (which === "all" || which === "console") await buildConsole();
if (which === "all" || which === "server") buildWorker(root);

// The Worker's bundle and how to serve it, shared by `npm run build` and `npm start`.
//
// The bundle is made by wrangler (`deploy --dry-run --outdir`), so it is byte for byte what `npm run deploy` uploads.
// It is served by Miniflare, the library wrangler runs workerd with, taken from wrangler's own dependencies so the
// two never disagree. `wrangler dev` would put its reload proxy (a second workerd, one more HTTP and WebSocket hop,
// ~5 ms a request here) in front of every request and every runtime frame; the direct socket below is one hop, as
// on Cloudflare.
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { Readable } from "node:stream";

export const workerDir = (root) => join(root, "packages/server/dist");
const config = (root) => join(root, "packages/server/wrangler.jsonc");

export function buildWorker(root) {
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules/wrangler/bin/wrangler.js"),
      "deploy",
      "--dry-run",
      "--outdir",
      workerDir(root),
      "--config",
      config(root),
    ],
    {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_HIDE_BANNER: "true",
        NO_COLOR: "1",
        WRANGLER_LOG: "error",
      },
    },
  );
}

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Build the Worker unless its bundle is newer than every source it is made from. */
export function ensureWorker(root) {
  const bundle = join(workerDir(root), "index.js");
  const sources = Math.max(
    newestSource(join(root, "packages/server/src")),
    newestSource(join(root, "packages/core/src")),
    statSync(config(root)).mtimeMs,
  );
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < sources) buildWorker(root);
  return bundle;
}

/** The Miniflare that wrangler itself runs workerd with (also used by bench/memory.mjs for its bare baseline). */
export async function miniflareOf(root) {
  const wranglerPackage = createRequire(join(root, "package.json")).resolve("wrangler/package.json");
  return import(createRequire(wranglerPackage).resolve("miniflare"));
}

/**
 * The runtime build in dist/runtime/ (`npm run package:runtime`), which the Worker serves at /downloads/ when it runs
 * here: read from disk on each request, so a new build is served at once and nothing is copied into the data dir. (On
 * Cloudflare the Worker reads the same files from its R2 bucket: packages/server/src/routes/downloads.ts.)
 */
function runtimeFiles(dir) {
  return async (request) => {
    const name = basename(new URL(request.url).pathname);
    const file = join(dir, name);
    if (name.startsWith(".") || !existsSync(file) || !statSync(file).isFile())
      return new Response(null, { status: 404 });
    return new Response(Readable.toWeb(createReadStream(file)), {
      headers: { "content-length": String(statSync(file).size) },
    });
  };
}

/**
 * Serve the built Worker in workerd with its Durable Objects persisted under `data`. Resolves to the Miniflare
 * instance once `http://host:port` answers.
 */
export async function serveWorker(root, { host, port, data, vars, inspectorPort, runtimeDir }) {
  const requireFromRoot = createRequire(join(root, "package.json"));
  const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await miniflareOf(root);
  const { unstable_getMiniflareWorkerOptions } = await import(requireFromRoot.resolve("wrangler"));
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config(root));
  // wrangler's module rules describe how to bundle; the bundle is already made.
  const { modulesRules: _rules, ...options } = workerOptions;
  const dir = workerDir(root);
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0, // Miniflare's own entry socket (unused: the direct socket below serves)
      cf: false,
      log: new Log(LogLevel.WARN),
      resourcePersistencePath: join(data, "v3"), // the layout `wrangler dev --persist-to` uses
      inspectorPort,
      workers: [
        {
          ...options,
          name: "caisey",
          // The bundle, and the data modules it imports from beside it (the PDF report's fonts).
          modules: [
            { type: "ESModule", path: join(dir, "index.js") },
            ...readdirSync(dir)
              .filter((name) => name.endsWith(".ttf"))
              .map((name) => ({ type: "Data", path: join(dir, name) })),
          ],
          modulesRoot: dir,
          bindings: { ...(options.bindings ?? {}), ...vars },
          serviceBindings: {
            ...(options.serviceBindings ?? {}),
            RUNTIME_FILES: runtimeFiles(runtimeDir ?? join(root, "dist/runtime")),
          },
          unsafeDirectSockets: [{ host, port }],
        },
      ],
    }),
  );
  await miniflare.ready;
  return miniflare;
}

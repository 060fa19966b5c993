// The runtime's one esbuild configuration, shared by `npm run build` (packages/runtime/dist, what `npm run runtime`
// and the tests start) and `npm run package:runtime` (dist/runtime: the portable bundle and the executables).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

/** The runtime's version when the build does not name another: packages/runtime/package.json's. */
export function workspaceVersion(root) {
  return JSON.parse(readFileSync(join(root, "packages/runtime/package.json"), "utf8")).version;
}

/**
 * Bundle packages/runtime/src/cli.ts into one file with every dependency inside. `format: "esm"` is the portable
 * bundle (`node caisey-runtime.mjs`); `"cjs"` is what Node 22's single-executable support runs as its main script.
 * `version` and `releaseKey` (the release public key, base64url) are built in (packages/runtime/src/build-info.ts):
 * without a release key the runtime never updates itself.
 */
export async function bundleRuntime(
  root,
  {
    outfile,
    format = "esm",
    sourcemap = "linked",
    minify = false,
    version = workspaceVersion(root),
    releaseKey = null,
  },
) {
  const form = format === "cjs" ? "executable" : "portable";
  await build({
    define: { CAISEY_BUILD: JSON.stringify({ version, releaseKey, form }) },
    entryPoints: [join(root, "packages/runtime/src/cli.ts")],
    outfile,
    bundle: true,
    platform: "node",
    // Node 20 is the oldest the portable bundle promises; the executables carry Node 22.
    target: "node20",
    format,
    sourcemap,
    minify,
    legalComments: "none",
    logLevel: "warning",
    // ws has optional native helpers; the pure-JS paths are used without them.
    external: ["bufferutil", "utf-8-validate"],
    banner:
      format === "esm"
        ? { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
        : undefined,
  });
}

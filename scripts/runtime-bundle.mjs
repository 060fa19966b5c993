// The runtime's one esbuild configuration, shared by `npm run build` (packages/runtime/dist, what `npm run runtime`
// and the tests start) and `npm run package:runtime` (dist/runtime: the portable bundle and the executables).
import { join } from "node:path";
import { build } from "esbuild";

/**
 * Bundle packages/runtime/src/cli.ts into one file with every dependency inside. `format: "esm"` is the portable
 * bundle (`node caisey-runtime.mjs`); `"cjs"` is what Node 22's single-executable support runs as its main script.
 */
export async function bundleRuntime(root, { outfile, format = "esm", sourcemap = "linked", minify = false }) {
  await build({
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

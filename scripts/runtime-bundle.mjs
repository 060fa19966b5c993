// The runtime's one esbuild configuration, shared by `npm run build` (packages/runtime/dist, what `npm run runtime`
// and the tests start) and `npm run package:runtime` (dist/runtime: the portable bundle and the executables).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { build } from "esbuild";

/** The runtime's version when the build does not name another: packages/runtime/package.json's. */
export function workspaceVersion(root) {
  return JSON.parse(readFileSync(join(root, "packages/runtime/package.json"), "utf8")).version;
}

/**
 * One zod in the bundle, and only its English messages. npm nests a copy of zod in each workspace that names it (the
 * root holds @cloudflare/vitest-plugin's other version), so @caisey/core's imports and the runtime's own bundled two
 * copies, both initialised at start-up; and zod's `locales` namespace (every language's messages, never used here) was
 * most of its text. The idle runtime's RSS went 86 → 77 MB with one copy, → 74 MB without the other locales (the
 * capture row's "runtime RSS idle"). Every `zod` import resolves from packages/core, and zod's locales index becomes
 * `en` alone (the one classic/schemas.js configures; `z.locales.<other>` would be undefined in the runtime).
 */
function oneZod(root) {
  const coreDir = join(root, "packages/core");
  return {
    name: "one-zod",
    setup(build) {
      const from = "caisey:one-zod";
      build.onResolve({ filter: /^zod(\/.*)?$/ }, (args) =>
        args.pluginData === from
          ? undefined
          : build.resolve(args.path, { kind: args.kind, resolveDir: coreDir, pluginData: from }),
      );
      build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        /[\\/]zod[\\/]/.test(args.importer)
          ? { path: join(dirname(args.importer), "../locales/en.js"), namespace: "zod-locales-en" }
          : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: "zod-locales-en" }, (args) => ({
        contents: `export { default as en } from ${JSON.stringify(args.path)};`,
        resolveDir: dirname(args.path),
      }));
    },
  };
}

/**
 * Bundle packages/runtime/src/cli.ts into one file with every dependency inside. `format: "esm"` is the portable
 * bundle (`node caisey-runtime.mjs`); `"cjs"` is what Node 22's single-executable support runs as its main script.
 * `version` and `releaseKey` (the release public key, base64url) are built in (packages/runtime/src/build-info.ts):
 * without a release key the runtime never updates itself. Resolves to esbuild's metafile (what went into the bundle).
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
  const result = await build({
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
    plugins: [oneZod(root)],
    banner:
      format === "esm"
        ? { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
        : undefined,
    metafile: true,
  });
  return result.metafile;
}

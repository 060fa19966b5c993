// What goes into the runtime's bundle: one zod with only its English messages (scripts/runtime-bundle.mjs), and the
// bundle still runs.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { bundleRuntime } from "../../scripts/runtime-bundle.mjs";
import { ROOT, removeDir, tempDir } from "../helpers.ts";

it("bundles one copy of zod, English messages only, and the bundle runs", async () => {
  const dir = tempDir("runtime-bundle");
  try {
    const outfile = join(dir, "caisey-runtime.mjs");
    const meta = await bundleRuntime(ROOT, { outfile, sourcemap: false });
    // Files only (the plugin's stand-in for zod's locales index is in a namespace of its own).
    const files = Object.keys(meta.inputs).filter((path) => !/^[a-z-]+:/.test(path));
    const zod = files.filter((path) => /[\\/]zod[\\/]/.test(path));
    // Every zod module from one place (npm nests a copy in core and another in the runtime).
    const copies = new Set(zod.map((path) => path.slice(0, path.search(/[\\/]zod[\\/]/))));
    expect([...copies]).toEqual([expect.stringContaining("packages/core")]);
    expect(zod.filter((path) => /[\\/]locales[\\/]/.test(path)).map((path) => path.replace(/.*[\\/]/, ""))).toEqual([
      "en.js",
    ]);
    const help = spawnSync(process.execPath, [outfile, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("caisey-runtime");
    // zod works in the bundle, in English: a config with a bad server URL is refused with zod's message.
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "runtime.json"), JSON.stringify({ server: "not a url", signingKey: "x" }));
    const run = spawnSync(process.execPath, [outfile, "run", "--data-dir", dataDir], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("runtime.json is invalid: server Invalid URL");
  } finally {
    removeDir(dir);
  }
});

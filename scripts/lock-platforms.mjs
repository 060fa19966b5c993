#!/usr/bin/env node
// Run after `npm install` changes package-lock.json. The registry reachable here does not serve some other
// platforms' optional binaries (e.g. Biome's and workerd's macOS and Windows builds), so npm leaves them out of the
// lock, and `npm ci` then refuses the lock as out of sync. This adds an entry for each such optional dependency,
// marked optional with its os/cpu so npm skips it on any other platform, exactly as npm itself would have written
// (minus the download fields it could not see). It changes nothing that is installed on this platform.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "package-lock.json");
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;

function platformOf(name) {
  const os = /darwin/.test(name)
    ? "darwin"
    : /win32|windows/.test(name)
      ? "win32"
      : /android/.test(name)
        ? "android"
        : /freebsd/.test(name)
          ? "freebsd"
          : "linux";
  const cpu = /arm64|aarch64/.test(name)
    ? "arm64"
    : /x64|-64$|amd64/.test(name)
      ? "x64"
      : /ia32/.test(name)
        ? "ia32"
        : /arm/.test(name)
          ? "arm"
          : null;
  const libc = /musl/.test(name) ? "musl" : os === "linux" ? "glibc" : null;
  return { os, cpu, libc };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) continue; // ranges (e.g. fsevents) npm records itself
    // npm resolves a dependency next to its dependent first, then up the tree.
    const base = path === "" ? "" : `${path}/`;
    const candidates = [`${base}node_modules/${name}`];
    let up = path;
    while (up.includes("node_modules/")) {
      up = up.slice(0, up.lastIndexOf("node_modules/")).replace(/\/$/, "");
      candidates.push(`${up ? `${up}/` : ""}node_modules/${name}`);
    }
    // From the top down, the first place without a conflicting version is where npm would have put it.
    const placed = [...candidates].reverse().find((c) => !packages[c] || packages[c].version === version);
    if (!placed || packages[placed]) continue;
    const { os, cpu, libc } = platformOf(name);
    const target = placed;
    packages[target] = {
      version,
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc: [libc] } : {}),
      optional: true,
      os: [os],
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} optional platform entries`);

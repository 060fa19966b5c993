// `npm run bench` itself: its rows are the modules in bench/rows (so a row added as a file is listed and run), a row
// can be run alone, and the ssh baseline's own sshd serves the exact bytes of a file and is gone once stopped.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script, without types
import { startSshd } from "../../bench/sshd.mjs";
import { ROOT, removeDir, tempDir } from "../helpers.ts";

const run = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, "bench/run.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

describe("npm run bench", () => {
  it("lists every row module of bench/rows in --help, by the name --only takes", () => {
    const help = run("--help");
    expect(help.status).toBe(0);
    const files = readdirSync(join(ROOT, "bench/rows")).filter((f) => f.endsWith(".mjs"));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const file of files) expect(help.stdout).toMatch(new RegExp(`^  ${file.replace(".mjs", "")} `, "m"));
  });

  it("refuses an unknown row in --only, naming the rows, before measuring anything", () => {
    const answer = run("--only", "capture,warp-speed");
    expect(answer.status).toBe(2);
    expect(answer.stderr).toContain("unknown row warp-speed; rows: capture, latency, fairness, throughput, online,");
  });

  it("runs the ssh baseline through its own loopback sshd, byte for byte, and stops it", async () => {
    const dir = tempDir("bench-sshd");
    dirs.push(dir);
    const file = join(dir, "payload.bin");
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, bytes);
    const sshd = await startSshd();
    if (process.getuid?.() !== 0 && sshd.unavailable) {
      // Installing openssh-server needs root; the row then says why instead of a figure.
      expect(sshd.unavailable).toMatch(/needs root|sshd/);
      return;
    }
    expect(sshd.unavailable).toBeUndefined();
    try {
      expect(sshd.sshArgs).toContain("127.0.0.1");
      const out = spawnSync("ssh", [...sshd.sshArgs, "cat", file], { maxBuffer: 64 * 1024 * 1024 });
      expect(out.status).toBe(0);
      expect(Buffer.compare(out.stdout, bytes)).toBe(0);
    } finally {
      await sshd.stop();
    }
    expect(() => process.kill(sshd.pid, 0)).toThrow();
    expect(spawnSync("ssh", [...sshd.sshArgs, "true"]).status).not.toBe(0);
  }, 400_000); // the first run on a machine without sshd installs openssh-server (apt-get) first
});

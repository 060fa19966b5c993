// Capture: `cat FILE` of BENCH_MIB MiB of random bytes through a real runtime and server, from the POST until the
// command's end is committed (the server acknowledges each frame right after its commit; the runtime's outbox is then
// checked empty), beside `ssh localhost cat FILE` into /dev/null through the bench's own sshd and the raw pipe
// `cat FILE | cat > /dev/null`, and raw SQLite storing the file as 512 KiB BLOB rows with durable commits (the floor of
// the server's storage), on the same file in the same run. Also the runtime's and the server's memory.

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { getAgain, settled, startCaisey } from "../caisey.mjs";
import { processTree, rssKiB } from "../common.mjs";
import { sqliteFloor } from "../floors.mjs";
import { startSshd } from "../sshd.mjs";

const { tempDir, removeDir } = await import("../../test/helpers.ts");
const { readStatus } = await import("../../packages/runtime/src/status.ts");

const SIZES = (process.env.BENCH_MIB ?? "256,1024").split(",").map(Number);

/** A file of `mib` MiB of random bytes, on disk before anything is timed; its SHA-256. */
function payload(dir, mib) {
  const file = join(dir, `payload-${mib}.bin`);
  const fd = openSync(file, "w");
  const hash = createHash("sha256");
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    writeSync(fd, chunk);
    hash.update(chunk);
  }
  // Otherwise the kernel writes it back while Caisey is measured.
  fsyncSync(fd);
  closeSync(fd);
  return { file, sha256: hash.digest("hex") };
}

/** Seconds a shell pipeline takes (it must succeed). */
function timedShell(script) {
  const start = performance.now();
  const r = spawnSync("bash", ["-c", script], { stdio: ["ignore", "ignore", "pipe"], timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${script}: ${r.error?.message ?? String(r.stderr).trim()}`);
  return (performance.now() - start) / 1000;
}

/**
 * Wait until the runtime's status (written every 2 s when it changed) says its outbox is empty, written after `since`
 * (ms since the epoch): a check, not timed.
 */
async function acknowledged(dataDir, since) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await readStatus(dataDir);
    if (status && status.outboxFrames === 0 && Date.parse(status.updatedAt) >= since) return;
    if (Date.now() > deadline)
      throw new Error(`the runtime's outbox was not empty 30 s after: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure() {
  const dir = tempDir("bench-capture");
  const sshd = await startSshd();
  let caisey = null;
  try {
    caisey = await startCaisey(1);
    const [machine] = caisey.machines;
    const sessionId = await caisey.openSession(machine.machineId);
    const runtimePid = machine.proc.child.pid;
    const serverPids = processTree(caisey.server.proc.child.pid);
    await new Promise((r) => setTimeout(r, 2000)); // the runtime's start-up garbage collected before its idle RSS
    const runtimeIdleKiB = rssKiB(runtimePid);
    const rows = [];
    for (const mib of SIZES) {
      const { file, sha256 } = payload(dir, mib);
      const mibps = (seconds) => mib / seconds;
      timedShell(`cat '${file}' > /dev/null`); // in the page cache for everyone alike
      const raw = mibps(timedShell(`cat '${file}' | cat > /dev/null`));
      const ssh = sshd.sshArgs ? mibps(timedShell(`ssh ${sshd.sshArgs.join(" ")} cat '${file}' > /dev/null`)) : null;
      // What storing these bytes costs at the least (raw SQLite, durable commits): the server cannot beat it.
      const storage = sqliteFloor(file, dir);

      let runtimePeakKiB = 0;
      let serverPeakKiB = 0;
      const sampler = setInterval(() => {
        runtimePeakKiB = Math.max(runtimePeakKiB, rssKiB(runtimePid));
        serverPeakKiB = Math.max(
          serverPeakKiB,
          serverPids.reduce((sum, pid) => sum + rssKiB(pid), 0),
        );
      }, 100);
      const cpuBefore = caisey.cpu();
      await getAgain(caisey, `/api/v1/sessions/${sessionId}`); // the server may have closed idle connections meanwhile
      const startedAt = Date.now();
      const start = performance.now();
      const { commandId } = await caisey.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
        command: `cat '${file}'`,
        shell: "bash",
      });
      // Polled every 50 ms: each poll costs the server ~1.3 ms of CPU, counted in its CPU per MiB (every 20 ms that
      // was ~1 ms per MiB of the row's figure); the end is seen at most 50 ms late, which only makes Caisey slower.
      const state = await settled(caisey, sessionId, commandId, 50);
      const seconds = (performance.now() - start) / 1000;
      clearInterval(sampler);
      const cpuAfter = caisey.cpu();
      if (state.state !== "finished" || state.stdoutSha256 !== sha256 || state.stdoutBytes !== mib * 1024 * 1024)
        throw new Error(`capture of ${mib} MiB incomplete: ${JSON.stringify(state)}`);
      await acknowledged(machine.dataDir, startedAt);
      removeDir(file);

      const caiseyMiBps = mibps(seconds);
      const ratio = ssh ? caiseyMiBps / ssh : null;
      const msPerMiB = (s) => ((s * 1000) / mib).toFixed(1);
      rows.push({
        measure: `capture ${mib} MiB stdout → committed and acknowledged (MiB/s; ratio to ssh)`,
        caisey: `${caiseyMiBps.toFixed(1)}; ${ratio === null ? "—" : ratio.toFixed(2)}`,
        baseline:
          `ssh localhost cat ${ssh === null ? `n/a (${sshd.unavailable})` : ssh.toFixed(1)}; raw pipe ${raw.toFixed(1)}; ` +
          `raw SQLite storing the same bytes ${storage.mibps.toFixed(1)} (${storage.cpuMsPerMiB.toFixed(1)} ms CPU per MiB)`,
        target: "ratio ≥ 0.6 (≥ 100 MiB/s where ssh reaches 180)",
        met: ratio === null ? "?" : ratio >= 0.6 && (ssh < 180 || caiseyMiBps >= 100) ? "yes" : "no",
        cpu: `${msPerMiB(cpuAfter.server - cpuBefore.server)} / ${msPerMiB(cpuAfter.runtimes - cpuBefore.runtimes)} ms per MiB`,
      });
      rows.push({
        measure: `runtime RSS peak while streaming ${mib} MiB (MB)`,
        caisey: (runtimePeakKiB / 1024).toFixed(0),
        target: "≤ 150",
        met: runtimePeakKiB / 1024 <= 150 ? "yes" : "no",
      });
      rows.push({
        measure: `server RSS peak while streaming ${mib} MiB (MB, Miniflare + workerd)`,
        caisey: (serverPeakKiB / 1024).toFixed(0),
      });
    }
    rows.push({
      measure: "runtime RSS idle (MB)",
      caisey: (runtimeIdleKiB / 1024).toFixed(0),
      target: "≤ 80",
      met: runtimeIdleKiB / 1024 <= 80 ? "yes" : "no",
    });
    return rows;
  } finally {
    await sshd.stop?.();
    await caisey?.stop();
    removeDir(dir);
  }
}

export default {
  name: "capture",
  about:
    "capture of BENCH_MIB MiB (comma-separated sizes) → committed and acknowledged, beside ssh localhost cat (own sshd on a loopback port; installs openssh-server when missing) and a raw pipe; runtime and server RSS",
  env: { BENCH_MIB: "256,1024" },
  measure,
};

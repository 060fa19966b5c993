// What the two profiles of `npm run bench:profile` share: a real server with its DevTools inspector open, one real
// runtime run under `node --cpu-prof`, a session on it; then each process's CPU and both sides' hottest functions.

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cpuSeconds, hottest, inspector, processTree, root, waitOnline } from "./common.mjs";

const { startServer, setupOrganization, enrollRuntime, tempDir, freePort, RUNTIME_NODE_FLAGS } = await import(
  "../test/helpers.ts"
);

const processName = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
};

/**
 * A server, one enrolled runtime online under the CPU profiler and a session on it. `profile(intervalUs)` starts the
 * Worker's profiler and counts CPU from then; `stop()` ends both profiles and every process and returns what they saw.
 */
export async function profiledCaisey(approvalPolicy) {
  const inspectorPort = await freePort();
  const server = await startServer({ env: { CAISEY_INSPECTOR_PORT: String(inspectorPort) } });
  const owner = await setupOrganization(server.url);
  const runtime = await enrollRuntime(server.url, owner, "Client 1", approvalPolicy);
  const runtimeProfiles = tempDir("runtime-profile");
  const runtimeProcess = spawn(
    process.execPath,
    [
      ...RUNTIME_NODE_FLAGS,
      "--cpu-prof",
      "--cpu-prof-dir",
      runtimeProfiles,
      join(root, "packages/runtime/dist/caisey-runtime.mjs"),
      "run",
      "--data-dir",
      runtime.dataDir,
    ],
    { stdio: "ignore" },
  );
  await waitOnline(owner, runtime.machineId);
  const { id: sessionId } = await owner.json("/api/v1/sessions", { machineId: runtime.machineId });
  let worker;
  let before;
  const pids = () => [...processTree(server.proc.child.pid), runtimeProcess.pid];
  return {
    server,
    owner,
    sessionId,
    profile: async (intervalUs) => {
      worker = await inspector(inspectorPort);
      await worker.call("Profiler.enable");
      await worker.call("Profiler.setSamplingInterval", { interval: intervalUs });
      await worker.call("Profiler.start");
      before = new Map(pids().map((pid) => [pid, cpuSeconds(pid)]));
    },
    /** `afterProfile`: work done once the profile and the CPU count ended, before the processes stop (reading back). */
    stop: async (afterProfile = async () => {}) => {
      const used = [...before].map(([pid, cpu]) => [pid, cpuSeconds(pid) - cpu]);
      const { profile: workerProfile } = await worker.call("Profiler.stop");
      worker.close();
      await afterProfile();
      await new Promise((resolve) => {
        runtimeProcess.once("exit", resolve);
        runtimeProcess.kill("SIGTERM");
      });
      await server.stop();
      const runtimeProfileList = readdirSync(runtimeProfiles).map((file) =>
        JSON.parse(readFileSync(join(runtimeProfiles, file), "utf8")),
      );
      return {
        workerProfile,
        /** The report's lines: `cpuLine(name, cpuSeconds)` for each process that used more than `minCpu` seconds. */
        report: ({ cpuLine, minCpu, top }) => {
          const lines = [];
          for (const [pid, cpu] of used.filter(([, cpu]) => cpu > minCpu)) {
            lines.push(`    ${cpuLine(pid === runtimeProcess.pid ? "runtime" : processName(pid), cpu)}`);
          }
          const sides = [["Worker (workerd)", workerProfile], ...runtimeProfileList.map((p) => ["runtime", p])];
          for (const [side, profile] of sides) {
            const result = hottest(profile, top);
            lines.push("", `${side}: hottest functions by self time, of ${result.total.toFixed(1)} s sampled`, "");
            lines.push(...result.lines.map((line) => `    ${line}`));
          }
          return lines;
        },
      };
    },
  };
}

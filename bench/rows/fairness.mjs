// Fairness: `echo x` on one machine while two sessions on two other machines stream BENCH_STREAM_MIB MiB each, beside
// the same machine's idle p99 measured first in the same run. Each streaming session runs its `cat` again as soon as
// the last one ended, so every counted echo ran while both streamed; every stream is checked whole (bytes and SHA-256).
// BENCH_FAIR_SECONDS bounds the whole row: fewer echoes are counted (n says how many) when it runs out.

import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { echoLatencies, getAgain, p50p99, requestCommand, settled, startCaisey } from "../caisey.mjs";
import { percentile } from "../common.mjs";

const { tempDir, removeDir } = await import("../../test/helpers.ts");

const COMMANDS = Number(process.env.BENCH_FAIR_COMMANDS ?? 100);
const STREAM_MIB = Number(process.env.BENCH_STREAM_MIB ?? 20);
const LIMIT_SECONDS = Number(process.env.BENCH_FAIR_SECONDS ?? 600);

async function measure() {
  const dir = tempDir("bench-fairness");
  const bytes = randomBytes(STREAM_MIB * 1024 * 1024);
  const file = join(dir, "stream.bin");
  writeFileSync(file, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const caisey = await startCaisey(3);
  let streaming = true;
  try {
    const [quiet, ...busy] = await Promise.all(caisey.machines.map((m) => caisey.openSession(m.machineId)));
    const deadline = performance.now() + LIMIT_SECONDS * 1000;
    const idle = await echoLatencies(caisey, quiet, COMMANDS, { until: deadline });
    let streams = 0;
    const stream = async (sessionId) => {
      while (streaming && performance.now() < deadline) {
        const commandId = await requestCommand(caisey, sessionId, `cat '${file}'`);
        const state = await settled(caisey, sessionId, commandId, 100);
        if (state.state !== "finished" || state.stdoutSha256 !== sha256 || state.stdoutBytes !== bytes.length)
          throw new Error(`a ${STREAM_MIB} MiB stream came out incomplete: ${JSON.stringify(state)}`);
        streams++;
      }
    };
    let failure = null;
    const streamers = busy.map((sessionId) =>
      stream(sessionId).catch((error) => {
        failure = error;
        streaming = false;
      }),
    );
    // Both streams under way (their first output committed) before the first counted echo.
    for (const sessionId of busy) {
      for (;;) {
        const { commands } = await caisey.owner.json(`/api/v1/sessions/${sessionId}`);
        if (commands.some((c) => c.state === "running" && c.stdoutBytes > 0)) break;
        if (failure || performance.now() > deadline) throw failure ?? new Error("the streams never started");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // Output committed so far by the streaming sessions (running or done), to tell the streams' pace while counted.
    const committed = async () => {
      let bytes = 0;
      for (const sessionId of busy) {
        const { commands } = await getAgain(caisey, `/api/v1/sessions/${sessionId}`);
        for (const c of commands) bytes += c.stdoutBytes;
      }
      return bytes;
    };
    const committedBefore = await committed();
    const cpuBefore = caisey.cpu();
    const loadedAt = performance.now();
    const loaded = await echoLatencies(caisey, quiet, COMMANDS, { warmup: 0, until: deadline });
    const cpuAfter = caisey.cpu();
    const seconds = (performance.now() - loadedAt) / 1000;
    // The streams' pace while the echoes were counted, so a better ratio that comes from starving the streams shows;
    // CPU per second of it, as wall-clock figures on a shared machine are noisy.
    const streamed = (await committed()) - committedBefore;
    const perSecond = (cpu) => `${((cpu * 1000) / seconds).toFixed(0)}`;
    streaming = false;
    await Promise.all(streamers);
    if (failure) throw failure;
    const ratio = percentile(loaded.finished, 99) / percentile(idle.finished, 99);
    return [
      {
        measure: `echo x p99 on another machine while 2 sessions (2 other machines) stream ${STREAM_MIB} MiB each: p50 / p99 (ms, n=${loaded.finished.length}); ratio to idle p99`,
        caisey: `${p50p99(loaded.finished)}; ${ratio.toFixed(1)}×`,
        baseline: `idle on the same machine ${p50p99(idle.finished)}; p90 ${percentile(loaded.finished, 90).toFixed(1)} (idle ${percentile(idle.finished, 90).toFixed(1)}); ${streams} streams of ${STREAM_MIB} MiB checked whole, ${(streamed / 1024 / 1024 / seconds).toFixed(1)} MiB/s while counted`,
        target: "≤ 3× idle p99",
        met: ratio <= 3 ? "yes" : "no",
        cpu: `${perSecond(cpuAfter.server - cpuBefore.server)} / ${perSecond(cpuAfter.runtimes - cpuBefore.runtimes)} ms per s while counted`,
      },
    ];
  } finally {
    streaming = false;
    await caisey.stop();
    removeDir(dir);
  }
}

export default {
  name: "fairness",
  about: `echo x p99 on one machine while two other machines stream ${STREAM_MIB} MiB each, beside its idle p99`,
  env: { BENCH_FAIR_COMMANDS: "100", BENCH_STREAM_MIB: "20", BENCH_FAIR_SECONDS: "600" },
  measure,
};

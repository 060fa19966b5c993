// Idle latency: `echo x` POST → command.finished on a live socket, one after another on a quiet server with one real
// runtime, after uncounted warm-up commands; and POST → the first live event of each. Beside it, the floor: Node
// spawning the same shell alone, whose wall time every echo includes.

import { echoLatencies, P99_ECHOES, P99_ECHOES_DEFAULT, p50p99, startCaisey } from "../caisey.mjs";
import { percentile } from "../common.mjs";
import { spawnFloor } from "../floors.mjs";

const WARMUP = 20;

async function measure() {
  const spawning = spawnFloor();
  const caisey = await startCaisey(1);
  try {
    const sessionId = await caisey.openSession(caisey.machines[0].machineId);
    const cpuBefore = caisey.cpu();
    const { finished, firstEvent } = await echoLatencies(caisey, sessionId, P99_ECHOES, { warmup: WARMUP });
    const cpuAfter = caisey.cpu();
    const perCommand = (s) => ((s * 1000) / (P99_ECHOES + WARMUP)).toFixed(1);
    return [
      {
        measure: `echo x: POST → command.finished p50 / p99, idle (ms, n=${P99_ECHOES} after ${WARMUP} warm-up)`,
        caisey: p50p99(finished),
        baseline: `Node spawning bash -c 'echo x' alone (no Caisey): ${spawning.wallP50Ms.toFixed(1)} / ${spawning.wallP99Ms.toFixed(1)}`,
        target: "p99 ≤ 25",
        met: percentile(finished, 99) <= 25 ? "yes" : "no",
        cpu: `${perCommand(cpuAfter.server - cpuBefore.server)} / ${perCommand(cpuAfter.runtimes - cpuBefore.runtimes)} ms per command`,
      },
      { measure: "echo x: POST → first live event p50 / p99, idle (ms)", caisey: p50p99(firstEvent) },
    ];
  } finally {
    await caisey.stop();
  }
}

export default {
  name: "latency",
  about: "echo x POST → command.finished p50/p99 on a quiet server (BENCH_COMMANDS after 20 warm-up)",
  env: { BENCH_COMMANDS: String(P99_ECHOES_DEFAULT) },
  measure,
};

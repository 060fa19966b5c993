// Runtimes held online by one local server: BENCH_RUNTIMES lightweight fake runtimes that speak the real protocol
// (Ed25519 enrollment, the signed challenge, presence; bench/common.mjs), enrolled and connected BENCH_ENROLL_PARALLEL
// at a time, beside one real runtime whose `echo x` p99 is measured before they connect and while they are connected,
// once their Machines renew their presence leases (core's PRESENCE_RENEW_MS: the first renewal comes in the second
// half of the period after a connect). Held until every machine has renewed once: then every fake runtime's socket
// must still be open and the machine list must show every machine online.

import { echoLatencies, P99_ECHOES, P99_ECHOES_DEFAULT, startCaisey } from "../caisey.mjs";
import { fakeRuntime, percentile, processTree, rssKiB } from "../common.mjs";

const { PRESENCE_RENEW_MS } = await import("../../packages/core/src/presence.ts");

const RUNTIMES = Number(process.env.BENCH_RUNTIMES ?? 2000);
const PARALLEL = Number(process.env.BENCH_ENROLL_PARALLEL ?? 32);
/** Past the last connect's first renewal by this much: every machine has renewed its lease once. */
const HOLD_MARGIN_MS = 35_000;
/** Enrolling stops after this long; the row then says how many made it. */
const LIMIT_SECONDS = Number(process.env.BENCH_ONLINE_SECONDS ?? 900);

async function onlineCount(caisey) {
  const { machines } = await caisey.owner.json("/api/v1/machines");
  return machines.filter((m) => m.online).length;
}

/** Every machine shown online (the real one and the fakes), polled; false when not by `deadline`. */
async function allOnline(caisey, deadline) {
  for (;;) {
    if ((await onlineCount(caisey)) === RUNTIMES + 1) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function measure() {
  const caisey = await startCaisey(1);
  const fakes = [];
  try {
    const deadline = performance.now() + LIMIT_SECONDS * 1000;
    const sessionId = await caisey.openSession(caisey.machines[0].machineId);
    const before = await echoLatencies(caisey, sessionId, P99_ECHOES);

    const { id: clientId } = await caisey.owner.json("/api/v1/clients", { name: "Fleet", approvalPolicy: "never" });
    const { token } = await caisey.owner.json("/api/v1/enrollments", { clientId, uses: RUNTIMES });
    const enrollStart = performance.now();
    let firstConnectedAt = null;
    let next = 0;
    const failures = [];
    const cpuAtStart = caisey.cpu().server;
    const progress = setInterval(() => {
      const cpu = caisey.cpu().server - cpuAtStart;
      console.log(
        `  ${fakes.length} of ${RUNTIMES} enrolled and connected (${failures.length} failed), server CPU ${cpu.toFixed(1)} s`,
      );
    }, 15_000);
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < RUNTIMES && performance.now() < deadline) {
          const index = next++;
          try {
            fakes.push(await fakeRuntime(caisey.server.url, token, index));
            firstConnectedAt ??= performance.now();
          } catch (error) {
            failures.push(error.message);
          }
        }
      }),
    ).finally(() => clearInterval(progress));
    const enrollSeconds = (performance.now() - enrollStart) / 1000;
    const enrollCpu = caisey.cpu().server - cpuAtStart;
    const connectedAt = performance.now();
    const shownOnline = await allOnline(caisey, Math.min(deadline, performance.now() + 120_000));
    const workerd = processTree(caisey.server.proc.child.pid);
    const serverMiB = workerd.reduce((sum, pid) => sum + rssKiB(pid), 0) / 1024;

    // While the leases are being renewed (from half a period after the first connect), as it is from then on.
    const renewing = (firstConnectedAt ?? connectedAt) + PRESENCE_RENEW_MS / 2;
    await new Promise((r) => setTimeout(r, Math.max(0, renewing - performance.now())));
    const during = await echoLatencies(caisey, sessionId, P99_ECHOES);
    // Then nothing but presence until every machine has renewed once: what holding them online costs the server.
    const idleCpuBefore = caisey.cpu().server;
    const idleStart = performance.now();
    await new Promise((r) =>
      setTimeout(r, Math.max(30_000, connectedAt + PRESENCE_RENEW_MS + HOLD_MARGIN_MS - performance.now())),
    );
    const idleCpuPerSecond = (caisey.cpu().server - idleCpuBefore) / ((performance.now() - idleStart) / 1000);
    const dropped = fakes.filter((f) => !f.connected()).length;
    const heldOnline = await onlineCount(caisey);
    const ratio = percentile(during.finished, 99) / percentile(before.finished, 99);
    const held = failures.length === 0 && dropped === 0 && shownOnline && heldOnline === RUNTIMES + 1;
    return [
      {
        measure: `runtimes held online by one local server (fake runtimes on the real protocol, past a ${PRESENCE_RENEW_MS / 1000} s lease renewal)`,
        caisey: `${heldOnline - 1} of ${RUNTIMES}`,
        baseline: `${fakes.length} enrolled and connected in ${enrollSeconds.toFixed(1)} s (${(fakes.length / enrollSeconds).toFixed(1)}/s, ${PARALLEL} at a time); ${failures.length} failed${failures[0] ? ` (${failures[0].slice(0, 80)})` : ""}; ${dropped} dropped; server RSS ${serverMiB.toFixed(0)} MB`,
        target: `${RUNTIMES}, none dropped`,
        met: held ? "yes" : "no",
        cpu: `${((enrollCpu * 1000) / Math.max(1, fakes.length)).toFixed(1)} ms per enrollment + connect`,
      },
      {
        measure: `echo x p99 on a real runtime while ${RUNTIMES} fake runtimes are connected and renew their leases, ratio to before (ms, n=${during.finished.length})`,
        caisey: `${percentile(during.finished, 99).toFixed(1)}; ${ratio.toFixed(2)}×`,
        baseline: `before they connected ${percentile(before.finished, 99).toFixed(1)}`,
        cpu: `${(idleCpuPerSecond * 1000).toFixed(0)} ms per s holding them (nothing else running)`,
        target: "within 20% (≤ 1.2×)",
        met: ratio <= 1.2 ? "yes" : "no",
      },
    ];
  } finally {
    for (let i = 0; i < fakes.length; i += 100) await Promise.all(fakes.slice(i, i + 100).map((f) => f.close()));
    await caisey.stop();
  }
}

export default {
  name: "online",
  about:
    "runtimes held online by one local server (fake runtimes on the real protocol), with a real runtime's echo x p99 before and while they are connected",
  env: { BENCH_RUNTIMES: "2000", BENCH_ENROLL_PARALLEL: "32", BENCH_COMMANDS: String(P99_ECHOES_DEFAULT) },
  measure,
};

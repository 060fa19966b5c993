// Throughput: BENCH_RUNTIMES_BUSY real runtimes with BENCH_SESSIONS sessions spread over them, each session sending
// `echo` of a token of its own back to back (the next once the last finished) for BENCH_THROUGHPUT_SECONDS; then every
// command is checked: finished with exit 0, its output byte for byte the line it echoed. Commands/s counts only
// commands sent in the window, until the last of them finished. Beside it, the floor: Node spawning the same shell with
// nothing else, whose CPU per command bounds what this machine's cores allow.

import { randomBytes } from "node:crypto";
import http from "node:http";
import { availableParallelism } from "node:os";
import { startCaisey, watchSession } from "../caisey.mjs";
import { spawnFloor } from "../floors.mjs";

const RUNTIMES = Number(process.env.BENCH_RUNTIMES_BUSY ?? 10);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20);
const SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 30);
const WARMUP = 3;

/**
 * POST a command through node:http on kept-alive sockets, one per session: this process shares the machine's 2 cores
 * with the server and the runtimes, and fetch (undici) cost it ~4 ms of CPU per command, a core at 150/s.
 */
function commandPoster(caisey) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SESSIONS });
  const { hostname, port } = new URL(caisey.server.url);
  const headers = { authorization: `Bearer ${caisey.owner.token}`, "content-type": "application/json" };
  const post = (sessionId, command) =>
    new Promise((resolve, reject) => {
      const path = `/api/v1/sessions/${sessionId}/commands`;
      const req = http.request({ agent, hostname, port, path, method: "POST", headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => {
          if (res.statusCode < 200 || res.statusCode > 299) reject(new Error(`${path} → ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text).commandId);
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(JSON.stringify({ command, shell: "bash" }));
    });
  return { post, close: () => agent.destroy() };
}

async function measure() {
  // The floor: Node spawning the same shell, nothing else. Its CPU bounds commands/s on this machine's cores.
  const spawning = spawnFloor();
  const spawnCpu = spawning.parentMs + spawning.childrenMs;
  const cores = availableParallelism();
  const caisey = await startCaisey(RUNTIMES);
  const watches = [];
  const poster = commandPoster(caisey);
  try {
    const sessions = [];
    for (let i = 0; i < SESSIONS; i++) {
      const sessionId = await caisey.openSession(caisey.machines[i % RUNTIMES].machineId);
      const watch = await watchSession(caisey, sessionId);
      watches.push(watch);
      sessions.push({ sessionId, watch, sent: [] });
    }
    const run = async (s, token) => {
      const commandId = await poster.post(s.sessionId, `echo ${token}`);
      const { event, at } = await s.watch.finished(commandId);
      return { commandId, token, event, at };
    };
    // Warm-up, uncounted: every session's first commands (the runtime's first shell, the Session's first pages).
    await Promise.all(
      sessions.map(async (s) => {
        for (let i = 0; i < WARMUP; i++) await run(s, `warm-${i}`);
      }),
    );

    const cpuBefore = caisey.cpu();
    const clientBefore = process.cpuUsage();
    const start = performance.now();
    const end = start + SECONDS * 1000;
    await Promise.all(
      sessions.map(async (s, index) => {
        while (performance.now() < end) s.sent.push(await run(s, `s${index}-${randomBytes(12).toString("hex")}`));
      }),
    );
    const commands = sessions.flatMap((s) => s.sent.map((c) => ({ ...c, sessionId: s.sessionId })));
    const lastFinished = Math.max(...commands.map((c) => c.at));
    const cpuAfter = caisey.cpu();
    // This process (the API calls and live sockets of every session) shares the machine's cores with the rest.
    const client = process.cpuUsage(clientBefore);
    const perSecond = commands.length / ((lastFinished - start) / 1000);

    // No loss: every command finished well, and its recorded output is exactly the line it echoed.
    let wrong = 0;
    for (const c of commands) {
      const res = await caisey.owner.get(`/api/v1/sessions/${c.sessionId}/commands/${c.commandId}/output`);
      const bytes = Buffer.from(await res.arrayBuffer());
      if (
        c.event.data.state !== "finished" ||
        c.event.data.exitCode !== 0 ||
        !bytes.equals(Buffer.from(`${c.token}\n`))
      )
        wrong++;
    }
    const perCommand = (s) => ((s * 1000) / commands.length).toFixed(1);
    return [
      {
        measure: `commands/s across ${RUNTIMES} runtimes × ${SESSIONS} sessions, no loss (${SECONDS} s, one command at a time per session)`,
        caisey: perSecond.toFixed(1),
        baseline:
          `${commands.length} commands, ${wrong} lost or wrong (outputs checked byte for byte); Node spawning bash -c 'echo x' ` +
          `alone costs ${spawning.parentMs.toFixed(1)} + ${spawning.childrenMs.toFixed(1)} ms CPU (parent + shell), ` +
          `at most ${((cores * 1000) / spawnCpu).toFixed(0)} commands/s on ${cores} cores with nothing else`,
        target: "≥ 150, none lost",
        met: perSecond >= 150 && wrong === 0 ? "yes" : "no",
        cpu:
          `${perCommand(cpuAfter.server - cpuBefore.server)} / ${perCommand(cpuAfter.runtimes - cpuBefore.runtimes)} ms per command ` +
          `(and the commands' shells ${perCommand(cpuAfter.shells - cpuBefore.shells)}, this load generator ${perCommand((client.user + client.system) / 1e6)})`,
      },
    ];
  } finally {
    for (const watch of watches) watch.close();
    poster.close();
    await caisey.stop();
  }
}

export default {
  name: "throughput",
  about: "commands/s across 10 runtimes × 20 sessions, every command finished and its output checked byte for byte",
  env: { BENCH_RUNTIMES_BUSY: "10", BENCH_SESSIONS: "20", BENCH_THROUGHPUT_SECONDS: "30" },
  measure,
};

// What the rows of `npm run bench` share: a real server (`npm start`'s path) with real runtimes enrolled and online,
// sessions on them, commands sent through the API and seen finish on a live socket, and the CPU the server and the
// runtimes used, read from /proc.

import WebSocket from "ws";
import { cpuSeconds, percentile, processTree, waitOnline } from "./common.mjs";

const { startServer, setupOrganization, enrollRuntime } = await import("../test/helpers.ts");

/**
 * How many `echo x` a row times for a p99 (BENCH_COMMANDS overrides): 1000, so the p99 is the tenth-slowest. Of 200
 * it was the second-slowest and one stall of the host decided it: the same code's idle p99 measured 55–91 ms across
 * runs, and its ratio with 2000 runtimes online 0.70–1.86×.
 */
export const P99_ECHOES_DEFAULT = 1000;
export const P99_ECHOES = Number(process.env.BENCH_COMMANDS ?? P99_ECHOES_DEFAULT);

/** The states after which a command does nothing more. */
export const SETTLED = ["finished", "failed", "interrupted", "timed_out", "cancelled"];

/**
 * A server with `runtimes` real runtimes, each enrolled for a client of its own whose policy needs no approval, all
 * online. `stop()` stops every process (call it in a finally).
 */
export async function startCaisey(runtimes = 1) {
  const server = await startServer();
  const machines = [];
  const stop = async () => {
    await Promise.all(machines.map((m) => m.proc.stop()));
    await server.stop();
  };
  try {
    const owner = await setupOrganization(server.url);
    for (let i = 0; i < runtimes; i++) {
      const runtime = await enrollRuntime(server.url, owner, `Client ${i + 1}`, "never");
      machines.push({ ...runtime, proc: runtime.start() });
    }
    for (const m of machines) await waitOnline(owner, m.machineId);
    const serverPids = processTree(server.proc.child.pid);
    return {
      server,
      owner,
      machines,
      stop,
      /**
       * CPU seconds used so far: the server's processes (Miniflare + workerd), the runtimes', and the shells the
       * runtimes ran (counted once they ended).
       */
      cpu: () => ({
        server: serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
        runtimes: machines.reduce((sum, m) => sum + cpuSeconds(m.proc.child.pid), 0),
        shells: machines.reduce((sum, m) => sum + cpuSeconds(m.proc.child.pid, { children: true }), 0),
      }),
      openSession: async (machineId) => (await owner.json("/api/v1/sessions", { machineId })).id,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A live socket on a session: every command.finished event is kept, so a command's end is found whether it arrives
 * before or after the POST that asked for it has answered.
 */
export async function watchSession(caisey, sessionId) {
  const { session } = await caisey.owner.json(`/api/v1/sessions/${sessionId}`);
  const url = `${caisey.server.url.replace("http", "ws")}/api/v1/sessions/${sessionId}/live?after=${session.head.seq}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${caisey.owner.token}` } });
  const finished = new Map();
  const waiting = new Map();
  let firstEventAt = null;
  ws.on("message", (message) => {
    const at = performance.now();
    firstEventAt ??= at;
    const event = JSON.parse(message.toString());
    if (event.type !== "command.finished") return;
    finished.set(event.data.commandId, { event, at });
    waiting.get(event.data.commandId)?.();
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    /** When the command's command.finished arrived (performance.now()), and the event; rejects after `timeoutMs`. */
    finished: (commandId, timeoutMs = 120_000) =>
      finished.get(commandId) ??
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${commandId} not finished in ${timeoutMs} ms`)), timeoutMs);
        waiting.set(commandId, () => {
          clearTimeout(timer);
          waiting.delete(commandId);
          resolve(finished.get(commandId));
        });
      }),
    /** When the first event of any kind since the last call arrived (performance.now()), or null. */
    takeFirstEventAt: () => {
      const at = firstEventAt;
      firstEventAt = null;
      return at;
    },
    close: () => ws.close(),
  };
}

/** POST a command to a session; its id. */
export async function requestCommand(caisey, sessionId, command) {
  return (await caisey.owner.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" })).commandId;
}

/**
 * `echo x` POST → command.finished on the live socket, `count` times one after another after `warmup` uncounted ones
 * (JIT, caches, first SQLite pages): the latencies in ms, and POST → first live event of each. No new command after
 * `until` (performance.now()), so a slow server yields fewer.
 */
export async function echoLatencies(caisey, sessionId, count, { warmup = 20, until = Number.POSITIVE_INFINITY } = {}) {
  const watch = await watchSession(caisey, sessionId);
  const finished = [];
  const firstEvent = [];
  try {
    for (let i = -warmup; i < count && performance.now() < until; i++) {
      watch.takeFirstEventAt(); // the previous command's stragglers are not this one's
      const start = performance.now();
      const commandId = await requestCommand(caisey, sessionId, "echo x");
      const { event, at } = await watch.finished(commandId);
      if (event.data.exitCode !== 0) throw new Error(`echo x ended with ${JSON.stringify(event.data)}`);
      const first = watch.takeFirstEventAt() ?? at;
      if (i < 0) continue;
      finished.push(at - start);
      firstEvent.push(first - start);
    }
  } finally {
    watch.close();
  }
  return { finished, firstEvent };
}

/**
 * A command's state once it has settled, polled every `everyMs` (no live socket: a big output would flow through it).
 * Thousands of polls on kept-alive connections meet the server closing an idle one just as a request goes out
 * ("fetch failed: other side closed").
 */
export async function settled(caisey, sessionId, commandId, everyMs = 20) {
  for (;;) {
    const { command } = await getAgain(caisey, `/api/v1/sessions/${sessionId}/commands/${commandId}`);
    if (SETTLED.includes(command.state)) return command;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A GET (safe to repeat) made again, a few times at most, when its kept-alive connection turns out closed. Also made
 * before a POST that follows a long pause, so the POST does not go out on a connection the server has since closed.
 */
export async function getAgain(caisey, path) {
  for (let lost = 0; ; lost++) {
    try {
      return await caisey.owner.json(path);
    } catch (error) {
      if (!(error instanceof TypeError) || lost >= 5) throw error;
    }
  }
}

/** "p50 / p99" of a list of ms. */
export function p50p99(values) {
  return `${percentile(values, 50).toFixed(1)} / ${percentile(values, 99).toFixed(1)}`;
}

// Server memory per runtime socket, and what of it stays after the sockets close: Caisey's workerd beside a bare
// workerd in the same run, so workerd's own cost per Durable Object and socket is told apart from Caisey's.
//
// Caisey: the real server (`npm start`'s path), SOCKETS fake runtimes enrolled and connected on the real protocol
// (bench/common.mjs), all closed cleanly, then every machine shown offline by GET /api/v1/machines.
// Bare: a Worker of a few lines whose SQLite-backed Durable Object accepts a hibernatable WebSocket the way Machine does
// (challenge, hello, welcome, answered close), one object per socket, served by the same Miniflare/workerd.
//
// workerd (locally) evicts a Durable Object after 10 s without a request and drops it 70 s after its last client
// disconnected (workerd.capnp, `preventEviction`), so the RSS is read right after the close and again IDLE_SECONDS
// later. The figure is the workerd process's VmRSS (not Miniflare's Node process). Loopback only; bounded in time.
//
// Environment: BENCH_SOCKETS (default 600), BENCH_IDLE_SECONDS (default 80).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { miniflareOf } from "../scripts/worker.mjs";
import { benchOrganization, call, fakeRuntime, processTree, root, rssKiB } from "./common.mjs";

const { startServer, freePort, tempDir, removeDir } = await import("../test/helpers.ts");

const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 600);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 80);
const BATCH = 20;

/** The workerd process among a process and its descendants. */
function workerdOf(pid) {
  const found = processTree(pid).find((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "workerd";
    } catch {
      return false;
    }
  });
  if (!found) throw new Error(`no workerd under process ${pid}`);
  return found;
}

const mib = (kib) => kib / 1024;

// The bare baseline: the socket handling of Machine (objects/machine.ts) without anything Caisey does with it.
const BARE_WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Bare extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS identity (id TEXT PRIMARY KEY)");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"t":"ping"}', '{"t":"pong"}'));
  }
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, ["runtime"]);
    server.serializeAttachment({ state: "challenged", at: Date.now() });
    server.send(JSON.stringify({ t: "challenge", nonce: crypto.randomUUID() }));
    return new Response(null, { status: 101, webSocket: client });
  }
  async webSocketMessage(ws, message) {
    ws.serializeAttachment({ state: "authenticated", at: Date.now() });
    ws.send(JSON.stringify({ t: "welcome" }));
  }
  async webSocketClose(ws, code) {
    try { ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed"); } catch {}
  }
}
export default {
  fetch(request, env) {
    const id = new URL(request.url).searchParams.get("id");
    return env.BARE.get(env.BARE.idFromName(id)).fetch(request);
  },
};`;

async function bareSocket(url, index) {
  const ws = new WebSocket(`${url.replace("http", "ws")}/connect?id=socket-${index}`);
  await new Promise((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      if (frame.t === "challenge") ws.send(JSON.stringify({ t: "hello" }));
      else if (frame.t === "welcome") resolve();
    });
  });
  return {
    index,
    closeCleanly: () =>
      new Promise((resolve) => {
        ws.once("close", resolve);
        ws.close(1000, "bench done");
      }),
  };
}

async function inBatches(count, open) {
  const sockets = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(open(j));
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/**
 * RSS before, with every socket open, and right after all closed; then `rest()`: IDLE_SECONDS after the close, and
 * after every object was connected to and closed once more (a leak per connection grows here; memory workerd keeps
 * for reuse does not).
 */
async function phases(pid, open, reopen, closedEverywhere) {
  const before = rssKiB(pid);
  const sockets = await inBatches(SOCKETS, open);
  const opened = rssKiB(pid);
  await Promise.all(sockets.map((s) => s.closeCleanly()));
  await closedEverywhere();
  const closedAt = performance.now();
  const closed = rssKiB(pid);
  return {
    before,
    opened,
    closed,
    rest: async () => {
      await new Promise((r) => setTimeout(r, Math.max(0, closedAt + IDLE_SECONDS * 1000 - performance.now())));
      const idle = rssKiB(pid);
      const again = await inBatches(SOCKETS, (i) => reopen(sockets[i]));
      await Promise.all(again.map((s) => s.closeCleanly()));
      await closedEverywhere();
      return { idle, again: rssKiB(pid) };
    },
  };
}

async function bare() {
  const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await miniflareOf(root);
  const data = tempDir("bench-bare");
  const port = await freePort();
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      log: new Log(LogLevel.WARN),
      resourcePersistencePath: join(data, "v3"),
      workers: [
        {
          name: "bare",
          modules: true,
          script: BARE_WORKER,
          compatibilityDate: "2026-11-01",
          durableObjects: { BARE: { className: "Bare", useSQLite: true } },
          unsafeDirectSockets: [{ host: "127.0.0.1", port }],
        },
      ],
    }),
  );
  await miniflare.ready;
  const url = `http://127.0.0.1:${port}`;
  const pid = workerdOf(process.pid);
  // One socket first, so the figures are of sockets, not of the first request's one-time cost.
  await (await bareSocket(url, -1)).closeCleanly();
  const result = await phases(
    pid,
    (i) => bareSocket(url, i),
    (socket) => bareSocket(url, socket.index),
    async () => {},
  );
  return {
    ...result,
    rest: async () => {
      const rest = await result.rest();
      await miniflare.dispose();
      removeDir(data);
      return rest;
    },
  };
}

async function caisey() {
  const server = await startServer();
  const pid = workerdOf(server.proc.child.pid);
  const { token, enrollToken } = await benchOrganization(server.url, SOCKETS + 1);
  await (await fakeRuntime(server.url, enrollToken, -1)).closeCleanly();
  const result = await phases(
    pid,
    (i) => fakeRuntime(server.url, enrollToken, i),
    (runtime) => runtime.reconnect(),
    async () => {
      for (;;) {
        const { machines } = await call(server.url, "/api/v1/machines", token);
        if (machines.every((m) => !m.online)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  );
  return {
    ...result,
    rest: async () => {
      const rest = await result.rest();
      await server.stop();
      return rest;
    },
  };
}

/**
 * Both measured in one run: the bare baseline first, then Caisey while the bare objects sit idle, then the idle and
 * second-connection figures of both. Each figure is MiB per socket above the RSS before the sockets.
 */
export async function socketMemory() {
  const bare_ = await bare();
  const bareRest = bare_.rest();
  const caisey_ = await caisey();
  const [bareLater, caiseyLater] = await Promise.all([bareRest, caisey_.rest()]);
  const figures = (r, later) => {
    const perSocket = (kib) => mib(kib - r.before) / SOCKETS;
    return {
      baseMiB: mib(r.before),
      opened: perSocket(r.opened),
      closed: perSocket(r.closed),
      idle: perSocket(later.idle),
      again: perSocket(later.again),
    };
  };
  return {
    sockets: SOCKETS,
    idleSeconds: IDLE_SECONDS,
    caisey: figures(caisey_, caiseyLater),
    bare: figures(bare_, bareLater),
  };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  console.log(JSON.stringify(await socketMemory(), null, 2));
}

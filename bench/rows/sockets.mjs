// Server memory per runtime socket beside a bare workerd Durable Object accepting sockets the same way
// (bench/memory.mjs, on a fresh server).

import { socketMemory } from "../memory.mjs";

async function measure() {
  const sockets = await socketMemory();
  const perSocket = (f) => [f.opened, f.closed, f.idle, f.again].map((mb) => mb.toFixed(2)).join(" / ");
  return [
    {
      measure: `workerd RSS per runtime socket (MB): ${sockets.sockets} open / all closed / ${sockets.idleSeconds} s idle / after a 2nd connect+close`,
      caisey: perSocket(sockets.caisey),
      baseline: `bare workerd DO ${perSocket(sockets.bare)}`,
    },
  ];
}

export default {
  name: "sockets",
  about: "workerd RSS per runtime socket: open, closed, idle past eviction, connected again; beside a bare workerd DO",
  env: { BENCH_SOCKETS: "600", BENCH_IDLE_SECONDS: "80" },
  measure,
};

#!/usr/bin/env node
// `npm run bench:api`: API requests per second with 200 machines online. 200 simulated runtimes (real Ed25519 keys,
// the real enrollment and challenge) stay connected, so their Machine objects report presence every 30 s, while
// BENCH_API_CONCURRENCY clients read what the console reads (machine list, machine card, session list, pending
// approvals) for BENCH_API_SECONDS. Run it in another checkout of the repository for a before/after pair.
//
// Environment: BENCH_MACHINES (default 200), BENCH_API_SECONDS (default 30, one heartbeat round),
// BENCH_API_CONCURRENCY (default 16).

import { generateKeyPairSync, sign } from "node:crypto";
import WebSocket from "ws";
import { appendResults, markdownTable, percentile } from "./common.mjs";

const MACHINES = Number(process.env.BENCH_MACHINES ?? 200);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_API_CONCURRENCY ?? 16);

const { startServer, setupOrganization, waitFor } = await import("../test/helpers.ts");

const server = await startServer();
const owner = await setupOrganization(server.url);
const { id: clientId } = await owner.json("/api/v1/clients", { name: "Bench Dental" });
const { token } = await owner.json("/api/v1/enrollments", { clientId, uses: MACHINES, ttlSeconds: 3600 });

/** One simulated runtime: enrolled with its own key, connected, and proven by signing the challenge. */
async function onlineMachine(i) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "jwk" }).x;
  const facts = {
    hostname: `BENCH-${String(i).padStart(3, "0")}`,
    os: "linux",
    osVersion: "6.1",
    arch: "x64",
    runtimeVersion: "0.1.0",
  };
  const res = await fetch(`${server.url}/api/v1/runtime/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, publicKey: raw, facts }),
  });
  if (res.status !== 201) throw new Error(`enroll failed: ${res.status} ${await res.text()}`);
  const { machineId } = await res.json();
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/runtime/connect?machineId=${machineId}`);
  await new Promise((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", (m) => {
      const frame = JSON.parse(m.toString());
      if (frame.t === "challenge") {
        const signature = sign(null, Buffer.from(`caisey-runtime-auth-v1\n${machineId}\n${frame.nonce}`), privateKey);
        ws.send(JSON.stringify({ t: "hello", v: 1, machineId, signature: signature.toString("base64url"), facts }));
      } else if (frame.t === "welcome") resolve();
    });
  });
  return { machineId, ws };
}

const machines = [];
for (let i = 0; i < MACHINES; i += 20)
  machines.push(
    ...(await Promise.all(Array.from({ length: Math.min(20, MACHINES - i) }, (_, j) => onlineMachine(i + j)))),
  );
await waitFor(
  async () => (await owner.json("/api/v1/machines")).machines.filter((m) => m.online).length === MACHINES,
  `${MACHINES} machines online`,
  60_000,
  200,
);

const reads = [
  "/api/v1/machines",
  `/api/v1/machines/${machines[0].machineId}`,
  "/api/v1/sessions",
  "/api/v1/approvals?state=pending",
];
const latencies = [];
let failures = 0;
const deadline = performance.now() + SECONDS * 1000;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let n = worker; performance.now() < deadline; n++) {
      const start = performance.now();
      const res = await fetch(`${server.url}${reads[n % reads.length]}`, {
        headers: { authorization: `Bearer ${owner.token}` },
      });
      await res.arrayBuffer();
      if (res.status !== 200) failures++;
      latencies.push(performance.now() - start);
    }
  }),
);
const online = (await owner.json("/api/v1/machines")).machines.filter((m) => m.online).length;
for (const m of machines) m.ws.close();
await server.stop();
if (failures > 0) throw new Error(`${failures} requests failed`);

const rows = [
  [
    `API requests/s, ${MACHINES} machines online (${CONCURRENCY} clients, ${SECONDS} s; p50 / p99 ms)`,
    `${(latencies.length / SECONDS).toFixed(0)} (${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)})`,
    `${online} still online at the end`,
  ],
];
const header = ["measure", "Caisey", "check"];
const table = markdownTable(header, rows);
console.log(table);
appendResults(process.env.BENCH_API_TITLE ?? "API with machines online", table);

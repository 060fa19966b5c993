// A sign-in flood beside a quiet server, in the same run: the latency of an unrelated request (the machine list) while
// concurrent logins with made-up emails and wrong passwords arrive, against the same request with nothing else going
// on. Password hashing (scrypt, ~0.1–0.2 s a hash on the Worker's one thread) must not make everyone else wait.

import { percentile } from "./common.mjs";

const QUIET_REQUESTS = 100;

async function timed(owner) {
  const start = performance.now();
  const res = await owner.get("/api/v1/machines");
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`unrelated request answered ${res.status}`);
  return performance.now() - start;
}

/** Quiet and flooded p99 of the unrelated request (ms), and how the flood's logins were answered. */
export async function loginFlood(url, owner, logins = 60) {
  const quiet = [];
  for (let i = 0; i < QUIET_REQUESTS; i++) quiet.push(await timed(owner));
  const answers = new Map();
  const floodStart = performance.now();
  let flooding = true;
  const flood = Promise.all(
    Array.from({ length: logins }, async (_, i) => {
      const res = await fetch(`${url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `flood-${i}-${Date.now()}@nowhere.test`, password: "wrong password!" }),
      });
      const key = `${res.status} ${(await res.json()).error?.code ?? ""}`.trim();
      answers.set(key, (answers.get(key) ?? 0) + 1);
    }),
  ).finally(() => {
    flooding = false;
  });
  const flooded = [];
  while (flooding) flooded.push(await timed(owner));
  await flood;
  return {
    quietP99: percentile(quiet, 99),
    floodedP99: percentile(flooded, 99),
    flooded: flooded.length,
    floodSeconds: (performance.now() - floodStart) / 1000,
    answers: [...answers].map(([k, n]) => `${n}× ${k}`).join(", "),
  };
}

// Sign-in flood: an unrelated request's p99 while concurrent failed logins arrive, beside its quiet p99
// (bench/login-flood.mjs), on a server of its own.

import { startCaisey } from "../caisey.mjs";
import { loginFlood } from "../login-flood.mjs";

const LOGINS = 60;

async function measure() {
  const caisey = await startCaisey(0);
  try {
    const flood = await loginFlood(caisey.server.url, caisey.owner, LOGINS);
    return [
      {
        measure: `unrelated request (GET /machines) p99, during ${LOGINS} concurrent failed logins (ms)`,
        caisey: flood.floodedP99.toFixed(1),
        baseline: `quiet ${flood.quietP99.toFixed(1)}; the logins: ${flood.answers} in ${flood.floodSeconds.toFixed(1)} s`,
        target: "≤ one scrypt hash over quiet",
      },
    ];
  } finally {
    await caisey.stop();
  }
}

export default {
  name: "sign-in",
  about: `an unrelated request's p99 during ${LOGINS} concurrent failed logins, beside its quiet p99`,
  measure,
};

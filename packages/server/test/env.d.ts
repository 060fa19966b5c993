// The bindings the tests reach through `env` from cloudflare:test are the Worker's own.
import type { Env as WorkerEnv } from "../src/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}

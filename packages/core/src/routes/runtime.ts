// The endpoint runtime's two doors: enrollment (spends an enrollment token, registers the public key) and the
// outbound WebSocket, where the Machine object checks the runtime's signature over a fresh challenge.

import { answer, defineRoute } from "./define.ts";

/** signingKey: the tenant's public key; the runtime pins it and runs only dispatches it signed. */
export const enrollRuntime = defineRoute({
  method: "post",
  path: "/api/v1/runtime/enroll",
  access: "public",
  body: "RuntimeEnrollBody",
  answer: answer<{ machineId: string; tenantId: string; signingKey: string }>(),
});

export const connectRuntime = defineRoute({
  method: "get",
  path: "/api/v1/runtime/connect",
  access: "public",
  websocket: true,
  query: "ConnectQuery",
  answer: answer<void>(),
});

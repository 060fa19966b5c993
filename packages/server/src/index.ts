// The Worker: routes, authentication and validation at the edge; state lives in the Durable Objects it exports.

import { Hono } from "hono";
import type { AppEnv } from "./auth.ts";
import { errorResponse, HttpError } from "./http.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { clientRoutes } from "./routes/clients.ts";
import { downloadRoutes } from "./routes/downloads.ts";
import { evidenceRoutes } from "./routes/evidence.ts";
import { logRoutes } from "./routes/log.ts";
import { machineRoutes } from "./routes/machines.ts";
import { peopleRoutes } from "./routes/people.ts";
import { reviewRoutes } from "./routes/review.ts";
import { rollbackRoutes } from "./routes/rollbacks.ts";
import { runtimeRoutes } from "./routes/runtime.ts";
import { searchRoutes } from "./routes/search.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { verificationRoutes } from "./routes/verification.ts";

export { Directory } from "./objects/directory.ts";
export { Fleet } from "./objects/fleet.ts";
export { Machine } from "./objects/machine.ts";
export { SearchIndex } from "./objects/search-index.ts";
export { Session } from "./objects/session/index.ts";
export { Tenant } from "./objects/tenant.ts";
export { TransparencyLog } from "./objects/transparency-log.ts";

export const app = new Hono<AppEnv>();

peopleRoutes(app);
clientRoutes(app);
machineRoutes(app);
sessionRoutes(app);
runtimeRoutes(app);
searchRoutes(app);
approvalRoutes(app);
verificationRoutes(app);
downloadRoutes(app);
logRoutes(app);
evidenceRoutes(app);
rollbackRoutes(app);
reviewRoutes(app);

app.notFound((c) => errorResponse(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

app.onError((error) => {
  if (error instanceof HttpError) return errorResponse(error.status, error.code, error.message, error.headers);
  console.error("unhandled error", error);
  return errorResponse(500, "internal", "the server failed to handle this request");
});

export default app;

// The endpoint runtime's two doors: enrollment (spends an enrollment token, registers the public key) and the
// outbound WebSocket, where the Machine object checks the runtime's signature over a fresh challenge.

import { idPattern, newId, RuntimeEnrollBody } from "@caisey/core";
import type { Hono } from "hono";
import { type AppEnv, clientAddress } from "../auth.ts";
import { machine, tenant } from "../env.ts";
import { HttpError, readJson, unwrap } from "../http.ts";
import { parseToken } from "../tokens.ts";
import { route } from "./table.ts";

export function runtimeRoutes(app: Hono<AppEnv>): void {
  route(app, "post", "/api/v1/runtime/enroll", "public", async (c) => {
    const body = await readJson(c, RuntimeEnrollBody);
    const parsed = parseToken(body.token, "cse");
    if (!parsed) throw new HttpError(401, "invalid_enrollment_token", "enrollment token is not valid");
    const machineId = newId("mch");
    const { clientId, signingKey } = unwrap(
      await tenant(c.env, parsed.tenantId).redeemEnrollment({
        tokenHash: parsed.hash,
        machineId,
        publicKey: body.publicKey,
        facts: body.facts,
        address: clientAddress(c),
      }),
    );
    await machine(c.env, machineId).register({
      machineId,
      tenantId: parsed.tenantId,
      clientId,
      publicKey: body.publicKey,
    });
    // signingKey: the tenant's public key; the runtime pins it and runs only dispatches it signed.
    return c.json({ machineId, tenantId: parsed.tenantId, signingKey }, 201);
  });

  route(app, "get", "/api/v1/runtime/connect", "public", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
      throw new HttpError(426, "upgrade_required", "connect with a WebSocket");
    const machineId = c.req.query("machineId") ?? "";
    if (!idPattern("mch").test(machineId)) throw new HttpError(404, "unknown_machine", "machine is not enrolled");
    return machine(c.env, machineId).fetch(
      new Request("https://machine/connect", { headers: { upgrade: "websocket" } }),
    );
  });
}

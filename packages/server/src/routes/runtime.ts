// The endpoint runtime's two doors: enrollment (spends an enrollment token, registers the public key) and the
// outbound WebSocket, where the Machine object checks the runtime's signature over a fresh challenge.

import { idPattern, newId } from "@caisey/core";
import { connectRuntime, enrollRuntime } from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, clientAddress } from "../auth.ts";
import { machine, tenant } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import { parseToken } from "../tokens.ts";
import { route } from "./table.ts";

export function runtimeRoutes(app: Hono<AppEnv>): void {
  route(app, enrollRuntime, async (c, { body }) => {
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

  // A malformed machine id gets the runtime protocol's answer for a machine that is not enrolled.
  route(app, connectRuntime, async (c, { query }) => {
    const machineId = query.machineId ?? "";
    if (!idPattern("mch").test(machineId)) throw new HttpError(404, "unknown_machine", "machine is not enrolled");
    return machine(c.env, machineId).fetch(
      new Request("https://machine/connect", { headers: { upgrade: "websocket" } }),
    );
  });
}

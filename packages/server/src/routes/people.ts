// First-run setup, sign-in and who-am-I.

import { LoginBody, newId, SetupBody } from "@caisey/core";
import type { Hono } from "hono";
import type { AppEnv } from "../auth.ts";
import { cookieHeader } from "../auth.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, sha256Hex, verifyPassword } from "../crypto.ts";
import { directory, tenant } from "../env.ts";
import { HttpError, readJson, unwrap } from "../http.ts";
import { EVERYONE, route } from "./table.ts";

const COOKIE_MAX_AGE = 7 * 24 * 3600;

export function peopleRoutes(app: Hono<AppEnv>): void {
  route(app, "get", "/api/v1/setup", "public", async (c) =>
    c.json({ setupRequired: await directory(c.env).setupRequired() }),
  );

  route(app, "post", "/api/v1/setup", "public", async (c) => {
    const body = await readJson(c, SetupBody);
    const dir = directory(c.env);
    if (!(await dir.setupRequired()))
      throw new HttpError(409, "already_set_up", "this server already has an organization; sign in instead");
    const passwordHash = await hashPassword(body.password);
    const tenantId = newId("ten");
    const userId = newId("usr");
    unwrap(await dir.registerTenant(tenantId, body.organization, body.email, "setup"));
    const init = await tenant(c.env, tenantId).init({
      tenantId,
      organization: body.organization,
      owner: { id: userId, name: body.name, email: body.email, passwordHash },
    });
    if (!init.ok) {
      await dir.unregisterTenant(tenantId);
      unwrap(init);
    }
    const { token } = unwrap(init);
    c.header("set-cookie", cookieHeader(token, new URL(c.req.url).protocol === "https:", COOKIE_MAX_AGE));
    return c.json({ tenantId, userId, token }, 201);
  });

  route(app, "post", "/api/v1/auth/login", "public", async (c) => {
    const body = await readJson(c, LoginBody);
    const tenantId = await directory(c.env).tenantForEmail(body.email);
    const creds = tenantId ? await tenant(c.env, tenantId).credentials(body.email) : null;
    // Hash even for unknown emails so response time does not reveal which accounts exist.
    const valid = await verifyPassword(body.password, creds?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!tenantId || !creds || !valid || creds.disabled)
      throw new HttpError(401, "invalid_credentials", "email or password is wrong");
    const t = tenant(c.env, tenantId);
    const { token } = await t.issueToken(creds.userId);
    const principal = await t.authenticate(sha256Hex(token));
    if (!principal) throw new HttpError(401, "invalid_credentials", "email or password is wrong");
    c.header("set-cookie", cookieHeader(token, new URL(c.req.url).protocol === "https:", COOKIE_MAX_AGE));
    return c.json({
      token,
      user: { id: principal.userId, role: principal.role, tenantId, name: principal.name, email: principal.email },
    });
  });

  route(app, "post", "/api/v1/auth/logout", EVERYONE, async (c) => {
    await tenant(c.env, c.var.principal.tenantId).revokeToken(c.var.principal.tokenHash);
    c.header("set-cookie", cookieHeader("", new URL(c.req.url).protocol === "https:", 0));
    return c.body(null, 204);
  });

  route(app, "get", "/api/v1/me", EVERYONE, async (c) => {
    const p = c.var.principal;
    const organization = await tenant(c.env, p.tenantId).organization();
    return c.json({
      user: { id: p.userId, name: p.name, email: p.email, role: p.role, tenantId: p.tenantId, clientId: p.clientId },
      organization,
    });
  });
}

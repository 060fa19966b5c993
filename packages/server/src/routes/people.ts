// Organizations, sign-in, people, API tokens and the audit log.

import { newId, type SetupBody, timeBound } from "@caisey/core";
import {
  addContact,
  addUser,
  auditLog,
  changePassword,
  changeSettings,
  createTenant,
  createToken,
  listContacts,
  listTokens,
  listUsers,
  me,
  organizationSettings,
  revokeToken,
  setUp,
  setupStatus,
  signIn,
  signOut,
  signOutEverywhere,
  updateUser,
} from "@caisey/core/routes";
import type { Context, Hono } from "hono";
import { type AppEnv, admitAttempt, attemptKeys, by, clientAddress, cookieHeader } from "../auth.ts";
import { DUMMY_PASSWORD_HASH, hashAhead, hashPassword, sha256Hex, verifyPassword } from "../crypto.ts";
import { directory, type Env, tenant } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import type { By } from "../objects/tenant.ts";
import { route } from "./table.ts";

const COOKIE_MAX_AGE = 7 * 24 * 3600;

const secure = (c: Context<AppEnv>) => new URL(c.req.url).protocol === "https:";

/** Create an organization with its owner: first-run setup, or an operator on a hosted deployment. */
async function createOrganization(env: Env, body: SetupBody, via: "setup" | "operator", address: string | null) {
  const dir = directory(env);
  const passwordHash = await hashPassword(body.password);
  const tenantId = newId("ten");
  const userId = newId("usr");
  unwrap(await dir.registerTenant(tenantId, body.organization, body.email, via));
  const byWhom: By = { actor: via === "setup" ? `user:${userId}` : "system", address };
  const init = await tenant(env, tenantId).init({
    tenantId,
    organization: body.organization,
    owner: { id: userId, name: body.name, email: body.email, passwordHash },
    by: byWhom,
  });
  if (!init.ok) {
    await dir.unregisterTenant(tenantId);
    unwrap(init);
  }
  return { tenantId, userId, token: unwrap(init).token };
}

/** A new person's email must be free across the deployment, since sign-in starts from the email alone. */
async function addPerson(
  c: Context<AppEnv>,
  input: {
    name: string;
    email: string;
    password: string;
    role: "owner" | "dispatcher" | "technician" | "contact";
    clientId: string | null;
  },
) {
  const p = c.var.principal;
  const passwordHash = await hashPassword(input.password);
  unwrap(await directory(c.env).claimEmail(input.email, p.tenantId));
  const id = newId("usr");
  const added = await tenant(c.env, p.tenantId).addPerson(
    { id, name: input.name, email: input.email, role: input.role, passwordHash, clientId: input.clientId },
    by(c),
  );
  if (!added.ok) await directory(c.env).releaseEmail(input.email, p.tenantId);
  return unwrap(added);
}

export function peopleRoutes(app: Hono<AppEnv>): void {
  route(app, setupStatus, async (c) => c.json({ setupRequired: await directory(c.env).setupRequired() }));

  route(app, setUp, async (c, { body }) => {
    if (!(await directory(c.env).setupRequired()))
      throw new HttpError(409, "already_set_up", "this server already has an organization; sign in instead");
    const created = await createOrganization(c.env, body, "setup", clientAddress(c));
    c.header("set-cookie", cookieHeader(created.token, secure(c), COOKIE_MAX_AGE));
    return c.json(created, 201);
  });

  // Hosted deployments: an operator holding CAISEY_OPERATOR_TOKEN (checked by the route's guard) creates further
  // organizations.
  route(app, createTenant, async (c, { body }) => {
    return c.json(await createOrganization(c.env, body, "operator", clientAddress(c)), 201);
  });

  route(app, signIn, async (c, { body }) => {
    // Counted from the start: other hashes rest for this one while its object calls are under way.
    return hashAhead(async () => {
      const dir = directory(c.env);
      const address = clientAddress(c);
      const keys = attemptKeys(c, "account", body.email);
      await admitAttempt(c.env, keys); // before any hashing: a slowed account costs no scrypt
      const tenantId = await dir.tenantForEmail(body.email);
      const t = tenantId ? tenant(c.env, tenantId) : null;
      const creds = t ? await t.credentials(body.email) : null;
      // Hash even for unknown emails so response time does not reveal which accounts exist.
      let valid: boolean;
      try {
        valid = await verifyPassword(body.password, creds?.passwordHash ?? DUMMY_PASSWORD_HASH);
      } catch (error) {
        await dir.attemptWithdrawn(keys); // no hashing capacity: this attempt was never checked
        throw error;
      }
      if (!t || !creds || !valid || creds.disabled) {
        const reason = !creds ? "unknown email" : creds.disabled ? "person disabled" : "wrong password";
        if (t)
          await t.recordSignIn(
            { actor: creds ? `user:${creds.userId}` : "system", address },
            creds?.userId ?? null,
            body.email,
            false,
            reason,
          );
        await dir.attemptFailed(keys);
        throw new HttpError(401, "invalid_credentials", "email or password is wrong");
      }
      await dir.attemptSucceeded(keys);
      const { token } = await t.issueToken(creds.userId, { kind: "console" });
      const principal = await t.authenticate(sha256Hex(token));
      if (!principal) throw new HttpError(401, "invalid_credentials", "email or password is wrong");
      await t.recordSignIn(
        { actor: `${principal.role === "contact" ? "contact" : "user"}:${principal.userId}`, address },
        principal.userId,
        body.email,
        true,
        null,
      );
      c.header("set-cookie", cookieHeader(token, secure(c), COOKIE_MAX_AGE));
      return c.json({
        token,
        user: {
          id: principal.userId,
          role: principal.role,
          tenantId,
          name: principal.name,
          email: principal.email,
          clientId: principal.clientId,
        },
      });
    });
  });

  route(app, signOut, async (c) => {
    await tenant(c.env, c.var.principal.tenantId).revokeToken(c.var.principal.tokenHash);
    c.header("set-cookie", cookieHeader("", secure(c), 0));
    return c.body(null, 204);
  });

  route(app, signOutEverywhere, async (c) => {
    const p = c.var.principal;
    await tenant(c.env, p.tenantId).revokeAllTokens(p.userId, null, by(c), "signed out everywhere");
    c.header("set-cookie", cookieHeader("", secure(c), 0));
    return c.body(null, 204);
  });

  route(app, changePassword, async (c, { body }) => {
    const p = c.var.principal;
    const t = tenant(c.env, p.tenantId);
    if (!(await verifyPassword(body.currentPassword, (await t.passwordHashOf(p.userId)) ?? DUMMY_PASSWORD_HASH))) {
      throw new HttpError(403, "wrong_password", "current password is wrong");
    }
    await t.setPassword(p.userId, await hashPassword(body.newPassword), p.tokenHash, by(c));
    return c.body(null, 204);
  });

  route(app, me, async (c) => {
    const p = c.var.principal;
    const t = tenant(c.env, p.tenantId);
    const [organization, { closePolicy }] = await Promise.all([t.organization(), t.settings()]);
    return c.json({
      user: { id: p.userId, name: p.name, email: p.email, role: p.role, tenantId: p.tenantId, clientId: p.clientId },
      // What closing a session does here: the console labels its close button by it.
      organization: organization && { ...organization, closePolicy },
    });
  });

  // ---- people

  route(app, listUsers, async (c) =>
    c.json({ users: await tenant(c.env, c.var.principal.tenantId).listPeople({ contacts: false }) }),
  );

  route(app, addUser, async (c, { body }) => {
    return c.json(await addPerson(c, { ...body, clientId: null }), 201);
  });

  route(app, updateUser, async (c, { params: { id }, body }) => {
    // The Tenant answers "not found" and refuses a contact becoming staff itself: one lookup, one place for the rule.
    return c.json(unwrap(await tenant(c.env, c.var.principal.tenantId).updatePerson(id, body, by(c))));
  });

  route(app, listContacts, async (c, { params: { id: clientId } }) => {
    const t = tenant(c.env, c.var.principal.tenantId);
    if (!(await t.listClients(clientId)).length) throw new HttpError(404, "not_found", "client not found");
    return c.json({ contacts: await t.listPeople({ contacts: true, clientId }) });
  });

  route(app, addContact, async (c, { params: { id: clientId }, body }) => {
    if (!(await tenant(c.env, c.var.principal.tenantId).listClients(clientId)).length)
      throw new HttpError(404, "not_found", "client not found");
    return c.json(await addPerson(c, { ...body, role: "contact", clientId }), 201);
  });

  // ---- API tokens

  route(app, listTokens, async (c) =>
    c.json({ tokens: await tenant(c.env, c.var.principal.tenantId).listTokens(c.var.principal) }),
  );

  route(app, createToken, async (c, { body }) => {
    const p = c.var.principal;
    return c.json(unwrap(await tenant(c.env, p.tenantId).createApiToken(p, body, by(c))), 201);
  });

  route(app, revokeToken, async (c, { params: { id } }) => {
    unwrap(await tenant(c.env, c.var.principal.tenantId).revokeTokenById(c.var.principal, id, by(c)));
    return c.body(null, 204);
  });

  // ---- organization settings

  route(app, organizationSettings, async (c) => c.json(await tenant(c.env, c.var.principal.tenantId).settings()));

  route(app, changeSettings, async (c, { body }) =>
    c.json(await tenant(c.env, c.var.principal.tenantId).changeSettings(body, by(c))),
  );

  // ---- audit log

  route(app, auditLog, async (c, { query: { before, limit, actor, action, from, to } }) => {
    const fromMs = timeBound(from, false);
    const toMs = timeBound(to, true);
    if (fromMs !== null && toMs !== null && fromMs >= toMs)
      throw new HttpError(422, "invalid_query", "from must be before to");
    return c.json(
      await tenant(c.env, c.var.principal.tenantId).listAudit({ before, limit, actor, action, fromMs, toMs }),
    );
  });
}

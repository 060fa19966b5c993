// Organizations, sign-in, people, API tokens and the audit log.

import type { Role } from "../api.ts";
import type { ApiToken, AuditEntry, Me, OrganizationSettings, Person } from "../views.ts";
import { answer, defineRoute, EVERYONE, OWNERS, STAFF } from "./define.ts";

/** What setup and the operator's new organization answer: the owner is signed in with `token`. */
type Organization = { tenantId: string; userId: string; token: string };

export const setupStatus = defineRoute({
  method: "get",
  path: "/api/v1/setup",
  access: "public",
  answer: answer<{ setupRequired: boolean }>(),
});

export const setUp = defineRoute({
  method: "post",
  path: "/api/v1/setup",
  access: "public",
  body: "SetupBody",
  answer: answer<Organization>(),
});

/** Hosted deployments: an operator holding CAISEY_OPERATOR_TOKEN creates further organizations. */
export const createTenant = defineRoute({
  method: "post",
  path: "/api/v1/tenants",
  access: "operator",
  body: "SetupBody",
  answer: answer<Organization>(),
});

export const signIn = defineRoute({
  method: "post",
  path: "/api/v1/auth/login",
  access: "public",
  body: "LoginBody",
  answer: answer<{ token: string; user: Me["user"] }>(),
});

export const signOut = defineRoute({
  method: "post",
  path: "/api/v1/auth/logout",
  access: EVERYONE,
  answer: answer<void>(),
});

export const signOutEverywhere = defineRoute({
  method: "post",
  path: "/api/v1/auth/logout-all",
  access: EVERYONE,
  answer: answer<void>(),
});

export const changePassword = defineRoute({
  method: "post",
  path: "/api/v1/auth/password",
  access: EVERYONE,
  body: "PasswordBody",
  answer: answer<void>(),
});

export const me = defineRoute({ method: "get", path: "/api/v1/me", access: EVERYONE, answer: answer<Me>() });

export const listUsers = defineRoute({
  method: "get",
  path: "/api/v1/users",
  access: STAFF,
  answer: answer<{ users: Person[] }>(),
});

export const addUser = defineRoute({
  method: "post",
  path: "/api/v1/users",
  access: OWNERS,
  body: "UserBody",
  answer: answer<{ id: string }>(),
});

export const updateUser = defineRoute({
  method: "post",
  path: "/api/v1/users/:id",
  access: OWNERS,
  params: { id: "usr" },
  body: "UserUpdateBody",
  answer: answer<{ id: string }>(),
});

export const listContacts = defineRoute({
  method: "get",
  path: "/api/v1/clients/:id/contacts",
  access: STAFF,
  params: { id: "cli" },
  answer: answer<{ contacts: Person[] }>(),
});

export const addContact = defineRoute({
  method: "post",
  path: "/api/v1/clients/:id/contacts",
  access: OWNERS,
  params: { id: "cli" },
  body: "ContactBody",
  answer: answer<{ id: string }>(),
});

export const listTokens = defineRoute({
  method: "get",
  path: "/api/v1/tokens",
  access: STAFF,
  answer: answer<{ tokens: ApiToken[] }>(),
});

export const createToken = defineRoute({
  method: "post",
  path: "/api/v1/tokens",
  access: STAFF,
  body: "TokenBody",
  answer: answer<{ id: string; token: string; role: Role; expiresAt: string }>(),
});

export const revokeToken = defineRoute({
  method: "post",
  path: "/api/v1/tokens/:id/revoke",
  access: STAFF,
  params: { id: "tok" },
  answer: answer<void>(),
});

export const organizationSettings = defineRoute({
  method: "get",
  path: "/api/v1/settings",
  access: OWNERS,
  answer: answer<OrganizationSettings>(),
});

/** Each field given is changed (and audited); the answer is every setting as it now stands. */
export const changeSettings = defineRoute({
  method: "put",
  path: "/api/v1/settings",
  access: OWNERS,
  body: "SettingsBody",
  answer: answer<OrganizationSettings>(),
});

export const auditLog = defineRoute({
  method: "get",
  path: "/api/v1/audit",
  access: OWNERS,
  query: "AuditQuery",
  answer: answer<{ entries: AuditEntry[]; next: number | null }>(),
});

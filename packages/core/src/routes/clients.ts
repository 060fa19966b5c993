// The MSP's clients (and their approval policy), and the enrollment tokens that attach machines to them.

import type { Client, Enrollment } from "../views.ts";
import { answer, defineRoute, EVERYONE, OWNERS, RUNNERS } from "./define.ts";

/** A contact sees only their own client. */
export const listClients = defineRoute({
  method: "get",
  path: "/api/v1/clients",
  access: EVERYONE,
  answer: answer<{ clients: Client[] }>(),
});

export const addClient = defineRoute({
  method: "post",
  path: "/api/v1/clients",
  access: OWNERS,
  body: "ClientBody",
  answer: answer<{ id: string }>(),
});

export const updateClient = defineRoute({
  method: "post",
  path: "/api/v1/clients/:id",
  access: OWNERS,
  params: { id: "cli" },
  body: "ClientUpdateBody",
  answer: answer<{ id: string }>(),
});

export const listEnrollments = defineRoute({
  method: "get",
  path: "/api/v1/enrollments",
  access: RUNNERS,
  answer: answer<{ enrollments: Enrollment[] }>(),
});

export const createEnrollment = defineRoute({
  method: "post",
  path: "/api/v1/enrollments",
  access: RUNNERS,
  body: "EnrollmentBody",
  answer: answer<{ id: string; token: string; expiresAt: string }>(),
});

export const revokeEnrollment = defineRoute({
  method: "post",
  path: "/api/v1/enrollments/:id/revoke",
  access: RUNNERS,
  params: { id: "enr" },
  answer: answer<void>(),
});

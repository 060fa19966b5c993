// The machine list, the machine card, and the owner's controls over a machine's identity.

import type { MachineCard, MachineSummary } from "../views.ts";
import { answer, defineRoute, EVERYONE, OWNERS } from "./define.ts";

export const listMachines = defineRoute({
  method: "get",
  path: "/api/v1/machines",
  access: EVERYONE,
  answer: answer<{ machines: MachineSummary[] }>(),
});

export const machineCard = defineRoute({
  method: "get",
  path: "/api/v1/machines/:id",
  access: EVERYONE,
  params: { id: "mch" },
  query: "MachineCardQuery",
  answer: answer<MachineCard>(),
});

/** Revoked: the runtime is disconnected now and refused from then on; its sessions and records stay. */
export const revokeMachine = defineRoute({
  method: "post",
  path: "/api/v1/machines/:id/revoke",
  access: OWNERS,
  params: { id: "mch" },
  answer: answer<void>(),
});

export const moveMachine = defineRoute({
  method: "post",
  path: "/api/v1/machines/:id/move",
  access: OWNERS,
  params: { id: "mch" },
  body: "MoveMachineBody",
  answer: answer<{ id: string; clientId: string }>(),
});

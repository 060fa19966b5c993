// The tenant's transparency log (DESIGN.md, Evidence): its public key, its latest checkpoint, consistency proofs
// between its trees, and a closed session's seal with its inclusion proof. Readable by everyone signed in to the
// tenant, its clients' contacts included: a contact verifies their own session's seal with the same key, and the key
// is public once published (in a bundle, on a share page).

import type { SealProof } from "../evidence/seal.ts";
import { answer, defineRoute, EVERYONE } from "./define.ts";

export const logKey = defineRoute({
  method: "get",
  path: "/api/v1/log/key",
  access: EVERYONE,
  answer: answer<{ origin: string; keyName: string; publicKey: string; vkey: string }>(),
});

/** The latest checkpoint, a C2SP signed note (text/plain). */
export const logCheckpoint = defineRoute({
  method: "get",
  path: "/api/v1/log/checkpoint",
  access: EVERYONE,
  answer: answer<void>(),
});

export const logConsistency = defineRoute({
  method: "get",
  path: "/api/v1/log/consistency",
  access: EVERYONE,
  query: "ConsistencyQuery",
  answer: answer<{ proof: string[] }>(),
});

export const sessionSeal = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/seal",
  access: EVERYONE,
  params: { id: "ses" },
  answer: answer<SealProof>(),
});

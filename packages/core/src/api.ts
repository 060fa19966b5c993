// Request bodies of the public HTTP contract (DESIGN.md), validated at the edge of each route.

import { z } from "zod";
import { APPROVAL_POLICIES } from "./approvals.ts";
import { LIMITS } from "./limits.ts";
import { MachineFacts } from "./protocol.ts";
import { SHELLS } from "./shells.ts";

const name = z.string().trim().min(1).max(200);
const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "must be an email address");
/** Long enough to resist guessing; bounded so hashing cost stays fixed. */
const password = z.string().min(10, "must be at least 10 characters").max(256);

export const SetupBody = z.object({ organization: name, name, email, password });
export type SetupBody = z.infer<typeof SetupBody>;

export const LoginBody = z.object({ email, password: z.string().min(1).max(256) });

export const STAFF_ROLES = ["owner", "dispatcher", "technician"] as const;
export const ROLES = [...STAFF_ROLES, "contact"] as const;
export type Role = (typeof ROLES)[number];

export const UserBody = z.object({ name, email, role: z.enum(STAFF_ROLES), password });

export const ClientBody = z.object({ name, approvalPolicy: z.enum(APPROVAL_POLICIES).default("changes") });
export const ClientUpdateBody = z
  .object({ name: name.optional(), approvalPolicy: z.enum(APPROVAL_POLICIES).optional() })
  .refine((b) => b.name !== undefined || b.approvalPolicy !== undefined, "nothing to change");

export const ContactBody = z.object({ name, email, password });

export const UserUpdateBody = z
  .object({ name: name.optional(), role: z.enum(STAFF_ROLES).optional(), disabled: z.boolean().optional() })
  .refine((b) => b.name !== undefined || b.role !== undefined || b.disabled !== undefined, "nothing to change");

export const PasswordBody = z.object({ currentPassword: z.string().min(1).max(256), newPassword: password });

export const TokenBody = z.object({
  name,
  /** At most the creator's own role; defaults to it. */
  role: z.enum(ROLES).optional(),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(365 * 24 * 3600)
    .default(90 * 24 * 3600),
});

export const MoveMachineBody = z.object({ clientId: z.string().regex(/^cli_[a-z2-7]{20}$/) });

export const EnrollmentBody = z.object({
  clientId: z.string().regex(/^cli_[a-z2-7]{20}$/),
  uses: z.number().int().min(1).max(10_000).default(1),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
});

export const RuntimeEnrollBody = z.object({
  token: z.string().min(1).max(200),
  /** Raw 32-byte Ed25519 public key, base64url. */
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  facts: MachineFacts,
});

export const SessionBody = z.object({
  machineId: z.string().regex(/^mch_[a-z2-7]{20}$/),
  ticket: z.string().trim().max(200).optional(),
});

export const CommandBody = z.object({
  command: z
    .string()
    .max(LIMITS.commandChars)
    .refine((c) => c.trim().length > 0, "must not be empty"),
  shell: z.enum(SHELLS).optional(),
  requireApproval: z.boolean().optional(),
  reason: z.string().trim().max(1000).optional(),
  timeoutSeconds: z.number().int().positive().max(LIMITS.maxTimeoutSeconds).optional(),
  /** How long the command may wait for an offline machine before it fails (default 1 hour). */
  queueTimeoutSeconds: z.number().int().min(1).max(LIMITS.maxQueueSeconds).optional(),
  /** How long the client has to decide when the command needs approval (default 30 minutes). */
  approvalTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .optional(),
});
export type CommandBody = z.infer<typeof CommandBody>;

export interface ApiError {
  error: { code: string; message: string };
}

/** Turn the first zod issue into a message a person can act on: "email: must be an email address". */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
}

export const DecisionBody = z.object({
  decision: z.enum(["approve", "decline"]),
  comment: z.string().trim().max(1000).optional(),
});

export const ApprovalLinkBody = z.object({
  /** The client contact the link is for: their decision is recorded as theirs. */
  contactId: z.string().regex(/^usr_[a-z2-7]{20}$/),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .optional(),
});

export const WebhookBody = z.object({
  url: z
    .string()
    .max(2000)
    .url()
    .refine((u) => /^https?:\/\//.test(u), "must be an http(s) URL"),
  events: z
    .array(z.enum(["approval.requested", "approval.granted", "approval.declined"]))
    .min(1)
    .default(["approval.requested"]),
});

export const AssignBody = z.object({
  technicianId: z.string().regex(/^usr_[a-z2-7]{20}$/),
  note: z.string().trim().max(1000).optional(),
});

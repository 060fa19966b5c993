// Request bodies and query strings of the public HTTP contract (DESIGN.md), validated at the edge of each route. The
// route definitions (routes/) name these schemas.

import { z } from "zod";
import { APPROVAL_POLICIES } from "./approvals.ts";
import { idPattern } from "./ids.ts";
import { LIMITS } from "./limits.ts";
import { METRIC_GROUPS } from "./metrics.ts";
import { MachineFacts } from "./protocol.ts";
import { APPROVAL_STATES, SEARCH_KINDS, SEARCH_QUERY_MAX } from "./search.ts";
import { CLOSE_POLICIES, REVIEW_DECISIONS, SESSION_STATES, VERDICTS } from "./session/review.ts";
import { SHELLS } from "./shells.ts";
import { HUNKS_PER_PAGE, HUNKS_PER_PAGE_MAX } from "./verify/page.ts";

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

/** The organization's settings: each field given is changed, the others keep their value. */
export const SettingsBody = z
  .object({
    idleCloseSeconds: z.number().int().min(1).max(LIMITS.maxIdleCloseSeconds).optional(),
    closePolicy: z.enum(CLOSE_POLICIES).optional(),
    /** A session opened on the same machine this many days after a close counts as a callback (1 day to 90). */
    callbackDays: z.number().int().min(1).max(90).optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), "nothing to change");

export const UserUpdateBody = z
  .object({ name: name.optional(), role: z.enum(STAFF_ROLES).optional(), disabled: z.boolean().optional() })
  .refine((b) => b.name !== undefined || b.role !== undefined || b.disabled !== undefined, "nothing to change");

export const PasswordBody = z.object({ currentPassword: z.string().min(1).max(256), newPassword: password });

/** How long a token or a link lives: a minute to a year. */
const lifetime = (defaultSeconds: number) =>
  z
    .number()
    .int()
    .min(60)
    .max(365 * 24 * 3600)
    .default(defaultSeconds);

export const TokenBody = z.object({
  name,
  /** At most the creator's own role; defaults to it. */
  role: z.enum(ROLES).optional(),
  ttlSeconds: lifetime(90 * 24 * 3600),
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

/**
 * Roll back a change: its reverse (or `command`, written by the technician) on the same machine, in a new session or
 * the open one `sessionIdInto` names. `force` rolls back again a change whose earlier rollback still stands.
 */
export const RollbackBody = z
  .object({
    sessionId: z.string().regex(idPattern("ses"), "must be a session id"),
    commandId: z.string().regex(idPattern("cmd"), "must be a command id"),
    command: CommandBody.shape.command.optional(),
    shell: z.enum(SHELLS).optional(),
    reason: z.string().trim().max(1000).optional(),
    sessionIdInto: z.string().regex(idPattern("ses"), "must be a session id").optional(),
    force: z.boolean().optional(),
  })
  .refine((b) => b.shell === undefined || b.command !== undefined, {
    message: "shell goes with command: the proposed reverse has its own",
    path: ["shell"],
  });

/** A chat message or an internal note. */
export const TextBody = z.object({ text: z.string().trim().min(1, "must not be empty").max(4000) });

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
    .array(
      z.enum([
        "approval.requested",
        "approval.granted",
        "approval.declined",
        "session.assigned",
        "session.closed",
        "session.review_requested",
        "session.reviewed",
      ]),
    )
    .min(1)
    .default(["approval.requested"]),
});

export const AssignBody = z.object({
  technicianId: z.string().regex(/^usr_[a-z2-7]{20}$/),
  note: z.string().trim().max(1000).optional(),
});

const commandId = z.string().regex(idPattern("cmd"), "must be a cmd_ id");
/** A technician's verdict on a before/after pair; "cannot verify" must say what was checked and why closing is right. */
export const VerdictBody = z
  .object({
    baselineCommandId: commandId,
    verifyCommandId: commandId.optional(),
    verdict: z.enum(VERDICTS),
    note: z.string().trim().max(4000).default(""),
  })
  .refine((b) => b.verdict !== "unverifiable" || b.note.length > 0, {
    path: ["note"],
    message: "say what was checked and why closing is still right when the fix cannot be verified",
  })
  .refine((b) => b.verifyCommandId !== b.baselineCommandId, {
    path: ["verifyCommandId"],
    message: "the verification is another command than the baseline",
  });
export type VerdictBody = z.infer<typeof VerdictBody>;
export const ReviewBody = z.object({
  decision: z.enum(REVIEW_DECISIONS),
  comment: z.string().trim().max(2000).optional(),
});
// ---- query strings: every value arrives as text; the first of a repeated key counts.

/** A whole number from 0 to `max`; `absent` when the key is missing or empty. */
function wholeNumber<A extends number | null>(max: number, absent: A) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): number | A => {
      if (raw === undefined || raw === "") return absent;
      if (!/^\d{1,15}$/.test(raw) || Number(raw) > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from 0 to ${max}` });
        return z.NEVER;
      }
      return Number(raw);
    });
}

/** A page size: missing, empty or 0 asks for the default. */
const pageSize = (fallback: number, max: number) => wholeNumber(max, fallback).transform((n) => n || fallback);

/** An event's seq to resume after: 0 (the start) unless given. */
const after = wholeNumber(Number.MAX_SAFE_INTEGER, 0);

/** `technicianId` and `state=open` make a technician's "Assigned to me": the open sessions they hold. */
export const SessionListQuery = z.object({
  limit: pageSize(50, 200),
  machineId: z.string().optional(),
  technicianId: z.string().optional(),
  state: z.enum(SESSION_STATES).optional(),
});

/** The machine card's sessions page: `before` is the previous page's last `openedAt`. */
export const MachineCardQuery = z.object({ limit: pageSize(50, 200), before: z.string().optional() });

export const EventsQuery = z.object({ after, limit: pageSize(LIMITS.eventsPageMax, LIMITS.eventsPageMax) });

export const LiveQuery = z.object({ after });

/** A tree size of the tenant's log: required. */
const treeSize = wholeNumber(Number.MAX_SAFE_INTEGER, null)
  .refine((n) => n !== null, "is required")
  .transform((n) => n as number);

/** `GET /api/v1/log/consistency`: the proof that the log's tree of `to` seals extends its tree of `from`. */
export const ConsistencyQuery = z.object({ from: treeSize, to: treeSize });

export const OutputQuery = z.object({
  stream: z.enum(["stdout", "stderr"], { error: "must be stdout or stderr" }).default("stdout"),
});

/** A readable export of a session's record; notes only when the exporter asks (and never for a client contact). */
export const ExportQuery = z.object({
  format: z.enum(["pdf", "asciicast", "bundle"], { error: "must be pdf, asciicast or bundle" }),
  /** Absent: a PDF leaves the notes out, a bundle holds the record as GET …/record serves it to the reader. */
  includeNotes: z.enum(["0", "1"], { error: "must be 0 or 1" }).optional(),
});

/** A read-only link to one session's record, for someone without an account. */
export const ShareBody = z.object({
  ttlSeconds: lifetime(7 * 24 * 3600),
  includeOutput: z.boolean().default(true),
  includeNotes: z.boolean().default(false),
});

export const ShareQuery = z.object({ after });

export const ApprovalListQuery = z.object({
  state: z
    .enum(["pending", "granted", "declined", "expired", "withdrawn"], {
      error: "must be pending, granted, declined, expired or withdrawn",
    })
    .optional(),
  limit: pageSize(100, 500),
});

/** The runtime's socket names its machine; a malformed id is refused as an unknown machine (runtime protocol). */
export const ConnectQuery = z.object({ machineId: z.string().optional() });

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const time = z
  .string()
  .refine((v) => (DATE.test(v) || INSTANT.test(v)) && !Number.isNaN(Date.parse(v)), "must be YYYY-MM-DD or RFC 3339");
const id = (kind: "mch" | "cli" | "usr" | "ses") => z.string().regex(idPattern(kind), `must be a ${kind}_ id`);

/** The audit log, newest first; each filter given narrows it (the date range: `from` inclusive, `to` exclusive). */
export const AuditQuery = z.object({
  limit: pageSize(100, 500),
  before: wholeNumber(Number.MAX_SAFE_INTEGER, null),
  actor: z
    .string()
    .max(100)
    .regex(/^(system|[a-z]+:[A-Za-z0-9_]+)$/, "must be an actor such as user:usr_… or system")
    .optional(),
  action: z
    .string()
    .max(64)
    .regex(/^[a-z_]+(\.[a-z_]+)*$/, "must be an action such as person.added")
    .optional(),
  from: time.optional(),
  to: time.optional(),
});

export const SearchQuery = z.object({
  q: z.string().max(SEARCH_QUERY_MAX, `must be at most ${SEARCH_QUERY_MAX} characters`).optional(),
  machineId: id("mch").optional(),
  clientId: id("cli").optional(),
  technicianId: id("usr").optional(),
  sessionId: id("ses").optional(),
  from: time.optional(),
  to: time.optional(),
  kind: z
    .string()
    .transform((v) => v.split(","))
    .pipe(z.array(z.enum(SEARCH_KINDS)).min(1).max(SEARCH_KINDS.length))
    .optional(),
  exit: z.union([z.literal("nonzero"), z.string().regex(/^-?\d{1,10}$/, "must be nonzero or an integer")]).optional(),
  approval: z.enum(APPROVAL_STATES).optional(),
  order: z.enum(["newest", "best"]).default("newest"),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, "must be an integer from 1 to 100")
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(20),
  cursor: z.string().max(200).optional(),
});

/** A verification: now, or at `at` (RFC 3339 with a time: a scheduled re-check). */
export const VerifyBody = z.object({
  at: z
    .string()
    .refine((v) => INSTANT.test(v) && !Number.isNaN(Date.parse(v)), "must be an RFC 3339 time")
    .optional(),
});

/** The before/after diff of two commands of a session, one page of hunks (see core's verify/diff.ts). */
export const DiffQuery = z.object({
  against: z.string().regex(idPattern("cmd"), "must be a cmd_ id"),
  hunk: wholeNumber(1_000_000_000, 0),
  hunks: pageSize(HUNKS_PER_PAGE, HUNKS_PER_PAGE_MAX),
});

/** The figures' period (`from` inclusive, `to` exclusive; a `to` date counts the whole day) and grouping. */
export const MetricsQuery = z.object({
  from: time.optional(),
  to: time.optional(),
  groupBy: z.enum(METRIC_GROUPS).default("week"),
});

const DAY_MS = 24 * 60 * 60 * 1000;

/** A `from` instant (a search's, the audit log's); a `to` date counts the whole day (the bound is exclusive). */
export function timeBound(value: string | undefined, end: boolean): number | null {
  if (value === undefined) return null;
  const ms = Date.parse(DATE.test(value) ? `${value}T00:00:00Z` : value);
  return end && DATE.test(value) ? ms + DAY_MS : ms;
}

/** The schemas a route definition names for its query and body (routes/define.ts). */
export const SCHEMAS = {
  SetupBody,
  LoginBody,
  UserBody,
  UserUpdateBody,
  ContactBody,
  PasswordBody,
  TokenBody,
  ClientBody,
  ClientUpdateBody,
  SettingsBody,
  EnrollmentBody,
  MoveMachineBody,
  RuntimeEnrollBody,
  SessionBody,
  CommandBody,
  RollbackBody,
  TextBody,
  AssignBody,
  DecisionBody,
  ApprovalLinkBody,
  WebhookBody,
  VerdictBody,
  ReviewBody,
  SessionListQuery,
  MachineCardQuery,
  EventsQuery,
  LiveQuery,
  ConsistencyQuery,
  OutputQuery,
  ExportQuery,
  ShareBody,
  ShareQuery,
  AuditQuery,
  ApprovalListQuery,
  ConnectQuery,
  SearchQuery,
  VerifyBody,
  DiffQuery,
  MetricsQuery,
};

// Verification: re-run a finished command as its check (now or at a set time), and compare the two outputs.

import type { CommandState } from "../record.ts";
import type { StreamDiff } from "../verify/diff.ts";
import type { StructuredDiff } from "../verify/structured.ts";
import { answer, defineRoute, EVERYONE, RUNNERS } from "./define.ts";

export const verifyCommand = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/commands/:cid/verify",
  access: RUNNERS,
  params: { id: "ses", cid: "cmd" },
  body: "VerifyBody",
  answer: answer<{
    commandId: string;
    state: CommandState | "scheduled";
    approvalId: string | null;
    /** A scheduled re-check: when it runs. */
    at?: string;
  }>(),
});

/** The earlier command of the two is `before`, whichever is named in the path. */
export interface CommandDiff extends StreamDiff {
  /** Anything differs: stdout, stderr or the exit code. (`changed` and the hunks are stdout's.) */
  differs: boolean;
  before: StreamDiff["before"] & { commandId: string; exitCode: number | null; state: CommandState };
  after: StreamDiff["after"] & { commandId: string; exitCode: number | null; state: CommandState };
  exitCode: { before: number | null; after: number | null; changed: boolean };
  stderr: StreamDiff;
  /** Row by row (tables), field by field (Format-List, JSON), when both stdouts have that shape and are ≤ 1 MiB. */
  view: StructuredDiff | null;
  page: { hunk: number; hunks: number };
}

export const commandDiff = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/commands/:cid/diff",
  access: EVERYONE,
  params: { id: "ses", cid: "cmd" },
  query: "DiffQuery",
  answer: answer<CommandDiff>(),
});

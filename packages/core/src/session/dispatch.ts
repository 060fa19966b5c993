// Strict-order dispatch. A session's commands reach the machine one at a time, in the order they were requested; a
// command waiting for the client's approval holds back the ones after it.

import type { CommandState } from "../record.ts";

/** A command as dispatch sees it. Lists are in request order. */
export interface Queued {
  id: string;
  state: CommandState;
  /** Handed to the Machine object at least once (it stays in flight until it runs or ends). */
  dispatched: boolean;
  /** In the machine's hands, or on its way there. */
  delivered: boolean;
  cancelRequested: boolean;
}

const WAITING: ReadonlySet<CommandState> = new Set(["queued", "awaiting_approval", "running"]);

/** The command to hand to the machine now, if any: none while one is in flight. */
export function nextDispatch(commands: readonly Queued[]): string | null {
  if (commands.some((c) => c.state === "running" || (c.state === "queued" && c.dispatched))) return null;
  const next = commands.find((c) => c.state === "queued" || c.state === "awaiting_approval");
  return next?.state === "queued" ? next.id : null;
}

/**
 * What a (re)connecting runtime is owed: the first command not yet final is sent again (the runtime ignores one it
 * knows), unless it waits for the client; a cancel asked for while it never reached the machine is settled first.
 */
export type Resume =
  | { kind: "idle" }
  | { kind: "awaiting_approval" }
  | { kind: "settle_cancel"; id: string }
  | { kind: "send"; id: string };

export function resumeDispatch(commands: readonly Queued[]): Resume {
  const c = commands.find((c) => WAITING.has(c.state));
  if (!c) return { kind: "idle" };
  if (c.state === "awaiting_approval") return { kind: "awaiting_approval" };
  if (settlesAsCancelled(c)) return { kind: "settle_cancel", id: c.id };
  return { kind: "send", id: c.id };
}

/** A cancel asked for while the command was on its way to a machine that turned out offline: nothing ran. */
export function settlesAsCancelled(c: Pick<Queued, "state" | "delivered" | "cancelRequested">): boolean {
  return c.state === "queued" && !c.delivered && c.cancelRequested;
}

// Exactly-once output. The runtime keeps every chunk until the session acknowledges it, and resends from the
// acknowledged length after a reconnect, so the same bytes can arrive twice, overlapping, or after a gap. The record
// holds each byte once, in order: bytes below the committed length are skipped, and a chunk that starts past it is
// refused until the runtime resends what is missing.

import type { CommandState } from "../record.ts";
import { FINAL_COMMAND_STATES } from "../record.ts";

export type OutputStream = "stdout" | "stderr";

export type OutputDecision =
  /** Append `length - skip` bytes from `skip` of the chunk, at `offset` in the stream; the stream then ends at `end`. */
  | { kind: "commit"; skip: number; offset: number; end: number }
  /** Nothing to append: the command has ended, the bytes are already committed, or they start past a gap. */
  | { kind: "skip"; why: "final" | "duplicate" | "gap" }
  | { kind: "refuse"; code: "not_started"; message: string };

export function acceptOutput(
  command: { state: CommandState; stdoutBytes: number; stderrBytes: number },
  chunk: { stream: OutputStream; offset: number; length: number },
): OutputDecision {
  if (FINAL_COMMAND_STATES.has(command.state)) return { kind: "skip", why: "final" };
  if (command.state !== "running")
    return { kind: "refuse", code: "not_started", message: "output before command.started" };
  const committed = chunk.stream === "stdout" ? command.stdoutBytes : command.stderrBytes;
  const end = chunk.offset + chunk.length;
  if (end <= committed) return { kind: "skip", why: "duplicate" };
  if (chunk.offset > committed) return { kind: "skip", why: "gap" };
  return { kind: "commit", skip: committed - chunk.offset, offset: committed, end };
}

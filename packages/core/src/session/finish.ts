// The end of a command as the record states it. Byte counts and hashes are those of the record itself; when the
// endpoint reported something else (it wrote bytes the record does not hold), the reason says so precisely.

import type { FinishedFrame } from "../protocol.ts";

/** What the record holds of a command's two streams. */
export interface RecordedStreams {
  stdoutBytes: number;
  stderrBytes: number;
  stdoutSha256: string;
  stderrSha256: string;
}

/** What the endpoint says it wrote. */
export type ClaimedStreams = Pick<FinishedFrame, "stdoutBytes" | "stderrBytes" | "stdoutSha256" | "stderrSha256">;

/** How a command ended, before the record's own byte counts and hashes are added. */
export interface Outcome {
  state: FinishedFrame["state"] | "declined";
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  durationMs: number;
}

/** A finished frame is accepted only once all the output it claims is committed; until then the runtime resends. */
export function outputComplete(
  committed: { stdoutBytes: number; stderrBytes: number },
  claimed: ClaimedStreams,
): boolean {
  return committed.stdoutBytes >= claimed.stdoutBytes && committed.stderrBytes >= claimed.stderrBytes;
}

/** The final reason: the outcome's own, then a note for each stream where the endpoint and the record differ. */
export function finishReason(
  reason: string | null,
  claimed: ClaimedStreams | null,
  recorded: RecordedStreams,
): string | null {
  const notes: string[] = reason ? [reason] : [];
  if (claimed) {
    for (const [stream, bytes, sha, held, heldSha] of [
      ["stdout", claimed.stdoutBytes, claimed.stdoutSha256, recorded.stdoutBytes, recorded.stdoutSha256],
      ["stderr", claimed.stderrBytes, claimed.stderrSha256, recorded.stderrBytes, recorded.stderrSha256],
    ] as const) {
      if (bytes !== held) notes.push(`the endpoint reported ${bytes} ${stream} bytes; the record holds ${held}`);
      else if (sha !== null && sha !== heldSha)
        notes.push(`the endpoint's ${stream} SHA-256 ${sha} differs from the record's`);
    }
  }
  return notes.length > 0 ? notes.join("; ") : null;
}

/** The data of a `command.finished` event (its fields in this order: the record's bytes depend on it). */
export function finishedData(
  commandId: string,
  outcome: Outcome,
  claimed: ClaimedStreams | null,
  recorded: RecordedStreams,
) {
  return {
    commandId,
    state: outcome.state,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    reason: finishReason(outcome.reason, claimed, recorded),
    stdoutBytes: recorded.stdoutBytes,
    stderrBytes: recorded.stderrBytes,
    stdoutSha256: recorded.stdoutSha256,
    stderrSha256: recorded.stderrSha256,
    durationMs: outcome.durationMs,
  };
}

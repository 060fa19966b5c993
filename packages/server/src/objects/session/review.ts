// What a Session tells about its verdicts and its review: the verdicts as a reviewer reads them (each with the
// opening of both commands' output), and the outcome effect the Fleet turns into the close and review webhooks.

import { outputOpening, type VerdictCommand, type VerdictView } from "@caisey/core";
import type { SessionEffect, SessionOutcome } from "../fleet.ts";
import { outputOf, type SessionStore, type StoredLine } from "./store.ts";

/** At most this many verdicts go out with a webhook (the newest): a PSA note, not the record. */
const WEBHOOK_VERDICTS = 20;

function verdictCommand(store: SessionStore, commandId: string | null): VerdictCommand | null {
  const c = commandId === null ? null : store.command(commandId);
  if (!c) return null;
  const first = store.sql
    .exec<StoredLine>(
      "SELECT record, output FROM events WHERE type = 'command.output' AND command_id = ? AND stream = 'stdout' AND offset = 0",
      c.id,
    )
    .toArray()[0];
  const bytes = first ? outputOf(first) : new Uint8Array();
  return {
    id: c.id,
    command: c.command,
    shell: c.shell,
    state: c.state,
    exitCode: c.exit_code,
    finishedAt: c.finished_at,
    stdoutBytes: c.stdout_committed,
    stderrBytes: c.stderr_committed,
    ...outputOpening(bytes, c.stdout_committed),
  };
}

/** Every verdict recorded in the session, oldest first. */
export function verdictsOf(store: SessionStore): VerdictView[] {
  return store.sql
    .exec<{ seq: number; record: string }>(
      "SELECT seq, record FROM events WHERE type = 'verification.recorded' ORDER BY seq",
    )
    .toArray()
    .map((row) => {
      const e = JSON.parse(row.record) as {
        ts: string;
        actor: string;
        data: { baselineCommandId: string; verifyCommandId?: string; verdict: VerdictView["verdict"]; note: string };
      };
      const verifyCommandId = e.data.verifyCommandId ?? null;
      return {
        seq: row.seq,
        at: e.ts,
        actor: e.actor,
        verdict: e.data.verdict,
        note: e.data.note,
        baselineCommandId: e.data.baselineCommandId,
        verifyCommandId,
        baseline: verdictCommand(store, e.data.baselineCommandId),
        verify: verdictCommand(store, verifyCommandId),
      };
    });
}

/** A close, a review request or a review, for the Fleet to announce with the verdicts (the PSA's resolution note). */
export function sessionOutcome(
  store: SessionStore,
  outcome: Omit<SessionOutcome, "sessionId" | "verdicts">,
): SessionEffect {
  const s = store.row() as NonNullable<ReturnType<SessionStore["row"]>>;
  return {
    kind: "session.outcome",
    payload: { sessionId: s.id, ...outcome, verdicts: verdictsOf(store).slice(-WEBHOOK_VERDICTS) },
  };
}

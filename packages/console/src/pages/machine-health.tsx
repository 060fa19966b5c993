// The runtime's health where a technician decides whether an endpoint is healthy: on the machine card, its version,
// the output journalled on the machine and not yet in the record, and its last error; on the machine list, a marker
// when a connected machine's output has waited too long.
import { backlogIsOld } from "@caisey/core/health";
import type { MachineHealth } from "@caisey/core/views";
import { formatBytes, relativeTime } from "../transcript.ts";
import { When } from "./ui.tsx";

type Health = { online: boolean; runtimeVersion: string; health: MachineHealth | null };

/** "backlog: none" or "backlog: 3 frames, 1.2 MiB, oldest 4 min ago". */
export function backlogText(health: MachineHealth, now: number): string {
  if (health.backlogFrames === 0) return "backlog: none";
  const frames = `${health.backlogFrames} frame${health.backlogFrames === 1 ? "" : "s"}`;
  const bytes = health.backlogBytes > 0 ? `, ${formatBytes(health.backlogBytes)}` : "";
  return `backlog: ${frames}${bytes}, oldest ${relativeTime(health.oldestAt, now)}`;
}

/** The card's "Runtime" and "Last error" rows (inside its facts list). */
export function RuntimeHealthRows({ machine: m, now }: { machine: Health; now: number }) {
  const h = m.health;
  const old = backlogIsOld(m, now);
  return (
    <>
      <dt>Runtime</dt>
      <dd data-testid="machine-runtime">
        <span class="mono">{m.runtimeVersion}</span>
        {h ? (
          <>
            {" · "}
            <span
              class={`backlog${h.backlogFrames > 0 ? " waiting" : ""}${old ? " old" : ""}`}
              data-testid="machine-backlog"
              title="Output journalled on the machine that the server has not acknowledged yet"
            >
              {backlogText(h, now)}
            </span>
            {!m.online && (
              <span class="muted">
                {" "}
                (as last reported, <When iso={h.reportedAt} />)
              </span>
            )}
          </>
        ) : (
          <span class="muted"> · this runtime does not report its backlog</span>
        )}
      </dd>
      {h && (
        <>
          <dt>Last error</dt>
          <dd data-testid="machine-last-error">
            {h.lastError ? (
              <>
                <span class="mono runtime-error">{h.lastError.message}</span>{" "}
                <span class="muted">
                  ({relativeTime(h.lastError.at, now)}, <When iso={h.lastError.at} />)
                </span>
              </>
            ) : (
              <span class="muted">none</span>
            )}
          </dd>
        </>
      )}
    </>
  );
}

/** The list's marker: shown only when a connected machine's oldest waiting output is older than two minutes. */
export function BacklogMarker({ machine: m, now }: { machine: Health; now: number }) {
  if (!m.health || !backlogIsOld(m, now)) return null;
  return (
    <span
      class="badge backlog-old"
      data-testid="machine-backlog-old"
      title={`Output is not reaching the record: ${backlogText(m.health, now)}`}
    >
      ⚠ output waiting {relativeTime(m.health.oldestAt, now).replace(/ ago$/, "")}
    </span>
  );
}

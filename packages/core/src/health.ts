// A runtime's health as the machine card and the machine list show it: what its last report (hello or health frame)
// said, in the server's clock. The console imports this file alone (no zod in its bundle).

import type { RuntimeHealth } from "./protocol.ts";
import type { MachineHealth } from "./views.ts";

/**
 * A connected runtime's oldest unacknowledged frame older than this means its output is not reaching the record
 * (a healthy one is acknowledged within a second or two, and a paused command waits with nothing unacknowledged).
 */
export const BACKLOG_OLD_MS = 2 * 60_000;

/** A health report received at `receivedAt` (ms), with its ages turned into times. */
export function machineHealth(report: RuntimeHealth, receivedAt: number): MachineHealth {
  const at = (ageMs: number) => new Date(receivedAt - ageMs).toISOString();
  return {
    backlogFrames: report.backlogFrames,
    backlogBytes: report.backlogBytes,
    oldestAt: report.oldestAgeMs === null ? null : at(report.oldestAgeMs),
    lastError: report.lastError ? { at: at(report.lastError.ageMs), message: report.lastError.message } : null,
    reportedAt: new Date(receivedAt).toISOString(),
  };
}

/** Whether the machine list marks this machine: connected, and output has waited longer than BACKLOG_OLD_MS. */
export function backlogIsOld(machine: { online: boolean; health: MachineHealth | null }, now: number): boolean {
  const oldestAt = machine.health?.oldestAt;
  return machine.online && oldestAt != null && now - Date.parse(oldestAt) > BACKLOG_OLD_MS;
}

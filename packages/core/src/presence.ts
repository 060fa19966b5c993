// A machine's presence as the Fleet keeps it: a lease its Machine object renews while the runtime is connected.
// A runtime that disconnects is marked offline at once (the Machine's socket close handler); the lease only decides
// about a Machine that stopped renewing without saying so (its object vanished with the socket, its alarm failing).

/**
 * How often a Machine renews the lease while its runtime is connected. Each renewal wakes the object (on a local
 * server, opening its database is most of that CPU) and writes to the tenant's one Fleet, so it is minutes, not
 * seconds: 2000 machines at 30 s cost workerd about 230 ms of CPU per second and every command a slower p99. A socket
 * that closes is reported at once either way; the renewal's own check finds one that vanished without a close event
 * (e.g. a workerd restart) within this time.
 */
export const PRESENCE_RENEW_MS = 5 * 60_000;

/**
 * A machine whose lease was not renewed for this long is shown offline (stale): its Machine missed two renewals in a
 * row (as the 90 s of a 30 s heartbeat before), which a retried alarm or a slow Fleet does not.
 */
export const PRESENCE_LEASE_MS = 3 * PRESENCE_RENEW_MS;

/**
 * When the next renewal is due after one at `now`. `first`: right after the runtime connected, a random point in the
 * second half of the period, so runtimes that reconnect together (after a restart or a deploy) do not renew together
 * ever after; then the whole period, less up to a tenth, so they keep drifting apart. `random` is in [0, 1).
 */
export function nextRenewal(now: number, first: boolean, random: number): number {
  const period = first
    ? PRESENCE_RENEW_MS / 2 + (random * PRESENCE_RENEW_MS) / 2
    : PRESENCE_RENEW_MS * (1 - random / 10);
  return now + Math.floor(period);
}

/** Whether the list and the card show a machine online: not revoked, its runtime connected, its lease current. */
export function shownOnline(
  machine: { online: boolean; presenceAt: string | null; revoked: boolean },
  now: number,
): boolean {
  return (
    !machine.revoked &&
    machine.online &&
    machine.presenceAt !== null &&
    now - Date.parse(machine.presenceAt) < PRESENCE_LEASE_MS
  );
}

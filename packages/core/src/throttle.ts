// Credential throttling as rules over counts and times: what a sign-in or an operator request must wait for, apart
// from any storage (the Directory object keeps the counts). A key that fails too often slows down, with a delay that
// doubles per further failure up to a bound, and is never locked: once the delay has passed, the right credential
// gets in. Each attempt is counted when it is admitted, before the password is hashed, so concurrent attempts cannot
// all slip through one open check; a success takes its count back.

/** The failures of one key: how many since the count was last forgotten, and when the last one was admitted or failed. */
export interface Attempts {
  failures: number;
  lastAt: number;
}

export const THROTTLE = {
  /** A key's count is forgotten this long after its last attempt. */
  forgetAfterMs: 15 * 60_000,
  /** The delay after the first failure past a key's allowance; each further failure doubles it... */
  firstDelayMs: 1000,
  /** ...up to this: the longest the rightful owner ever waits. */
  maxDelayMs: 60_000,
  /**
   * Failures a key is allowed before it slows down. The operator secret is 32 or more characters, so no allowance
   * makes guessing it possible; the throttle keeps a flood of guesses cheap.
   */
  allowance: { account: 5, address: 20, operator: 10 },
} as const;

export type ThrottleKind = keyof typeof THROTTLE.allowance;

/** What is throttled: one sign-in email, one trusted client address, or the deployment's operator secret. */
export function throttleKey(kind: ThrottleKind, id = ""): string {
  return kind === "operator" ? "operator" : `${kind}:${id.toLowerCase()}`;
}

function kindOf(key: string): ThrottleKind {
  const kind = key.split(":", 1)[0] as string;
  return kind in THROTTLE.allowance ? (kind as ThrottleKind) : "account";
}

/** The count as it stands at `now`: forgotten once the key has been quiet long enough. */
function current(attempts: Attempts | null, now: number): Attempts | null {
  return attempts && now - attempts.lastAt < THROTTLE.forgetAfterMs ? attempts : null;
}

/** Milliseconds `key` must still wait at `now` before another attempt is admitted (0: admit it). */
export function waitMs(key: string, attempts: Attempts | null, now: number): number {
  const counted = current(attempts, now);
  const excess = (counted?.failures ?? 0) - THROTTLE.allowance[kindOf(key)];
  if (!counted || excess < 0) return 0;
  const delay = Math.min(THROTTLE.maxDelayMs, THROTTLE.firstDelayMs * 2 ** Math.min(excess, 30));
  return Math.max(0, counted.lastAt + delay - now);
}

/** The count after an attempt admitted at `now` (counted as a failure until it succeeds). */
export function admitted(attempts: Attempts | null, now: number): Attempts {
  return { failures: (current(attempts, now)?.failures ?? 0) + 1, lastAt: now };
}

/** The count after an admitted attempt failed at `now`: its delay runs from the answer, not from the admission. */
export function failed(attempts: Attempts | null, now: number): Attempts {
  return { failures: Math.max(1, attempts?.failures ?? 0), lastAt: now };
}

/** The count after an admitted attempt was given up before its credential was checked (the server was busy). */
export function withdrawn(attempts: Attempts | null): Attempts | null {
  return attempts && attempts.failures > 1 ? { failures: attempts.failures - 1, lastAt: attempts.lastAt } : null;
}

/**
 * The count after an admitted attempt succeeded: an account (or the operator secret) starts afresh; an address gives
 * back the one attempt, so a busy office signing in through one address never slows itself down.
 */
export function succeeded(key: string, attempts: Attempts | null): Attempts | null {
  return kindOf(key) === "address" ? withdrawn(attempts) : null;
}

/** Whole seconds for a Retry-After header: never 0 while there is something to wait for. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

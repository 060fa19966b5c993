// A token bucket: how many bytes a live socket may be sent now, and how long to wait for more. Live sockets are
// paced because a Durable Object cannot see a socket's buffered amount: without pacing, a slow browser watching a
// command that writes 100 MiB/s would make the object buffer everything it cannot deliver.

export interface Bucket {
  tokens: number;
  at: number;
}

export interface Pace {
  /** Bytes per second, sustained. */
  rate: number;
  /** Bytes that may be sent at once after a quiet period. */
  burst: number;
}

export const LIVE_PACE: Pace = { rate: 16 * 1024 * 1024, burst: 4 * 1024 * 1024 };

export function refill(bucket: Bucket, now: number, pace: Pace): Bucket {
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(pace.burst, bucket.tokens + (elapsed * pace.rate) / 1000), at: now };
}

/** Milliseconds until the bucket holds at least `needed` tokens (0 when it already does). */
export function waitFor(bucket: Bucket, needed: number, pace: Pace): number {
  const missing = Math.min(needed, pace.burst) - bucket.tokens;
  return missing <= 0 ? 0 : Math.ceil((missing * 1000) / pace.rate);
}

/**
 * Output coalescing on the runtime: read bytes wait to be framed until their stream has been quiet for `quietMs`, or
 * their first byte has waited `maxMs`. Each frame costs the server a fixed amount (a record, a commit, an ack), so a
 * fast stream should fill its frames; a command printing a line now and then should still show it at once.
 */
export interface Coalescing {
  quietMs: number;
  maxMs: number;
}

/**
 * Framing on a fixed 2 ms after the first read cut a fast stream on a loaded machine into frames averaging ~390 KB
 * instead of 512 KiB; 25 ms is still far below what a person watching output notices.
 */
export const OUTPUT_COALESCING: Coalescing = { quietMs: 2, maxMs: 25 };

/** Milliseconds until bytes first read at `firstAt` and last at `lastAt` are to be framed; 0: frame them now. */
export function frameWait(firstAt: number, lastAt: number, now: number, c: Coalescing): number {
  const wait = Math.min(c.quietMs - (now - lastAt), c.maxMs - (now - firstAt));
  return wait > 0 ? wait : 0;
}

// Turns for bulk work on one thread. Every object in a workerd isolate shares its one event loop: a Session committing
// a 512 KiB output frame holds it for ~10 ms, and a Machine that forwards a runtime's whole send window at once queues
// a megabyte of commits ahead of everything else, including a small command's started and finished frames and the
// socket reads that bring them. Bulk frames therefore take turns: a fixed number at a time (across every Machine that
// shares the queue), round-robin across keys (sessions), while a small frame with nothing of its key waiting goes at
// once. Within a key the order is the arrival order, so a session's frames are committed in the order they came.
// Pure: the caller starts an item when `offer` says "now" or `take` hands it over, and calls `finished` when it is done.

export class Turns<T> {
  /** Items waiting, per key; the map's order is the turn order. */
  readonly #waiting = new Map<string, T[]>();
  #busy = 0;

  /**
   * A new item of `key`. "now": start it at once (it holds no slot): it is small and nothing of its key waits.
   * "queued": it waits for `take`; behind whatever of its key waits already, so a key's order holds.
   */
  offer(key: string, item: T, bulk: boolean): "now" | "queued" {
    const queue = this.#waiting.get(key);
    if (queue) {
      queue.push(item);
      return "queued";
    }
    if (!bulk) return "now";
    this.#waiting.set(key, [item]);
    return "queued";
  }

  /**
   * The next waiting item, which holds a slot until `finished`; null while `slots` items are under way, or nothing
   * waits. The caller may pass fewer slots when it sees contention.
   */
  take(slots: number): T | null {
    if (this.#busy >= Math.max(1, slots)) return null;
    const turn = this.#waiting.entries().next();
    if (turn.done) return null;
    const [key, queue] = turn.value;
    const item = queue.shift() as T;
    this.#waiting.delete(key);
    if (queue.length > 0) this.#waiting.set(key, queue); // to the back of the turn order
    this.#busy++;
    return item;
  }

  /** Whether `take(slots)` would hand over an item. */
  ready(slots: number): boolean {
    return this.#busy < Math.max(1, slots) && this.#waiting.size > 0;
  }

  /** A taken item is done (or no longer holds its slot): the next may be taken. */
  finished(): void {
    if (this.#busy > 0) this.#busy--;
  }

  /** How many items wait (not counting those taken). */
  get waiting(): number {
    let n = 0;
    for (const queue of this.#waiting.values()) n += queue.length;
    return n;
  }
}

/**
 * The one thread's bulk work while several sessions stream on it. Turns bounds what one Machine has under way; the gate
 * bounds the thread: one bulk item at a time across every holder that shares it, and after each the thread is left to
 * everything else for as long as the item took (`restFactor` times, at most `maxRestMs`). A small command's next step
 * (a request, a started or finished frame, a socket read) then waits behind at most one bulk commit, and finds the
 * thread free at least half the time: a thread kept busy by bulk work makes every wait on it long, not only the ones
 * behind a commit. Holders take turns: one that just had the gate lets another that asked meanwhile go first.
 * Pure: the caller passes the time and asks again when told to.
 */
export class BulkGate {
  readonly #leaseMs: number;
  readonly #restFactor: number;
  readonly #maxRestMs: number;
  /** Who holds the gate, and until when at the latest (a holder that vanished frees it then). */
  #holder: string | null = null;
  #heldUntil = 0;
  /** When the thread's rest after the last item ends. */
  #freeAt = 0;
  #last: string | null = null;
  /** Holders that asked and were told to wait, with when they last asked. */
  readonly #asking = new Map<string, number>();

  constructor({
    leaseMs,
    restFactor = 1,
    maxRestMs = 100,
  }: { leaseMs: number; restFactor?: number; maxRestMs?: number }) {
    this.#leaseMs = leaseMs;
    this.#restFactor = restFactor;
    this.#maxRestMs = maxRestMs;
  }

  /**
   * `who` would start a bulk item at `now`: 0 when it may (it holds the gate until `done`), else how many ms to wait
   * before asking again.
   */
  enter(who: string, now: number): number {
    const wait = this.#wait(who, now);
    if (wait > 0) {
      this.#asking.set(who, now);
      return wait;
    }
    this.#asking.delete(who);
    this.#holder = who;
    this.#heldUntil = now + this.#leaseMs;
    return 0;
  }

  /** `who`'s item, begun at `startedAt`, is done at `now`: the gate rests, then is free. */
  done(who: string, startedAt: number, now: number): void {
    if (this.#holder !== who) return; // its lease ran out and another holds the gate now
    this.#holder = null;
    this.#last = who;
    this.#freeAt = now + Math.min(this.#maxRestMs, Math.max(0, now - startedAt) * this.#restFactor);
  }

  #wait(who: string, now: number): number {
    if (this.#holder !== null && now < this.#heldUntil) return Math.min(POLL_MS, this.#heldUntil - now);
    if (now < this.#freeAt) return this.#freeAt - now;
    if (who === this.#last) {
      // Another holder asked lately: it goes first (one that stopped asking no longer counts).
      for (const [other, at] of this.#asking) {
        if (now - at > 4 * POLL_MS + this.#maxRestMs) this.#asking.delete(other);
        else if (other !== who) return POLL_MS;
      }
    }
    return 0;
  }
}

/** How often a holder told to wait while the gate is held asks again. */
const POLL_MS = 2;

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

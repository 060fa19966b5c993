// Idempotent receipt: an effect is applied in the same transaction that records it as received, keyed by its
// sender and the sender's seq. A sender delivers its effects to one target strictly in order (see outbox.ts), so the
// highest seq applied per sender is the whole receipt: anything at or below it was applied already.

import type { Effect } from "./outbox.ts";

export class Receipts {
  /**
   * The highest seq applied per sender, as stored: a busy sender delivers every few milliseconds, and its receipt was
   * read back each time. Kept from a committed receipt on; forgotten when storage may hold something else (a rollback,
   * storage emptied): then read again.
   */
  private readonly last = new Map<string, number>();

  constructor(private readonly storage: DurableObjectStorage) {}

  forget(): void {
    this.last.clear();
  }

  /** Apply the effects not applied before, in order, all in one transaction; returns how many were new. */
  receive(source: string, effects: readonly Effect[], apply: (effect: Effect) => void): number {
    const { applied, last } = this.storage.transactionSync(() => {
      const sql = this.storage.sql;
      const before =
        this.last.get(source) ??
        sql.exec<{ seq: number }>("SELECT seq FROM receipts WHERE source = ?", source).toArray()[0]?.seq ??
        0;
      let last = before;
      let applied = 0;
      for (const effect of [...effects].sort((a, b) => a.seq - b.seq)) {
        if (effect.seq <= last) continue;
        apply(effect);
        last = effect.seq;
        applied++;
      }
      // Nothing new (a delivery again after a lost answer): the receipt stands as it is.
      if (last !== before)
        sql.exec(
          "INSERT INTO receipts (source, seq) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET seq = MAX(seq, excluded.seq)",
          source,
          last,
        );
      return { applied, last };
    });
    this.last.set(source, last);
    return applied;
  }
}

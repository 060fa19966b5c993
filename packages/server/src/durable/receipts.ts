// Idempotent receipt: an effect is applied in the same transaction that records it as received, keyed by its
// sender and the sender's seq. A sender delivers its effects to one target strictly in order (see outbox.ts), so the
// highest seq applied per sender is the whole receipt: anything at or below it was applied already.

import type { Effect } from "./outbox.ts";

/** Apply the effects not applied before, in order, all in one transaction; returns how many were new. */
export function receiveOnce(
  storage: DurableObjectStorage,
  source: string,
  effects: readonly Effect[],
  apply: (effect: Effect) => void,
): number {
  return storage.transactionSync(() => {
    const sql = storage.sql;
    let last = sql.exec<{ seq: number }>("SELECT seq FROM receipts WHERE source = ?", source).toArray()[0]?.seq ?? 0;
    let applied = 0;
    for (const effect of [...effects].sort((a, b) => a.seq - b.seq)) {
      if (effect.seq <= last) continue;
      apply(effect);
      last = effect.seq;
      applied++;
    }
    sql.exec(
      "INSERT INTO receipts (source, seq) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET seq = MAX(seq, excluded.seq)",
      source,
      last,
    );
    return applied;
  });
}

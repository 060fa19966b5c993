// Writes that may wait for the object's next write turn. Every turn that writes is a SQLite commit (locally a WAL fsync
// on the thread every object shares), and some writes only mark progress whose loss is harmless: that a delivery to an
// object with receipts landed (delivered again, it is ignored there), how far the search index has taken the record
// (the index takes each event once). Such a write made in a turn of its own after every command — the answer of a
// delivery arriving — cost a commit each; held here, it goes into the next transaction the object makes anyway (a
// command's next step), or into a turn of its own after MAX_WAIT_MS when none comes. Whoever defers a write keeps
// what it means in memory meanwhile and reads storage only after flush().

/** A deferred write is made at the latest this long after it was deferred. */
const MAX_WAIT_MS = 1000;

export class Later {
  /** The writes waiting, by key: a later one of the same key takes the place of the earlier (it covers it). */
  private readonly writes = new Map<string, () => void>();
  /** Writes flushed into the transaction under way, until it commits (see rolledBack). */
  private readonly made: [string, () => void][] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `flushIn` makes a turn that writes (a transaction of the object): the deferred writes then go with it. */
  constructor(private readonly flushIn: () => void) {}

  /**
   * Make `write` in the object's next transaction, or within MAX_WAIT_MS. Only for a write whose loss (the object
   * evicted or its transaction rolled back before it is made) costs nothing but doing its work again.
   */
  defer(key: string, write: () => void): void {
    this.writes.set(key, write);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      try {
        if (this.writes.size > 0) this.flushIn();
      } catch (error) {
        // Still waiting: the object's next transaction makes them (lost with the object, they only cost work again).
        console.error("deferred writes not made", error);
      }
    }, MAX_WAIT_MS);
  }

  /**
   * Make every waiting write now (call it inside the transaction they go with, or before reading what they write). They
   * are kept until `committed`: a transaction that rolls back takes them with it, and `rolledBack` defers them again.
   */
  flush(): void {
    if (this.writes.size === 0) return;
    const writes = [...this.writes];
    this.writes.clear();
    this.made.push(...writes);
    for (const [, write] of writes) write();
  }

  /** The transaction the flushed writes went into committed. */
  committed(): void {
    this.made.length = 0;
  }

  /** The transaction the flushed writes went into rolled back: they wait for the next one (a newer one of a key wins). */
  rolledBack(): void {
    for (const [key, write] of this.made) if (!this.writes.has(key)) this.writes.set(key, write);
    this.made.length = 0;
  }

  /** Storage was emptied: nothing waiting applies any more. */
  forget(): void {
    this.writes.clear();
    this.made.length = 0;
  }
}

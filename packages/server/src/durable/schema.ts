// The tables every object that sends or receives durable effects keeps. Each object's migration list appends this
// once (objects are migrated independently, so the same text appears as an entry in several lists).

export const DURABLE_EFFECTS_SQL = `
  CREATE TABLE alarms (name TEXT PRIMARY KEY, at INTEGER NOT NULL);
  CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    payload TEXT NOT NULL, created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
    delivered_at TEXT, last_error TEXT, given_up INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX outbox_pending ON outbox(target, seq) WHERE delivered_at IS NULL AND given_up = 0;
  CREATE TABLE receipts (source TEXT PRIMARY KEY, seq INTEGER NOT NULL);`;

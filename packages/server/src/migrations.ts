// Append-only schema migrations for a Durable Object's SQLite. Each object class owns a list; entry i is applied
// once, in order, recorded in _migrations. Never edit or reorder an entry that has shipped: add a new one.

export type Migration = { name: string; sql: string };

export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): void {
  const sql = storage.sql;
  sql.exec(
    "CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  const row = sql.exec<{ n: number }>("SELECT COALESCE(MAX(id), 0) AS n FROM _migrations").one();
  for (let id = row.n + 1; id <= migrations.length; id++) {
    const migration = migrations[id - 1] as Migration;
    storage.transactionSync(() => {
      sql.exec(migration.sql);
      sql.exec(
        "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)",
        id,
        migration.name,
        new Date().toISOString(),
      );
    });
  }
}

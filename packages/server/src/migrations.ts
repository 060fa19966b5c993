// Append-only schema migrations for a Durable Object's SQLite. Each object class owns a list; entry i is applied
// once, in order, recorded in _migrations. Never edit or reorder an entry that has shipped: add a new one.

export type Migration = { name: string; sql: string };

/**
 * The names already applied must be the list's first names, in order: a shipped migration that was renamed,
 * reordered or removed means this code does not describe this database, and the object refuses to start.
 */
export function appliedMismatch(applied: readonly string[], migrations: readonly Migration[]): string | null {
  if (applied.length > migrations.length)
    return `the database has ${applied.length} migrations applied but the code knows only ${migrations.length}`;
  for (const [i, name] of applied.entries()) {
    const expected = migrations[i]?.name;
    if (name !== expected)
      return `migration ${i + 1} was applied as "${name}" but the code lists "${expected}" there: shipped migrations are never edited or reordered`;
  }
  return null;
}

export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): void {
  const sql = storage.sql;
  sql.exec(
    "CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  const applied = sql
    .exec<{ name: string }>("SELECT name FROM _migrations ORDER BY id")
    .toArray()
    .map((r) => r.name);
  const mismatch = appliedMismatch(applied, migrations);
  if (mismatch !== null) throw new Error(`schema migrations do not match: ${mismatch}`);
  for (let id = applied.length + 1; id <= migrations.length; id++) {
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

// Before/after by meaning rather than by line, where the output has a shape: a table (PowerShell Format-Table and the
// default view of Get-*, `systemctl list-units`, `ps`) is compared row by row by its key column, a list of
// `Name : Value` lines (PowerShell Format-List) and JSON (ConvertTo-Json, `--output json`) field by field. A dispatcher
// reads "Spooler · Status: Stopped → Running" instead of a red line and a green one.

/** A field that changed: `before` null when it was added, `after` null when it was removed. */
export interface FieldChange {
  key: string;
  before: string | null;
  after: string | null;
}

/** A table row that changed, by the value of its key column. */
export interface RowChange {
  key: string;
  change: "added" | "removed" | "changed";
  /** The changed cells (every cell of an added or removed row). */
  cells: { column: string; before: string | null; after: string | null }[];
}

export type StructuredDiff =
  | { kind: "json"; keys: FieldChange[] }
  | { kind: "list"; keys: FieldChange[] }
  | { kind: "table"; keyColumn: string; columns: string[]; rows: RowChange[] };

/** Outputs larger than this are compared by line only: the views need both whole texts. */
export const STRUCTURED_MAX_BYTES = 1024 * 1024;

/** The structured comparison of two outputs of the same shape, or null when they have none (then the line diff says it). */
export function structuredDiff(before: string, after: string): StructuredDiff | null {
  const json = [parseJson(before), parseJson(after)];
  if (json[0] !== undefined && json[1] !== undefined) {
    return { kind: "json", keys: compareFields(flattenJson(json[0]), flattenJson(json[1])) };
  }
  const tables = [parseTable(before), parseTable(after)];
  if (tables[0] && tables[1] && tables[0].keyColumn === tables[1].keyColumn) return compareTables(tables[0], tables[1]);
  const lists = [parseList(before), parseList(after)];
  if (lists[0] && lists[1]) return { kind: "list", keys: compareFields(lists[0], lists[1]) };
  return null;
}

function compareFields(before: Map<string, string>, after: Map<string, string>): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [key, value] of before) {
    const now = after.get(key);
    if (now === undefined) changes.push({ key, before: value, after: null });
    else if (now !== value) changes.push({ key, before: value, after: now });
  }
  for (const [key, value] of after) if (!before.has(key)) changes.push({ key, before: null, after: value });
  return changes;
}

// ---- JSON

function parseJson(text: string): unknown {
  const t = text.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/** Fields that name an element of a list of objects, so `[Name=Spooler].Status` survives a reordered list. */
const NAMING_FIELDS = ["Name", "name", "Id", "id", "Unit", "unit", "PID", "pid", "DeviceID", "ServiceName"];

/** Leaf values by path (`Status`, `Printers[Name=HP-2].Status`, `items[2]`), each as its JSON text. */
function flattenJson(value: unknown, path = "", into = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    const naming = namingField(value);
    value.forEach((item, i) => {
      const label = naming ? `${naming}=${String((item as Record<string, unknown>)[naming])}` : String(i);
      flattenJson(item, `${path}[${label}]`, into);
    });
    if (value.length === 0) into.set(path || "$", "[]");
  } else if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    for (const [k, v] of entries) flattenJson(v, path ? `${path}.${k}` : k, into);
    if (entries.length === 0) into.set(path || "$", "{}");
  } else {
    into.set(path || "$", JSON.stringify(value));
  }
  return into;
}

/** The field every element has, with a different plain value in each. */
function namingField(items: unknown[]): string | null {
  if (items.length === 0 || !items.every((i) => i !== null && typeof i === "object" && !Array.isArray(i))) return null;
  for (const field of NAMING_FIELDS) {
    const values = items.map((i) => (i as Record<string, unknown>)[field]);
    if (values.every((v) => typeof v === "string" || typeof v === "number") && new Set(values).size === values.length)
      return field;
  }
  return null;
}

// ---- tables

interface Table {
  columns: string[];
  keyColumn: string;
  rows: Map<string, string[]>;
}

/** Columns that identify a row, in the order they are preferred; else the first column. */
const KEY_COLUMNS = ["PID", "UNIT", "Name", "NAME", "Id", "ID", "ServiceName", "DeviceID"];

const lines = (text: string) => text.split("\n").map((l) => l.replace(/\r$/, "").replace(/\s+$/, ""));

/**
 * A table: a header line, then (PowerShell) a line of dashes under each column, whose spans cut every row; or
 * (`ps`, `systemctl`) a header of capitalized words, rows cut at runs of spaces with the last column taking the rest.
 * The table ends at the first blank line (systemctl's legend and count follow it).
 */
function parseTable(text: string): Table | null {
  const all = lines(text);
  let at = all.findIndex((l) => l.trim().length > 0);
  if (at < 0) return null;
  const header = all[at] as string;
  const dashes = all[at + 1] ?? "";
  let columns: string[];
  let cells: (line: string) => string[];
  if (/^[\s-]+$/.test(dashes) && dashes.includes("--")) {
    const spans = [...dashes.matchAll(/-+/g)].map((m) => m.index as number);
    const cut = (line: string) =>
      spans.map((start, i) => line.slice(start, i + 1 < spans.length ? spans[i + 1] : undefined).trim());
    columns = cut(header);
    cells = cut;
    at += 2;
  } else if (/^\s*[A-Z%][A-Z0-9%_-]*(\s+[A-Z%][A-Z0-9%_-]*){2,}\s*$/.test(header)) {
    columns = header.trim().split(/\s+/);
    cells = (line) => {
      const parts = line.replace(/^\s*●?\s*/, "").split(/\s+/);
      return [...parts.slice(0, columns.length - 1), parts.slice(columns.length - 1).join(" ")];
    };
    at += 1;
  } else return null;
  const keyColumn = KEY_COLUMNS.find((k) => columns.includes(k)) ?? (columns[0] as string);
  const keyAt = columns.indexOf(keyColumn);
  const rows = new Map<string, string[]>();
  for (const line of all.slice(at)) {
    if (line.trim().length === 0) break;
    const row = cells(line);
    const base = row[keyAt] ?? "";
    let key = base;
    for (let n = 2; rows.has(key); n++) key = `${base} #${n}`;
    rows.set(key, row);
  }
  return rows.size > 0 ? { columns, keyColumn, rows } : null;
}

function compareTables(before: Table, after: Table): StructuredDiff {
  const columns = [...new Set([...before.columns, ...after.columns])];
  const cell = (t: Table, row: string[] | undefined, column: string) => {
    const i = t.columns.indexOf(column);
    return row && i >= 0 ? (row[i] ?? "") : null;
  };
  const rows: RowChange[] = [];
  for (const [key, row] of before.rows) {
    const now = after.rows.get(key);
    const cells = columns
      .map((column) => ({ column, before: cell(before, row, column), after: now ? cell(after, now, column) : null }))
      .filter((c) => c.before !== c.after);
    if (!now) rows.push({ key, change: "removed", cells });
    else if (cells.length > 0) rows.push({ key, change: "changed", cells });
  }
  for (const [key, row] of after.rows) {
    if (before.rows.has(key)) continue;
    const cells = columns.map((column) => ({ column, before: null, after: cell(after, row, column) }));
    rows.push({ key, change: "added", cells });
  }
  return { kind: "table", keyColumn: before.keyColumn, columns, rows };
}

// ---- PowerShell Format-List

/** `Name : Value` records separated by blank lines, keyed `<record's Name>.<field>` when there are several. */
function parseList(text: string): Map<string, string> | null {
  const records: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let field: string | null = null;
  for (const line of lines(text)) {
    if (line.trim().length === 0) {
      if (current.size > 0) records.push(current);
      current = new Map();
      field = null;
      continue;
    }
    const m = /^(\S[^:]*?)\s*:\s?(.*)$/.exec(line);
    if (m && !/^\s/.test(line)) {
      field = m[1] as string;
      current.set(field, m[2] as string);
    } else if (field && /^\s/.test(line)) current.set(field, `${current.get(field)} ${line.trim()}`);
    else return null;
  }
  if (current.size > 0) records.push(current);
  if (records.length === 0 || records.reduce((n, r) => n + r.size, 0) < 2) return null;
  const fields = new Map<string, string>();
  records.forEach((r, i) => {
    const name = r.get("Name") ?? r.get("Id") ?? String(i + 1);
    for (const [k, v] of r) fields.set(records.length > 1 ? `${name}.${k}` : k, v);
  });
  return fields;
}

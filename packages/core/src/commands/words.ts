// Sentence parts shared by the plain-language descriptions.

export function list(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

export function quoteValue(v: string): string {
  return /^-?(0x[0-9a-f]+|\d+(\.\d+)?)$/i.test(v) ? v : `'${v}'`;
}

/** Comma lists as separate items, quotes dropped. */
export function splitList(values: (string | undefined)[]): string[] {
  return values
    .filter((v): v is string => v !== undefined)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim().replace(/^['"]|['"]$/g, ""))
    .filter((v) => v !== "");
}

export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function url(args: readonly string[]): string | undefined {
  for (const a of args) {
    const m = /https?:\/\/[^\s'")]+/i.exec(a);
    if (m) return m[0];
  }
  return undefined;
}

/** A description that does not depend on the arguments. */
export function says(text: string): () => string {
  return () => text;
}

/** "the <what> from the previous step", when the step is fed by a pipe. */
export function fromPrevious(what: string, prev: unknown, piped: boolean): string | undefined {
  return piped && prev ? `the ${what} from the previous step` : undefined;
}

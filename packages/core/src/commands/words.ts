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

/**
 * What writing into a file does, in the contact's words: `>`, Set-Content, Out-File and `tee` replace its contents;
 * `>>`, Add-Content and `tee -a` add to its end, named by the lines they add when the text is known (`printed`).
 */
export function writeToFile(file: string, append: boolean, printed?: string): string {
  if (!append) return `Replace the contents of the file ${file}`;
  if (printed === undefined || printed === "") return `Add the output to the end of the file ${file}`;
  if (!printed.endsWith("\n")) return `Add text to the end of the file ${file}`;
  const lines = printed.split("\n").length - 1;
  return lines === 1 ? `Add a line to the file ${file}` : `Add ${lines} lines to the file ${file}`;
}

/** A PowerShell argument whose value is computed when the command runs (a variable, a sub-expression, an escape). */
export const PS_COMPUTED = /[$`]|^[(@]/;

/**
 * Lines of literal text, each ending in a newline; undefined when any part is computed when the command runs
 * (a variable, a sub-expression, an escape sequence the shell may or may not expand).
 */
export function literalLines(lines: readonly string[], computed: RegExp): string | undefined {
  if (lines.some((l) => computed.test(l))) return undefined;
  return lines.map((l) => `${l}\n`).join("");
}

/**
 * A sentence that only announces looking at something: showing, listing, previewing, searching, checking, testing,
 * tracing, waiting. A step classified as a change is never described with one.
 */
export const READ_ONLY_SENTENCE =
  /^(Show|List|Preview|Search|Look up|Check whether|Check the disk\S* for errors|Check (the )?Windows .* for damage|Test the|Trace the|Wait)\b/;

/** A sentence that announces a change. A step classified as read is never described with one. */
export const CHANGE_SENTENCE =
  /^(Delete|Stop|Start|Restart|Set(?! the variable)|Create|Install|Uninstall|Update|Remove|Add|Change|Turn|Reset|Clear|Empty|Force|Disable|Enable|Unlock|Rename|Move|Copy|Replace|Save|Shut|Release|Renew|Register|Repair|Scan and repair|Check and repair|Cancel|Take|Make|Block|Allow|Refresh|Connect|Disconnect|Sign out|Put|Synchronize|Import|Pause|Resume|Reload|Clean up|Run Disk|Run the scheduled task|Download|Edit)\b/;

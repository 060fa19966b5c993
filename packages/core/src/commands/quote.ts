// Writing a literal into a command line, per shell: how the reverses Caisey proposes name files, keys and values.

/** POSIX single quotes: everything literal; a quote itself closes, escapes and reopens. */
export function shQuote(s: string): string {
  return /^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/** PowerShell single quotes: everything literal; a quote (any of the four Unicode forms PowerShell reads) doubles. */
export function psQuote(s: string): string {
  return `'${s.replace(/['\u2018\u2019\u201a\u201b]/g, "$&$&")}'`;
}

/**
 * cmd double quotes, or undefined when cmd cannot carry the text literally (a quote, `%` which cmd expands even
 * inside quotes, `!`, a line break or NUL).
 */
export function cmdQuote(s: string): string | undefined {
  if (/["%!\r\n\0]/.test(s)) return undefined;
  return /^[\w.\\:@+=,-]+$/.test(s) ? s : `"${s}"`;
}

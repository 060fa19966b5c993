// Reading a program's arguments, for the classifier and the descriptions alike (one reading, so they agree).

export const lc = (s: string): string => s.toLowerCase();

/** Any of `names` (lower-case, exact) among the arguments, case-insensitively. */
export function hasArg(args: readonly string[], ...names: string[]): boolean {
  return args.some((a) => names.includes(lc(a)));
}

/** An argument starting with one of the prefixes (lower-case), case-insensitively. */
export function hasArgPrefix(args: readonly string[], ...prefixes: string[]): boolean {
  return args.some((a) => {
    const x = lc(a);
    return prefixes.some((p) => x.startsWith(p));
  });
}

export function firstLc(args: readonly string[]): string {
  return lc(args[0] ?? "");
}

/** Windows-style switches (/x or -x) removed. */
export function winPositional(args: readonly string[]): string[] {
  return args.filter((a) => !/^[/-]/.test(a));
}

/** The value after a Windows switch: `/v Name` or `/v:Name`. */
export function winOpt(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = lc(args[i] ?? "");
    if (a === `/${name}` || a === `-${name}`) return args[i + 1];
    if (a.startsWith(`/${name}:`)) return (args[i] ?? "").slice(name.length + 2);
  }
  return undefined;
}

export function posixPositional(args: readonly string[]): string[] {
  return args.filter((a) => !a.startsWith("-"));
}

/** The first argument that is not an option: the subcommand of `apt`, `git`, `systemctl`, … */
export function posixSubcommand(args: readonly string[]): string {
  return args.find((x) => !x.startsWith("-")) ?? "";
}

/** A POSIX short-option cluster (-rf) or long option includes one of the given letters/long names. */
export function posixFlag(args: readonly string[], letters: string, longs: string[] = []): boolean {
  for (const a of args) {
    if (a === "--") break;
    if (a.startsWith("--")) {
      const name = a.slice(2).split("=")[0] ?? "";
      if (longs.includes(name)) return true;
    } else if (a.startsWith("-") && a.length > 1) {
      for (const ch of a.slice(1)) if (letters.includes(ch)) return true;
    }
  }
  return false;
}

// PowerShell parameters. A parameter may be shortened to any unambiguous prefix (at least `minLen` letters here), and
// a switch may be given a value after a colon: `-Force:$false`.

/** Does `written` (lower-case, no dash) name the parameter `full`? */
function psNames(written: string, full: string, minLen: number): boolean {
  return full.startsWith(written) && written.length >= Math.min(minLen, full.length);
}

/** Is the parameter `full` given at all (with or without a value)? */
export function psGiven(args: readonly string[], full: string, minLen = 2): boolean {
  return args.some((a) => a.startsWith("-") && psNames(lc(a.slice(1)).split(":")[0] ?? "", full, minLen));
}

export type SwitchState = "on" | "off" | "computed";

/**
 * A switch as written: on (`-X`, `-X:$true`, `-X:1`), off (`-X:$false`, `-X:0`, and `-X:false`, which PowerShell
 * refuses to bind, so the command does not run at all), computed (`-X:$v`), or undefined when absent.
 */
export function psSwitch(args: readonly string[], full: string, minLen = 2): SwitchState | undefined {
  for (const a of args) {
    if (!a.startsWith("-")) continue;
    const [n, ...rest] = lc(a.slice(1)).split(":");
    if (n === undefined || !psNames(n, full, minLen)) continue;
    if (rest.length === 0) return "on";
    const v = rest.join(":");
    if (/^(\$?true|1)$/.test(v)) return "on";
    if (/^(\$?false|0)$/.test(v)) return "off";
    return "computed";
  }
  return undefined;
}

/** The switch may be on: given, and not explicitly off. */
export function psSwitchSet(args: readonly string[], full: string, minLen = 2): boolean {
  const s = psSwitch(args, full, minLen);
  return s === "on" || s === "computed";
}

export interface PsParams {
  named: Map<string, string | true>;
  pos: string[];
}

/** Parameters that never take a value, so the word after them is positional. */
const PS_SWITCHES = new Set(
  (
    "force recurse confirm whatif passthru verbose debug asjob nonewwindow wait noprofile usebasicparsing list all " +
    "detailed full quiet append noclobber raw file directory hidden system readonly includeall " +
    "acceptall autoreboot install download ignorereboot noreboot skipunchanged"
  ).split(" "),
);

export function psParams(args: readonly string[]): PsParams {
  const named = new Map<string, string | true>();
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const m = /^-([A-Za-z][\w-]*)(?::(.*))?$/.exec(a);
    if (!m) {
      pos.push(a);
      continue;
    }
    const key = lc(m[1] ?? "");
    if (m[2] !== undefined) named.set(key, m[2]);
    else if (PS_SWITCHES.has(key) || i + 1 >= args.length || /^-[A-Za-z]/.test(args[i + 1] ?? "")) named.set(key, true);
    else named.set(key, args[++i] ?? "");
  }
  return { named, pos };
}

/** A named parameter's value (abbreviations allowed), else the positional at `position`. */
export function param(p: PsParams, names: string[], position?: number): string | undefined {
  for (const [k, v] of p.named) {
    if (typeof v === "string" && names.some((n) => psNames(k, n, 2))) return v;
  }
  return position === undefined ? undefined : p.pos[position];
}

/** A PowerShell step's first value: the named parameter or the first positional. */
export function firstPos(s: { args: readonly string[] }, names: string[] = ["name"]): string | undefined {
  return param(psParams(s.args), names, 0);
}

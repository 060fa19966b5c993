// Text filters and formatting: what pipelines pass output through (grep, sort, awk, Select-Object, Format-Table, …).
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { lc, posixFlag, posixPositional, psGiven } from "../args.ts";
import { change, type Finding, type Invocation, type Program, type ProgramFamily, READ, reads } from "../types.ts";
import { list, literalLines, PS_COMPUTED, says, splitList } from "../words.ts";
import { fileTargets } from "./files.ts";

const awk = ({ name, args: a }: Invocation): Finding | undefined => {
  if (a.some((x) => x === "-f" || x.startsWith("--file") || x === "-i" || x === "--inplace" || x.includes("inplace")))
    return change(`${name} runs a program file or edits in place`);
  const prog = a.find((x, i) => !x.startsWith("-") && !/^-[vF]$/.test(a[i - 1] ?? "")) ?? "";
  if (/\b(system|close|fflush)\s*\(|\|\s*getline|\|&|print[f]?\b[^;{}]*[>|]/.test(prog))
    return change(`${name} runs commands or writes files`);
  return READ;
};

export function headTail(args: string[], which: "first" | "last", piped: boolean): string | undefined {
  const files = args.filter((a, i) => !a.startsWith("-") && !/^-(n|c)$/.test(args[i - 1] ?? ""));
  if (files.length === 0 || piped) return undefined;
  const n = /^-n?(\d+)$/.exec(args.find((a) => /^-n?\d+$/.test(a)) ?? "")?.[1] ?? args[args.indexOf("-n") + 1];
  return `Show the ${which} ${args.includes("-n") || n ? `${n} lines` : "lines"} of ${list(files)}`;
}

/** echo (POSIX): its words and a newline (none after -n); escapes and expansions make the text unknown. */
function posixEcho({ args }: Invocation): string | undefined {
  let i = 0;
  let newline = true;
  while (/^-[neE]+$/.test(args[i] ?? "")) {
    if (args[i]?.includes("n")) newline = false;
    i++;
  }
  const words = args.slice(i).join(" ");
  if (/[$`\\]/.test(words)) return undefined;
  return newline ? `${words}\n` : words;
}

/** printf with a format only: the format with \n and %% read. */
function posixPrintf({ args }: Invocation): string | undefined {
  const [format, ...rest] = args;
  if (format === undefined || rest.length > 0 || /%[^%]|[$`]/.test(format.replace(/%%/g, ""))) return undefined;
  const printed = format.replace(/%%/g, "%").replace(/\\n/g, "\n");
  return printed.includes("\\") ? undefined : printed;
}

/** echo (cmd): the rest of the line; `echo`, `echo on` and `echo off` print no text of theirs. */
function cmdEcho({ args }: Invocation): string | undefined {
  const words = args.join(" ");
  if (/^(on|off)?$/i.test(words.trim()) || /[%!]/.test(words)) return undefined;
  return `${words}\n`;
}

const message = (prints: Program["prints"]): Program => ({
  classify: reads.classify,
  describe: says("Show a message"),
  prints,
});

/** The files `sed -i` edits in place (none without -i). */
function sedInPlaceFiles(args: readonly string[]): string[] {
  if (!args.some((x) => /^-[a-zA-Z]*i/.test(x) || x.startsWith("--in-place"))) return [];
  // the first word that is not an option is the script (unless given with -e or -f), the rest are the files
  const scripted = args.some((x) => /^-[a-zA-Z]*[ef]$/.test(x) || /^--(expression|file)/.test(x));
  const words = args.filter((x, i) => !x.startsWith("-") && !/^-[a-zA-Z]*[ef]$/.test(args[i - 1] ?? ""));
  return scripted ? words : words.slice(1);
}

export const text: ProgramFamily = {
  windows: {
    find: { classify: reads.classify, filter: true },
    findstr: { classify: reads.classify, filter: true },
    more: { classify: reads.classify, filter: true },
  },
  cmd: {
    echo: message(cmdEcho),
    sort: {
      classify: ({ args }) => (args.some((x) => /^\/o/i.test(x)) ? change("sort writes a file") : READ),
      filter: true,
    },
  },
  posix: {
    awk: { classify: awk, filter: true },
    base64: reads,
    bc: reads,
    column: { classify: reads.classify, filter: true },
    cut: { classify: reads.classify, filter: true },
    echo: message(posixEcho),
    egrep: { classify: reads.classify, filter: true },
    expr: reads,
    fgrep: reads,
    fmt: reads,
    fold: reads,
    gawk: { classify: awk },
    grep: {
      classify: reads.classify,
      describe: (s) => {
        const pos = s.args.filter((a) => !a.startsWith("-"));
        const [pattern, ...files] = pos;
        if (pattern === undefined || files.length === 0) return undefined;
        return `Search ${list(files)} for '${pattern}'`;
      },
      filter: true,
    },
    head: { classify: reads.classify, describe: (s) => headTail(s.args, "first", s.piped), filter: true },
    join: reads,
    jq: { classify: reads.classify, filter: true },
    less: { classify: reads.classify, filter: true },
    mawk: { classify: awk },
    more: { classify: reads.classify, filter: true },
    nawk: { classify: awk },
    nl: reads,
    numfmt: reads,
    paste: reads,
    printf: { classify: reads.classify, prints: posixPrintf },
    rev: reads,
    rg: reads,
    sed: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        if (a.some((x) => /^-[a-zA-Z]*i/.test(x) || x.startsWith("--in-place")))
          return change("sed -i edits files in place");
        const script = a.filter((x) => !x.startsWith("-")).join("\n");
        if (/(^|[;}\n]|\/[gpiImM0-9]*)\s*[wWe](\s|$)|\/[gpiImM0-9]*[we]\b/.test(script))
          return change("sed writes a file or runs a command");
        return READ;
      },
      describe: ({ args }) => {
        const files = sedInPlaceFiles(args);
        return files.length === 0 ? undefined : `Edit the file${files.length > 1 ? "s" : ""} ${list(files)}`;
      },
      probe: ({ args }) => fileTargets(sedInPlaceFiles(args)),
      filter: true,
    },
    seq: reads,
    shuf: reads,
    sort: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return posixFlag(a, "o", ["output"]) ? change("sort writes a file") : READ;
      },
      filter: true,
    },
    tac: reads,
    tail: { classify: reads.classify, describe: (s) => headTail(s.args, "last", s.piped), filter: true },
    tr: { classify: reads.classify, filter: true },
    uniq: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = posixPositional(args);
        return pos.length >= 2 ? change("uniq writes a file") : READ;
      },
      filter: true,
    },
    wc: { classify: reads.classify, filter: true },
    yes: reads,
    zgrep: reads,
  },
  cmdlets: {
    "convertto-csv": { filter: true },
    "convertto-html": { filter: true },
    "convertto-json": { filter: true },
    "foreach-object": {
      classify: ({ args, scriptBlocks }: Invocation): Finding | undefined => {
        // read only when every positional argument is a script block (the blocks themselves are classified)
        for (let i = 0; i < args.length; i++) {
          const a = args[i] ?? "";
          if (a.startsWith("-")) {
            if (psGiven([a], "membername", 1)) return change("ForEach-Object calls a member by name");
            continue;
          }
          const isBlock = scriptBlocks?.[i] === true;
          const prevParam = lc(args[i - 1] ?? "");
          if (!isBlock && !/^-(th|inp|arg)/.test(prevParam)) return change(`ForEach-Object calls the member '${a}'`);
        }
        return READ;
      },
    },
    "format-custom": { classify: reads.classify, filter: true },
    "format-hex": reads,
    "format-list": { classify: reads.classify, filter: true },
    "format-table": { classify: reads.classify, filter: true },
    "format-wide": { classify: reads.classify, filter: true },
    "get-unique": { classify: reads.classify, filter: true },
    "group-object": { classify: reads.classify, filter: true },
    "measure-object": { filter: true },
    "out-default": { classify: reads.classify, filter: true },
    "out-gridview": { classify: reads.classify, filter: true },
    "out-host": { classify: reads.classify, filter: true },
    "out-null": { classify: reads.classify, filter: true },
    "out-string": { classify: reads.classify, filter: true },
    "select-object": { filter: true },
    "select-string": { filter: true },
    "sort-object": { classify: reads.classify, filter: true },
    unique: reads,
    "where-object": { classify: reads.classify, filter: true },
    "write-debug": reads,
    "write-error": reads,
    "write-host": { classify: reads.classify, describe: says("Show a message") },
    "write-information": reads,
    "write-output": message(({ args }) =>
      args.some((a) => a.startsWith("-")) ? undefined : literalLines(splitList(args), PS_COMPUTED),
    ),
    "write-progress": reads,
    "write-verbose": reads,
    "write-warning": reads,
  },
};

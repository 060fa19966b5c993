// cmd.exe: the lexer that understands its quoting ("", ^), and the walker that splits batch text, sequences
// (&, &&, ||), pipelines and ( ) blocks into simple commands, reading if conditions and for loops.

import { lc } from "../args.ts";
import { program as lookup } from "../programs/index.ts";
import { change, type Finding, type Invocation, type Program, type Redirect } from "../types.ts";
import { ParseError, type Walk } from "../walk.ts";

interface CmdWord {
  t: "word";
  v: string;
  s: number;
  e: number;
  raw: string;
}
interface CmdOp {
  t: "op";
  v: string;
  s: number;
  e: number;
}
interface CmdRedir {
  t: "redir";
  v: string;
  s: number;
  e: number;
  target: string;
}
type CmdTok = CmdWord | CmdOp | CmdRedir;

function cmdLex(src: string): CmdTok[] {
  const out: CmdTok[] = [];
  let i = 0;
  let atStart = true;
  while (i < src.length) {
    const c = src[i] ?? "";
    const s = i;
    if (c === " " || c === "\t" || c === "\r" || (c === "@" && atStart)) {
      i++;
      continue;
    }
    if (c === "^" && src[i + 1] === "\n") {
      i += 2;
      continue;
    }
    if (atStart) {
      const rest = src.slice(i, i + 5);
      if (/^(rem)(\s|$)/i.test(rest) || rest.startsWith(":")) {
        while (i < src.length && src[i] !== "\n") i++;
        continue;
      }
    }
    if (c === "\n") {
      out.push({ t: "op", v: "\n", s, e: ++i });
      atStart = true;
      continue;
    }
    if (c === "&" || c === "|") {
      const v = src[i + 1] === c ? c + c : c;
      i += v.length;
      out.push({ t: "op", v, s, e: i });
      atStart = true;
      continue;
    }
    if (c === "(" || c === ")") {
      out.push({ t: "op", v: c, s, e: ++i });
      atStart = c === "(";
      continue;
    }
    const fd = /^[0-9]?(>>|>|<)(&[0-9])?/.exec(src.slice(i));
    if (fd && (c === ">" || c === "<" || /[0-9]/.test(c))) {
      i += fd[0].length;
      if (fd[2]) {
        out.push({ t: "redir", v: fd[0], s, e: i, target: fd[2] });
        continue;
      }
      while (src[i] === " " || src[i] === "\t") i++;
      const w = cmdWord(src, i);
      if (w.v === "" && w.e === i) throw new ParseError(`redirection ${fd[0]} without a target`);
      i = w.e;
      out.push({ t: "redir", v: fd[0], s, e: i, target: w.v });
      continue;
    }
    const w = cmdWord(src, i);
    i = w.e;
    out.push(w);
    atStart = false;
  }
  return out;
}

function cmdWord(src: string, start: number): CmdWord {
  let i = start;
  let v = "";
  let inQuote = false;
  while (i < src.length) {
    const c = src[i] ?? "";
    if (inQuote) {
      if (c === '"') inQuote = false;
      else if (c === "\n") break;
      else v += c;
      i++;
      continue;
    }
    if (c === '"') {
      inQuote = true;
      i++;
      continue;
    }
    if (c === "^") {
      if (src[i + 1] === "\n") {
        i += 2;
        continue;
      }
      v += src[i + 1] ?? "";
      i += 2;
      continue;
    }
    if (" \t\r\n&|<>)".includes(c)) break;
    if (c === "(" && i === start) break;
    v += c;
    i++;
  }
  return { t: "word", v, s: start, e: i, raw: src.slice(start, i) };
}

const CMD_IF_OPS = new Set(["equ", "neq", "lss", "leq", "gtr", "geq", "=="]);

/** Walk a cmd.exe command line or batch text, recording each top-level simple command as a step. */
export function cmdScript(src: string, walk: Walk): void {
  const toks = cmdLex(src);
  let words: CmdWord[] = [];
  let redirs: CmdRedir[] = [];
  let piped = false;
  let nextPiped = false;
  let depth = 0;
  const flush = (): void => {
    if (words.length > 0 || redirs.length > 0) cmdSimple(src, words, redirs, piped, walk);
    words = [];
    redirs = [];
    piped = nextPiped;
    nextPiped = false;
  };
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k] as CmdTok;
    if (t.t === "op") {
      // "(" opens a block only where a command starts; ")" closes one only inside a block: otherwise both are text
      if ((t.v === "(" && words.length > 0) || (t.v === ")" && depth === 0)) {
        words.push({ t: "word", v: t.v, s: t.s, e: t.e, raw: t.v });
        continue;
      }
      if (t.v === "(") depth++;
      if (t.v === ")") depth--;
      nextPiped = t.v === "|";
      flush();
      continue;
    }
    if (t.t === "redir") {
      redirs.push(t);
      continue;
    }
    if (words.length === 0) {
      const kw = lc(t.v);
      if (kw === "if") {
        let j = k + 1;
        const w = (n: number): string => {
          const x = toks[n];
          return x?.t === "word" ? lc(x.raw) : "\u0000";
        };
        if (w(j) === "/i") j++;
        if (w(j) === "not") j++;
        const cond = w(j);
        if (["exist", "defined", "errorlevel", "cmdextversion"].includes(cond)) j += 2;
        else if (/^[^=\s]+==[^=\s]+$/.test(cond)) j += 1;
        else if (cond.endsWith("==") && cond.length > 2) j += 2;
        else if (cond.startsWith("==") && cond.length > 2) j += 1;
        else if (CMD_IF_OPS.has(w(j + 1))) j += 3;
        else {
          walk.flag("could not parse an if condition");
          return;
        }
        k = j - 1;
        continue;
      }
      if (kw === "else") continue;
      if (kw === "for") {
        let j = k + 1;
        let slashF = false;
        while (j < toks.length) {
          const x = toks[j];
          if (x?.t !== "word") break;
          if (x.v.startsWith("%")) break;
          if (lc(x.v) === "/f") slashF = true;
          j++;
        }
        j++; // %%x
        const inW = toks[j];
        const open = toks[j + 1];
        if (inW?.t !== "word" || lc(inW.v) !== "in" || open?.t !== "op" || open.v !== "(") {
          walk.flag("could not parse a for loop");
          return;
        }
        let close = j + 2;
        while (close < toks.length && !(toks[close]?.t === "op" && (toks[close] as CmdOp).v === ")")) close++;
        const setStart = (toks[j + 2] ?? open).s;
        const setText = src.slice(setStart, toks[close]?.s ?? src.length).trim();
        if (slashF && /^['`]/.test(setText)) {
          const inner = setText.slice(1, setText.length - 1);
          walk.nested(() => cmdScript(inner.replace(/\^(.)/g, "$1"), walk));
        }
        const doW = toks[close + 1];
        if (doW?.t !== "word" || lc(doW.v) !== "do") {
          walk.flag("could not parse a for loop");
          return;
        }
        k = close + 1;
        continue;
      }
    }
    words.push(t);
  }
  flush();
}

const CMD_SAFE_TARGETS = new Set(["nul", "nul:", "con", "con:", "&1", "&2"]);

const SYSTEM32 =
  /^(?:"?)(?:[a-z]:\\windows|%systemroot%|%windir%|\$env:systemroot|\$env:windir)\\(?:system32|sysnative)\\/i;

/** Program name without a trusted system directory and without .exe/.com; undefined when it is a path elsewhere. */
export function winProgramName(raw: string): string | undefined {
  let n = raw;
  if (/[\\/]/.test(n)) {
    if (!SYSTEM32.test(n)) return undefined;
    n = n.replace(SYSTEM32, "");
    if (/[\\/]/.test(n)) return undefined;
  }
  return lc(n).replace(/\.(exe|com)$/, "");
}

/** A Windows program run by name, from cmd (builtins first) or PowerShell: what Caisey knows about it. */
export function windowsProgram(
  tables: readonly ("cmd" | "windows")[],
  inv: Invocation,
): { finding: Finding; program: Program } | undefined {
  for (const table of tables) {
    const program = lookup(table, inv.name);
    const finding = program?.classify?.(inv);
    if (program && finding) return { finding, program };
  }
  return undefined;
}

function cmdSimple(src: string, words: CmdWord[], redirs: CmdRedir[], piped: boolean, walk: Walk): void {
  const writes: Redirect[] = [];
  for (const r of redirs) {
    if (r.v.endsWith("<")) continue;
    if (CMD_SAFE_TARGETS.has(lc(r.target)) || /^&[0-9]$/.test(r.target)) continue;
    writes.push({ target: r.target, append: r.v.endsWith(">>") });
  }
  const start = words[0]?.s ?? redirs[0]?.s ?? 0;
  const end = Math.max(words[words.length - 1]?.e ?? 0, redirs[redirs.length - 1]?.e ?? 0);
  const raw = src.slice(start, end).trim();
  const first = words[0];
  if (first === undefined) {
    for (const w of writes) walk.flag(`redirects output to ${w.target}`);
    return;
  }
  let display = first.v.replace(/^@+/, "");
  let args = words.slice(1).map((w) => w.v);
  // echo. / echo: / echo( print a blank line or text; cd.. / cd\ change folder
  if (/^echo[.:(]/i.test(display)) {
    args = [display.slice(5), ...args].filter((x) => x !== "");
    display = display.slice(0, 4);
  } else if (/^cd(\.\.|\\)$/i.test(display)) {
    args = [display.slice(2), ...args];
    display = display.slice(0, 2);
  }
  const name = winProgramName(display);
  if (name === undefined) {
    const step = { name: lc(display), display, args, raw, piped };
    walk.record(step, change(`runs the program or script ${display}`), undefined, writes);
    return;
  }
  if (/\.(bat|cmd|ps1|vbs|js|wsf|msi|py)$/.test(name)) {
    walk.record({ name, display, args, raw, piped }, change(`runs the script ${display}`), undefined, writes);
    return;
  }
  const step = { name, display: name, args, raw, piped };
  if (/[%!]/.test(display)) {
    walk.record(step, change(`runs a command whose name is computed (${display})`), undefined, writes);
    return;
  }
  const known = windowsProgram(["cmd", "windows"], { shell: walk.shell, name, display, args, piped });
  walk.record(step, known?.finding ?? change(`unknown command '${display}'`), known?.program, writes);
}

// POSIX shells (bash, sh, and what pwsh runs natively there): the lexer that understands their quoting ('', "", \,
// $( ), ``, here-documents), the walker that splits scripts, sequences and pipelines into simple commands (descending
// into $( ), if/for/while bodies), and the wrappers (sudo, env, nice, timeout, xargs, …) whose wrapped command decides.

import type { Shell } from "../../shells.ts";
import { lc } from "../args.ts";
import { program as lookup } from "../programs/index.ts";
import { SENSITIVE_VARS } from "../programs/shell.ts";
import { change, type Finding, type Program, READ, type Redirect } from "../types.ts";
import { ParseError, type Walk } from "../walk.ts";

export interface Resolved {
  finding: Finding;
  name: string;
  display: string;
  args: string[];
  program?: Program;
}

interface ResolveContext {
  shell: Shell;
  piped: boolean;
}

/** Resolve wrappers down to the program that runs, and what Caisey knows about it. */
export function posixResolve(display: string, args: string[], ctx: ResolveContext, depth = 0): Resolved {
  const name = display.includes("/") ? posixBasename(display) : display;
  const res = (finding: Finding): Resolved => ({ finding, name: name ?? display, display, args });
  if (name === undefined) return res(change(`runs the program or script ${display}`));
  if (/[$`]/.test(name)) return res(change(`runs a command whose name is computed (${display})`));
  if (depth > 6) return res(change("wraps commands too deeply to analyse"));
  const wrapped = (rest: string[]): Resolved => {
    const [inner, ...innerArgs] = rest;
    if (inner === undefined) return res(READ);
    return posixResolve(inner, innerArgs, ctx, depth + 1);
  };
  switch (name) {
    case "sudo":
    case "doas": {
      let i = 0;
      while (i < args.length) {
        const x = args[i] ?? "";
        if (x === "--") {
          i++;
          break;
        }
        if (!x.startsWith("-")) break;
        if (/^-[a-zA-Z]*[isE]?$/.test(x) && /[is]/.test(x.slice(1)) && !x.startsWith("--")) {
          if (args.length === i + 1) return res(change(`${name} opens a root shell`));
        }
        if (x === "-e" || x === "--edit") return res(change(`${name} edits a file`));
        if (x === "--login" || x === "--shell") {
          if (args.length === i + 1) return res(change(`${name} opens a root shell`));
        }
        if (/^-[ughpCDrtUT]$/.test(x)) i += 2;
        else i++;
      }
      return wrapped(args.slice(i));
    }
    case "env": {
      let i = 0;
      for (; i < args.length; i++) {
        const x = args[i] ?? "";
        if (x === "-S" || x.startsWith("--split-string")) return res(change("env -S runs a computed command"));
        if (x === "-u" || x === "-C" || x === "--chdir" || x === "--unset") {
          i++;
          continue;
        }
        if (x.startsWith("-")) continue;
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(x);
        if (m) {
          if (SENSITIVE_VARS.has(lc(m[1] ?? ""))) return res(change(`changes ${m[1]}, which decides what runs`));
          continue;
        }
        break;
      }
      return wrapped(args.slice(i));
    }
    case "nice":
    case "ionice":
    case "stdbuf":
    case "chrt":
    case "taskset": {
      let i = 0;
      while (i < args.length && (args[i] ?? "").startsWith("-")) {
        const x = args[i] ?? "";
        i += /^-(n|c|p|i|o|e)$/.test(x) ? 2 : 1;
      }
      if ((name === "chrt" || name === "taskset") && i < args.length) i++;
      return wrapped(args.slice(i));
    }
    case "nohup":
    case "time":
    case "exec":
    case "builtin":
    case "busybox":
      return wrapped(args.filter((x, i) => !(name === "time" && i === 0 && x === "-p")));
    case "command":
      if (args[0] === "-v" || args[0] === "-V") return res(READ);
      return wrapped(args[0] === "-p" ? args.slice(1) : args);
    case "timeout": {
      let i = 0;
      while (i < args.length && (args[i] ?? "").startsWith("-")) i += /^-(s|k)$/.test(args[i] ?? "") ? 2 : 1;
      return wrapped(args.slice(i + 1));
    }
    case "watch": {
      let i = 0;
      while (i < args.length && (args[i] ?? "").startsWith("-")) i += /^-(n|d)$/.test(args[i] ?? "") ? 2 : 1;
      return wrapped(args.slice(i));
    }
    case "xargs": {
      let i = 0;
      while (i < args.length && (args[i] ?? "").startsWith("-"))
        i += /^-(I|n|P|d|L|s|E|a)$/.test(args[i] ?? "") ? 2 : 1;
      const rest = args.slice(i);
      if (rest.length === 0) return res(READ);
      const inner = posixResolve(rest[0] ?? "", rest.slice(1), ctx, depth + 1);
      return res(
        inner.finding.kind === "read" ? READ : change(`xargs runs ${inner.display}: ${inner.finding.reason ?? ""}`),
      );
    }
  }
  const entry = lookup("posix", name);
  // (no object spreads here: this runs for every word that names a program, and V8 copies spreads slowly)
  const finding = entry?.classify?.({
    shell: ctx.shell,
    piped: ctx.piped,
    name,
    display,
    args,
    nested: (words) => posixResolve(words[0] ?? "", words.slice(1), ctx, depth + 1),
  });
  if (entry === undefined || finding === undefined) return res(change(`unknown command '${name}'`));
  return { finding, name, display, args, program: entry };
}

function posixBasename(path: string): string | undefined {
  const m = /^\/(?:usr\/)?(?:local\/)?s?bin\/([^/]+)$/.exec(path);
  return m ? m[1] : undefined;
}

interface ShWord {
  t: "word";
  v: string;
  s: number;
  e: number;
  quoted: boolean;
  dyn: boolean;
  subs: string[];
  bad?: string;
}
interface ShOp {
  t: "op";
  v: string;
  s: number;
  e: number;
}
interface ShRedir {
  t: "redir";
  v: string;
  s: number;
  e: number;
  target?: ShWord;
  heredoc?: { delim: string; quoted: boolean; strip: boolean; body?: string };
}
type ShTok = ShWord | ShOp | ShRedir;

const SH_META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">", "\r"]);

class ShLexer {
  i: number;
  private readonly heredocs: ShRedir[] = [];
  private readonly src: string;
  constructor(src: string, start: number) {
    this.src = src;
    this.i = start;
  }

  /** Tokens until the end, or until an unmatched ")" when nested (the ")" is consumed). */
  lex(nested: boolean): ShTok[] {
    const src = this.src;
    const out: ShTok[] = [];
    let parens = 0;
    while (this.i < src.length) {
      const c = src[this.i] ?? "";
      const s = this.i;
      if (c === " " || c === "\t" || c === "\r") {
        this.i++;
        continue;
      }
      if (c === "\\" && src[this.i + 1] === "\n") {
        this.i += 2;
        continue;
      }
      if (c === "#") {
        while (this.i < src.length && src[this.i] !== "\n") this.i++;
        continue;
      }
      if (c === "\n") {
        this.i++;
        out.push({ t: "op", v: "\n", s, e: this.i });
        this.readHeredocs();
        continue;
      }
      if (c === ")") {
        if (nested && parens === 0) {
          this.i++;
          return out;
        }
        parens--;
        this.i++;
        out.push({ t: "op", v: ")", s, e: this.i });
        continue;
      }
      if (c === "(") {
        parens++;
        this.i++;
        out.push({ t: "op", v: "(", s, e: this.i });
        continue;
      }
      if (c === ";" || c === "&" || c === "|") {
        const two = src.slice(this.i, this.i + 2);
        const three = src.slice(this.i, this.i + 3);
        if (three === "&>>") {
          this.i += 3;
          out.push(this.redirect("&>>", s));
          continue;
        }
        if (two === "&>") {
          this.i += 2;
          out.push(this.redirect("&>", s));
          continue;
        }
        const v = [";;", "&&", "||", "|&", ";&"].includes(two) ? two : c;
        this.i += v.length;
        out.push({ t: "op", v, s, e: this.i });
        continue;
      }
      if ((c === "<" || c === ">") && src[this.i + 1] === "(") {
        // process substitution
        this.i += 2;
        const inner = this.nestedSource();
        out.push({ t: "word", v: `${c}(…)`, s, e: this.i, quoted: false, dyn: true, subs: [inner] });
        continue;
      }
      const fd = /^(\d+|\{[A-Za-z_]\w*\})(?=[<>])/.exec(src.slice(this.i, this.i + 12));
      if (c === "<" || c === ">" || fd) {
        if (fd) this.i += fd[0].length;
        const m = /^(<<<|<<-|<<|<>|<&|>>|>&|>\||<|>)/.exec(src.slice(this.i));
        const op = m?.[1] ?? ">";
        this.i += op.length;
        out.push(this.redirect(op, s));
        continue;
      }
      out.push(this.word());
    }
    if (nested) throw new ParseError("unclosed $(");
    if (this.heredocs.length > 0) throw new ParseError("unterminated here-document");
    return out;
  }

  private redirect(op: string, s: number): ShRedir {
    while (this.src[this.i] === " " || this.src[this.i] === "\t") this.i++;
    if (this.i >= this.src.length || SH_META.has(this.src[this.i] ?? ""))
      throw new ParseError(`redirection ${op} without a target`);
    const target = this.word();
    const r: ShRedir = { t: "redir", v: op, s, e: this.i, target };
    if (op === "<<" || op === "<<-") {
      r.heredoc = { delim: target.v, quoted: target.quoted, strip: op === "<<-" };
      this.heredocs.push(r);
    }
    return r;
  }

  private readHeredocs(): void {
    const src = this.src;
    while (this.heredocs.length > 0) {
      const r = this.heredocs.shift() as ShRedir;
      const h = r.heredoc as NonNullable<ShRedir["heredoc"]>;
      const lines: string[] = [];
      for (;;) {
        if (this.i >= src.length) throw new ParseError("unterminated here-document");
        let nl = src.indexOf("\n", this.i);
        if (nl < 0) nl = src.length;
        let line = src.slice(this.i, nl).replace(/\r$/, "");
        this.i = Math.min(nl + 1, src.length);
        if (h.strip) line = line.replace(/^\t+/, "");
        if (line === h.delim) break;
        lines.push(line);
      }
      h.body = lines.join("\n");
    }
  }

  /** After "$(" or "<(": lex to the matching ")" and return the inner source. */
  private nestedSource(): string {
    const start = this.i;
    const inner = new ShLexer(this.src, this.i);
    inner.lex(true);
    this.i = inner.i;
    return this.src.slice(start, this.i - 1);
  }

  private word(): ShWord {
    const src = this.src;
    const s = this.i;
    let v = "";
    let quoted = false;
    let dyn = false;
    let bad: string | undefined;
    const subs: string[] = [];
    const dollar = (): void => {
      // at "$"
      const n = src[this.i + 1];
      if (n === "(" && src[this.i + 2] === "(") {
        const end = matchClose(src, this.i + 1, "(", ")");
        const body = src.slice(this.i + 3, end - 1);
        if (/\$\(|`/.test(body)) bad = "arithmetic with command substitution";
        v += src.slice(this.i, end + 1);
        this.i = end + 1;
        dyn = true;
        return;
      }
      if (n === "(") {
        this.i += 2;
        subs.push(this.nestedSource());
        v += "$(…)";
        dyn = true;
        return;
      }
      if (n === "{") {
        const end = matchClose(src, this.i + 1, "{", "}");
        const body = src.slice(this.i + 2, end);
        if (/\$\(|`/.test(body)) bad = "parameter expansion with command substitution";
        v += src.slice(this.i, end + 1);
        this.i = end + 1;
        dyn = true;
        return;
      }
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(src.slice(this.i));
      if (m) {
        v += m[0];
        this.i += m[0].length;
        dyn = true;
        return;
      }
      v += "$";
      this.i++;
    };
    const backtick = (): void => {
      let j = this.i + 1;
      let body = "";
      while (j < src.length && src[j] !== "`") {
        if (src[j] === "\\" && j + 1 < src.length) {
          body += src[j + 1] === "`" || src[j + 1] === "\\" || src[j + 1] === "$" ? src[j + 1] : `\\${src[j + 1]}`;
          j += 2;
        } else body += src[j++];
      }
      if (j >= src.length) throw new ParseError("unclosed backquote");
      subs.push(body);
      v += "`…`";
      dyn = true;
      this.i = j + 1;
    };
    while (this.i < src.length) {
      const c = src[this.i] ?? "";
      if (SH_META.has(c)) break;
      if (c === "\\") {
        if (src[this.i + 1] === "\n") {
          this.i += 2;
          continue;
        }
        v += src[this.i + 1] ?? "";
        quoted = true;
        this.i += 2;
        continue;
      }
      if (c === "'") {
        const end = src.indexOf("'", this.i + 1);
        if (end < 0) throw new ParseError("unclosed single quote");
        v += src.slice(this.i + 1, end);
        quoted = true;
        this.i = end + 1;
        continue;
      }
      if (c === "$" && src[this.i + 1] === "'") {
        let j = this.i + 2;
        while (j < src.length && src[j] !== "'") j += src[j] === "\\" ? 2 : 1;
        if (j >= src.length) throw new ParseError("unclosed $'…' string");
        v += src.slice(this.i + 2, j);
        quoted = true;
        this.i = j + 1;
        continue;
      }
      if (c === '"') {
        quoted = true;
        this.i++;
        for (;;) {
          if (this.i >= src.length) throw new ParseError("unclosed double quote");
          const d = src[this.i] ?? "";
          if (d === '"') {
            this.i++;
            break;
          }
          if (d === "\\") {
            const n = src[this.i + 1] ?? "";
            if (n === "\n") this.i += 2;
            else if ('$`"\\'.includes(n)) {
              v += n;
              this.i += 2;
            } else {
              v += d;
              this.i++;
            }
            continue;
          }
          if (d === "$") {
            dollar();
            continue;
          }
          if (d === "`") {
            backtick();
            continue;
          }
          v += d;
          this.i++;
        }
        continue;
      }
      if (c === "$") {
        dollar();
        continue;
      }
      if (c === "`") {
        backtick();
        continue;
      }
      v += c;
      this.i++;
    }
    const w: ShWord = { t: "word", v, s, e: this.i, quoted, dyn, subs };
    if (bad) w.bad = bad;
    return w;
  }
}

/** Index of the bracket closing the one at `open` (naive about quotes inside, which is fine for ${…} and $((…))). */
function matchClose(src: string, open: number, o: string, c: string): number {
  let depth = 0;
  for (let j = open; j < src.length; j++) {
    if (src[j] === "\\") {
      j++;
      continue;
    }
    if (src[j] === o) depth++;
    else if (src[j] === c) {
      depth--;
      if (depth === 0) {
        // $(( … )) closes with "))"
        return j;
      }
    }
  }
  throw new ParseError(`unclosed ${o}`);
}

const SH_SKIP_WORDS = new Set([
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "do",
  "done",
  "while",
  "until",
  "{",
  "}",
  "!",
  "time",
  "esac",
]);
const SAFE_SH_TARGETS = new Set(["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/1", "/dev/fd/2"]);

/** Walk a POSIX script, recording each top-level simple command as a step. */
export function posixScript(src: string, walk: Walk): void {
  const toks = new ShLexer(src, 0).lex(false);
  let words: ShWord[] = [];
  let redirs: ShRedir[] = [];
  let piped = false;
  let nextPiped = false;
  const flush = (): void => {
    if (words.length > 0 || redirs.length > 0) posixSimple(src, words, redirs, piped, walk);
    words = [];
    redirs = [];
    piped = nextPiped;
    nextPiped = false;
  };
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k] as ShTok;
    if (t.t === "op") {
      if (t.v === "(" && words.length === 1 && toks[k + 1]?.t === "op" && (toks[k + 1] as ShOp).v === ")") {
        walk.flag("defines a shell function");
        return;
      }
      if (t.v === ";;" || t.v === ";&") {
        walk.flag("case statements are not analysed");
        return;
      }
      nextPiped = t.v === "|" || t.v === "|&";
      flush();
      continue;
    }
    if (t.t === "redir") {
      redirs.push(t);
      continue;
    }
    if (words.length === 0 && redirs.length === 0 && !t.quoted) {
      if (SH_SKIP_WORDS.has(t.v)) continue;
      if (t.v === "case") {
        walk.flag("case statements are not analysed");
        return;
      }
      if (t.v === "function") {
        walk.flag("defines a shell function");
        return;
      }
      if (t.v === "for" || t.v === "select") {
        // for NAME [in WORDS…] ; do … done — the words are data, but their substitutions run.
        k++;
        const next = toks[k];
        if (next?.t === "op" && next.v === "(") {
          walk.flag("arithmetic for loops are not analysed");
          return;
        }
        let w = toks[k + 1];
        if (w?.t === "word" && w.v === "in") {
          k++;
          for (;;) {
            w = toks[k + 1];
            if (w === undefined || w.t !== "word") break;
            k++;
            posixSubs(w, walk);
          }
        }
        continue;
      }
      if (t.v === "[[") {
        let j = k + 1;
        while (j < toks.length) {
          const w = toks[j] as ShTok;
          if (w.t === "word" && w.v === "]]" && !w.quoted) break;
          if (w.t === "word") posixSubs(w, walk);
          j++;
        }
        walk.record(
          { name: "[[", display: "[[", args: [], raw: src.slice(t.s, toks[j]?.e ?? src.length), piped },
          READ,
        );
        k = j;
        continue;
      }
    }
    words.push(t);
  }
  flush();
}

function posixSubs(w: ShWord, walk: Walk): void {
  if (w.bad) walk.flag(`uses ${w.bad}`);
  for (const sub of w.subs) walk.nested(() => posixScript(sub, walk));
}

function posixSimple(src: string, words: ShWord[], redirs: ShRedir[], piped: boolean, walk: Walk): void {
  for (const w of words) posixSubs(w, walk);
  const writes: Redirect[] = [];
  for (const r of redirs) {
    if (r.target) posixSubs(r.target, walk);
    if (r.heredoc && !r.heredoc.quoted && /\$\(|`/.test(r.heredoc.body ?? ""))
      walk.flag("here-document contains command substitution");
    const target = r.target?.v ?? "";
    if (r.v === "<" || r.v === "<<" || r.v === "<<-" || r.v === "<<<" || r.v === "<&") continue;
    if (r.v === ">&" && /^(\d+|-)$/.test(target)) continue;
    if (r.v === "<>") {
      walk.flag(`opens ${target} for writing`);
      continue;
    }
    if (SAFE_SH_TARGETS.has(target)) continue;
    writes.push({ target, append: r.v.endsWith(">>") });
  }
  let i = 0;
  while (i < words.length) {
    const w = words[i] as ShWord;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/.exec(w.v);
    if (!m || src[w.s] === '"' || src[w.s] === "'" || src[w.s] === "\\") break;
    if (SENSITIVE_VARS.has(lc(m[1] ?? ""))) walk.flag(`changes ${m[1]}, which decides what runs`);
    i++;
  }
  const start = words[0]?.s ?? redirs[0]?.s ?? 0;
  const end = Math.max(words[words.length - 1]?.e ?? 0, redirs[redirs.length - 1]?.e ?? 0);
  const raw = src.slice(start, end);
  const cmd = words[i];
  if (cmd === undefined) {
    walk.record({ name: "", display: "", args: [], raw, piped }, READ, undefined, writes);
    return;
  }
  const args = words.slice(i + 1).map((w) => w.v);
  if (cmd.dyn) {
    walk.record(
      { name: cmd.v, display: cmd.v, args, raw, piped },
      change(`runs a command whose name is computed (${cmd.v})`),
      undefined,
      writes,
    );
    return;
  }
  const r = posixResolve(cmd.v, args, { shell: walk.shell, piped });
  walk.record({ name: r.name, display: r.display, args: r.args, raw, piped }, r.finding, r.program, writes);
}

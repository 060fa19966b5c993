// PowerShell (Windows PowerShell 5.1 and pwsh): the lexer that understands its quoting ('', "", backtick,
// here-strings, $( ), { }, @{ }), the walker that splits scripts, statements and pipelines into command elements
// (descending into script blocks, sub-expressions, if/foreach/switch bodies and method arguments), alias resolution,
// and the general rule for cmdlets Caisey has no entry for: the approved verb decides.

import { lc, psSwitch, psSwitchSet } from "../args.ts";
import { program as lookup } from "../programs/index.ts";
import { SENSITIVE_VARS } from "../programs/shell.ts";
import { change, type Finding, type Invocation, type Program, READ, type Redirect } from "../types.ts";
import { ParseError, type Walk } from "../walk.ts";
import { windowsProgram, winProgramName } from "./cmd.ts";
import { posixResolve } from "./posix.ts";

interface PsWord {
  t: "word";
  v: string;
  s: number;
  e: number;
  quoted: boolean;
  dyn: boolean;
  subs: PsTok[][];
}
interface PsVar {
  t: "var";
  v: string;
  s: number;
  e: number;
}
interface PsGroup {
  t: "group";
  k: "(" | "$(" | "@(" | "{" | "@{" | "[";
  body: PsTok[];
  s: number;
  e: number;
}
interface PsMember {
  t: "member";
  v: string;
  call: PsTok[] | null;
  s: number;
  e: number;
}
interface PsOp {
  t: "op";
  v: string;
  s: number;
  e: number;
}
interface PsRedir {
  t: "redir";
  v: string;
  target: PsTok | null;
  s: number;
  e: number;
}
type PsTok = PsWord | PsVar | PsGroup | PsMember | PsOp | PsRedir;

const SQ = new Set(["'", "\u2018", "\u2019", "\u201a", "\u201b"]);
const DQ = new Set(['"', "\u201c", "\u201d", "\u201e"]);
const PS_WS = new Set([" ", "\t", "\r", "\f", "\v", "\u00a0", "\ufeff"]);

class PsLexer {
  i = 0;
  /** The innermost closing bracket and whether that group is a hashtable literal (where "=" ends a key). */
  private close: string | null = null;
  private hash = false;
  private readonly src: string;
  constructor(src: string) {
    this.src = src;
  }

  lex(close: string | null, hash = false): PsTok[] {
    const saved = [this.close, this.hash] as const;
    this.close = close;
    this.hash = hash;
    try {
      return this.lexBody(close);
    } finally {
      [this.close, this.hash] = saved;
    }
  }

  private lexBody(close: string | null): PsTok[] {
    const src = this.src;
    const out: PsTok[] = [];
    while (this.i < src.length) {
      const c = src[this.i] ?? "";
      const s = this.i;
      const prev = out[out.length - 1];
      const adjacent = prev !== undefined && prev.e === s;
      if (close !== null && c === close) {
        this.i++;
        return out;
      }
      if (c === ")" || c === "}" || (c === "]" && this.close !== null)) throw new ParseError(`unexpected '${c}'`);
      if (PS_WS.has(c)) {
        this.i++;
        continue;
      }
      if (c === "`" && (src[this.i + 1] === "\n" || (src[this.i + 1] === "\r" && src[this.i + 2] === "\n"))) {
        this.i += src[this.i + 1] === "\r" ? 3 : 2;
        continue;
      }
      if (c === "<" && src[this.i + 1] === "#") {
        const end = src.indexOf("#>", this.i + 2);
        if (end < 0) throw new ParseError("unclosed <# comment");
        this.i = end + 2;
        continue;
      }
      if (c === "#") {
        while (this.i < src.length && src[this.i] !== "\n") this.i++;
        continue;
      }
      // member access and indexing right after a value
      if (
        adjacent &&
        (prev.t === "var" || prev.t === "group" || prev.t === "member" || (prev.t === "word" && prev.quoted))
      ) {
        const mm = /^(\.|::)([A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(this.i));
        if (mm) {
          this.i += mm[0].length;
          let call: PsTok[] | null = null;
          if (src[this.i] === "(") {
            this.i++;
            call = this.lex(")");
          }
          out.push({ t: "member", v: mm[2] ?? "", call, s, e: this.i });
          continue;
        }
        if (c === "[" && prev.t !== "member") {
          this.i++;
          out.push({ t: "group", k: "[", body: this.lex("]"), s, e: this.i });
          continue;
        }
      }
      if (c === "\n" || c === ";" || c === ",") {
        this.i++;
        out.push({ t: "op", v: c, s, e: this.i });
        continue;
      }
      if (c === "|" || c === "&") {
        const v = src[this.i + 1] === c ? c + c : c;
        this.i += v.length;
        out.push({ t: "op", v, s, e: this.i });
        continue;
      }
      if (c === "=" && src[this.i + 1] !== "=") {
        this.i++;
        out.push({ t: "op", v: "=", s, e: this.i });
        continue;
      }
      // an arithmetic operator glued to a variable or group: `/$total`, `-$x`, `*(…)`
      if ("+-*/%!".includes(c) && "$([".includes(src[this.i + 1] ?? "")) {
        this.i++;
        out.push({ t: "word", v: c, s, e: this.i, quoted: false, dyn: false, subs: [] });
        continue;
      }
      const redir = /^([1-6*]?)(>>|>)(&[12])?/.exec(src.slice(this.i, this.i + 6));
      if (redir && (c === ">" || (/[1-6*]/.test(c) && !adjacent))) {
        this.i += redir[0].length;
        let target: PsTok | null = null;
        if (!redir[3]) {
          while (PS_WS.has(src[this.i] ?? "")) this.i++;
          const t = this.lex1();
          if (t === null) throw new ParseError("redirection without a target");
          target = t;
        }
        out.push({ t: "redir", v: redir[0], target, s, e: this.i });
        continue;
      }
      const t = this.lex1();
      if (t === null) throw new ParseError(`unexpected '${c}'`);
      out.push(t);
    }
    if (close !== null) throw new ParseError(`missing '${close}'`);
    return out;
  }

  /** One value token: group, variable, string or bareword. */
  private lex1(): PsTok | null {
    const src = this.src;
    const c = src[this.i] ?? "";
    const s = this.i;
    const two = src.slice(this.i, this.i + 2);
    const group = (k: PsGroup["k"], close: string): PsGroup => {
      this.i += k.length;
      const body = this.lex(close);
      return { t: "group", k, body, s, e: this.i };
    };
    if (c === "(") return group("(", ")");
    if (c === "{") return group("{", "}");
    if (c === "[") return group("[", "]");
    if (two === "$(") return group("$(", ")");
    if (two === "@(") return group("@(", ")");
    if (two === "@{") {
      this.i += 2;
      const body = this.lex("}", true);
      return { t: "group", k: "@{", body, s, e: this.i };
    }
    if (c === "@" && (SQ.has(src[this.i + 1] ?? "") || DQ.has(src[this.i + 1] ?? ""))) {
      const q = src[this.i + 1] ?? "";
      const expandable = DQ.has(q);
      const endRe = expandable ? /\n[ \t]*["\u201c\u201d\u201e]@/ : /\n[ \t]*['\u2018\u2019\u201a\u201b]@/;
      const m = endRe.exec(src.slice(this.i));
      if (!m) throw new ParseError("unclosed here-string");
      const end = this.i + m.index + m[0].length;
      const body = src.slice(this.i + 2, this.i + m.index);
      const subs = expandable ? this.subexpressions(body) : [];
      this.i = end;
      return { t: "word", v: body.replace(/^\r?\n/, ""), s, e: end, quoted: true, dyn: subs.length > 0, subs };
    }
    if (c === "$" || (c === "@" && /[A-Za-z_]/.test(src[this.i + 1] ?? ""))) {
      if (src[this.i + 1] === "{") {
        const end = src.indexOf("}", this.i);
        if (end < 0) throw new ParseError("unclosed ${");
        this.i = end + 1;
        return { t: "var", v: lc(src.slice(s + 2, end)), s, e: this.i };
      }
      const m = /^[$@]([A-Za-z0-9_?]+(:[A-Za-z0-9_]+)?|[$^?_])/.exec(src.slice(this.i));
      if (m) {
        this.i += m[0].length;
        return { t: "var", v: lc(m[1] ?? ""), s, e: this.i };
      }
    }
    if (SQ.has(c) || DQ.has(c)) {
      const { v, subs } = this.quoted();
      return { t: "word", v, s, e: this.i, quoted: true, dyn: subs.length > 0, subs };
    }
    return this.bareword();
  }

  private quoted(): { v: string; subs: PsTok[][] } {
    const src = this.src;
    const q = src[this.i] ?? "";
    const single = SQ.has(q);
    const isQ = single ? SQ : DQ;
    this.i++;
    let v = "";
    const subs: PsTok[][] = [];
    for (;;) {
      if (this.i >= src.length) throw new ParseError(single ? "unclosed single quote" : "unclosed double quote");
      const d = src[this.i] ?? "";
      if (isQ.has(d)) {
        if (isQ.has(src[this.i + 1] ?? "")) {
          v += d;
          this.i += 2;
          continue;
        }
        this.i++;
        break;
      }
      if (!single && d === "`") {
        const n = src[this.i + 1] ?? "";
        v += ({ n: "\n", t: "\t", r: "\r", "0": "\0" } as Record<string, string>)[n] ?? n;
        this.i += 2;
        continue;
      }
      if (!single && d === "$" && src[this.i + 1] === "(") {
        this.i += 2;
        subs.push(this.lex(")"));
        v += "$(…)";
        continue;
      }
      v += d;
      this.i++;
    }
    return { v, subs };
  }

  private subexpressions(body: string): PsTok[][] {
    const subs: PsTok[][] = [];
    let idx = body.indexOf("$(");
    while (idx >= 0) {
      const inner = new PsLexer(body);
      inner.i = idx + 2;
      subs.push(inner.lex(")"));
      idx = body.indexOf("$(", inner.i);
    }
    return subs;
  }

  private bareword(): PsWord | null {
    const src = this.src;
    const s = this.i;
    let v = "";
    let dyn = false;
    let quoted = false;
    const subs: PsTok[][] = [];
    while (this.i < src.length) {
      const c = src[this.i] ?? "";
      if (PS_WS.has(c) || "\n;,|&(){}".includes(c)) break;
      if (c === ">" || (c === "]" && this.close === "]")) break;
      if (c === "=" && (this.i === s || this.hash)) break;
      if (c === "`") {
        if (src[this.i + 1] === "\n" || src[this.i + 1] === undefined) break;
        v += src[this.i + 1];
        this.i += 2;
        continue;
      }
      if (SQ.has(c) || DQ.has(c)) {
        const q = this.quoted();
        v += q.v;
        subs.push(...q.subs);
        quoted = true;
        continue;
      }
      if (c === "$") {
        dyn = true;
        if (src[this.i + 1] === "(") {
          this.i += 2;
          subs.push(this.lex(")"));
          v += "$(…)";
          continue;
        }
      }
      v += c;
      this.i++;
    }
    if (this.i === s) return null;
    return { t: "word", v, s, e: this.i, quoted, dyn, subs };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PowerShell walker

const PS_KEYWORDS_BLOCK = new Set(["if", "elseif", "else", "for", "while", "do", "until", "try", "catch", "finally"]);
const PS_KEYWORDS_FLOW = new Set(["return", "break", "continue", "exit", "throw"]);
const PS_KEYWORDS_DEFINE = new Set([
  "function",
  "filter",
  "workflow",
  "configuration",
  "class",
  "enum",
  "trap",
  "param",
  "begin",
  "process",
  "end",
  "clean",
  "dynamicparam",
  "using",
  "data",
  "parallel",
  "sequence",
  "inlinescript",
]);
const PS_ASSIGN = new Set(["=", "+=", "-=", "*=", "/=", "%=", "??="]);

const SAFE_METHODS = new Set(
  (
    "tostring toupper tolower toupperinvariant tolowerinvariant trim trimstart trimend split substring replace contains " +
    "startswith endswith indexof lastindexof indexofany padleft padright equals compareto gettype gethashcode round " +
    "floor ceiling abs max min pow sqrt truncate log log10 format join concat isnullorempty isnullorwhitespace " +
    "toshortdatestring tolongdatestring toshorttimestring tolongtimestring tolocaltime touniversaltime tofiletime " +
    "adddays addhours addminutes addseconds addmonths addyears addmilliseconds addticks subtract parse parseexact " +
    "tryparse todouble toint32 toint64 toboolean todecimal tochararray tobytes getvalue getvaluenames getsubkeynames " +
    "getvaluekind openbasekey openremotebasekey getenvironmentvariable getenvironmentvariables getfolderpath " +
    "getlogicaldrives getcurrent isinrole gethostname gethostaddresses gethostentry gethostbyname getfilename " +
    "getfilenamewithoutextension getextension getdirectoryname getfullpath getpathroot combine gettemppath exists " +
    "readalltext readalllines readallbytes getfiles getdirectories getfilesystementries enumeratefiles " +
    "enumeratedirectories getaccesscontrol getaccessrules getowner converttodatetime getdrives where foreach " +
    "getenumerator containskey containsvalue getbytes getstring tobase64string frombase64string newguid " +
    "getallnetworkinterfaces getipproperties getipv4statistics getphysicaladdress getisnetworkavailable computehash " +
    "create clone getprocesses getprocessbyid getprocessesbyname getlength getupperbound getlowerbound matches " +
    "match ismatch escape unescape item toarray dispose close fromfiletime fromfiletimeutc getcurrentprocess " +
    "getname getpublickeytoken todatetime getdatetimeformats isleapyear daysinmonth specifykind " +
    "getunicastaddresses getdnsaddresses getgatewayaddresses getwindowsidentity translate getnetworkcredential " +
    "getcomputername getusername getdomainname getrawvalue"
  ).split(" "),
);

const PS_ALIASES: Record<string, string> = {
  "?": "Where-Object",
  where: "Where-Object",
  "%": "ForEach-Object",
  foreach: "ForEach-Object",
  ac: "Add-Content",
  cat: "Get-Content",
  cd: "Set-Location",
  "cd..": "Set-Location",
  "cd\\": "Set-Location",
  chdir: "Set-Location",
  clc: "Clear-Content",
  clear: "Clear-Host",
  cls: "Clear-Host",
  clhy: "Clear-History",
  cli: "Clear-Item",
  clp: "Clear-ItemProperty",
  clv: "Clear-Variable",
  compare: "Compare-Object",
  copy: "Copy-Item",
  cp: "Copy-Item",
  cpi: "Copy-Item",
  cpp: "Copy-ItemProperty",
  cvpa: "Convert-Path",
  del: "Remove-Item",
  diff: "Compare-Object",
  dir: "Get-ChildItem",
  echo: "Write-Output",
  epal: "Export-Alias",
  epcsv: "Export-Csv",
  erase: "Remove-Item",
  etsn: "Enter-PSSession",
  exsn: "Exit-PSSession",
  fc: "Format-Custom",
  fl: "Format-List",
  ft: "Format-Table",
  fw: "Format-Wide",
  gal: "Get-Alias",
  gc: "Get-Content",
  gcb: "Get-Clipboard",
  gci: "Get-ChildItem",
  gcm: "Get-Command",
  gcim: "Get-CimInstance",
  gcs: "Get-PSCallStack",
  gdr: "Get-PSDrive",
  ghy: "Get-History",
  gi: "Get-Item",
  gin: "Get-ComputerInfo",
  gjb: "Get-Job",
  gl: "Get-Location",
  gm: "Get-Member",
  gmo: "Get-Module",
  gp: "Get-ItemProperty",
  gps: "Get-Process",
  gpv: "Get-ItemPropertyValue",
  group: "Group-Object",
  gsn: "Get-PSSession",
  gsv: "Get-Service",
  gtz: "Get-TimeZone",
  gu: "Get-Unique",
  gv: "Get-Variable",
  gwmi: "Get-WmiObject",
  h: "Get-History",
  history: "Get-History",
  icm: "Invoke-Command",
  iex: "Invoke-Expression",
  ihy: "Invoke-History",
  ii: "Invoke-Item",
  ipal: "Import-Alias",
  ipcsv: "Import-Csv",
  ipmo: "Import-Module",
  irm: "Invoke-RestMethod",
  iwr: "Invoke-WebRequest",
  iwmi: "Invoke-WmiMethod",
  kill: "Stop-Process",
  ls: "Get-ChildItem",
  man: "Get-Help",
  help: "Get-Help",
  md: "New-Item",
  mkdir: "New-Item",
  measure: "Measure-Object",
  mi: "Move-Item",
  mount: "New-PSDrive",
  move: "Move-Item",
  mp: "Move-ItemProperty",
  mv: "Move-Item",
  nal: "New-Alias",
  ndr: "New-PSDrive",
  ni: "New-Item",
  nmo: "New-Module",
  nsn: "New-PSSession",
  nv: "New-Variable",
  ogv: "Out-GridView",
  oh: "Out-Host",
  popd: "Pop-Location",
  ps: "Get-Process",
  pushd: "Push-Location",
  pwd: "Get-Location",
  r: "Invoke-History",
  rcjb: "Receive-Job",
  rd: "Remove-Item",
  rdr: "Remove-PSDrive",
  ren: "Rename-Item",
  ri: "Remove-Item",
  rjb: "Remove-Job",
  rm: "Remove-Item",
  rmdir: "Remove-Item",
  rmo: "Remove-Module",
  rni: "Rename-Item",
  rnp: "Rename-ItemProperty",
  rp: "Remove-ItemProperty",
  rsn: "Remove-PSSession",
  rv: "Remove-Variable",
  rvpa: "Resolve-Path",
  sajb: "Start-Job",
  sal: "Set-Alias",
  saps: "Start-Process",
  sasv: "Start-Service",
  scb: "Set-Clipboard",
  select: "Select-Object",
  set: "Set-Variable",
  shcm: "Show-Command",
  si: "Set-Item",
  sl: "Set-Location",
  sleep: "Start-Sleep",
  sls: "Select-String",
  sort: "Sort-Object",
  sp: "Set-ItemProperty",
  spjb: "Stop-Job",
  spps: "Stop-Process",
  spsv: "Stop-Service",
  start: "Start-Process",
  stz: "Set-TimeZone",
  sv: "Set-Variable",
  tee: "Tee-Object",
  type: "Get-Content",
  wjb: "Wait-Job",
  write: "Write-Output",
};

/** Aliases Windows PowerShell 5.1 has and pwsh 6+ dropped. */
const PS5_ALIASES: Record<string, string> = {
  sc: "Set-Content",
  curl: "Invoke-WebRequest",
  wget: "Invoke-WebRequest",
};

const PS_READ_VERBS = new Set([
  "get",
  "test",
  "measure",
  "select",
  "find",
  "search",
  "show",
  "resolve",
  "compare",
  "convertto",
  "convertfrom",
  "wait",
  "receive",
  "read",
  "confirm",
  "join",
  "split",
]);

interface PsCtx {
  walk: Walk;
  shell: "powershell" | "pwsh";
  src: string;
}

/** Walk a PowerShell command line or script, recording each top-level pipeline element as a step. */
export function psScript(src: string, walk: Walk): void {
  const lexer = new PsLexer(src);
  const toks = lexer.lex(null);
  const ctx: PsCtx = { walk, shell: walk.shell === "pwsh" ? "pwsh" : "powershell", src };
  psStatements(toks, ctx);
}

function isOp(t: PsTok | undefined, ...v: string[]): t is PsOp {
  return t?.t === "op" && v.includes(t.v);
}

function splitTop(toks: PsTok[], seps: string[]): PsTok[][] {
  const parts: PsTok[][] = [[]];
  for (const t of toks) {
    if (isOp(t, ...seps)) parts.push([]);
    else parts[parts.length - 1]?.push(t);
  }
  return parts.filter((p) => p.length > 0);
}

function psStatements(toks: PsTok[], ctx: PsCtx): void {
  // statements end at newline, ";", "&&", "||" and a trailing background "&"
  let cur: PsTok[] = [];
  const flush = (): void => {
    if (cur.length > 0) psStatement(cur, ctx);
    cur = [];
  };
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k] as PsTok;
    if (isOp(t, "\n", ";", "&&", "||")) {
      flush();
      continue;
    }
    if (isOp(t, "&")) {
      const atElementStart = cur.length === 0 || isOp(cur[cur.length - 1], "|");
      if (!atElementStart) {
        flush();
        continue;
      }
    }
    // a statement continues on the next line after a trailing "|"
    cur.push(t);
    if (isOp(t, "|")) {
      while (isOp(toks[k + 1], "\n")) k++;
    }
  }
  flush();
}

function psStatement(toks: PsTok[], ctx: PsCtx): void {
  const first = toks[0];
  if (first === undefined) return;
  if (first.t === "word" && !first.quoted) {
    const kw = lc(first.v);
    if (PS_KEYWORDS_DEFINE.has(kw)) {
      ctx.walk.flag(`'${kw}' definitions are not analysed`);
      psRecordOpaque(toks, ctx, change(`'${kw}' definitions are not analysed`));
      return;
    }
    if (PS_KEYWORDS_FLOW.has(kw)) {
      if (toks.length > 1) psStatement(toks.slice(1), ctx);
      return;
    }
    if (kw === "foreach" && toks[1]?.t === "group" && toks[1].k === "(") {
      psForeach(toks, ctx);
      return;
    }
    if (kw === "switch") {
      psSwitchStatement(toks, ctx);
      return;
    }
    if (PS_KEYWORDS_BLOCK.has(kw)) {
      psKeywordTokens(toks.slice(1), ctx);
      psRecordOpaque(toks, ctx, READ);
      return;
    }
  }
  const assign = toks.findIndex((t) => isOp(t, "=") || (t.t === "word" && !t.quoted && PS_ASSIGN.has(t.v)));
  if (assign > 0) {
    const lhs = toks.slice(0, assign);
    const before = ctx.walk.unattributed.length;
    psAssignTarget(lhs, ctx);
    const rhs = toks.slice(assign + 1);
    if (ctx.walk.unattributed.length > before) {
      // the assignment itself changes something (a property, a command, a variable that decides what runs): the
      // whole statement is one step, so what the contact reads shows the assignment, not only its value
      ctx.walk.nested(() => {
        if (rhs.length > 0) psStatement(rhs, ctx);
      });
      psRecordOpaque(toks, ctx, READ);
      return;
    }
    if (rhs.length > 0) psStatement(rhs, ctx);
    return;
  }
  psPipeline(toks, ctx);
}

function psRecordOpaque(toks: PsTok[], ctx: PsCtx, finding: Finding): void {
  const raw = ctx.src.slice(toks[0]?.s ?? 0, toks[toks.length - 1]?.e ?? 0);
  const first = toks[0];
  const display = first?.t === "word" ? first.v : "";
  ctx.walk.record({ name: "", display: finding.kind === "read" ? "" : display, args: [], raw, piped: false }, finding);
}

function psAssignTarget(lhs: PsTok[], ctx: PsCtx): void {
  for (const t of lhs) {
    if (t.t === "member") {
      ctx.walk.flag("sets a property on an object");
      return;
    }
    if (t.t === "var") {
      const name = t.v;
      if (name.startsWith("function:") || name.startsWith("alias:")) ctx.walk.flag("redefines a command");
      else if (name.startsWith("env:") && SENSITIVE_VARS.has(name.slice(4)))
        ctx.walk.flag(
          `changes ${ctx.src
            .slice(t.s, t.e)
            .replace(/^[$]\{?env:/i, "")
            .replace(/\}$/, "")}, which decides what runs`,
        );
    }
    if (t.t === "group") psGroup(t, ctx);
  }
}

function psKeywordTokens(toks: PsTok[], ctx: PsCtx): void {
  for (const t of toks) {
    if (t.t === "group") psGroup(t, ctx);
    else if (t.t === "word" && !t.quoted) {
      const w = lc(t.v);
      if (!PS_KEYWORDS_BLOCK.has(w) && !psExprWordOk(w)) ctx.walk.flag(`could not understand '${t.v}'`);
      psWordSubs(t, ctx);
    } else if (t.t === "word") psWordSubs(t, ctx);
    else if (t.t === "member") psMember(t, ctx);
  }
}

function psForeach(toks: PsTok[], ctx: PsCtx): void {
  const head = toks[1] as PsGroup;
  const inIdx = head.body.findIndex((t) => t.t === "word" && lc(t.v) === "in");
  if (inIdx < 0) ctx.walk.flag("could not parse a foreach loop");
  else ctx.walk.nested(() => psStatements(head.body.slice(inIdx + 1), ctx));
  psKeywordTokens(toks.slice(2), ctx);
  psRecordOpaque(toks, ctx, READ);
}

function psSwitchStatement(toks: PsTok[], ctx: PsCtx): void {
  const body = toks[toks.length - 1];
  for (const t of toks.slice(1, -1)) {
    if (t.t === "group") psGroup(t, ctx);
    else if (t.t === "word" && !t.quoted && !t.v.startsWith("-")) ctx.walk.flag(`could not understand '${t.v}'`);
  }
  if (body?.t !== "group" || body.k !== "{") {
    ctx.walk.flag("could not parse a switch statement");
    return;
  }
  ctx.walk.nested(() => {
    for (const t of body.body) {
      if (t.t === "group") psGroup(t, ctx);
      else if (t.t === "word") psWordSubs(t, ctx);
      else if (t.t === "member") psMember(t, ctx);
    }
  });
  psRecordOpaque(toks, ctx, READ);
}

function psGroup(g: PsGroup, ctx: PsCtx): void {
  ctx.walk.nested(() => {
    if (g.k === "@{") psHashtable(g.body, ctx);
    else if (g.k === "[") psExpression(g.body, ctx, true);
    else psStatements(g.body, ctx);
  });
}

function psHashtable(body: PsTok[], ctx: PsCtx): void {
  for (const entry of splitTop(body, ["\n", ";"])) {
    const eq = entry.findIndex((t) => isOp(t, "="));
    if (eq < 0) {
      ctx.walk.flag("could not parse a hashtable");
      continue;
    }
    for (const t of entry.slice(0, eq)) if (t.t === "group") psGroup(t, ctx);
    const value = entry.slice(eq + 1);
    if (value.length > 0) psStatement(value, ctx);
  }
}

function psWordSubs(w: PsWord, ctx: PsCtx): void {
  for (const sub of w.subs) ctx.walk.nested(() => psStatements(sub, ctx));
}

function psMember(m: PsMember, ctx: PsCtx): void {
  if (m.call === null) return;
  const name = lc(m.v);
  if (!SAFE_METHODS.has(name) || (name === "opensubkey" && m.call.some((t) => isOp(t, ",")))) {
    ctx.walk.flag(`calls the .${m.v}() method`);
  }
  const call = m.call;
  ctx.walk.nested(() => psStatements(call, ctx));
}

function psExprWordOk(w: string): boolean {
  return (
    /^[-+*/%!]*(\d[\w.]*|\.\d[\w.]*)$/.test(w) ||
    /^0x[0-9a-f]+$/.test(w) ||
    /^-[a-z]+$/.test(w) ||
    /^[-+*/%!?:.]+$/.test(w) ||
    w === "in" ||
    w === "$" ||
    w === "$true" ||
    w === "$false" ||
    w === "$null"
  );
}

/** Scan an expression: nested groups and method calls decide; barewords must be operators or numbers. */
function psExpression(toks: PsTok[], ctx: PsCtx, inBrackets = false): void {
  for (const t of toks) {
    switch (t.t) {
      case "group":
        psGroup(t, ctx);
        break;
      case "member":
        psMember(t, ctx);
        break;
      case "word":
        psWordSubs(t, ctx);
        if (!t.quoted && !inBrackets && !psExprWordOk(lc(t.v))) ctx.walk.flag(`could not understand '${t.v}'`);
        break;
      case "redir": {
        const w = psRedirectTarget(t, ctx);
        if (w) ctx.walk.flag(`redirects output to ${w.target}`);
        break;
      }
      default:
        break;
    }
  }
}

/** Where a redirection sends output; undefined when it is discarded. */
function psRedirectTarget(r: PsRedir, ctx: PsCtx): Redirect | undefined {
  if (r.target === null) return undefined;
  if (r.target.t === "var" && r.target.v === "null") return undefined;
  const text = r.target.t === "word" ? r.target.v : ctx.src.slice(r.target.s, r.target.e);
  if (/^nul:?$/i.test(text)) return undefined;
  if (r.target.t === "group") psGroup(r.target, ctx);
  return { target: text, append: r.v.includes(">>") };
}

function psPipeline(toks: PsTok[], ctx: PsCtx): void {
  const elements = splitTop(toks, ["|"]);
  elements.forEach((el, idx) => {
    const writes: Redirect[] = [];
    for (const t of el) {
      const w = t.t === "redir" ? psRedirectTarget(t, ctx) : undefined;
      if (w) writes.push(w);
    }
    const rest = el.filter((t) => t.t !== "redir");
    psElement(rest, idx > 0, writes, ctx);
  });
}

function psTokText(t: PsTok, src: string): string {
  if (t.t === "word") return t.v;
  if (t.t === "var") return src.slice(t.s, t.e);
  return src.slice(t.s, t.e);
}

/** Command arguments: adjacent tokens glued together, comma lists kept as one argument. */
function psArgs(toks: PsTok[], src: string): { args: string[]; scriptBlocks: boolean[] } {
  const args: string[] = [];
  const blocks: PsTok[][] = [];
  let prevEnd = -1;
  let glue = false;
  for (const t of toks) {
    if (isOp(t, ",")) {
      glue = true;
      args[args.length - 1] = `${args[args.length - 1] ?? ""},`;
      prevEnd = t.e;
      continue;
    }
    const text = psTokText(t, src);
    if (args.length > 0 && (t.s === prevEnd || glue)) args[args.length - 1] += text;
    else {
      args.push(text);
      blocks.push([]);
    }
    blocks[blocks.length - 1]?.push(t);
    glue = false;
    prevEnd = t.e;
  }
  return { args, scriptBlocks: blocks.map((b) => b.length === 1 && b[0]?.t === "group" && b[0].k === "{") };
}

function psElement(toks: PsTok[], piped: boolean, writes: Redirect[], ctx: PsCtx): void {
  const first = toks[0];
  const unrecorded = (): void => {
    for (const w of writes) ctx.walk.flag(`redirects output to ${w.target}`);
  };
  if (first === undefined) {
    unrecorded();
    return;
  }
  const raw = ctx.src.slice(first.s, toks[toks.length - 1]?.e ?? first.e);
  const record = (name: string, display: string, args: string[], finding: Finding, program?: Program): void =>
    ctx.walk.record({ name, display, args, raw, piped }, finding, program, writes);

  let nameTok: PsTok = first;
  let rest = toks.slice(1);
  if (isOp(first, "&")) {
    const target = toks[1];
    if (target === undefined) {
      ctx.walk.flag("could not parse the & call");
      unrecorded();
      return;
    }
    if (target.t === "group" && target.k === "{") {
      psGroup(target, ctx);
      psArgsScan(toks.slice(2), ctx);
      record("&", "", [], READ);
      return;
    }
    if (target.t !== "word" || target.dyn) {
      psArgsScan(toks.slice(1), ctx);
      record("&", "&", [], change("runs a command whose name is computed (&)"));
      return;
    }
    nameTok = target;
    rest = toks.slice(2);
  } else if (first.t !== "word" || first.quoted || (psExprWordOk(lc(first.v)) && first.v !== "%" && first.v !== "?")) {
    // expression mode: values, variables, groups
    if (piped) {
      psExpression(toks, ctx);
      record("", "", [], change("pipes into an expression"));
      return;
    }
    psExpression(toks, ctx);
    record("", "", [], READ);
    return;
  }
  const word = nameTok as PsWord;
  psArgsScan(rest, ctx);
  const { args, scriptBlocks } = psArgs(rest, ctx.src);
  if (word.dyn) {
    record(lc(word.v), word.v, args, change(`runs a command whose name is computed (${word.v})`));
    return;
  }
  if (word.v === ".") {
    record(".", ".", args, change(`dot-sources ${args[0] ?? "a script"}`));
    return;
  }
  const r = psResolve(word.v, args, scriptBlocks, piped, ctx);
  record(r.name, r.display, args, r.finding, r.program);
}

function psArgsScan(toks: PsTok[], ctx: PsCtx): void {
  for (const t of toks) {
    if (t.t === "group") psGroup(t, ctx);
    else if (t.t === "word") psWordSubs(t, ctx);
    else if (t.t === "member") psMember(t, ctx);
  }
}

function psResolve(
  written: string,
  args: string[],
  scriptBlocks: boolean[],
  piped: boolean,
  ctx: PsCtx,
): { name: string; display: string; finding: Finding; program?: Program | undefined } {
  let n = lc(written);
  // module-qualified: Microsoft.PowerShell.Management\Get-Service
  const mq = /^[a-z0-9_.]+\\([a-z]+-[a-z0-9]+)$/.exec(n);
  if (mq) n = mq[1] ?? n;
  if (/[\\/]/.test(n) || /\.(ps1|psm1|bat|cmd|vbs|js|sh|py|msi)$/.test(n)) {
    const prog = winProgramName(written);
    if (prog === undefined || /\.(ps1|psm1|bat|cmd|vbs|js|sh|py|msi)$/.test(prog))
      return { name: n, display: written, finding: change(`runs the program or script ${written}`) };
    n = prog;
  }
  const ps5 = ctx.shell === "powershell" ? PS5_ALIASES[n] : undefined;
  if (ps5)
    return {
      name: lc(ps5),
      display: ps5,
      finding: change(`${written} is ${ps5} in Windows PowerShell (use ${n}.exe)`),
      program: lookup("cmdlets", lc(ps5)),
    };
  const alias = PS_ALIASES[n];
  let display = written;
  if (alias) {
    n = lc(alias);
    display = alias;
  }
  const shell = ctx.shell;
  const cmdlet = /^([a-z]+)-([a-z0-9_]+)$/.exec(n);
  if (cmdlet) {
    const program = lookup("cmdlets", n);
    const inv = { shell, name: n, display, args, piped, scriptBlocks };
    return { name: n, display, finding: psCmdlet(inv, cmdlet[1] ?? "", program), program };
  }
  const exe = n.replace(/\.(exe|com)$/, "");
  const native = windowsProgram(["windows"], { shell, name: exe, display: exe, args, piped });
  if (native) return { name: exe, display: exe, finding: native.finding, program: native.program };
  if (ctx.shell === "pwsh" && !/\.(exe|com)$/.test(n)) {
    const r = posixResolve(exe, args, { shell, piped });
    if (!r.finding.reason?.startsWith("unknown command")) return r;
  }
  return { name: exe, display: written, finding: change(`unknown command '${written}'`) };
}

/** What a read verb's cmdlet is made to do by these switches. */
const ACTING_SWITCHES = ["install", "download", "acceptall", "autoreboot", "hide", "repair", "delete", "remove", "fix"];

function psCmdlet(inv: Invocation, verb: string, program: Program | undefined): Finding {
  if (program?.whatIf && psSwitch(inv.args, "whatif") === "on") return READ;
  const specific = program?.classify?.(inv);
  if (specific) return specific;
  if (PS_READ_VERBS.has(verb)) {
    const hit = ACTING_SWITCHES.find((p) => psSwitchSet(inv.args, p));
    if (hit) return change(`${inv.display} -${hit[0]?.toUpperCase()}${hit.slice(1)} makes changes`);
    return READ;
  }
  return change(`${inv.display} ${program?.reason ?? VERB_CHANGES[verb] ?? "may make changes"}`);
}

/** What a cmdlet with a changing verb does, when its entry says nothing more precise. */
const VERB_CHANGES: Record<string, string> = {
  set: "changes settings",
  new: "creates something",
  remove: "removes something",
  add: "adds something",
  clear: "clears something",
  install: "installs something",
  uninstall: "uninstalls something",
  update: "updates something",
  enable: "enables something",
  disable: "disables something",
  start: "starts something",
  stop: "stops something",
  restart: "restarts something",
  invoke: "runs something",
  export: "writes a file",
  import: "imports something",
  register: "registers something",
  unregister: "unregisters something",
  reset: "resets something",
  repair: "repairs something",
  rename: "renames something",
  move: "moves something",
  copy: "copies something",
  mount: "mounts something",
  dismount: "dismounts something",
  suspend: "suspends something",
  unlock: "unlocks something",
  lock: "locks something",
  grant: "grants access",
  revoke: "revokes access",
  block: "blocks something",
  unblock: "unblocks something",
  send: "sends something",
  publish: "publishes something",
  connect: "connects something",
  disconnect: "disconnects something",
  initialize: "initializes something",
  optimize: "optimizes something",
  sync: "synchronizes something",
  resume: "resumes something",
  write: "writes something",
  out: "writes output somewhere",
  format: "formats something",
};

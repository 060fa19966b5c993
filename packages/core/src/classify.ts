// Read-only vs change: the classifier behind the client approval policy `changes`.
//
// A command is "read" only when every part of it is known to only look at the machine. Anything the classifier cannot
// understand with confidence — unknown programs, nested shells, scripts, computed command names, method calls on
// objects, writes through redirection, broken quoting — is a "change", so it goes to the client contact for approval.
//
// Each shell has a small tokenizer that understands its quoting (POSIX: '', "", \, $( ), ``; PowerShell: '', "",
// backtick, here-strings, $( ), { }, @{ }; cmd: "", ^), a walker that splits scripts, sequences and pipelines into
// simple commands (descending into $( ), script blocks, if/for/while bodies), and a table of programs and cmdlets.
//
// Decisions (also pinned by the tests):
// - PowerShell ForEach-Object / Where-Object / Measure-Command are read when every script block they are given is read;
//   ForEach-Object given a member name (`% Delete`) is a change.
// - `sudo`, `doas`, `env`, `nice`, `timeout`, `nohup`, `time`, `command`, `exec`: the wrapped command decides; sudo of
//   a read is a read.
// - Setting a shell or process variable (`set X=1`, `$env:X = 1`, `X=1`, `export X=1`, `cd`, `Set-Location`) is read:
//   it only lasts for this one process. Except variables that change which program runs (PATH, PATHEXT, LD_PRELOAD,
//   PSModulePath, …), aliases and functions, which are changes.
// - `Import-Module Name` is read (loads an installed module into this process); from a file path it is a change.
// - Approved PowerShell verbs that only look (Get, Test, Measure, Select, Find, Search, Show, Resolve, Compare,
//   ConvertTo, ConvertFrom, Wait, Receive, Read, Confirm, Join, Split) are read; every other verb is a change. A
//   Get-/Test- cmdlet given a parameter that acts (-Install, -Download, -Repair, …) is a change.
// - A change cmdlet from the core set run with `-WhatIf` only previews, so it is read.
// - Invoke-WebRequest / Invoke-RestMethod are changes even for a GET (they are usually followed by running what they
//   fetched); POSIX curl to stdout without upload/POST flags is read, wget only with `-O -` or `--spider`.
// - Windows PowerShell 5.1 (`powershell`) maps `sc` to Set-Content and `curl`/`wget` to Invoke-WebRequest; `pwsh`
//   does not, so there they are the native programs.

import type { Shell } from "./shells.ts";

export type CommandKind = "read" | "change";

export interface CommandClassification {
  kind: CommandKind;
  /** Why: for a change, one short sentence per reason; for a read, a single "only reads …" line. */
  reasons: string[];
}

/** One simple command found at the top level of a command line (pipeline stages and sequence parts, in order). */
export interface CommandStep {
  /** Lower-case program or cmdlet name with aliases resolved (PowerShell: `get-childitem`), wrappers (sudo) removed. */
  name: string;
  /** The name as written (after wrappers), for messages. */
  display: string;
  /** Arguments as plain strings, quotes removed (PowerShell comma lists kept together: `a,b`). */
  args: string[];
  /** The source text of this step. */
  raw: string;
  /** True when the step reads the previous pipeline stage's output. */
  piped: boolean;
  kind: CommandKind;
}

export interface CommandAnalysis extends CommandClassification {
  steps: CommandStep[];
  /** Set when the text could not be tokenized; steps is then empty. */
  parseError?: string;
}

interface Finding {
  kind: CommandKind;
  reason?: string;
}

const READ: Finding = { kind: "read" };
const change = (reason: string): Finding => ({ kind: "change", reason });

class ParseError extends Error {}

const MAX_DEPTH = 12;

class Walk {
  readonly reasons: string[] = [];
  readonly readNames: string[] = [];
  readonly steps: CommandStep[] = [];
  depth = 0;

  flag(reason: string): void {
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
  }

  record(step: Omit<CommandStep, "kind">, finding: Finding): void {
    if (finding.kind === "change") this.flag(finding.reason ?? `${step.display} makes changes`);
    else if (step.display && !this.readNames.includes(step.display)) this.readNames.push(step.display);
    if (this.depth === 0) this.steps.push({ ...step, kind: finding.kind });
  }

  nested(fn: () => void): void {
    if (this.depth >= MAX_DEPTH) {
      this.flag("nests commands too deeply to analyse");
      return;
    }
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
  }
}

/** Classify a command line or script as read-only or as a change. */
export function classifyCommand(shell: Shell, command: string): CommandClassification {
  const { kind, reasons } = analyzeCommand(shell, command);
  return { kind, reasons };
}

/** Classify and also return the top-level steps (used by the plain-language summaries). */
export function analyzeCommand(shell: Shell, command: string): CommandAnalysis {
  const walk = new Walk();
  let parseError: string | undefined;
  try {
    if (shell === "bash" || shell === "sh") posixScript(command, walk);
    else if (shell === "cmd") cmdScript(command, walk);
    else psScript(command, walk, shell);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    parseError = err.message;
    walk.flag(`could not parse the command (${err.message})`);
  }
  if (walk.reasons.length > 0) {
    return { kind: "change", reasons: walk.reasons, steps: parseError ? [] : walk.steps, parseError };
  }
  const reasons =
    walk.readNames.length > 0
      ? [`only reads (${walk.readNames.slice(0, 8).join(", ")}${walk.readNames.length > 8 ? ", …" : ""})`]
      : walk.steps.length > 0
        ? ["only evaluates values"]
        : ["empty command"];
  return { kind: "read", reasons, steps: walk.steps };
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

const lc = (s: string): string => s.toLowerCase();

/** Anything one of `names` (lower-case, exact) among the arguments, case-insensitively. */
function hasArg(args: readonly string[], ...names: string[]): boolean {
  return args.some((a) => names.includes(lc(a)));
}

function firstLc(args: readonly string[]): string {
  return lc(args[0] ?? "");
}

/** Windows-style switches (/x or -x) removed. */
function winPositional(args: readonly string[]): string[] {
  return args.filter((a) => !/^[/-]/.test(a));
}

function posixPositional(args: readonly string[]): string[] {
  return args.filter((a) => !a.startsWith("-"));
}

/** A POSIX short-option cluster (-rf) or long option includes one of the given letters/long names. */
function posixFlag(args: readonly string[], letters: string, longs: string[] = []): boolean {
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

const SENSITIVE_VARS = new Set([
  "path",
  "pathext",
  "comspec",
  "psmodulepath",
  "ld_preload",
  "ld_library_path",
  "bash_env",
  "env",
  "ifs",
  "prompt_command",
  "shellopts",
  "bashopts",
  "psexecutionpolicypreference",
]);

// ---------------------------------------------------------------------------------------------------------------
// Windows programs (run from cmd or PowerShell)

function winNative(name: string, args: readonly string[]): Finding | undefined {
  const a = args.map(lc);
  const has = (...n: string[]) => a.some((x) => n.includes(x));
  const hasPrefix = (...p: string[]) => a.some((x) => p.some((q) => x.startsWith(q)));
  const pos = winPositional(args);
  switch (name) {
    case "ipconfig":
      if (
        hasPrefix("/release", "/renew", "/flushdns", "/registerdns", "/setclassid", "-release", "-renew", "-flushdns")
      )
        return change("ipconfig changes the network configuration");
      return READ;
    case "ping":
    case "tracert":
    case "pathping":
    case "nslookup":
    case "whoami":
    case "hostname":
    case "systeminfo":
    case "tasklist":
    case "netstat":
    case "getmac":
    case "driverquery":
    case "quser":
    case "qwinsta":
    case "qprocess":
    case "where":
    case "findstr":
    case "find":
    case "more":
    case "fc":
    case "comp":
    case "tree":
    case "clip":
    case "timeout":
    case "choice":
    case "ver":
    case "winver":
    case "dcdiag":
      return READ;
    case "query":
      return READ;
    case "arp":
      return has("-d", "-s", "/d", "/s") ? change("arp changes the ARP cache") : READ;
    case "nbtstat":
      // -R / -RR (upper case) purge and re-register; -r (lower case) only lists
      return args.some((x) => /^[-/](R|RR)$/.test(x)) ? change("nbtstat purges or re-registers NetBIOS names") : READ;
    case "route":
      return firstLc(pos) === "print" || (pos.length === 0 && !has("-f", "/f"))
        ? READ
        : change("route changes the routing table");
    case "reg": {
      const sub = firstLc(args);
      if (sub === "query" || sub === "compare") return READ;
      if (sub === "export" || sub === "save") return change(`reg ${sub} writes a file`);
      return change(`reg ${sub || ""} changes the registry`.replace("  ", " "));
    }
    case "sc": {
      // sc [\\server] verb ...
      const rest = a[0]?.startsWith("\\\\") ? a.slice(1) : a;
      const verb = rest[0] ?? "";
      if (
        verb === "" ||
        [
          "query",
          "queryex",
          "qc",
          "qdescription",
          "qfailure",
          "qfailureflag",
          "qtriggerinfo",
          "qprivs",
          "qsidtype",
          "qmanagedaccount",
          "qpreferrednode",
          "quserservice",
          "sdshow",
          "enumdepend",
          "getdisplayname",
          "getkeyname",
          "showsid",
        ].includes(verb)
      )
        return READ;
      const what: Record<string, string> = {
        stop: "stops a service",
        start: "starts a service",
        config: "changes a service's configuration",
        create: "creates a service",
        delete: "deletes a service",
        failure: "changes a service's failure actions",
        pause: "pauses a service",
        continue: "resumes a service",
      };
      return change(`sc ${verb} ${what[verb] ?? "changes a service"}`);
    }
    case "netsh": {
      if (has("set", "add", "delete", "reset", "import", "install", "uninstall", "flush", "connect", "disconnect"))
        return change("netsh changes network or firewall settings");
      if (has("export", "trace", "dump") && !has("show"))
        return has("dump") ? READ : change("netsh writes a file or starts a trace");
      return has("show") ? READ : change("netsh changes network settings");
    }
    case "net":
    case "net1":
      return netCommand(pos, a);
    case "gpresult":
      return hasPrefix("/h", "/x", "-h", "-x") ? change("gpresult writes a report file") : READ;
    case "gpupdate":
      return change("gpupdate re-applies Group Policy");
    case "wmic": {
      if (hasPrefix("/output:", "/append:")) return change("wmic writes a file");
      if (has("call", "set", "delete", "create")) return change("wmic changes system settings");
      return has("get", "list") ? READ : change("wmic may change system settings");
    }
    case "dism": {
      const changes =
        /^\/(restorehealth|startcomponentcleanup|resetbase|enable-|disable-|add-|remove-|set-|apply-|mount-|unmount-|commit-|cleanup-mountpoints|revertpendingactions|export-|import-|capture-|append-|split-|optimize-|spsuperseded)/;
      if (a.some((x) => changes.test(x))) return change("DISM changes the Windows image");
      return a.some((x) => /^\/(get-|checkhealth|scanhealth)/.test(x))
        ? READ
        : change("DISM changes the Windows image");
    }
    case "sfc":
      return hasPrefix("/scannow", "/scanfile", "/scanonce", "/scanboot", "/revert", "/purgecache", "/cachesize")
        ? change("sfc repairs system files")
        : READ;
    case "chkdsk":
      return hasPrefix("/f", "/r", "/x", "/b", "/spotfix", "/offlinescanandfix", "/forceofflinefix", "/scan", "/l:")
        ? change("chkdsk repairs the disk")
        : READ;
    case "shutdown":
      return change("shutdown restarts, shuts down or signs out");
    case "logoff":
    case "tsdiscon":
    case "rwinsta":
    case "reset":
      return change(`${name} ends a user session`);
    case "icacls": {
      if (
        hasPrefix(
          "/grant",
          "/deny",
          "/remove",
          "/reset",
          "/setowner",
          "/setintegritylevel",
          "/restore",
          "/save",
          "/inheritance",
          "/substitute",
        )
      )
        return change("icacls changes permissions");
      return READ;
    }
    case "cacls":
      return args.length <= 1 ? READ : change("cacls changes permissions");
    case "takeown":
      return change("takeown takes ownership of files");
    case "attrib":
      return args.some((x) => /^[+-][rahsiovxpu]$/i.test(x)) ? change("attrib changes file attributes") : READ;
    case "certutil": {
      const changing = [
        "-urlcache",
        "-decode",
        "-encode",
        "-decodehex",
        "-encodehex",
        "-addstore",
        "-delstore",
        "-importpfx",
        "-exportpfx",
        "-repairstore",
        "-setreg",
        "-delreg",
        "-installcert",
        "-f",
        "-split",
        "-generatesstfromwu",
        "-syncwithwu",
      ];
      const norm = a.map((x) => x.replace(/^\//, "-"));
      if (norm.some((x) => changing.includes(x))) return change("certutil downloads, writes or changes certificates");
      return norm.some((x) =>
        ["-hashfile", "-store", "-verify", "-dump", "-verifystore", "-ping", "-viewstore"].includes(x),
      )
        ? READ
        : change("certutil may change certificates");
    }
    case "schtasks": {
      if (a.length === 0 || hasPrefix("/query", "-query")) return READ;
      return change("schtasks changes or runs a scheduled task");
    }
    case "wevtutil": {
      const verb = a[0] ?? "";
      if (
        [
          "qe",
          "query-events",
          "el",
          "enum-logs",
          "gl",
          "get-log",
          "gli",
          "get-loginfo",
          "ep",
          "enum-publishers",
          "gp",
          "get-publisher",
        ].includes(verb)
      )
        return READ;
      return change(`wevtutil ${verb} changes or clears an event log`);
    }
    case "w32tm":
      return hasPrefix("/query", "/stripchart", "/tz", "/monitor", "/ntte", "/ntpte") &&
        !hasPrefix("/resync", "/config")
        ? READ
        : change("w32tm changes time synchronization");
    case "winget": {
      const sub = a.find((x) => !x.startsWith("-")) ?? "";
      if (sub === "" && has("--version", "-v", "--info")) return READ;
      return ["list", "ls", "search", "find", "show", "view", "features"].includes(sub)
        ? READ
        : change(`winget ${sub} installs or changes software`);
    }
    case "choco": {
      const sub = a.find((x) => !x.startsWith("-")) ?? "";
      if (sub === "" && has("--version", "-v")) return READ;
      return ["list", "search", "find", "info", "outdated"].includes(sub)
        ? READ
        : change(`choco ${sub} installs or changes software`);
    }
    case "powercfg":
      return hasPrefix(
        "/list",
        "/l",
        "/query",
        "/q",
        "/a",
        "/availablesleepstates",
        "/getactivescheme",
        "/devicequery",
        "/lastwake",
        "/requests",
        "-list",
        "-l",
        "-query",
        "-q",
        "-a",
        "-getactivescheme",
      ) && !hasPrefix("/setactive", "/change", "/hibernate", "/x", "/s", "-setactive", "-change", "-x")
        ? READ
        : change("powercfg changes power settings or writes a report");
    case "bcdedit":
      return a.length === 0 || (a[0] === "/enum" && !hasPrefix("/set", "/delete"))
        ? READ
        : change("bcdedit changes boot settings");
    case "manage-bde":
      return hasPrefix("-status", "/status") ? READ : change("manage-bde changes BitLocker");
    case "fsutil":
      return a[0] === "fsinfo" || has("query", "diskfree") ? READ : change("fsutil changes file system settings");
    case "vssadmin":
      return a[0] === "list" ? READ : change("vssadmin changes shadow copies");
    case "klist":
      return has("purge", "purge_bind") ? change("klist purges Kerberos tickets") : READ;
    case "cmdkey":
      return hasPrefix("/list") && !hasPrefix("/add", "/delete", "/generic")
        ? READ
        : change("cmdkey changes saved credentials");
    case "dsregcmd":
      return hasPrefix("/status") ? READ : change("dsregcmd changes the device's Azure AD registration");
    case "nltest":
      return hasPrefix("/sc_reset", "/sc_change_pwd", "/sc_delete", "/sc_verify:") &&
        hasPrefix("/sc_reset", "/sc_change_pwd", "/sc_delete")
        ? change("nltest resets the domain secure channel")
        : READ;
    case "tzutil":
      return hasPrefix("/s") ? change("tzutil changes the time zone") : READ;
    case "pnputil":
      return hasPrefix("/enum", "-e") ? READ : change("pnputil changes drivers or devices");
    case "auditpol":
      return hasPrefix("/get", "/list") ? READ : change("auditpol changes audit policy");
    case "openfiles":
      return hasPrefix("/query") ? READ : change("openfiles disconnects open files");
    case "bitsadmin":
      return hasPrefix("/list", "/info", "/getstate", "/monitor", "/rawreturn") &&
        !hasPrefix("/transfer", "/create", "/addfile", "/resume", "/cancel", "/reset", "/complete")
        ? READ
        : change("bitsadmin starts or changes a transfer");
    case "defrag":
      return (hasPrefix("/a", "-a") || has("/analyze")) && !hasPrefix("/o", "/x", "/l", "/d", "/k", "/b")
        ? READ
        : change("defrag optimizes the disk");
    case "repadmin":
      return hasPrefix(
        "/showrepl",
        "/replsummary",
        "/queue",
        "/showbackup",
        "/bridgeheads",
        "/istg",
        "/showattr",
        "/showobjmeta",
        "/showutdvec",
      )
        ? READ
        : change("repadmin changes Active Directory replication");
    case "cipher":
      return args.length === 0 ? READ : change("cipher encrypts, decrypts or wipes data");
    case "compact":
      return args.every((x) => !/^\/[cu]/i.test(x)) ? READ : change("compact compresses or decompresses files");
    case "subst":
      return args.length === 0 ? READ : change("subst maps a drive letter");
    case "curl":
      return curlFinding(args);
    case "taskkill":
      return change("taskkill ends programs");
    case "msiexec":
    case "wusa":
      return change(`${name} installs or removes software`);
    case "usoclient":
    case "wuauclt":
      return change(`${name} drives Windows Update`);
    case "cleanmgr":
      return change("cleanmgr deletes files");
    case "setx":
      return change("setx permanently changes an environment variable");
    case "format":
    case "diskpart":
    case "label":
    case "mountvol":
    case "bootrec":
    case "bcdboot":
      return change(`${name} changes disks or boot configuration`);
    case "robocopy":
    case "xcopy":
    case "replace":
    case "expand":
    case "mklink":
      return change(`${name} copies or writes files`);
    case "msg":
      return change("msg sends a message to a user");
    case "cmd":
    case "powershell":
    case "pwsh":
    case "wscript":
    case "cscript":
    case "mshta":
    case "rundll32":
    case "regsvr32":
    case "bash":
    case "wsl":
    case "psexec":
      return change(`${name} runs other code (nested execution)`);
    default:
      return undefined;
  }
}

function netCommand(pos: string[], a: string[]): Finding {
  const sub = lc(pos[0] ?? "");
  const opts = a.filter((x) => x.startsWith("/"));
  const nonDomainOpts = opts.filter((x) => x !== "/domain");
  const rest = pos.slice(1);
  switch (sub) {
    case "user":
    case "users":
      return rest.length <= 1 && nonDomainOpts.length === 0 ? READ : change("net user changes a user account");
    case "localgroup":
    case "group":
      return rest.length <= 1 && nonDomainOpts.length === 0 ? READ : change(`net ${sub} changes group membership`);
    case "start":
      return rest.length === 0 ? READ : change("net start starts a service");
    case "stop":
    case "pause":
    case "continue":
      return change(`net ${sub} changes a service's state`);
    case "use":
      return rest.length === 0 && opts.length === 0 ? READ : change("net use connects or disconnects a network drive");
    case "share":
      return rest.length <= 1 && !rest.some((x) => x.includes("=")) && opts.length === 0
        ? READ
        : change("net share changes a file share");
    case "session":
    case "file":
      return opts.length === 0 ? READ : change(`net ${sub} closes sessions or files`);
    case "view":
    case "statistics":
    case "stats":
    case "config":
    case "helpmsg":
      return opts.length === 0 || sub === "view" ? READ : change(`net ${sub} changes settings`);
    case "accounts":
      return nonDomainOpts.length === 0 ? READ : change("net accounts changes password policy");
    case "time":
      return opts.some((x) => x.startsWith("/set")) ? change("net time sets the clock") : READ;
    case "":
    case "help":
      return READ;
    default:
      return change(`net ${sub} may change settings`);
  }
}

function curlFinding(args: readonly string[]): Finding {
  for (let i = 0; i < args.length; i++) {
    const x = args[i] ?? "";
    if (x.startsWith("--")) {
      const name = x.slice(2).split("=")[0] ?? "";
      if (
        ["output", "remote-name", "remote-name-all", "output-dir", "create-dirs", "cookie-jar", "config"].includes(name)
      )
        return change("curl writes a file");
      if (name === "dump-header" || name === "trace" || name === "trace-ascii" || name === "stderr") {
        const v = x.includes("=") ? x.split("=")[1] : args[i + 1];
        if (v !== "-") return change("curl writes a file");
      }
      if (
        name.startsWith("data") ||
        ["form", "form-string", "upload-file", "json", "post301", "post302"].includes(name)
      )
        return change("curl sends data to a server");
      if (name === "request") {
        const v = lc((x.includes("=") ? x.split("=")[1] : args[i + 1]) ?? "");
        if (v !== "get" && v !== "head") return change(`curl sends a ${v.toUpperCase()} request`);
      }
    } else if (x.startsWith("-") && x.length > 1 && !/^-\d/.test(x)) {
      const cluster = x.slice(1);
      for (let j = 0; j < cluster.length; j++) {
        const ch = cluster[j] ?? "";
        if ("oOKc".includes(ch)) return change("curl writes a file");
        if ("dFT".includes(ch)) return change("curl sends data to a server");
        if (ch === "D") {
          const v = j + 1 < cluster.length ? cluster.slice(j + 1) : args[i + 1];
          if (v !== "-") return change("curl writes a file");
          break;
        }
        if (ch === "X") {
          const v = lc(j + 1 < cluster.length ? cluster.slice(j + 1) : (args[i + 1] ?? ""));
          if (v !== "get" && v !== "head") return change(`curl sends a ${v.toUpperCase()} request`);
          break;
        }
        // options taking a value end the cluster
        if ("ABeEHmrUuwx".includes(ch)) break;
      }
    }
  }
  return READ;
}

// ---------------------------------------------------------------------------------------------------------------
// POSIX programs

interface Resolved {
  finding: Finding;
  name: string;
  display: string;
  args: string[];
}

const INTERPRETERS = new Set([
  "bash",
  "sh",
  "dash",
  "zsh",
  "ksh",
  "fish",
  "csh",
  "tcsh",
  "busybox-sh",
  "python",
  "python2",
  "python3",
  "perl",
  "ruby",
  "node",
  "php",
  "lua",
  "pwsh",
  "powershell",
  "osascript",
]);

const POSIX_READ = new Set([
  "ls",
  "cat",
  "head",
  "less",
  "more",
  "grep",
  "egrep",
  "fgrep",
  "zgrep",
  "rg",
  "df",
  "du",
  "ps",
  "top",
  "htop",
  "uptime",
  "uname",
  "id",
  "whoami",
  "netstat",
  "ping",
  "ping6",
  "traceroute",
  "tracepath",
  "mtr",
  "dig",
  "host",
  "nslookup",
  "drill",
  "lsblk",
  "blkid",
  "lsusb",
  "lspci",
  "lscpu",
  "lshw",
  "lsmod",
  "lsof",
  "findmnt",
  "free",
  "vmstat",
  "iostat",
  "mpstat",
  "sar",
  "printenv",
  "cal",
  "echo",
  "printf",
  "stat",
  "file",
  "wc",
  "cut",
  "tr",
  "which",
  "whereis",
  "type",
  "dpkg-query",
  "apt-cache",
  "getent",
  "last",
  "lastlog",
  "lastb",
  "who",
  "w",
  "users",
  "groups",
  "sha1sum",
  "sha224sum",
  "sha256sum",
  "sha384sum",
  "sha512sum",
  "md5sum",
  "cksum",
  "b2sum",
  "test",
  "[",
  "true",
  "false",
  "sleep",
  ":",
  "basename",
  "dirname",
  "realpath",
  "readlink",
  "seq",
  "tac",
  "nl",
  "od",
  "hexdump",
  "strings",
  "diff",
  "cmp",
  "comm",
  "column",
  "jq",
  "base64",
  "tree",
  "pwd",
  "cd",
  "pushd",
  "popd",
  "history",
  "ulimit",
  "umask",
  "unset",
  "set",
  "shopt",
  "read",
  "exit",
  "return",
  "break",
  "continue",
  "wait",
  "jobs",
  "getconf",
  "locale",
  "nproc",
  "arch",
  "lsb_release",
  "hostid",
  "sensors",
  "getenforce",
  "sestatus",
  "ausearch",
  "aureport",
  "mailq",
  "lsattr",
  "getfacl",
  "zcat",
  "bzcat",
  "xzcat",
  "zless",
  "expr",
  "bc",
  "numfmt",
  "fold",
  "fmt",
  "paste",
  "join",
  "rev",
  "shuf",
  "yes",
  "tty",
  "logname",
  "iwconfig",
  "iwlist",
  "lpstat",
  "lpq",
  "vdir",
  "dir",
  "look",
  "dmidecode",
  "inxi",
  "neofetch",
  "screenfetch",
  "whatis",
  "apropos",
  "man",
  "info",
  "help",
  "clear",
  "ldd",
  "nm",
  "objdump",
  "readelf",
  "pgrep",
  "pidof",
  "pstree",
  "let",
  "shift",
  "getopts",
]);

function posixResolve(display: string, args: string[], walk: Walk, depth = 0): Resolved {
  const name = display.includes("/") ? posixBasename(display) : display;
  const res = (finding: Finding): Resolved => ({ finding, name: name ?? display, display, args });
  if (name === undefined) return res(change(`runs the program or script ${display}`));
  if (/[$`]/.test(name)) return res(change(`runs a command whose name is computed (${display})`));
  if (depth > 6) return res(change("wraps commands too deeply to analyse"));
  const wrapped = (rest: string[]): Resolved => {
    const [inner, ...innerArgs] = rest;
    if (inner === undefined) return res(READ);
    return posixResolve(inner, innerArgs, walk, depth + 1);
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
      const inner = posixResolve(rest[0] ?? "", rest.slice(1), walk, depth + 1);
      return res(
        inner.finding.kind === "read" ? READ : change(`xargs runs ${inner.display}: ${inner.finding.reason ?? ""}`),
      );
    }
  }
  return res(posixProgram(name, args, walk));
}

function posixBasename(path: string): string | undefined {
  const m = /^\/(?:usr\/)?(?:local\/)?s?bin\/([^/]+)$/.exec(path);
  return m ? m[1] : undefined;
}

function posixProgram(name: string, args: string[], walk: Walk): Finding {
  const a = args;
  const sub = a.find((x) => !x.startsWith("-")) ?? "";
  const pos = posixPositional(a);
  if (INTERPRETERS.has(name)) {
    if (a.length === 1 && (a[0] === "--version" || a[0] === "-V")) return READ;
    if (a.some((x) => x === "-c")) return change(`${name} -c runs nested code`);
    return change(`${name} runs a script or other code`);
  }
  if (POSIX_READ.has(name)) return READ;
  switch (name) {
    case "tail":
      return READ;
    case "hostname":
      return pos.length === 0 ? READ : change("hostname renames the computer");
    case "hostnamectl":
      return sub === "" || sub === "status" ? READ : change("hostnamectl changes the host name");
    case "ip": {
      if (
        a.some((x) =>
          [
            "add",
            "del",
            "delete",
            "change",
            "replace",
            "set",
            "flush",
            "append",
            "prepend",
            "exec",
            "restore",
            "save",
          ].includes(x),
        )
      )
        return change("ip changes network configuration");
      return READ;
    }
    case "ifconfig":
      return pos.length <= 1 ? READ : change("ifconfig changes a network interface");
    case "curl":
      return curlFinding(a);
    case "wget": {
      const toStdout =
        a.some((x, i) => (/^-[a-zA-Z]*O$/.test(x) && a[i + 1] === "-") || /^-[a-zA-Z]*O-$/.test(x)) ||
        a.includes("--output-document=-") ||
        a.includes("--spider");
      if (a.some((x) => x.startsWith("--post") || x.startsWith("--method") || x.startsWith("--body")))
        return change("wget sends data to a server");
      return toStdout ? READ : change("wget downloads a file");
    }
    case "systemctl": {
      const verb = sub;
      if (
        verb === "" ||
        [
          "status",
          "is-active",
          "is-enabled",
          "is-failed",
          "is-system-running",
          "list-units",
          "list-unit-files",
          "list-timers",
          "list-sockets",
          "list-dependencies",
          "list-jobs",
          "list-machines",
          "show",
          "cat",
          "get-default",
          "help",
        ].includes(verb)
      )
        return READ;
      return change(`systemctl ${verb} changes a service or the system`);
    }
    case "service":
      return a.includes("--status-all") || a[1] === "status"
        ? READ
        : change(`service ${a[1] ?? ""} changes a service`.trim());
    case "journalctl":
      return a.some(
        (x) =>
          x.startsWith("--vacuum") || x === "--rotate" || x === "--flush" || x === "--sync" || x === "--relinquish-var",
      )
        ? change("journalctl deletes or rotates logs")
        : READ;
    case "dmesg":
      return posixFlag(a, "cCDEn", ["clear", "read-clear", "console-off", "console-on", "console-level"])
        ? change("dmesg clears or changes the kernel log")
        : READ;
    case "mount":
      return pos.length === 0 ? READ : change("mount mounts a file system");
    case "date":
      return posixFlag(a, "s", ["set"]) || pos.some((x) => !x.startsWith("+")) ? change("date sets the clock") : READ;
    case "sort":
      return posixFlag(a, "o", ["output"]) ? change("sort writes a file") : READ;
    case "uniq":
      return pos.length >= 2 ? change("uniq writes a file") : READ;
    case "xxd":
      return pos.length >= 2 ? change("xxd writes a file") : READ;
    case "awk":
    case "gawk":
    case "mawk":
    case "nawk": {
      if (
        a.some((x) => x === "-f" || x.startsWith("--file") || x === "-i" || x === "--inplace" || x.includes("inplace"))
      )
        return change(`${name} runs a program file or edits in place`);
      const prog = a.find((x, i) => !x.startsWith("-") && !/^-[vF]$/.test(a[i - 1] ?? "")) ?? "";
      if (/\b(system|close|fflush)\s*\(|\|\s*getline|\|&|print[f]?\b[^;{}]*[>|]/.test(prog))
        return change(`${name} runs commands or writes files`);
      return READ;
    }
    case "sed": {
      if (a.some((x) => /^-[a-zA-Z]*i/.test(x) || x.startsWith("--in-place")))
        return change("sed -i edits files in place");
      const script = a.filter((x) => !x.startsWith("-")).join("\n");
      if (/(^|[;}\n]|\/[gpiImM0-9]*)\s*[wWe](\s|$)|\/[gpiImM0-9]*[we]\b/.test(script))
        return change("sed writes a file or runs a command");
      return READ;
    }
    case "find": {
      for (let i = 0; i < a.length; i++) {
        const x = a[i] ?? "";
        if (x === "-delete") return change("find -delete deletes files");
        if (["-fprint", "-fprint0", "-fprintf", "-fls"].includes(x)) return change("find writes a file");
        if (["-exec", "-execdir", "-ok", "-okdir"].includes(x)) {
          let j = i + 1;
          const inner: string[] = [];
          while (j < a.length && a[j] !== ";" && a[j] !== "+") inner.push(a[j++] ?? "");
          const r = posixResolve(inner[0] ?? "", inner.slice(1), walk, 1);
          if (r.finding.kind === "change") return change(`find ${x} runs ${r.display}: ${r.finding.reason ?? ""}`);
          i = j;
        }
      }
      return READ;
    }
    case "dpkg":
      return a.some((x) =>
        /^(-l|-L|-s|-S|-p|--list|--listfiles|--status|--search|--print-avail|--get-selections|--print-architecture|--version|--audit|-C)$/.test(
          x,
        ),
      )
        ? READ
        : change("dpkg installs or removes packages");
    case "rpm":
      return a.some((x) => /^-q|^--query|^-V|^--verify/.test(x)) &&
        !a.some((x) => /^-[iUeF]|^--(install|upgrade|erase|freshen|import)/.test(x))
        ? READ
        : change("rpm installs or removes packages");
    case "apt":
      return ["list", "search", "show", "policy", "depends", "rdepends", "showsrc", ""].includes(sub) ||
        a.includes("--version")
        ? READ
        : change(`apt ${sub} changes installed software`);
    case "apt-get":
      return a.some((x) => x === "-s" || x === "--simulate" || x === "--dry-run" || x === "--just-print") ||
        a.includes("--version")
        ? READ
        : change(`apt-get ${sub} changes installed software`);
    case "yum":
    case "dnf":
    case "zypper":
      return [
        "list",
        "info",
        "search",
        "check-update",
        "repolist",
        "provides",
        "whatprovides",
        "deplist",
        "history",
        "se",
        "if",
        "lu",
        "lp",
        "lr",
        "ls",
      ].includes(sub) && !(sub === "history" && a.some((x) => ["undo", "redo", "rollback"].includes(x)))
        ? READ
        : change(`${name} ${sub} changes installed software`);
    case "apk":
      return ["info", "search", "list", "policy", "version", "stats"].includes(sub)
        ? READ
        : change(`apk ${sub} changes installed software`);
    case "snap":
      return ["list", "info", "find", "version", "services", "changes"].includes(sub)
        ? READ
        : change(`snap ${sub} changes installed software`);
    case "flatpak":
      return ["list", "info", "search", "remotes"].includes(sub)
        ? READ
        : change(`flatpak ${sub} changes installed software`);
    case "pip":
    case "pip3":
      return ["list", "show", "freeze", "check", "--version", "-V"].includes(sub || (a[0] ?? ""))
        ? READ
        : change(`${name} ${sub} changes installed packages`);
    case "npm":
      return ["ls", "list", "view", "info", "outdated", "-v", "--version", "root", "prefix"].includes(
        sub || (a[0] ?? ""),
      )
        ? READ
        : change(`npm ${sub} changes installed packages`);
    case "brew":
      return ["list", "info", "search", "outdated", "doctor", "config", "--version"].includes(sub || (a[0] ?? ""))
        ? READ
        : change(`brew ${sub} changes installed software`);
    case "crontab":
      return a.length === 1 && a[0] === "-l"
        ? READ
        : a[0] === "-u" && a[2] === "-l"
          ? READ
          : change("crontab changes scheduled jobs");
    case "tee":
      return pos.every((x) => x === "/dev/null" || x === "/dev/stdout" || x === "/dev/stderr")
        ? READ
        : change(`tee writes to ${pos.join(", ")}`);
    case "git":
      return [
        "status",
        "log",
        "diff",
        "show",
        "rev-parse",
        "ls-files",
        "blame",
        "describe",
        "shortlog",
        "--version",
        "version",
      ].includes(sub)
        ? READ
        : change(`git ${sub} changes a repository`);
    case "docker":
    case "podman":
      return [
        "ps",
        "images",
        "logs",
        "inspect",
        "info",
        "version",
        "stats",
        "top",
        "port",
        "history",
        "search",
      ].includes(sub)
        ? READ
        : change(`${name} ${sub} changes containers`);
    case "kubectl":
      return ["get", "describe", "logs", "top", "version", "explain", "api-resources", "cluster-info"].includes(sub)
        ? READ
        : change(`kubectl ${sub} changes the cluster`);
    case "tar":
      return posixFlag(a, "t", ["list"]) || /^[a-zA-Z]*t/.test(a[0] ?? "")
        ? READ
        : change("tar creates or extracts files");
    case "unzip":
      return a.some((x) => x === "-l" || x === "-v" || x === "-t" || x === "-Z")
        ? READ
        : change("unzip extracts files");
    case "gzip":
    case "gunzip":
    case "bzip2":
    case "xz":
      return posixFlag(a, "lct", ["list", "stdout", "test"])
        ? READ
        : change(`${name} compresses or decompresses files`);
    case "openssl":
      return ["x509", "s_client", "verify", "version", "ciphers", "crl", "asn1parse", "dgst"].includes(sub) &&
        !a.some((x) => ["-out", "-keyout", "-signkey", "-new", "-sign"].includes(x))
        ? READ
        : change(`openssl ${sub} writes keys or files`);
    case "iptables":
    case "ip6tables":
      return a.some((x) => /^-[a-zA-Z]*[LS]/.test(x) || x === "--list" || x === "--list-rules") &&
        !a.some(
          (x) =>
            /^-[a-zA-Z]*[ADIRFXPNZE]/.test(x) ||
            /^--(append|delete|insert|replace|flush|policy|new-chain|zero|delete-chain)/.test(x),
        )
        ? READ
        : change(`${name} changes firewall rules`);
    case "iptables-save":
      return READ;
    case "nft":
      return sub === "list" ? READ : change("nft changes firewall rules");
    case "ufw":
      return sub === "status" || (sub === "app" && a.includes("list")) || a.includes("--version")
        ? READ
        : change(`ufw ${sub} changes the firewall`);
    case "firewall-cmd":
      return a.every((x) => /^--(list|get|query|state|info)/.test(x) || /^--(zone|permanent)/.test(x)) && a.length > 0
        ? READ
        : change("firewall-cmd changes the firewall");
    case "nmcli":
      return a.some(
        (x) =>
          [
            "up",
            "down",
            "modify",
            "add",
            "delete",
            "del",
            "connect",
            "disconnect",
            "reload",
            "on",
            "off",
            "edit",
            "clone",
            "import",
            "export",
            "rescan",
            "reapply",
            "set",
          ].includes(x) || x.startsWith("set-"),
      )
        ? change("nmcli changes network connections")
        : READ;
    case "resolvectl":
      return [
        "flush-caches",
        "reset-statistics",
        "dns",
        "domain",
        "revert",
        "default-route",
        "llmnr",
        "mdns",
        "dnssec",
        "dnsovertls",
        "nta",
        "reset-server-features",
      ].includes(sub) &&
        !(sub === "dns" && pos.length <= 2) &&
        !(sub === "domain" && pos.length <= 2)
        ? change(`resolvectl ${sub} changes DNS settings`)
        : READ;
    case "systemd-resolve":
      return a.some((x) => x === "--flush-caches" || x.startsWith("--set") || x === "--revert")
        ? change("systemd-resolve changes DNS settings")
        : READ;
    case "timedatectl":
      return sub === "" || ["status", "show", "list-timezones", "timesync-status", "show-timesync"].includes(sub)
        ? READ
        : change(`timedatectl ${sub} changes the clock`);
    case "localectl":
      return sub === "" || sub === "status" || sub.startsWith("list-")
        ? READ
        : change("localectl changes locale settings");
    case "loginctl":
      return sub === "" || sub.startsWith("list-") || sub.startsWith("show-") || sub.endsWith("-status")
        ? READ
        : change(`loginctl ${sub} changes sessions`);
    case "chronyc":
      return ["tracking", "sources", "sourcestats", "activity", "ntpdata", "serverstats", "clients", ""].includes(sub)
        ? READ
        : change(`chronyc ${sub} changes time sync`);
    case "ntpdate":
      return a.includes("-q") ? READ : change("ntpdate sets the clock");
    case "hwclock":
      return a.length === 0 || a.some((x) => x === "--show" || x === "-r" || x === "--get")
        ? READ
        : change("hwclock sets the hardware clock");
    case "smartctl":
      return a.some((x) => /^-[tsoSX]$|^--(test|smart|offlineauto|saveauto|abort)/.test(x))
        ? change("smartctl changes disk settings or runs a test")
        : READ;
    case "hdparm":
      return a.every((x) => /^-[iItgCHr]?$/.test(x) || !x.startsWith("-")) && !a.some((x) => /^-[^iIgCH]/.test(x))
        ? READ
        : change("hdparm changes disk settings");
    case "ethtool":
      return a.some((x) => /^-[sKAGCEpfrLWU]$|^--(change|offload|pause|coalesce|set-|flash|reset|identify)/.test(x))
        ? change("ethtool changes a network interface")
        : READ;
    case "fdisk":
    case "sfdisk":
      return a.some((x) => x === "-l" || x === "--list") ? READ : change(`${name} changes disk partitions`);
    case "parted":
      return a.some((x) => x === "-l" || x === "--list" || x === "print")
        ? READ
        : change("parted changes disk partitions");
    case "swapon":
      return a.length === 0 || a.some((x) => x === "--show" || x === "-s" || x === "--summary")
        ? READ
        : change("swapon enables swap");
    case "sysctl":
      return a.some((x) => x === "-w" || x === "-p" || x.startsWith("--write") || x === "--system" || x.includes("="))
        ? change("sysctl changes kernel settings")
        : READ;
    case "passwd":
      return a.includes("-S") || a.includes("--status") ? READ : change("passwd changes a password");
    case "ldconfig":
      return a.includes("-p") || a.includes("--print-cache") ? READ : change("ldconfig rebuilds the library cache");
    case "update-alternatives":
      return a.some((x) => ["--display", "--query", "--list", "--get-selections"].includes(x))
        ? READ
        : change("update-alternatives changes default programs");
    case "alias":
      return a.some((x) => x.includes("=")) ? change("alias redefines a command") : READ;
    case "ss":
      return posixFlag(a, "K", ["kill"]) ? change("ss -K closes network connections") : READ;
    case "local":
    case "declare":
    case "typeset":
    case "readonly":
    case "export": {
      for (const x of a) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(x);
        if (m && SENSITIVE_VARS.has(lc(m[1] ?? ""))) return change(`changes ${m[1]}, which decides what runs`);
        if (x === "-f" || x === "-F") return change(`${name} -f exports or defines a function`);
      }
      return READ;
    }
    case "vi":
    case "vim":
    case "nano":
    case "emacs":
    case "ed":
      return change(`${name} edits files`);
    case "source":
    case ".":
      return change(`${name} runs a script file`);
    case "eval":
      return change("eval runs computed code");
    case "trap":
      return a.length === 0 || a[0] === "-p" || a[0] === "-l" ? READ : change("trap schedules commands to run later");
    case "sync":
      return READ;
    case "rm":
    case "rmdir":
    case "unlink":
    case "shred":
    case "truncate":
      return change(`${name} deletes files`);
    case "mv":
    case "cp":
    case "install":
    case "rsync":
    case "scp":
    case "ln":
    case "mkdir":
    case "touch":
    case "dd":
    case "zip":
      return change(`${name} creates, copies or moves files`);
    case "chmod":
    case "chown":
    case "chgrp":
    case "chattr":
    case "setfacl":
      return change(`${name} changes permissions or ownership`);
    case "kill":
    case "pkill":
    case "killall":
    case "skill":
      return a.includes("-l") || a.includes("-L") ? READ : change(`${name} ends processes`);
    case "reboot":
    case "shutdown":
    case "halt":
    case "poweroff":
    case "init":
    case "telinit":
      return change(`${name} restarts or shuts down the computer`);
    case "useradd":
    case "userdel":
    case "usermod":
    case "groupadd":
    case "groupdel":
    case "groupmod":
    case "gpasswd":
    case "chpasswd":
    case "adduser":
    case "deluser":
    case "visudo":
    case "chage":
      return name === "chage" && a.includes("-l") ? READ : change(`${name} changes user accounts`);
    case "umount":
    case "swapoff":
    case "modprobe":
    case "insmod":
    case "rmmod":
    case "update-grub":
    case "grub-install":
    case "logrotate":
    case "at":
    case "batch":
    case "screen":
    case "tmux":
    case "ssh":
    case "sftp":
    case "ftp":
    case "telnet":
    case "nc":
    case "ncat":
    case "socat":
    case "lpadmin":
    case "cupsenable":
    case "cupsdisable":
    case "cancel":
    case "lpr":
    case "lp":
    case "lprm":
    case "make":
    case "wall":
    case "write":
    case "mkswap":
    case "wipefs":
    case "losetup":
    case "cryptsetup":
    case "lvcreate":
    case "lvremove":
    case "lvextend":
    case "vgcreate":
    case "pvcreate":
    case "resize2fs":
    case "xfs_growfs":
    case "fsck":
    case "e2fsck":
    case "setenforce":
    case "restorecon":
    case "chcon":
    case "certbot":
    case "update-ca-certificates":
    case "snapper":
      return change(`${name} changes the system`);
  }
  if (/^mkfs(\.|$)/.test(name)) return change(`${name} formats a disk`);
  return change(`unknown command '${name}'`);
}

// ---------------------------------------------------------------------------------------------------------------
// POSIX tokenizer and walker

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

function posixScript(src: string, walk: Walk): void {
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
    walk.flag(`redirects output to ${target}`);
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
    walk.record({ name: "", display: "", args: [], raw, piped }, READ);
    return;
  }
  const args = words.slice(i + 1).map((w) => w.v);
  if (cmd.dyn) {
    walk.record(
      { name: cmd.v, display: cmd.v, args, raw, piped },
      change(`runs a command whose name is computed (${cmd.v})`),
    );
    return;
  }
  const r = posixResolve(cmd.v, args, walk);
  walk.record({ name: r.name, display: r.display, args: r.args, raw, piped }, r.finding);
}

// ---------------------------------------------------------------------------------------------------------------
// cmd.exe tokenizer and walker

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

function cmdScript(src: string, walk: Walk): void {
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
function winProgramName(raw: string): string | undefined {
  let n = raw;
  if (/[\\/]/.test(n)) {
    if (!SYSTEM32.test(n)) return undefined;
    n = n.replace(SYSTEM32, "");
    if (/[\\/]/.test(n)) return undefined;
  }
  return lc(n).replace(/\.(exe|com)$/, "");
}

function cmdSimple(src: string, words: CmdWord[], redirs: CmdRedir[], piped: boolean, walk: Walk): void {
  for (const r of redirs) {
    if (r.v.endsWith("<")) continue;
    if (CMD_SAFE_TARGETS.has(lc(r.target)) || /^&[0-9]$/.test(r.target)) continue;
    walk.flag(`redirects output to ${r.target}`);
  }
  const start = words[0]?.s ?? redirs[0]?.s ?? 0;
  const end = Math.max(words[words.length - 1]?.e ?? 0, redirs[redirs.length - 1]?.e ?? 0);
  const raw = src.slice(start, end).trim();
  const first = words[0];
  if (first === undefined) return;
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
  const finding = (name: string): Finding => {
    if (/[%!]/.test(display)) return change(`runs a command whose name is computed (${display})`);
    return cmdBuiltin(name, args) ?? winNative(name, args) ?? change(`unknown command '${display}'`);
  };
  const name = winProgramName(display);
  if (name === undefined) {
    walk.record({ name: lc(display), display, args, raw, piped }, change(`runs the program or script ${display}`));
    return;
  }
  if (/\.(bat|cmd|ps1|vbs|js|wsf|msi|py)$/.test(name)) {
    walk.record({ name, display, args, raw, piped }, change(`runs the script ${display}`));
    return;
  }
  walk.record({ name, display: name, args, raw, piped }, finding(name));
}

function cmdBuiltin(name: string, args: string[]): Finding | undefined {
  const pos = winPositional(args);
  switch (name) {
    case "dir":
    case "type":
    case "echo":
    case "ver":
    case "vol":
    case "cd":
    case "chdir":
    case "cls":
    case "title":
    case "color":
    case "prompt":
    case "pushd":
    case "popd":
    case "setlocal":
    case "endlocal":
    case "exit":
    case "pause":
    case "goto":
    case "verify":
    case "break":
    case "shift":
    case "sort":
      if (name === "sort" && args.some((x) => /^\/o/i.test(x))) return change("sort writes a file");
      if (name === "pushd" && /^\\\\/.test(args[0] ?? "")) return change("pushd maps a network drive");
      return READ;
    case "set": {
      const text = args.join(" ");
      const m = /^(?:\/[ap]\s+)?"?([^=\s"]+)=/i.exec(text);
      if (m && SENSITIVE_VARS.has(lc(m[1] ?? ""))) return change(`changes ${m[1]}, which decides what runs`);
      return READ;
    }
    case "path":
      return args.length === 0 ? READ : change("path changes the program search path");
    case "date":
    case "time":
      return args.length === 0 || hasArg(args, "/t") ? READ : change(`${name} sets the clock`);
    case "assoc":
    case "ftype":
      return args.some((x) => x.includes("=")) ? change(`${name} changes file associations`) : READ;
    case "del":
    case "erase":
      return change(`${name} deletes files`);
    case "rd":
    case "rmdir":
      return change(`${name} deletes folders`);
    case "md":
    case "mkdir":
      return change(`${name} creates a folder`);
    case "copy":
    case "move":
    case "ren":
    case "rename":
      return change(`${name} copies, moves or renames files`);
    case "call":
      return change("call runs a batch file or label");
    case "start":
      return change("start launches a program");
    default:
      void pos;
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PowerShell tokenizer

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

const PS_READ_CMDLETS = new Set([
  "where-object",
  "sort-object",
  "group-object",
  "write-output",
  "write-host",
  "write-verbose",
  "write-warning",
  "write-error",
  "write-debug",
  "write-information",
  "write-progress",
  "out-string",
  "out-host",
  "out-null",
  "out-default",
  "out-gridview",
  "format-table",
  "format-list",
  "format-wide",
  "format-custom",
  "format-hex",
  "clear-host",
  "set-location",
  "push-location",
  "pop-location",
  "set-variable",
  "new-variable",
  "remove-variable",
  "clear-variable",
  "start-sleep",
  "set-strictmode",
  "new-timespan",
  "new-guid",
  "add-member",
  "import-csv",
  "import-clixml",
  "import-powershelldatafile",
  "import-localizeddata",
  "convert-path",
  "exit-pssession",
  "get-help",
  "pause",
  "prompt",
  "get-unique",
  "unique",
]);

/** Core change cmdlets that honour -WhatIf. */
const PS_WHATIF = new Set([
  "remove-item",
  "set-itemproperty",
  "new-itemproperty",
  "remove-itemproperty",
  "stop-service",
  "start-service",
  "restart-service",
  "set-service",
  "suspend-service",
  "resume-service",
  "copy-item",
  "move-item",
  "new-item",
  "rename-item",
  "clear-content",
  "set-content",
  "add-content",
  "clear-item",
  "set-item",
  "stop-process",
  "clear-recyclebin",
  "restart-computer",
  "stop-computer",
  "clear-dnsclientcache",
  "remove-printjob",
  "disable-localuser",
  "enable-localuser",
  "remove-localgroupmember",
  "add-localgroupmember",
  "set-netfirewallprofile",
  "disable-scheduledtask",
  "enable-scheduledtask",
]);

const SAFE_NEW_OBJECT =
  /^(system\.)?(management\.automation\.)?(psobject|pscustomobject|collections\..*|text\.stringbuilder|datetime|timespan|security\.principal\.windowsprincipal|security\.principal\.windowsidentity|net\.sockets\.tcpclient|version|guid|uri|net\.networkinformation\.ping|diagnostics\.stopwatch|object)(\[.*\])?$/;

interface PsCtx {
  walk: Walk;
  shell: "powershell" | "pwsh";
  src: string;
}

function psScript(src: string, walk: Walk, shell: Shell): void {
  const lexer = new PsLexer(src);
  const toks = lexer.lex(null);
  const ctx: PsCtx = { walk, shell: shell === "pwsh" ? "pwsh" : "powershell", src };
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
      psSwitch(toks, ctx);
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
    psAssignTarget(lhs, ctx);
    const rhs = toks.slice(assign + 1);
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

function psSwitch(toks: PsTok[], ctx: PsCtx): void {
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
      case "redir":
        psRedirect(t, ctx);
        break;
      default:
        break;
    }
  }
}

function psRedirect(r: PsRedir, ctx: PsCtx): void {
  if (r.target === null) return;
  if (r.target.t === "var" && r.target.v === "null") return;
  const text = r.target.t === "word" ? r.target.v : ctx.src.slice(r.target.s, r.target.e);
  if (/^nul:?$/i.test(text)) return;
  if (r.target.t === "group") psGroup(r.target, ctx);
  ctx.walk.flag(`redirects output to ${text}`);
}

function psPipeline(toks: PsTok[], ctx: PsCtx): void {
  const elements = splitTop(toks, ["|"]);
  elements.forEach((el, idx) => {
    const redirs = el.filter((t): t is PsRedir => t.t === "redir");
    for (const r of redirs) psRedirect(r, ctx);
    const rest = el.filter((t) => t.t !== "redir");
    psElement(rest, idx > 0, ctx);
  });
}

function psTokText(t: PsTok, src: string): string {
  if (t.t === "word") return t.v;
  if (t.t === "var") return src.slice(t.s, t.e);
  return src.slice(t.s, t.e);
}

/** Command arguments: adjacent tokens glued together, comma lists kept as one argument. */
function psArgs(toks: PsTok[], src: string): { args: string[]; blocks: PsTok[][] } {
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
  return { args, blocks };
}

function psElement(toks: PsTok[], piped: boolean, ctx: PsCtx): void {
  const first = toks[0];
  if (first === undefined) return;
  const raw = ctx.src.slice(first.s, toks[toks.length - 1]?.e ?? first.e);
  const record = (name: string, display: string, args: string[], finding: Finding): void =>
    ctx.walk.record({ name, display, args, raw, piped }, finding);

  let nameTok: PsTok = first;
  let rest = toks.slice(1);
  if (isOp(first, "&")) {
    const target = toks[1];
    if (target === undefined) {
      ctx.walk.flag("could not parse the & call");
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
  const { args, blocks } = psArgs(rest, ctx.src);
  if (word.dyn) {
    record(lc(word.v), word.v, args, change(`runs a command whose name is computed (${word.v})`));
    return;
  }
  if (word.v === ".") {
    record(".", ".", args, change(`dot-sources ${args[0] ?? "a script"}`));
    return;
  }
  const r = psResolve(word.v, args, blocks, ctx);
  record(r.name, r.display, args, r.finding);
}

function psArgsScan(toks: PsTok[], ctx: PsCtx): void {
  for (const t of toks) {
    if (t.t === "group") psGroup(t, ctx);
    else if (t.t === "word") psWordSubs(t, ctx);
    else if (t.t === "member") psMember(t, ctx);
  }
}

/** Does any argument name the given parameter (PowerShell allows unambiguous prefixes)? */
function psParam(args: readonly string[], full: string, minLen = 2): boolean {
  return args.some((a) => {
    if (!a.startsWith("-")) return false;
    const [n, v] = lc(a.slice(1)).split(":");
    if (n === undefined || n.length < minLen || !full.startsWith(n)) return false;
    return v === undefined || v !== "$false";
  });
}

function psResolve(
  written: string,
  args: string[],
  blocks: PsTok[][],
  ctx: PsCtx,
): { name: string; display: string; finding: Finding } {
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
    };
  const alias = PS_ALIASES[n];
  let display = written;
  if (alias) {
    n = lc(alias);
    display = alias;
  }
  const cmdlet = /^([a-z]+)-([a-z0-9_]+)$/.exec(n);
  if (cmdlet) return { name: n, display, finding: psCmdlet(n, cmdlet[1] ?? "", display, args, blocks) };
  const exe = n.replace(/\.(exe|com)$/, "");
  const native = winNative(exe, args);
  if (native) return { name: exe, display: exe, finding: native };
  if (ctx.shell === "pwsh" && !/\.(exe|com)$/.test(n)) {
    const r = posixResolve(exe, args, ctx.walk);
    if (!r.finding.reason?.startsWith("unknown command"))
      return { name: r.name, display: r.display, finding: r.finding };
  }
  return { name: exe, display: written, finding: change(`unknown command '${written}'`) };
}

function psCmdlet(n: string, verb: string, written: string, args: string[], blocks: PsTok[][]): Finding {
  if (PS_WHATIF.has(n) && psParam(args, "whatif", 2)) return READ;
  switch (n) {
    case "foreach-object": {
      // read only when every positional argument is a script block (the blocks themselves are classified)
      for (let i = 0; i < args.length; i++) {
        const a = args[i] ?? "";
        const b = blocks[i] ?? [];
        if (a.startsWith("-")) {
          if (psParam([a], "membername", 1)) return change("ForEach-Object calls a member by name");
          continue;
        }
        const isBlock = b.length === 1 && b[0]?.t === "group" && b[0].k === "{";
        const prevParam = lc(args[i - 1] ?? "");
        if (!isBlock && !/^-(th|inp|arg)/.test(prevParam)) return change(`ForEach-Object calls the member '${a}'`);
      }
      return READ;
    }
    case "tee-object":
      return psParam(args, "variable", 1) &&
        !psParam(args, "filepath", 1) &&
        !psParam(args, "literalpath", 1) &&
        !psParam(args, "append", 2)
        ? READ
        : change("Tee-Object writes a file");
    case "new-object": {
      if (psParam(args, "comobject", 1)) return change("New-Object creates a COM object");
      const i = args.findIndex((a) => psParam([a], "typename", 1));
      const type = lc(i >= 0 ? (args[i + 1] ?? "") : (args.find((a) => !a.startsWith("-")) ?? ""));
      return SAFE_NEW_OBJECT.test(type) ? READ : change(`New-Object creates a ${type || "computed"} object`);
    }
    case "import-module": {
      const targets = args.filter((a) => !a.startsWith("-"));
      return targets.some((a) => /[\\/]|\.(psm1|psd1|ps1|dll)$/i.test(a) || a.includes("$"))
        ? change("Import-Module loads code from a file")
        : READ;
    }
    case "test-computersecurechannel":
      return psParam(args, "repair", 1)
        ? change("Test-ComputerSecureChannel -Repair resets the domain secure channel")
        : READ;
    case "new-alias":
    case "set-alias":
      return change(`${written} redefines a command`);
    case "new-item":
    case "set-item":
      if (args.some((a) => /^(function|alias):/i.test(a))) return change(`${written} redefines a command`);
      break;
    case "set-variable":
    case "new-variable":
      return READ;
  }
  if (PS_READ_CMDLETS.has(n)) return READ;
  if (PS_READ_VERBS.has(verb)) {
    const acting = ["install", "download", "acceptall", "autoreboot", "hide", "repair", "delete", "remove", "fix"];
    const hit = acting.find((p) => psParam(args, p, p.length));
    if (hit) return change(`${written} -${hit[0]?.toUpperCase()}${hit.slice(1)} makes changes`);
    return READ;
  }
  return change(psChangeReason(n, verb, written));
}

function psChangeReason(n: string, verb: string, written: string): string {
  const specific: Record<string, string> = {
    "remove-item": "deletes files or keys",
    "remove-itemproperty": "deletes a registry value or property",
    "set-itemproperty": "changes a registry value or property",
    "new-itemproperty": "creates a registry value or property",
    "restart-service": "restarts a service",
    "stop-service": "stops a service",
    "start-service": "starts a service",
    "set-service": "changes a service",
    "restart-computer": "restarts the computer",
    "stop-computer": "shuts down the computer",
    "stop-process": "ends processes",
    "start-process": "starts a program",
    "invoke-expression": "runs computed code",
    "invoke-command": "runs a script block",
    "invoke-webrequest": "downloads from or sends to the network",
    "invoke-restmethod": "downloads from or sends to the network",
    "out-file": "writes a file",
    "set-content": "writes a file",
    "add-content": "writes a file",
    "clear-content": "empties a file",
    "copy-item": "copies files",
    "move-item": "moves files",
    "rename-item": "renames files",
    "new-item": "creates files, folders or keys",
    "add-type": "compiles and loads code",
  };
  const s = specific[n];
  if (s) return `${written} ${s}`;
  const verbs: Record<string, string> = {
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
  return `${written} ${verbs[verb] ?? "may make changes"}`;
}

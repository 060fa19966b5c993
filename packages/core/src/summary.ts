// Plain-language summaries of commands, for the approval request a client contact (an office manager, not an IT
// person) reads before saying yes. One sentence, no jargon where it can be avoided, never a guess presented as fact:
// anything not recognised is shown as "Run: <the command>".
//
// Conventions (pinned by the tests):
// - A script of more than one line is summarised by its size only: "Run a PowerShell script of 42 lines" (`lines` is
//   the number of lines once leading and trailing blank lines are dropped).
// - Sequences and pipelines: each step is summarised and the parts joined with "; then ", at most three, then
//   "; and N more steps". Pipeline stages that only filter or format (Select-Object, Sort-Object, Format-Table,
//   Where-Object, grep, head, sort, …) are left out.
// - Service start types are lower case: "Set the Print Spooler service to start disabled" (Set-Service and sc alike).
// - Windows services get their friendly names ("Print Spooler"), unknown ones are quoted ("the 'Foo' service"); Linux
//   services are named as written ("the cups service").
// - Passwords typed on the command line are never repeated in a summary.

import { analyzeCommand, type CommandStep } from "./classify.ts";
import type { Shell } from "./shells.ts";

export interface CommandSummary {
  summary: string;
  lines: number;
}

const MAX_PARTS = 3;
const RUN_MAX = 80;

export function summarizeCommand(shell: Shell, command: string): CommandSummary {
  const text = command
    .replace(/\r\n?/g, "\n")
    .replace(/^(?:[ \t]*\n)+/, "")
    .replace(/(?:\n[ \t]*)+$/, "");
  const lines = text.trim() === "" ? 0 : text.split("\n").length;
  if (lines === 0) return { summary: "Nothing to run", lines };
  if (lines > 1) return { summary: `Run a ${SCRIPT_KIND[shell]} script of ${lines} lines`, lines };
  return { summary: summarizeLine(shell, text), lines };
}

const SCRIPT_KIND: Record<Shell, string> = {
  powershell: "PowerShell",
  pwsh: "PowerShell",
  bash: "shell",
  sh: "shell",
  cmd: "command",
};

/** "Run: <text>", the text cut to 80 characters (the last one an ellipsis) when longer. */
function runLiteral(text: string): string {
  const first = (text.split("\n")[0] ?? "").trim();
  return `Run: ${first.length > RUN_MAX ? `${first.slice(0, RUN_MAX - 1)}…` : first}`;
}

const FILTER_STAGES = new Set([
  "select-object",
  "sort-object",
  "where-object",
  "format-table",
  "format-list",
  "format-wide",
  "format-custom",
  "out-string",
  "out-host",
  "out-null",
  "out-default",
  "out-gridview",
  "group-object",
  "measure-object",
  "get-unique",
  "convertto-json",
  "convertto-csv",
  "convertto-html",
  "select-string",
  "findstr",
  "find",
  "more",
  "sort",
  "grep",
  "egrep",
  "head",
  "tail",
  "less",
  "uniq",
  "wc",
  "cut",
  "awk",
  "sed",
  "column",
  "tr",
  "jq",
]);

function summarizeLine(shell: Shell, line: string): string {
  const analysis = analyzeCommand(shell, line);
  if (analysis.parseError !== undefined || analysis.steps.length === 0) return runLiteral(line);
  const steps = analysis.steps;
  // download piped into a shell / iex: one honest sentence
  const dl = downloadAndRun(steps);
  if (dl) return dl;
  const parts: string[] = [];
  steps.forEach((step, i) => {
    if (step.piped && FILTER_STAGES.has(step.name) && i > 0) return;
    if (step.name === "" && step.kind === "read" && step.raw.trim() === "") return;
    parts.push(describe(shell, step, steps[i - 1]) ?? runLiteral(steps.length === 1 ? line : step.raw));
  });
  if (parts.length === 0) return runLiteral(line);
  const shown = parts.slice(0, MAX_PARTS).map((p, i) => (i === 0 ? p : `then ${lowerFirst(p)}`));
  let out = shown.join("; ");
  const more = parts.length - MAX_PARTS;
  if (more > 0) out += `; and ${more} more step${more === 1 ? "" : "s"}`;
  return out;
}

function lowerFirst(s: string): string {
  // keep "Run: …" and proper nouns at the start as they are; sentences start with a verb we can lower-case
  if (s.startsWith("Run: ")) return s;
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function downloadAndRun(steps: CommandStep[]): string | undefined {
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as CommandStep;
    const prev = steps[i - 1];
    const runsCode =
      s.name === "invoke-expression" || ["bash", "sh", "zsh", "dash", "python", "python3"].includes(s.name);
    if (!runsCode) continue;
    const fetcher = ["invoke-restmethod", "invoke-webrequest", "curl", "wget"];
    if (s.piped && prev && fetcher.includes(prev.name)) {
      return `Download and run a script from ${url(prev.args) ?? "the internet"}`;
    }
    if (s.name === "invoke-expression") {
      const inner = s.args.join(" ");
      if (/\b(irm|iwr|invoke-restmethod|invoke-webrequest|downloadstring)\b/i.test(inner)) {
        return `Download and run a script from ${url([inner]) ?? "the internet"}`;
      }
    }
  }
  return undefined;
}

function url(args: string[]): string | undefined {
  for (const a of args) {
    const m = /https?:\/\/[^\s'")]+/i.exec(a);
    if (m) return m[0];
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Argument helpers

interface Params {
  named: Map<string, string | true>;
  pos: string[];
}

const PS_SWITCHES = new Set(
  (
    "force recurse confirm whatif passthru verbose debug asjob nonewwindow wait noprofile usebasicparsing list all " +
    "detailed full quiet append noclobber raw file directory hidden system readonly includeall " +
    "acceptall autoreboot install download ignorereboot noreboot skipunchanged"
  ).split(" "),
);

function psParams(args: string[]): Params {
  const named = new Map<string, string | true>();
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const m = /^-([A-Za-z][\w-]*)(?::(.*))?$/.exec(a);
    if (!m) {
      pos.push(a);
      continue;
    }
    const key = (m[1] ?? "").toLowerCase();
    if (m[2] !== undefined) named.set(key, m[2]);
    else if (PS_SWITCHES.has(key) || i + 1 >= args.length || /^-[A-Za-z]/.test(args[i + 1] ?? "")) named.set(key, true);
    else named.set(key, args[++i] ?? "");
  }
  return { named, pos };
}

/** A named parameter's value (abbreviations allowed), else the positional at `position`. */
function param(p: Params, names: string[], position?: number): string | undefined {
  for (const [k, v] of p.named) {
    if (typeof v === "string" && names.some((n) => n.startsWith(k) && k.length >= Math.min(2, n.length))) return v;
  }
  return position === undefined ? undefined : p.pos[position];
}

function flag(p: Params, ...names: string[]): boolean {
  for (const [k, v] of p.named) {
    if (names.some((n) => n.startsWith(k) && k.length >= Math.min(2, n.length)))
      return v === true || !/^\$?false$/i.test(v);
  }
  return false;
}

/** The value after a Windows switch: `/v Name` or `/v:Name`. */
function winOpt(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = (args[i] ?? "").toLowerCase();
    if (a === `/${name}` || a === `-${name}`) return args[i + 1];
    if (a.startsWith(`/${name}:`)) return (args[i] ?? "").slice(name.length + 2);
  }
  return undefined;
}

function winHas(args: string[], ...names: string[]): boolean {
  return args.some((a) => names.includes(a.toLowerCase()));
}

function list(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function quoteValue(v: string): string {
  return /^-?(0x[0-9a-f]+|\d+(\.\d+)?)$/i.test(v) ? v : `'${v}'`;
}

function splitList(values: (string | undefined)[]): string[] {
  return values
    .filter((v): v is string => v !== undefined)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim().replace(/^['"]|['"]$/g, ""))
    .filter((v) => v !== "");
}

// ---------------------------------------------------------------------------------------------------------------
// Services

const WINDOWS_SERVICES: Record<string, string> = {
  spooler: "Print Spooler",
  wuauserv: "Windows Update",
  bits: "Background Intelligent Transfer",
  w32time: "Windows Time",
  dnscache: "DNS Client",
  lanmanserver: "Server (file sharing)",
  lanmanworkstation: "Workstation (network drives)",
  dhcp: "DHCP Client",
  eventlog: "Windows Event Log",
  winmgmt: "Windows Management Instrumentation",
  windefend: "Microsoft Defender Antivirus",
  mpssvc: "Windows Defender Firewall",
  termservice: "Remote Desktop",
  wsearch: "Windows Search",
  audiosrv: "Windows Audio",
  cryptsvc: "Cryptographic Services",
  trustedinstaller: "Windows Modules Installer",
  msiserver: "Windows Installer",
  netlogon: "Netlogon (domain sign-in)",
  schedule: "Task Scheduler",
  sysmain: "SysMain",
  wlansvc: "Wi-Fi (WLAN AutoConfig)",
  rpcss: "Remote Procedure Call",
  wersvc: "Windows Error Reporting",
  usosvc: "Update Orchestrator",
  vss: "Volume Shadow Copy",
  iphlpsvc: "IP Helper",
  nlasvc: "Network Location Awareness",
  bfe: "Base Filtering Engine",
  w3svc: "IIS web server",
  mssqlserver: "SQL Server",
  winrm: "Windows Remote Management",
  webclient: "WebClient",
  stisvc: "Windows Image Acquisition (scanners)",
  themes: "Themes",
  fontcache: "Windows Font Cache",
  wudfsvc: "Windows Driver Foundation",
  sense: "Microsoft Defender for Endpoint",
  appxsvc: "AppX Deployment",
  gpsvc: "Group Policy Client",
  profsvc: "User Profile",
  seclogon: "Secondary Logon",
  lmhosts: "TCP/IP NetBIOS Helper",
};

function winServices(names: string[]): string {
  if (names.length === 0) return "the services from the previous step";
  const shown = names.map((n) => WINDOWS_SERVICES[n.toLowerCase()] ?? `'${n}'`);
  return `the ${list(shown)} service${names.length > 1 ? "s" : ""}`;
}

function posixServices(names: string[]): string {
  const shown = names.map((n) => n.replace(/\.service$/, ""));
  if (shown.length === 0) return "the services";
  return `the ${list(shown)} service${shown.length > 1 ? "s" : ""}`;
}

const START_TYPES: Record<string, string> = {
  disabled: "disabled",
  manual: "manually",
  demand: "manually",
  automatic: "automatically",
  auto: "automatically",
  automaticdelayedstart: "automatically (delayed)",
  "delayed-auto": "automatically (delayed)",
  boot: "at boot",
  system: "with the system",
};

// ---------------------------------------------------------------------------------------------------------------
// Paths and registry

const REG_PATH =
  /^(?:microsoft\.powershell\.core\\)?(?:registry::)?(hklm|hkcu|hkcr|hku|hkcc|hkey_[a-z_]+)(?::)?\\?(.*)$/i;

function isRegistry(path: string): boolean {
  return REG_PATH.test(path);
}

/** HKLM:\SOFTWARE\X and Registry::HKEY_LOCAL_MACHINE\SOFTWARE\X → HKLM\SOFTWARE\X (as reg.exe writes it). */
function regPath(path: string): string {
  const m = REG_PATH.exec(path);
  if (!m) return path;
  const hive = (m[1] ?? "").toUpperCase();
  const short: Record<string, string> = {
    HKEY_LOCAL_MACHINE: "HKLM",
    HKEY_CURRENT_USER: "HKCU",
    HKEY_CLASSES_ROOT: "HKCR",
    HKEY_USERS: "HKU",
    HKEY_CURRENT_CONFIG: "HKCC",
  };
  const rest = (m[2] ?? "").replace(/\\+$/, "");
  return rest ? `${short[hive] ?? hive}\\${rest}` : (short[hive] ?? hive);
}

function paths(items: string[]): string {
  return list(items.map((p) => (isRegistry(p) ? regPath(p) : p)));
}

// ---------------------------------------------------------------------------------------------------------------
// Step descriptions

type Describe = (step: CommandStep, shell: Shell, prev: CommandStep | undefined) => string | undefined;

function describe(shell: Shell, step: CommandStep, prev: CommandStep | undefined): string | undefined {
  const fn = DESCRIBE[step.name];
  return fn ? fn(step, shell, prev) : undefined;
}

const fromPrevious = (what: string, prev: CommandStep | undefined, piped: boolean): string | undefined =>
  piped && prev ? `the ${what} from the previous step` : undefined;

function psServiceAction(verb: string): Describe {
  return (s, _shell, prev) => {
    const p = psParams(s.args);
    const names = splitList([param(p, ["name", "displayname", "inputobject"], 0)]);
    if (names.length === 0) {
      const prevNames = prev?.name === "get-service" ? splitList([param(psParams(prev.args), ["name"], 0)]) : [];
      if (s.piped && prevNames.length > 0) return `${verb} ${winServices(prevNames)}`;
      return s.piped ? `${verb} the services from the previous step` : undefined;
    }
    return `${verb} ${winServices(names)}`;
  };
}

function removeItem(s: CommandStep, _shell: Shell, prev: CommandStep | undefined): string | undefined {
  const p = psParams(s.args);
  const targets = splitList([param(p, ["path", "literalpath"], 0)]);
  const recurse = flag(p, "recurse");
  if (targets.length === 0) {
    const from = fromPrevious("files", prev, s.piped);
    return from ? `Delete ${from}` : undefined;
  }
  if (targets.every(isRegistry))
    return `Delete registry key ${paths(targets)}${recurse ? " and everything in it" : ""}`;
  return `Delete ${paths(targets)}${recurse ? " and everything in it" : ""}`;
}

function listFiles(where: string | undefined, recursive: boolean): string {
  if (where !== undefined && isRegistry(where)) return `List the registry keys in ${regPath(where)}`;
  return `List the files in ${where ?? "the current folder"}${recursive ? " and its subfolders" : ""}`;
}

function setRegValue(path: string, name: string | undefined, value: string | undefined): string {
  const n = name === undefined || name === "" ? "the default value" : `registry value '${name}'`;
  const prefix = name === undefined || name === "" ? `Set the default registry value` : `Set ${n}`;
  return `${prefix} in ${regPath(path)}${value === undefined ? "" : ` to ${quoteValue(value)}`}`;
}

function psSimple(text: string): Describe {
  return () => text;
}

function firstPos(s: CommandStep, names: string[] = ["name"]): string | undefined {
  return param(psParams(s.args), names, 0);
}

const DESCRIBE: Record<string, Describe> = {
  // --- PowerShell: services
  "get-service": (s) => {
    const names = splitList([firstPos(s, ["name", "displayname"])]);
    return names.length === 0 ? "Show the status of all services" : `Show the status of ${winServices(names)}`;
  },
  "restart-service": psServiceAction("Restart"),
  "stop-service": psServiceAction("Stop"),
  "start-service": psServiceAction("Start"),
  "suspend-service": psServiceAction("Pause"),
  "resume-service": psServiceAction("Resume"),
  "set-service": (s) => {
    const p = psParams(s.args);
    const names = splitList([param(p, ["name", "inputobject"], 0)]);
    const target = names.length > 0 ? winServices(names) : s.piped ? "the services from the previous step" : undefined;
    if (target === undefined) return undefined;
    const startup = param(p, ["startuptype", "starttype"]);
    const status = param(p, ["status"])?.toLowerCase();
    const parts: string[] = [];
    if (startup !== undefined)
      parts.push(`Set ${target} to start ${START_TYPES[startup.toLowerCase()] ?? startup.toLowerCase()}`);
    if (status === "running") parts.push(parts.length ? "start it" : `Start ${target}`);
    if (status === "stopped") parts.push(parts.length ? "stop it" : `Stop ${target}`);
    if (status === "paused") parts.push(parts.length ? "pause it" : `Pause ${target}`);
    if (parts.length === 0) return `Change the settings of ${target}`;
    return parts.join(" and ");
  },
  // --- PowerShell: files
  "get-childitem": (s) => {
    const p = psParams(s.args);
    return listFiles(param(p, ["path", "literalpath"], 0), flag(p, "recurse"));
  },
  "get-content": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path", "literalpath"], 0);
    if (path === undefined) return undefined;
    const tail = param(p, ["tail", "last"]);
    const head = param(p, ["totalcount", "head", "first"]);
    if (tail !== undefined) return `Show the last ${tail} lines of ${path}`;
    if (head !== undefined) return `Show the first ${head} lines of ${path}`;
    return `Show the contents of ${path}`;
  },
  "remove-item": removeItem,
  "test-path": (s) => {
    const path = param(psParams(s.args), ["path", "literalpath"], 0);
    return path === undefined ? undefined : `Check whether ${paths([path])} exists`;
  },
  "copy-item": (s) => {
    const p = psParams(s.args);
    const from = param(p, ["path", "literalpath"], 0);
    const to = param(p, ["destination"], 1);
    if (from === undefined || to === undefined) return undefined;
    return `Copy ${from}${flag(p, "recurse") ? " and everything in it" : ""} to ${to}`;
  },
  "move-item": (s) => {
    const p = psParams(s.args);
    const from = param(p, ["path", "literalpath"], 0);
    const to = param(p, ["destination"], 1);
    return from === undefined || to === undefined ? undefined : `Move ${from} to ${to}`;
  },
  "rename-item": (s) => {
    const p = psParams(s.args);
    const from = param(p, ["path", "literalpath"], 0);
    const to = param(p, ["newname"], 1);
    return from === undefined || to === undefined ? undefined : `Rename ${paths([from])} to ${to}`;
  },
  "new-item": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path"], 0);
    const name = param(p, ["name"]);
    if (path === undefined && name === undefined) return undefined;
    const full =
      path !== undefined && name !== undefined ? `${path.replace(/\\$/, "")}\\${name}` : (path ?? name ?? "");
    if (isRegistry(full)) return `Create registry key ${regPath(full)}`;
    const type = param(p, ["itemtype", "type"])?.toLowerCase();
    return type === "directory" || s.display.toLowerCase() === "mkdir"
      ? `Create the folder ${full}`
      : `Create the file ${full}`;
  },
  "set-content": (s) => {
    const path = param(psParams(s.args), ["path", "literalpath"], 0);
    return path === undefined ? undefined : `Replace the contents of ${path}`;
  },
  "add-content": (s) => {
    const path = param(psParams(s.args), ["path", "literalpath"], 0);
    return path === undefined ? undefined : `Add text to the end of ${path}`;
  },
  "out-file": (s) => {
    const path = param(psParams(s.args), ["filepath", "literalpath"], 0);
    return path === undefined ? undefined : `Save the output to ${path}`;
  },
  "export-csv": (s) => {
    const path = param(psParams(s.args), ["path", "literalpath"], 0);
    return path === undefined ? undefined : `Save the output to ${path}`;
  },
  "clear-content": (s) => {
    const path = param(psParams(s.args), ["path", "literalpath"], 0);
    return path === undefined ? undefined : `Empty the file ${path}`;
  },
  "clear-recyclebin": (s) => {
    const drive = param(psParams(s.args), ["driveletter"], 0);
    return drive === undefined ? "Empty the Recycle Bin" : `Empty the Recycle Bin on drive ${drive.replace(/:$/, "")}:`;
  },
  "get-volume": psSimple("Show the disks and their free space"),
  "get-psdrive": psSimple("Show the disks and their free space"),
  "get-disk": psSimple("Show the disks"),
  "get-physicaldisk": psSimple("Show the disks and their health"),
  "get-acl": (s) => {
    const path = param(psParams(s.args), ["path", "literalpath"], 0);
    return path === undefined ? undefined : `Show the permissions of ${paths([path])}`;
  },
  // --- PowerShell: registry
  "get-itemproperty": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path", "literalpath"], 0);
    const name = param(p, ["name"], 1);
    if (path === undefined) return s.piped ? "Show the details of the items from the previous step" : undefined;
    if (!isRegistry(path)) return `Show the properties of ${path}`;
    return name === undefined
      ? `Show the registry values in ${regPath(path)}`
      : `Show registry value '${name}' in ${regPath(path)}`;
  },
  "get-itempropertyvalue": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path", "literalpath"], 0);
    const name = param(p, ["name"], 1);
    if (path === undefined || name === undefined) return undefined;
    return isRegistry(path) ? `Show registry value '${name}' in ${regPath(path)}` : `Show the ${name} of ${path}`;
  },
  "set-itemproperty": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path", "literalpath"], 0);
    const name = param(p, ["name"], 1);
    const value = param(p, ["value"], 2);
    if (path === undefined || name === undefined) return undefined;
    if (!isRegistry(path))
      return `Change the ${name} of ${path}${value === undefined ? "" : ` to ${quoteValue(value)}`}`;
    return setRegValue(path, name, value);
  },
  "new-itemproperty": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path", "literalpath"], 0);
    const name = param(p, ["name"], 1);
    const value = param(p, ["value"], 2);
    if (path === undefined || name === undefined || !isRegistry(path)) return undefined;
    return `Create registry value '${name}' in ${regPath(path)}${value === undefined ? "" : ` set to ${quoteValue(value)}`}`;
  },
  "remove-itemproperty": (s) => {
    const p = psParams(s.args);
    const path = param(p, ["path", "literalpath"], 0);
    const names = splitList([param(p, ["name"], 1)]);
    if (path === undefined || names.length === 0) return undefined;
    const what =
      names.length === 1 ? `registry value '${names[0]}'` : `registry values ${list(names.map((n) => `'${n}'`))}`;
    return isRegistry(path)
      ? `Delete ${what} from ${regPath(path)}`
      : `Remove the ${list(names)} property from ${path}`;
  },
  // --- PowerShell: computer, processes, network
  "restart-computer": (s) => {
    const host = param(psParams(s.args), ["computername"], 0);
    return host === undefined ? "Restart the computer" : `Restart the computer ${host}`;
  },
  "stop-computer": (s) => {
    const host = param(psParams(s.args), ["computername"], 0);
    return host === undefined ? "Shut down the computer" : `Shut down the computer ${host}`;
  },
  "get-process": (s) => {
    const names = splitList([firstPos(s, ["name"])]);
    return names.length === 0
      ? "List the running programs"
      : `Show the running program ${list(names.map((n) => `'${n}'`))}`;
  },
  "stop-process": (s, _sh, prev) => {
    const p = psParams(s.args);
    const names = splitList([param(p, ["name", "processname"])]);
    const ids = splitList([param(p, ["id"], 0)]);
    if (names.length > 0) return `Force the program ${list(names.map((n) => `'${n}'`))} to close`;
    if (ids.length > 0) return `Force the process with ID ${list(ids)} to close`;
    const from = fromPrevious("programs", prev, s.piped);
    return from ? `Force ${from} to close` : undefined;
  },
  "start-process": (s) => {
    const file = param(psParams(s.args), ["filepath"], 0);
    return file === undefined ? undefined : `Start the program ${file}`;
  },
  "test-connection": (s) => {
    const host = param(psParams(s.args), ["targetname", "computername", "destination"], 0);
    return host === undefined ? undefined : `Check whether ${host} responds on the network`;
  },
  "test-netconnection": (s) => {
    const p = psParams(s.args);
    const host = param(p, ["computername", "remoteaddress"], 0);
    const port = param(p, ["port"]);
    if (host === undefined) return "Test the internet connection";
    return `Test the connection to ${host}${port === undefined ? "" : ` on port ${port}`}`;
  },
  "resolve-dnsname": (s) => {
    const name = param(psParams(s.args), ["name"], 0);
    return name === undefined ? undefined : `Look up ${name} in DNS`;
  },
  "clear-dnsclientcache": psSimple("Clear the DNS cache"),
  "get-netipconfiguration": psSimple("Show the network settings"),
  "get-netipaddress": psSimple("Show the network addresses"),
  "get-netadapter": psSimple("Show the network adapters"),
  "get-nettcpconnection": psSimple("Show the network connections"),
  "set-netfirewallprofile": (s) => {
    const p = psParams(s.args);
    const profiles = splitList([param(p, ["profile", "name"], 0)]);
    const enabled = param(p, ["enabled"])?.toLowerCase();
    if (enabled === undefined) return undefined;
    const on = /^(\$?true|1)$/.test(enabled);
    const which =
      profiles.length === 0 ? "all profiles" : `the ${list(profiles)} profile${profiles.length > 1 ? "s" : ""}`;
    return `Turn ${on ? "on" : "off"} the Windows firewall for ${which}`;
  },
  "get-netfirewallprofile": psSimple("Show the Windows firewall settings"),
  // --- PowerShell: printers
  "get-printer": (s) => {
    const name = firstPos(s, ["name"]);
    return name === undefined ? "List the printers" : `Show the printer '${name}'`;
  },
  "get-printjob": (s) => {
    const name = firstPos(s, ["printername"]);
    return name === undefined ? "List the print jobs" : `List the print jobs for '${name}'`;
  },
  "remove-printjob": (s, _sh, prev) => {
    const name = param(psParams(s.args), ["printername"]);
    if (name !== undefined) return `Cancel the print jobs for '${name}'`;
    const prevName = prev?.name === "get-printjob" ? firstPos(prev, ["printername"]) : undefined;
    if (s.piped && prevName) return `Cancel the print jobs for '${prevName}'`;
    return s.piped ? "Cancel the print jobs from the previous step" : undefined;
  },
  "remove-printer": (s) => {
    const name = firstPos(s, ["name"]);
    return name === undefined ? undefined : `Remove the printer '${name}'`;
  },
  "add-printer": (s) => {
    const name = firstPos(s, ["name", "connectionname"]);
    return name === undefined ? undefined : `Add the printer '${name}'`;
  },
  "restart-printjob": psSimple("Restart print jobs"),
  // --- PowerShell: system, users, updates, events
  "get-computerinfo": psSimple("Show system information"),
  "get-hotfix": psSimple("List the installed Windows updates"),
  "get-windowsupdate": (s) =>
    flag(psParams(s.args), "install") ? "Install the available Windows updates" : "List the available Windows updates",
  "install-windowsupdate": psSimple("Install the available Windows updates"),
  "get-date": psSimple("Show the date and time"),
  "get-bitlockervolume": psSimple("Show the BitLocker encryption status"),
  "get-localuser": (s) => {
    const name = firstPos(s, ["name"]);
    return name === undefined ? "List the local user accounts" : `Show the user account '${name}'`;
  },
  "get-localgroupmember": (s) => {
    const g = firstPos(s, ["group", "name"]);
    return g === undefined ? undefined : `Show the members of the '${g}' group`;
  },
  "add-localgroupmember": (s) => {
    const p = psParams(s.args);
    const g = param(p, ["group", "name"], 0);
    const m = splitList([param(p, ["member"], 1)]);
    return g === undefined || m.length === 0 ? undefined : `Add ${list(m.map((x) => `'${x}'`))} to the '${g}' group`;
  },
  "remove-localgroupmember": (s) => {
    const p = psParams(s.args);
    const g = param(p, ["group", "name"], 0);
    const m = splitList([param(p, ["member"], 1)]);
    return g === undefined || m.length === 0
      ? undefined
      : `Remove ${list(m.map((x) => `'${x}'`))} from the '${g}' group`;
  },
  "enable-localuser": (s) => account("Enable", firstPos(s)),
  "disable-localuser": (s) => account("Disable", firstPos(s)),
  "remove-localuser": (s) => account("Delete", firstPos(s)),
  "new-localuser": (s) => account("Create", firstPos(s)),
  "get-aduser": (s) => account("Show", firstPos(s, ["identity"])),
  "unlock-adaccount": (s) => account("Unlock", firstPos(s, ["identity"])),
  "enable-adaccount": (s) => account("Enable", firstPos(s, ["identity"])),
  "disable-adaccount": (s) => account("Disable", firstPos(s, ["identity"])),
  "set-adaccountpassword": (s) => {
    const who = firstPos(s, ["identity"]);
    return who === undefined ? undefined : `Reset the password of the user account '${who}'`;
  },
  "get-eventlog": (s) => eventLog(psParams(s.args), ["logname"], ["newest"]),
  "get-winevent": (s) => eventLog(psParams(s.args), ["logname"], ["maxevents"]),
  "clear-eventlog": (s) => {
    const log = firstPos(s, ["logname"]);
    return log === undefined ? undefined : `Clear the ${log} event log`;
  },
  "get-scheduledtask": (s) => {
    const t = firstPos(s, ["taskname"]);
    return t === undefined ? "List the scheduled tasks" : `Show the scheduled task '${t}'`;
  },
  "start-scheduledtask": (s) => task("Run", firstPos(s, ["taskname"])),
  "stop-scheduledtask": (s) => task("Stop", firstPos(s, ["taskname"])),
  "enable-scheduledtask": (s) => task("Enable", firstPos(s, ["taskname"])),
  "disable-scheduledtask": (s) => task("Disable", firstPos(s, ["taskname"])),
  "unregister-scheduledtask": (s) => task("Delete", firstPos(s, ["taskname"])),
  "install-module": (s) => {
    const m = firstPos(s);
    return m === undefined ? undefined : `Install the PowerShell module ${m}`;
  },
  "import-module": (s) => {
    const m = firstPos(s);
    return m === undefined ? undefined : `Load the PowerShell module ${m}`;
  },
  "invoke-webrequest": (s) => {
    const p = psParams(s.args);
    const u = param(p, ["uri"], 0);
    const out = param(p, ["outfile"]);
    if (u === undefined) return undefined;
    return out === undefined ? `Contact the web address ${u}` : `Download ${u} to ${out}`;
  },
  "invoke-restmethod": (s) => {
    const u = param(psParams(s.args), ["uri"], 0);
    return u === undefined ? undefined : `Contact the web address ${u}`;
  },
  "write-output": psSimple("Show a message"),
  "write-host": psSimple("Show a message"),
  "start-sleep": (s) => {
    const p = psParams(s.args);
    const sec = param(p, ["seconds"], 0);
    const ms = param(p, ["milliseconds"]);
    if (ms !== undefined) return `Wait ${ms} milliseconds`;
    return sec === undefined ? "Wait" : `Wait ${sec} second${sec === "1" ? "" : "s"}`;
  },
  "set-location": (s) => {
    const path = firstPos(s, ["path", "literalpath"]);
    return path === undefined ? undefined : `Go to the folder ${path}`;
  },
  "get-ciminstance": (s) => {
    const c = firstPos(s, ["classname"]);
    return c === undefined ? undefined : `Show system information (${c})`;
  },
  "get-wmiobject": (s) => {
    const c = firstPos(s, ["class"]);
    return c === undefined ? undefined : `Show system information (${c})`;
  },

  // --- Windows programs (cmd and PowerShell)
  reg: (s) => {
    const [sub, key, ...rest] = s.args;
    if (sub === undefined || key === undefined) return undefined;
    const v = winOpt(rest, "v");
    const isDefault = winHas(rest, "/ve");
    const k = regPath(key);
    switch (sub.toLowerCase()) {
      case "query":
        return v !== undefined ? `Show registry value '${v}' in ${k}` : `Show the registry key ${k}`;
      case "add":
        if (v === undefined && !isDefault) return `Create registry key ${k}`;
        return setRegValue(key, isDefault ? "" : v, winOpt(rest, "d"));
      case "delete":
        if (v !== undefined) return `Delete registry value '${v}' from ${k}`;
        if (winHas(rest, "/va")) return `Delete all values from ${k}`;
        if (isDefault) return `Delete the default registry value from ${k}`;
        return `Delete registry key ${k} and everything in it`;
      case "export":
        return rest[0] === undefined ? undefined : `Save registry key ${k} to ${rest[0]}`;
      case "import":
        return `Import registry settings from ${key}`;
      default:
        return undefined;
    }
  },
  sc: (s) => {
    const args = s.args[0]?.startsWith("\\\\") ? s.args.slice(1) : s.args;
    const [verb, name] = args;
    if (verb === undefined) return undefined;
    const svc = name === undefined ? undefined : winServices([name]);
    switch (verb.toLowerCase()) {
      case "query":
      case "queryex":
        return svc === undefined ? "Show the status of all services" : `Show the status of ${svc}`;
      case "qc":
        return svc && `Show the settings of ${svc}`;
      case "start":
        return svc && `Start ${svc}`;
      case "stop":
        return svc && `Stop ${svc}`;
      case "delete":
        return svc && `Delete ${svc}`;
      case "create":
        return svc && `Create ${svc}`;
      case "failure":
        return svc && `Change what happens when ${svc} fails`;
      case "config": {
        if (svc === undefined) return undefined;
        const i = args.findIndex((a) => a.toLowerCase() === "start=");
        const glued = args.find((a) => /^start=./i.test(a));
        const type = i >= 0 ? args[i + 1] : glued?.slice(6);
        if (type === undefined) return `Change the settings of ${svc}`;
        return `Set ${svc} to start ${START_TYPES[type.toLowerCase()] ?? type.toLowerCase()}`;
      }
      default:
        return undefined;
    }
  },
  net: (s) => netDescribe(s.args),
  net1: (s) => netDescribe(s.args),
  ipconfig: (s) => {
    const a = s.args.map((x) => x.toLowerCase().replace(/^-/, "/"));
    if (a.includes("/flushdns")) return "Clear the DNS cache";
    if (a.includes("/displaydns")) return "Show the DNS cache";
    if (a.includes("/registerdns")) return "Register the computer in DNS again";
    const rel = a.includes("/release") || a.includes("/release6");
    const ren = a.includes("/renew") || a.includes("/renew6");
    if (rel && ren) return "Release and renew the computer's network address";
    if (rel) return "Release the computer's network address (it may go offline until renewed)";
    if (ren) return "Renew the computer's network address";
    return "Show the network settings";
  },
  ping: (s) => {
    const host = s.args.filter((a, i) => !/^[-/]/.test(a) && !/^[-/][ncwilst]$/i.test(s.args[i - 1] ?? "")).at(-1);
    return host === undefined ? undefined : `Check whether ${host} responds on the network`;
  },
  tracert: (s) => traceTo(s.args),
  traceroute: (s) => traceTo(s.args),
  pathping: (s) => traceTo(s.args),
  nslookup: (s) => {
    const name = s.args.find((a) => !a.startsWith("-"));
    return name === undefined ? undefined : `Look up ${name} in DNS`;
  },
  dig: (s) => {
    const name = s.args.find(
      (a) => !a.startsWith("-") && !a.startsWith("+") && !a.startsWith("@") && !/^[A-Z]+$/.test(a),
    );
    return name === undefined ? undefined : `Look up ${name} in DNS`;
  },
  netstat: psSimple("Show the network connections"),
  ss: psSimple("Show the network connections"),
  systeminfo: psSimple("Show system information"),
  hostname: (s) => (s.args.filter((a) => !a.startsWith("-")).length === 0 ? "Show the computer name" : undefined),
  whoami: psSimple("Show the current user"),
  tasklist: psSimple("List the running programs"),
  taskkill: (s) => {
    const im = winOpt(s.args, "im");
    const pid = winOpt(s.args, "pid");
    if (im !== undefined) return `Force the program '${im}' to close`;
    if (pid !== undefined) return `Force the process with ID ${pid} to close`;
    return undefined;
  },
  shutdown: (s, shell) => (shell === "bash" || shell === "sh" ? posixShutdown(s.args) : winShutdown(s.args)),
  logoff: psSimple("Sign out the user"),
  gpupdate: psSimple("Refresh the Group Policy settings"),
  gpresult: psSimple("Show the Group Policy settings in effect"),
  sfc: (s) =>
    winHas(s.args, "/scannow")
      ? "Scan and repair Windows system files"
      : winHas(s.args, "/verifyonly")
        ? "Check Windows system files for damage"
        : undefined,
  dism: (s) => {
    const a = s.args.map((x) => x.toLowerCase());
    if (a.includes("/restorehealth")) return "Repair the Windows component store";
    if (a.includes("/startcomponentcleanup")) return "Clean up old Windows update files";
    if (a.includes("/checkhealth") || a.includes("/scanhealth")) return "Check the Windows component store for damage";
    return undefined;
  },
  chkdsk: (s) => {
    const drive = s.args.find((a) => /^[a-z]:$/i.test(a));
    const on = drive ? ` ${drive.toUpperCase()}` : "";
    return winHas(s.args, "/f", "/r")
      ? `Check and repair the disk${on}`
      : `Check the disk${on} for errors (without repairing)`;
  },
  cleanmgr: psSimple("Run Disk Cleanup"),
  netsh: (s) => netshDescribe(s.args),
  route: (s) => (s.args[0]?.toLowerCase() === "print" ? "Show the network routing table" : undefined),
  schtasks: (s) => {
    const tn = winOpt(s.args, "tn");
    const a = s.args.map((x) => x.toLowerCase());
    if (a.length === 0 || a.includes("/query"))
      return tn ? `Show the scheduled task '${tn}'` : "List the scheduled tasks";
    if (a.includes("/run")) return task("Run", tn);
    if (a.includes("/end")) return task("Stop", tn);
    if (a.includes("/delete")) return task("Delete", tn);
    if (a.includes("/create")) return task("Create", tn);
    if (a.includes("/change") && a.includes("/disable")) return task("Disable", tn);
    if (a.includes("/change") && a.includes("/enable")) return task("Enable", tn);
    return undefined;
  },
  wevtutil: (s) => {
    const [verb, log] = s.args;
    if (verb === undefined || log === undefined) return undefined;
    const v = verb.toLowerCase();
    if (v === "qe" || v === "query-events") return `Show entries of the ${log} event log`;
    if (v === "cl" || v === "clear-log") return `Clear the ${log} event log`;
    return undefined;
  },
  w32tm: (s) => {
    const a = s.args.map((x) => x.toLowerCase());
    if (a.includes("/resync")) return "Synchronize the computer's clock";
    if (a.includes("/query")) return "Show the time synchronization settings";
    return undefined;
  },
  winget: (s) => packages("winget", s.args),
  choco: (s) => packages("choco", s.args),
  msiexec: (s) => {
    const i = winOpt(s.args, "i");
    const x = winOpt(s.args, "x");
    if (i !== undefined) return `Install the software package ${i}`;
    if (x !== undefined) return `Uninstall the software package ${x}`;
    return undefined;
  },
  icacls: (s) => {
    const target = s.args[0];
    if (target === undefined) return undefined;
    return s.args.length === 1 ? `Show the permissions of ${target}` : `Change the permissions of ${target}`;
  },
  takeown: (s) => {
    const f = winOpt(s.args, "f");
    return f === undefined ? undefined : `Take ownership of ${f}`;
  },
  "manage-bde": (s) => (winHas(s.args, "-status", "/status") ? "Show the BitLocker encryption status" : undefined),
  dir: (s, shell) => {
    const targets = s.args.filter((a) => !/^\/[a-z]/i.test(a) && !(shell !== "cmd" && a.startsWith("-")));
    return listFiles(targets[0], winHas(s.args, "/s"));
  },
  type: (s, shell) => {
    if (shell !== "cmd") return undefined;
    return s.args[0] === undefined ? undefined : `Show the contents of ${s.args[0]}`;
  },
  echo: psSimple("Show a message"),
  del: (s) => cmdDelete(s.args, false),
  erase: (s) => cmdDelete(s.args, false),
  rd: (s) => cmdDelete(s.args, true),
  rmdir: (s, shell) => (shell === "cmd" ? cmdDelete(s.args, true) : posixDelete(s.args, true)),
  md: (s) => (s.args[0] === undefined ? undefined : `Create the folder ${s.args[0]}`),
  mkdir: (s) => {
    const targets = s.args.filter((a) => !a.startsWith("-") && !/^\/[a-z]$/i.test(a));
    return targets.length === 0 ? undefined : `Create the folder ${list(targets)}`;
  },
  copy: (s) =>
    copyMove(
      "Copy",
      s.args.filter((a) => !/^\/[a-z]$/i.test(a)),
    ),
  xcopy: (s) =>
    copyMove(
      "Copy",
      s.args.filter((a) => !/^\/[a-z-]+$/i.test(a)),
    ),
  robocopy: (s) => copyMove("Copy", s.args.filter((a) => !/^\/[a-z]/i.test(a)).slice(0, 2)),
  move: (s) =>
    copyMove(
      "Move",
      s.args.filter((a) => !/^\/[a-z]$/i.test(a)),
    ),
  ren: (s) => (s.args.length === 2 ? `Rename ${s.args[0]} to ${s.args[1]}` : undefined),
  rename: (s) => (s.args.length === 2 ? `Rename ${s.args[0]} to ${s.args[1]}` : undefined),
  set: (s, shell) => {
    if (shell !== "cmd") return undefined;
    const m = /^(?:\/a\s+)?"?([^=\s"]+)=(.*?)"?$/i.exec(s.args.join(" "));
    if (!m) return "Show the environment variables";
    return `Set the variable ${m[1]} for this command`;
  },
  cd: (s) => (s.args[0] === undefined ? "Show the current folder" : `Go to the folder ${s.args.join(" ")}`),

  // --- POSIX
  ls: (s) => {
    const targets = s.args.filter((a) => !a.startsWith("-"));
    return listFiles(
      targets.length > 0 ? list(targets) : undefined,
      s.args.some((a) => /^-[a-zA-Z]*R/.test(a)),
    );
  },
  cat: (s) => {
    const targets = s.args.filter((a) => !a.startsWith("-"));
    return targets.length === 0 ? undefined : `Show the contents of ${list(targets)}`;
  },
  tail: (s) => headTail(s.args, "last", s.piped),
  head: (s) => headTail(s.args, "first", s.piped),
  grep: (s) => {
    const pos = s.args.filter((a) => !a.startsWith("-"));
    const [pattern, ...files] = pos;
    if (pattern === undefined || files.length === 0) return undefined;
    return `Search ${list(files)} for '${pattern}'`;
  },
  rm: (s, shell) => (shell === "bash" || shell === "sh" ? posixDelete(s.args, false) : undefined),
  cp: (s) =>
    copyMove(
      "Copy",
      s.args.filter((a) => !a.startsWith("-")),
    ),
  mv: (s) =>
    copyMove(
      "Move",
      s.args.filter((a) => !a.startsWith("-")),
    ),
  touch: (s) => {
    const t = s.args.filter((a) => !a.startsWith("-"));
    return t.length === 0 ? undefined : `Create or update the file ${list(t)}`;
  },
  chmod: (s) => {
    const t = s.args.filter((a) => !a.startsWith("-")).slice(1);
    return t.length === 0 ? undefined : `Change the permissions of ${list(t)}`;
  },
  chown: (s) => {
    const t = s.args.filter((a) => !a.startsWith("-"));
    return t.length < 2 ? undefined : `Change the owner of ${list(t.slice(1))} to ${t[0]}`;
  },
  df: psSimple("Show the free disk space"),
  du: (s) => {
    const t = s.args.filter((a) => !a.startsWith("-"));
    return t.length === 0
      ? "Show how much disk space the current folder uses"
      : `Show how much disk space ${list(t)} uses`;
  },
  free: psSimple("Show the memory usage"),
  uptime: psSimple("Show how long the computer has been running"),
  uname: psSimple("Show the operating system version"),
  ps: psSimple("List the running programs"),
  top: psSimple("Show the running programs and their resource usage"),
  ip: (s) => {
    const a = s.args.filter((x) => !x.startsWith("-"));
    if (a.length === 0) return undefined;
    const obj = (a[0] ?? "").toLowerCase();
    if (a.some((x) => ["add", "del", "delete", "set", "flush", "change", "replace"].includes(x))) return undefined;
    if (["a", "addr", "address"].includes(obj)) return "Show the network addresses";
    if (["r", "route"].includes(obj)) return "Show the network routing table";
    if (["l", "link"].includes(obj)) return "Show the network interfaces";
    return undefined;
  },
  ifconfig: (s) => (s.args.length <= 1 ? "Show the network settings" : undefined),
  curl: (s) => {
    const u = url(s.args);
    if (u === undefined) return undefined;
    const out = s.args.findIndex((a) => a === "-o" || a === "--output");
    if (out >= 0 && s.args[out + 1]) return `Download ${u} to ${s.args[out + 1]}`;
    if (s.args.some((a) => a === "-O" || a === "--remote-name")) return `Download ${u}`;
    return `Contact the web address ${u}`;
  },
  wget: (s) => {
    const u = url(s.args);
    return u === undefined ? undefined : `Download ${u}`;
  },
  systemctl: (s) => {
    const pos = s.args.filter((a) => !a.startsWith("-"));
    const [verb, ...units] = pos;
    if (verb === undefined) return "List the services";
    const svc = posixServices(units);
    switch (verb) {
      case "status":
      case "is-active":
      case "is-enabled":
      case "is-failed":
      case "show":
        return units.length === 0 ? undefined : `Show the status of ${svc}`;
      case "start":
      case "stop":
      case "restart":
      case "reload":
        return units.length === 0 ? undefined : `${cap(verb)} ${svc}`;
      case "try-restart":
      case "reload-or-restart":
        return units.length === 0 ? undefined : `Restart ${svc}`;
      case "enable":
        return units.length === 0
          ? undefined
          : `Make ${svc} start automatically${s.args.includes("--now") ? " and start it now" : ""}`;
      case "disable":
        return units.length === 0
          ? undefined
          : `Stop ${svc} from starting automatically${s.args.includes("--now") ? " and stop it now" : ""}`;
      case "mask":
        return units.length === 0 ? undefined : `Block ${svc} from starting`;
      case "unmask":
        return units.length === 0 ? undefined : `Allow ${svc} to start again`;
      case "daemon-reload":
        return "Reload the service settings";
      case "list-units":
        return "List the services";
      case "reboot":
        return "Restart the computer";
      case "poweroff":
        return "Shut down the computer";
      default:
        return undefined;
    }
  },
  service: (s) => {
    const [name, verb] = s.args;
    if (name === "--status-all") return "Show the status of all services";
    if (name === undefined || verb === undefined) return undefined;
    const svc = posixServices([name]);
    if (verb === "status") return `Show the status of ${svc}`;
    if (["start", "stop", "restart", "reload"].includes(verb)) return `${cap(verb)} ${svc}`;
    return undefined;
  },
  journalctl: (s) => {
    const u = s.args.findIndex((a) => a === "-u" || a === "--unit");
    const unit = u >= 0 ? s.args[u + 1] : s.args.find((a) => a.startsWith("--unit="))?.slice(7);
    if (s.args.some((a) => a.startsWith("--vacuum"))) return "Delete old system log entries";
    return unit === undefined ? "Show the system log" : `Show the log of ${posixServices([unit])}`;
  },
  dmesg: psSimple("Show the kernel messages"),
  reboot: psSimple("Restart the computer"),
  poweroff: psSimple("Shut down the computer"),
  halt: psSimple("Shut down the computer"),
  kill: (s) => {
    const ids = s.args.filter((a) => /^\d+$/.test(a));
    return ids.length === 0 ? undefined : `Force the process with ID ${list(ids)} to close`;
  },
  pkill: (s) => {
    const t = s.args.filter((a) => !a.startsWith("-")).at(-1);
    return t === undefined ? undefined : `Force the program '${t}' to close`;
  },
  killall: (s) => {
    const t = s.args.filter((a) => !a.startsWith("-"));
    return t.length === 0 ? undefined : `Force the program ${list(t.map((x) => `'${x}'`))} to close`;
  },
  apt: (s) => posixPackages(s.args),
  "apt-get": (s) => posixPackages(s.args),
  yum: (s) => posixPackages(s.args),
  dnf: (s) => posixPackages(s.args),
  useradd: (s) => account("Create", s.args.filter((a) => !a.startsWith("-")).at(-1)),
  adduser: (s) => account("Create", s.args.filter((a) => !a.startsWith("-")).at(-1)),
  userdel: (s) => account("Delete", s.args.filter((a) => !a.startsWith("-")).at(-1)),
  passwd: (s) => {
    const u = s.args.filter((a) => !a.startsWith("-")).at(-1);
    return u === undefined ? "Change the current user's password" : `Change the password of the user account '${u}'`;
  },
  ufw: (s) => {
    const [verb, ...rest] = s.args.filter((a) => !a.startsWith("-"));
    if (verb === "status") return "Show the firewall status";
    if (verb === "enable") return "Turn on the firewall";
    if (verb === "disable") return "Turn off the firewall";
    if ((verb === "allow" || verb === "deny") && rest.length > 0)
      return `${verb === "allow" ? "Allow" : "Block"} ${rest.join(" ")} through the firewall`;
    return undefined;
  },
  crontab: (s) =>
    s.args.includes("-l") ? "List the scheduled jobs" : s.args.includes("-r") ? "Delete all scheduled jobs" : undefined,
  find: (s) => {
    const start = s.args.find((a) => !a.startsWith("-") && !a.startsWith("(") && !a.startsWith("!")) ?? ".";
    if (s.args.includes("-delete")) return `Delete matching files under ${start}`;
    if (s.args.some((a) => a === "-exec" || a === "-execdir")) return undefined;
    return `Search for files under ${start}`;
  },
  lpstat: psSimple("Show the printers and print jobs"),
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function account(verb: string, who: string | undefined): string | undefined {
  return who === undefined ? undefined : `${verb} the user account '${who}'`;
}

function task(verb: string, name: string | undefined): string | undefined {
  return name === undefined ? undefined : `${verb} the scheduled task '${name}'`;
}

function eventLog(p: Params, logNames: string[], countNames: string[]): string | undefined {
  const log = param(p, logNames, 0);
  const n = param(p, countNames);
  if (log === undefined) return undefined;
  return n === undefined ? `Show the ${log} event log` : `Show the latest ${n} entries of the ${log} event log`;
}

function traceTo(args: string[]): string | undefined {
  const host = args.filter((a) => !a.startsWith("-") && !/^\/[a-z]$/i.test(a)).at(-1);
  return host === undefined ? undefined : `Trace the network route to ${host}`;
}

function headTail(args: string[], which: "first" | "last", piped: boolean): string | undefined {
  const files = args.filter((a, i) => !a.startsWith("-") && !/^-(n|c)$/.test(args[i - 1] ?? ""));
  if (files.length === 0 || piped) return undefined;
  const n = /^-n?(\d+)$/.exec(args.find((a) => /^-n?\d+$/.test(a)) ?? "")?.[1] ?? args[args.indexOf("-n") + 1];
  return `Show the ${which} ${args.includes("-n") || n ? `${n} lines` : "lines"} of ${list(files)}`;
}

function cmdDelete(args: string[], folder: boolean): string | undefined {
  const targets = args.filter((a) => !/^\/[a-z]$/i.test(a));
  if (targets.length === 0) return undefined;
  const all = folder ? winHas(args, "/s") : false;
  return `Delete ${list(targets)}${all ? " and everything in it" : winHas(args, "/s") ? " (including in subfolders)" : ""}`;
}

function posixDelete(args: string[], folder: boolean): string | undefined {
  const targets = args.filter((a) => !a.startsWith("-"));
  if (targets.length === 0) return undefined;
  const recursive = !folder && args.some((a) => /^-[a-zA-Z]*[rR]/.test(a) || a === "--recursive");
  return `Delete ${list(targets)}${recursive ? " and everything in it" : ""}`;
}

function copyMove(verb: "Copy" | "Move", pos: string[]): string | undefined {
  if (pos.length < 2) return undefined;
  return `${verb} ${list(pos.slice(0, -1))} to ${pos[pos.length - 1]}`;
}

function winShutdown(args: string[]): string {
  const a = args.map((x) => x.toLowerCase().replace(/^-/, "/"));
  const t = Number(winOpt(args, "t") ?? "0");
  const when = Number.isFinite(t) && t > 0 ? ` in ${t} second${t === 1 ? "" : "s"}` : "";
  const m = winOpt(args, "m");
  const which = m ? `the computer ${m.replace(/^\\\\/, "")}` : "the computer";
  if (a.includes("/a")) return "Cancel a planned restart or shutdown";
  if (a.includes("/l")) return "Sign out the user";
  if (a.includes("/r") || a.includes("/g")) return `Restart ${which}${when}`;
  if (a.includes("/h")) return "Put the computer into hibernation";
  return `Shut down ${which}${when}`;
}

function posixShutdown(args: string[]): string {
  if (args.includes("-c")) return "Cancel a planned restart or shutdown";
  const time = args.find((a) => /^(\+\d+|now|\d{1,2}:\d{2})$/.test(a));
  const when = time?.startsWith("+")
    ? ` in ${time.slice(1)} minute${time === "+1" ? "" : "s"}`
    : time && time !== "now"
      ? ` at ${time}`
      : "";
  return args.some((a) => /^-[a-zA-Z]*r/.test(a) || a === "--reboot")
    ? `Restart the computer${when}`
    : `Shut down the computer${when}`;
}

function netDescribe(args: string[]): string | undefined {
  const pos = args.filter((a) => !a.startsWith("/"));
  const opts = args.filter((a) => a.startsWith("/")).map((a) => a.toLowerCase());
  const [sub, ...rest] = pos;
  switch (sub?.toLowerCase()) {
    case "start":
      return rest.length === 0 ? "List the running services" : `Start ${winServices([rest.join(" ")])}`;
    case "stop":
      return rest.length === 0 ? undefined : `Stop ${winServices([rest.join(" ")])}`;
    case "user": {
      const [who, password] = rest;
      if (who === undefined) return "List the user accounts";
      if (opts.includes("/add")) return account("Create", who);
      if (opts.includes("/delete")) return account("Delete", who);
      if (opts.includes("/active:no")) return account("Disable", who);
      if (opts.includes("/active:yes")) return account("Enable", who);
      if (password !== undefined) return `Change the password of the user account '${who}'`;
      if (opts.filter((o) => o !== "/domain").length > 0) return `Change the user account '${who}'`;
      return account("Show", who);
    }
    case "localgroup":
    case "group": {
      const [group, ...members] = rest;
      if (group === undefined) return "List the groups";
      const ms = list(members.map((m) => `'${m}'`));
      if (members.length > 0 && opts.includes("/add")) return `Add ${ms} to the '${group}' group`;
      if (members.length > 0 && opts.includes("/delete")) return `Remove ${ms} from the '${group}' group`;
      if (members.length === 0 && opts.length === 0) return `Show the members of the '${group}' group`;
      return undefined;
    }
    case "use":
      if (rest.length === 0) return "List the connected network drives";
      if (opts.includes("/delete") || opts.includes("/d")) return `Disconnect the network drive ${rest[0]}`;
      return rest.length >= 2 ? `Connect ${rest[1]} as network drive ${rest[0]}` : undefined;
    case "share":
      return rest.length === 0 ? "List the shared folders" : undefined;
    default:
      return undefined;
  }
}

function netshDescribe(args: string[]): string | undefined {
  const a = args.map((x) => x.toLowerCase());
  const text = a.join(" ");
  if (a[0] === "advfirewall") {
    const st = /set (allprofiles|currentprofile|domainprofile|privateprofile|publicprofile) state (on|off)/.exec(text);
    if (st) {
      const which: Record<string, string> = {
        allprofiles: "all profiles",
        currentprofile: "the current profile",
        domainprofile: "the domain profile",
        privateprofile: "the private profile",
        publicprofile: "the public profile",
      };
      return `Turn ${st[2]} the Windows firewall for ${which[st[1] ?? ""] ?? st[1]}`;
    }
    if (a[1] === "show") return "Show the Windows firewall settings";
    if (a[1] === "reset") return "Reset the Windows firewall to its default settings";
    const rule = /^(add|delete|set) rule$/.exec(`${a[2] ?? ""} ${a[3] ?? ""}`);
    if (a[1] === "firewall" && rule) {
      const name = args.find((x) => /^name=/i.test(x))?.slice(5);
      const verb = { add: "Add", delete: "Delete", set: "Change" }[rule[1] as "add" | "delete" | "set"];
      return name === undefined ? `${verb} a Windows firewall rule` : `${verb} the Windows firewall rule '${name}'`;
    }
    if (a[1] === "firewall" && a[2] === "show") return "Show the Windows firewall rules";
    return undefined;
  }
  if (a[0] === "winsock" && a[1] === "reset") return "Reset the Windows network settings (Winsock)";
  if ((a[0] === "int" || a[0] === "interface") && a.includes("reset") && (a[1] === "ip" || a[1] === "ipv4"))
    return "Reset the TCP/IP network settings";
  if (a[0] === "wlan" && a[1] === "show" && (a[2] === "profiles" || a[2] === "profile"))
    return "Show the saved Wi-Fi networks";
  if (a[0] === "wlan" && a[1] === "show" && a[2] === "interfaces") return "Show the Wi-Fi connection";
  if (a.includes("show")) return undefined;
  return undefined;
}

function packages(tool: "winget" | "choco", args: string[]): string | undefined {
  const pos = args.filter((a) => !a.startsWith("-"));
  const [verb, ...names] = pos;
  const all = args.includes("--all") || names.includes("all");
  const real = names.filter((n) => n !== "all");
  const what = list(real);
  switch (verb?.toLowerCase()) {
    case "list":
      return tool === "choco" && args.includes("--outdated")
        ? "List software with updates available"
        : "List the installed software";
    case "search":
    case "find":
      return what ? `Search for the software ${what}` : undefined;
    case "install":
      return what ? `Install ${what}` : undefined;
    case "upgrade":
    case "update":
      return all ? "Update all installed software" : what ? `Update ${what}` : "List software with updates available";
    case "uninstall":
    case "remove":
      return what ? `Uninstall ${what}` : undefined;
    case "outdated":
      return "List software with updates available";
    default:
      return undefined;
  }
}

function posixPackages(args: string[]): string | undefined {
  const pos = args.filter((a) => !a.startsWith("-"));
  const [verb, ...names] = pos;
  const what = list(names);
  switch (verb) {
    case "update":
      return names.length === 0 ? "Refresh the list of available software" : `Update ${what}`;
    case "upgrade":
    case "dist-upgrade":
    case "full-upgrade":
      return names.length === 0 ? "Update all installed software" : `Update ${what}`;
    case "install":
      return names.length === 0 ? undefined : `Install ${what}`;
    case "remove":
    case "purge":
    case "erase":
      return names.length === 0 ? undefined : `Uninstall ${what}`;
    case "autoremove":
      return "Remove software that is no longer needed";
    case "list":
      return args.includes("--installed") ? "List the installed software" : "List the available software";
    case "check-update":
      return "List software with updates available";
    default:
      return undefined;
  }
}

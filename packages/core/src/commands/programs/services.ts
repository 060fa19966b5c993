// Services: sc, the Service cmdlets, systemctl and service (with Windows services' friendly names).
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { POSIX_SHELLS, type Shell } from "../../shells.ts";
import { firstPos, lc, param, posixSubcommand, psParams, psSwitchSet } from "../args.ts";
import { psQuote } from "../quote.ts";
import {
  change,
  type Finding,
  type Invocation,
  type Prestate,
  type Probe,
  type ProgramFamily,
  READ,
  type ServicePrestate,
  type Target,
  type Undo,
} from "../types.ts";
import { cap, list, splitList } from "../words.ts";

export function winServices(names: string[]): string {
  if (names.length === 0) return "the services from the previous step";
  const shown = names.map((n) => WINDOWS_SERVICES[n.toLowerCase()] ?? `'${n}'`);
  return `the ${list(shown)} service${names.length > 1 ? "s" : ""}`;
}

export function posixServices(names: string[]): string {
  const shown = names.map((n) => n.replace(/\.service$/, ""));
  if (shown.length === 0) return "the services";
  return `the ${list(shown)} service${shown.length > 1 ? "s" : ""}`;
}

export const START_TYPES: Record<string, string> = {
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

export const WINDOWS_SERVICES: Record<string, string> = {
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

export function psServiceAction(verb: string): (s: Invocation) => string | undefined {
  return (s) => {
    const prev = s.prev;
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

// Rollback: which service an invocation changes, how to read its start type and state first, and how to put back
// what the invocation changed (only that: a stop is undone by a start, not by also rewriting its start type).

/** Service names Caisey passes to a probe or a reverse as they are: no quoting needed in any shell. */
const SERVICE_NAME = /^[\w.@:-]+$/;

function serviceTargets(names: readonly (string | undefined)[]): Target[] | undefined {
  if (names.length === 0 || names.some((n) => n === undefined || !SERVICE_NAME.test(n))) return undefined;
  return names.map((n) => ({ kind: "service", target: n as string }));
}

/** What reading a service costs in each shell: systemctl show, sc qc + sc query, or CIM as JSON. */
export function serviceProbe(shell: Shell, name: string): Probe | undefined {
  if (!SERVICE_NAME.test(name)) return undefined;
  if (POSIX_SHELLS.includes(shell))
    return {
      kind: "service",
      target: name,
      read: {
        shell,
        command: `systemctl show --property=LoadState,UnitFileState,ActiveState ${name}`,
        format: "systemctl-show",
      },
    };
  if (shell === "cmd")
    return {
      kind: "service",
      target: name,
      read: { shell, command: `sc qc ${name} & sc query ${name}`, format: "sc-query" },
    };
  const command = `Get-CimInstance -ClassName Win32_Service -Filter "Name='${name}'" | Select-Object Name, State, StartMode, DelayedAutoStart | ConvertTo-Json`;
  return { kind: "service", target: name, read: { shell, command, format: "service-json" } };
}

const SC_START: Record<string, string> = {
  "0": "boot",
  "1": "system",
  "2": "automatic",
  "3": "manual",
  "4": "disabled",
};
const SC_STATE: Record<string, string> = {
  "1": "stopped",
  "2": "starting",
  "3": "stopping",
  "4": "running",
  "5": "starting",
  "6": "stopping",
  "7": "paused",
};

/** `sc qc NAME & sc query NAME` output (START_TYPE with its "(DELAYED)" mark, STATE) as a prestate. */
export function parseScQuery(name: string, stdout: string): ServicePrestate {
  const start = /START_TYPE\s*:\s*(\d)\s+\S+(\s+\(DELAYED\))?/.exec(stdout);
  const state = /STATE\s*:\s*(\d)/.exec(stdout);
  if (!start && !state) {
    if (/\b1060\b/.test(stdout)) return { kind: "service", target: name, exists: false };
    return { kind: "service", target: name, exists: false, error: stdout.trim().slice(0, 200) || "no answer from sc" };
  }
  const base = SC_START[start?.[1] ?? ""];
  return {
    kind: "service",
    target: name,
    exists: true,
    ...(base ? { startType: base === "automatic" && start?.[2] ? "automatic-delayed" : base } : {}),
    ...(state ? { state: SC_STATE[state[1] ?? ""] ?? "unknown" } : {}),
  };
}

const PS_START: Record<string, string> = {
  auto: "automatic",
  automatic: "automatic",
  automaticdelayedstart: "automatic-delayed",
  manual: "manual",
  disabled: "disabled",
  boot: "boot",
  system: "system",
  "0": "boot",
  "1": "system",
  "2": "automatic",
  "3": "manual",
  "4": "disabled",
  "10": "automatic-delayed",
};
const PS_STATE: Record<string, string> = {
  running: "running",
  stopped: "stopped",
  paused: "paused",
  "start pending": "starting",
  startpending: "starting",
  "stop pending": "stopping",
  stoppending: "stopping",
  "1": "stopped",
  "2": "starting",
  "3": "stopping",
  "4": "running",
  "7": "paused",
};

/**
 * `Get-CimInstance Win32_Service … | ConvertTo-Json` (State, StartMode, DelayedAutoStart) or `Get-Service … |
 * ConvertTo-Json` (Status, StartType, as names or enum numbers) as a prestate; empty output: no such service.
 */
export function parseServiceJson(name: string, stdout: string): ServicePrestate {
  if (stdout.trim() === "") return { kind: "service", target: name, exists: false };
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return { kind: "service", target: name, exists: false, error: "the probe's output is not JSON" };
  }
  const o = (Array.isArray(doc) ? doc[0] : doc) as Record<string, unknown> | undefined;
  if (o === undefined || o === null || typeof o !== "object") return { kind: "service", target: name, exists: false };
  const start = PS_START[String(o.StartMode ?? o.StartType ?? "").toLowerCase()];
  const state = PS_STATE[String(o.State ?? o.Status ?? "").toLowerCase()];
  return {
    kind: "service",
    target: name,
    exists: true,
    ...(start ? { startType: start === "automatic" && o.DelayedAutoStart === true ? "automatic-delayed" : start } : {}),
    ...(state ? { state } : {}),
  };
}

/** `systemctl show --property=LoadState,UnitFileState,ActiveState` output as a prestate. */
export function parseSystemctlShow(name: string, stdout: string): ServicePrestate {
  const props = new Map(
    stdout
      .split("\n")
      .map((l) => l.trim().split("="))
      .filter((kv) => kv.length >= 2)
      .map(([k, ...v]) => [k ?? "", v.join("=")]),
  );
  if (props.size === 0) return { kind: "service", target: name, exists: false, error: "no answer from systemctl" };
  if (props.get("LoadState") === "not-found" && props.get("UnitFileState") === "")
    return { kind: "service", target: name, exists: false };
  const active = props.get("ActiveState") ?? "";
  const state =
    active === "active" || active === "reloading"
      ? "running"
      : active === "activating"
        ? "starting"
        : active === "deactivating"
          ? "stopping"
          : "stopped";
  const unitFile = props.get("UnitFileState") || (props.get("LoadState") === "masked" ? "masked" : "");
  return { kind: "service", target: name, exists: true, ...(unitFile ? { startType: unitFile } : {}), state };
}

/** What an invocation sets a service to: its start type, its state, or both. */
interface ServiceChange {
  startType?: string;
  state?: string;
}

const WINDOWS_START: Record<string, string> = {
  auto: "automatic",
  automatic: "automatic",
  "delayed-auto": "automatic-delayed",
  automaticdelayedstart: "automatic-delayed",
  demand: "manual",
  manual: "manual",
  disabled: "disabled",
  boot: "boot",
  system: "system",
};
const SC_WORD: Record<string, string> = {
  automatic: "auto",
  "automatic-delayed": "delayed-auto",
  manual: "demand",
  disabled: "disabled",
  boot: "boot",
  system: "system",
};
const STARTS_WORDS: Record<string, string> = {
  automatic: "automatically",
  "automatic-delayed": "automatically (delayed)",
  manual: "manually",
  disabled: "disabled",
  boot: "at boot",
  system: "with the system",
};

/** Put back what `sets` changed on each service, from what it was before; nothing where it was already so. */
function restoreServices(sets: ServiceChange, before: readonly Prestate[], shell: Shell): Undo {
  const commands: string[] = [];
  const summaries: string[] = [];
  for (const p of before) {
    if (p.kind !== "service") continue;
    if (p.error !== undefined)
      return { reason: `Caisey could not read the ${p.target} service before the change (${p.error})` };
    if (!p.exists) return { reason: `There was no ${p.target} service before the change` };
    const posix = POSIX_SHELLS.includes(shell);
    const svc = posix ? posixServices([p.target]) : winServices([p.target]);
    const was = p.startType ?? "";
    const unchanged = sets.startType === "unmasked" ? was !== "masked" : was === sets.startType;
    if (sets.startType !== undefined && !unchanged) {
      if (posix) {
        const verb =
          sets.startType === "masked"
            ? "unmask"
            : ({ enabled: "enable", disabled: "disable", masked: "mask" } as Record<string, string>)[was];
        if (verb === undefined)
          return {
            reason: `The ${p.target} service was ${was || "in an unknown state"} before: systemctl cannot set that back`,
          };
        commands.push(`systemctl ${verb} ${p.target}`);
        summaries.push(
          verb === "enable"
            ? `Make ${svc} start automatically again`
            : verb === "disable"
              ? `Stop ${svc} from starting automatically again`
              : verb === "mask"
                ? `Block ${svc} from starting again`
                : `Allow ${svc} to start again`,
        );
      } else {
        const word = SC_WORD[was];
        if (word === undefined)
          return { reason: `Caisey did not record how the ${p.target} service started before the change` };
        commands.push(`${shell === "cmd" ? "sc" : "sc.exe"} config ${p.target} start= ${word}`);
        summaries.push(`Set ${svc} back to start ${STARTS_WORDS[was]}`);
      }
    }
    if (sets.state !== undefined && p.state !== sets.state) {
      const wasState = p.state === "starting" ? "running" : p.state === "stopping" ? "stopped" : p.state;
      if (wasState === sets.state) continue;
      const verbs: Record<string, [string, string, string, string]> = {
        running: ["start", "Start-Service", "start", "Start"],
        stopped: ["stop", "Stop-Service", "stop", "Stop"],
        paused: ["pause", "Suspend-Service", "", "Pause"],
      };
      const v = verbs[wasState ?? ""];
      if (v === undefined || (posix && v[2] === ""))
        return { reason: `Caisey did not record whether the ${p.target} service was running before the change` };
      commands.push(
        posix
          ? `systemctl ${v[2]} ${p.target}`
          : shell === "cmd"
            ? `sc ${v[0]} ${p.target}`
            : `${v[1]} -Name ${psQuote(p.target)}`,
      );
      summaries.push(`${v[3]} ${svc} again`);
    }
  }
  if (commands.length === 0)
    return { reason: "The service was already in that state before the change: there is nothing to undo" };
  return { commands, summaries, basis: "prestate" };
}

const undoes =
  (sets: (inv: Invocation) => ServiceChange | undefined) =>
  (inv: Invocation, before: readonly Prestate[], shell: Shell): Undo | undefined => {
    const change = sets(inv);
    // nothing probed (a computed name, the pipeline, -Force): the orchestrator says it cannot undo this part
    if (change === undefined || before.length === 0) return undefined;
    return restoreServices(change, before, shell);
  };

/** `sc [\\server] verb name …` without the server (a remote machine is not probed). */
function scWords(args: readonly string[]): string[] | undefined {
  return args[0]?.startsWith("\\\\") ? undefined : [...args];
}

function scChange(args: readonly string[]): ServiceChange | undefined {
  const [verb, , ...rest] = scWords(args) ?? [];
  switch (verb?.toLowerCase()) {
    case "start":
    case "continue":
      return { state: "running" };
    case "stop":
      return { state: "stopped" };
    case "pause":
      return { state: "paused" };
    case "config": {
      const i = rest.findIndex((a) => a.toLowerCase() === "start=");
      const type = i >= 0 ? rest[i + 1] : rest.find((a) => /^start=./i.test(a))?.slice(6);
      const startType = WINDOWS_START[type?.toLowerCase() ?? ""];
      // any other setting (binPath=, obj=, …) is not recorded, so it cannot be put back
      const others = rest.filter((a, j) => /=$|=./.test(a) && !/^start=/i.test(a) && j !== i + 1);
      return startType && others.length === 0 ? { startType } : undefined;
    }
    default:
      return undefined;
  }
}

function psServiceChange(s: Invocation): ServiceChange | undefined {
  const p = psParams(s.args);
  const out: ServiceChange = {};
  const startup = param(p, ["startuptype", "starttype"]);
  const status = param(p, ["status"])?.toLowerCase();
  if (startup !== undefined) out.startType = WINDOWS_START[startup.toLowerCase()] ?? "?";
  if (status !== undefined) out.state = ["running", "stopped", "paused"].includes(status) ? status : "?";
  const other = [...p.named.keys()].some((k) => !["name", "startuptype", "starttype", "status", "force"].includes(k));
  return out.startType === "?" || out.state === "?" || other || (!out.startType && !out.state) ? undefined : out;
}

const psStateChange = (state: string) => (): ServiceChange => ({ state });

/** The services a cmdlet names by -Name or first positional (not display names, not the pipeline). */
function psServiceTargets(s: Invocation): Target[] | undefined {
  if (s.piped) return undefined;
  return serviceTargets(splitList([param(psParams(s.args), ["name"], 0)]));
}

const SYSTEMCTL_SETS: Record<string, ServiceChange> = {
  start: { state: "running" },
  stop: { state: "stopped" },
  enable: { startType: "enabled" },
  disable: { startType: "disabled" },
  mask: { startType: "masked" },
  unmask: { startType: "unmasked" },
};

function systemctlChange({ args }: Invocation): ServiceChange | undefined {
  const [verb] = args.filter((a) => !a.startsWith("-"));
  const sets = SYSTEMCTL_SETS[verb ?? ""];
  if (sets === undefined || args.some((a) => a.startsWith("-") && a !== "--now")) return undefined;
  if (!args.includes("--now")) return sets;
  return { ...sets, state: verb === "enable" ? "running" : "stopped" };
}

export const services: ProgramFamily = {
  windows: {
    sc: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
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
      },
      probe: ({ args }) => (scChange(args) === undefined ? undefined : serviceTargets([scWords(args)?.[1]])),
      reverse: undoes(({ args }) => scChange(args)),
      describe: (s) => {
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
          case "pause":
            return svc && `Pause ${svc}`;
          case "continue":
            return svc && `Resume ${svc}`;
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
    },
  },
  posix: {
    service: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.includes("--status-all") || a[1] === "status"
          ? READ
          : change(`service ${a[1] ?? ""} changes a service`.trim());
      },
      describe: (s) => {
        const [name, verb] = s.args;
        if (name === "--status-all") return "Show the status of all services";
        if (name === undefined || verb === undefined) return undefined;
        const svc = posixServices([name]);
        if (verb === "status") return `Show the status of ${svc}`;
        if (["start", "stop", "restart", "reload"].includes(verb)) return `${cap(verb)} ${svc}`;
        return undefined;
      },
    },
    systemctl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
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
      },
      probe: (inv) =>
        systemctlChange(inv) === undefined
          ? undefined
          : serviceTargets(inv.args.filter((a) => !a.startsWith("-")).slice(1)),
      reverse: undoes(systemctlChange),
      describe: (s) => {
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
    },
  },
  cmdlets: {
    "get-service": {
      describe: (s) => {
        const names = splitList([firstPos(s, ["name", "displayname"])]);
        return names.length === 0 ? "Show the status of all services" : `Show the status of ${winServices(names)}`;
      },
    },
    "restart-service": { describe: psServiceAction("Restart"), whatIf: true, reason: "restarts a service" },
    "resume-service": {
      describe: psServiceAction("Resume"),
      probe: psServiceTargets,
      reverse: undoes(psStateChange("running")),
      whatIf: true,
    },
    "set-service": {
      probe: (s) => (psServiceChange(s) === undefined ? undefined : psServiceTargets(s)),
      reverse: undoes(psServiceChange),
      describe: (s) => {
        const p = psParams(s.args);
        const names = splitList([param(p, ["name", "inputobject"], 0)]);
        const target =
          names.length > 0 ? winServices(names) : s.piped ? "the services from the previous step" : undefined;
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
      whatIf: true,
      reason: "changes a service",
    },
    "start-service": {
      describe: psServiceAction("Start"),
      probe: psServiceTargets,
      reverse: undoes(psStateChange("running")),
      whatIf: true,
      reason: "starts a service",
    },
    "stop-service": {
      describe: psServiceAction("Stop"),
      // -Force also stops the services that depend on it, which Caisey does not record
      probe: (s) => (psSwitchSet(s.args, "force") ? undefined : psServiceTargets(s)),
      reverse: undoes(psStateChange("stopped")),
      whatIf: true,
      reason: "stops a service",
    },
    "suspend-service": {
      describe: psServiceAction("Pause"),
      probe: psServiceTargets,
      reverse: undoes(psStateChange("paused")),
      whatIf: true,
    },
  },
};

// Services: sc, the Service cmdlets, systemctl and service (with Windows services' friendly names).
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, lc, param, posixSubcommand, psParams } from "../args.ts";
import { change, type Finding, type Invocation, type ProgramFamily, READ } from "../types.ts";
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
    "resume-service": { describe: psServiceAction("Resume"), whatIf: true },
    "set-service": {
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
    "start-service": { describe: psServiceAction("Start"), whatIf: true, reason: "starts a service" },
    "stop-service": { describe: psServiceAction("Stop"), whatIf: true, reason: "stops a service" },
    "suspend-service": { describe: psServiceAction("Pause"), whatIf: true },
  },
};

// The computer as a whole: information, power, time, logs, policy, health checks, kernel and hardware.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import {
  firstPos,
  hasArg,
  hasArgPrefix,
  lc,
  type PsParams,
  param,
  posixFlag,
  posixPositional,
  posixSubcommand,
  psParams,
  psSwitchSet,
  winOpt,
} from "../args.ts";
import {
  change,
  changes,
  changesTheSystem,
  type Finding,
  type Invocation,
  type ProgramFamily,
  READ,
  reads,
  readsBareOr,
} from "../types.ts";
import { quoteValue, says } from "../words.ts";
import { posixServices } from "./services.ts";

const restartsComputer = changes("restarts or shuts down the computer");

const setsClockCmd = ({ name, args }: Invocation): Finding | undefined =>
  args.length === 0 || hasArg(args, "/t") ? READ : change(`${name} sets the clock`);

export function eventLog(p: PsParams, logNames: string[], countNames: string[]): string | undefined {
  const log = param(p, logNames, 0);
  const n = param(p, countNames);
  if (log === undefined) return undefined;
  return n === undefined ? `Show the ${log} event log` : `Show the latest ${n} entries of the ${log} event log`;
}

export function winShutdown(args: string[]): string {
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

export function posixShutdown(args: string[]): string {
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

const MACHINE_ENVIRONMENT = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment";

/** `setx NAME VALUE [/m]`: the one variable it sets; undefined for the other forms (/s remote, /k, /f). */
function setxValue(args: readonly string[]): { name: string; value: string; machine: boolean } | undefined {
  const machine = args.some((a) => a.toLowerCase() === "/m");
  const rest = args.filter((a) => a.toLowerCase() !== "/m");
  const [name, value] = rest;
  if (rest.length !== 2 || name === undefined || value === undefined || /^[/-]/.test(name)) return undefined;
  return { name, value, machine };
}

export const system: ProgramFamily = {
  windows: {
    auditpol: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/get", "/list") ? READ : change("auditpol changes audit policy"),
    },
    bcdedit: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        return a.length === 0 || (a[0] === "/enum" && !hasArgPrefix(args, "/set", "/delete"))
          ? READ
          : change("bcdedit changes boot settings");
      },
    },
    certutil: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
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
      },
    },
    choice: reads,
    cleanmgr: {
      classify: (): Finding | undefined => change("cleanmgr deletes files"),
      describe: says("Run Disk Cleanup"),
    },
    clip: reads,
    dcdiag: reads,
    dism: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        const changes =
          /^\/(restorehealth|startcomponentcleanup|resetbase|enable-|disable-|add-|remove-|set-|apply-|mount-|unmount-|commit-|cleanup-mountpoints|revertpendingactions|export-|import-|capture-|append-|split-|optimize-|spsuperseded)/;
        if (a.some((x) => changes.test(x))) return change("DISM changes the Windows image");
        return a.some((x) => /^\/(get-|checkhealth|scanhealth)/.test(x))
          ? READ
          : change("DISM changes the Windows image");
      },
      describe: (s) => {
        const a = s.args.map((x) => x.toLowerCase());
        if (a.includes("/restorehealth")) return "Repair the Windows component store";
        if (a.includes("/startcomponentcleanup")) return "Clean up old Windows update files";
        if (a.includes("/checkhealth") || a.includes("/scanhealth"))
          return "Check the Windows component store for damage";
        return undefined;
      },
    },
    driverquery: reads,
    dsregcmd: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/status") ? READ : change("dsregcmd changes the device's Azure AD registration"),
    },
    gpresult: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/h", "/x", "-h", "-x") ? change("gpresult writes a report file") : READ,
      describe: says("Show the Group Policy settings in effect"),
    },
    gpupdate: {
      classify: (): Finding | undefined => change("gpupdate re-applies Group Policy"),
      describe: says("Refresh the Group Policy settings"),
    },
    hostname: {
      classify: reads.classify,
      describe: (s) => (s.args.filter((a) => !a.startsWith("-")).length === 0 ? "Show the computer name" : undefined),
    },
    nltest: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/sc_reset", "/sc_change_pwd", "/sc_delete", "/sc_verify:") &&
        hasArgPrefix(args, "/sc_reset", "/sc_change_pwd", "/sc_delete")
          ? change("nltest resets the domain secure channel")
          : READ,
    },
    openfiles: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/query") ? READ : change("openfiles disconnects open files"),
    },
    pnputil: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/enum", "-e") ? READ : change("pnputil changes drivers or devices"),
    },
    powercfg: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(
          args,
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
        ) && !hasArgPrefix(args, "/setactive", "/change", "/hibernate", "/x", "/s", "-setactive", "-change", "-x")
          ? READ
          : change("powercfg changes power settings or writes a report"),
    },
    query: reads,
    repadmin: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(
          args,
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
          : change("repadmin changes Active Directory replication"),
    },
    setx: {
      classify: (): Finding | undefined => change("setx permanently changes an environment variable"),
      describe: ({ args }) => {
        const set = setxValue(args);
        return (
          set &&
          `Set the environment variable ${set.name} to ${quoteValue(set.value)} ${set.machine ? "for every user" : "for this user"}`
        );
      },
      // setx writes the variable as a registry value: recorded and put back as one
      probe: ({ args }) => {
        const set = setxValue(args);
        return (
          set && [{ kind: "registry", target: set.machine ? MACHINE_ENVIRONMENT : "HKCU\\Environment", name: set.name }]
        );
      },
    },
    sfc: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/scannow", "/scanfile", "/scanonce", "/scanboot", "/revert", "/purgecache", "/cachesize")
          ? change("sfc repairs system files")
          : READ,
      describe: (s) =>
        hasArg(s.args, "/scannow")
          ? "Scan and repair Windows system files"
          : hasArg(s.args, "/verifyonly")
            ? "Check Windows system files for damage"
            : undefined,
    },
    shutdown: {
      classify: (): Finding | undefined => change("shutdown restarts, shuts down or signs out"),
      describe: (s) => (s.shell === "bash" || s.shell === "sh" ? posixShutdown(s.args) : winShutdown(s.args)),
    },
    systeminfo: { classify: reads.classify, describe: says("Show system information") },
    timeout: reads,
    tzutil: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/s") ? change("tzutil changes the time zone") : READ,
    },
    ver: reads,
    w32tm: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/query", "/stripchart", "/tz", "/monitor", "/ntte", "/ntpte") &&
        !hasArgPrefix(args, "/resync", "/config")
          ? READ
          : change("w32tm changes time synchronization"),
      describe: (s) => {
        const a = s.args.map((x) => x.toLowerCase());
        if (a.includes("/resync")) return "Synchronize the computer's clock";
        if (a.includes("/query")) return "Show the time synchronization settings";
        return undefined;
      },
    },
    wevtutil: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
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
      },
      describe: (s) => {
        const [verb, log] = s.args;
        if (verb === undefined || log === undefined) return undefined;
        const v = verb.toLowerCase();
        if (v === "qe" || v === "query-events") return `Show entries of the ${log} event log`;
        if (v === "cl" || v === "clear-log") return `Clear the ${log} event log`;
        return undefined;
      },
    },
    winver: reads,
    wmic: {
      classify: ({ args }: Invocation): Finding | undefined => {
        if (hasArgPrefix(args, "/output:", "/append:")) return change("wmic writes a file");
        if (hasArg(args, "call", "set", "delete", "create")) return change("wmic changes system settings");
        return hasArg(args, "get", "list") ? READ : change("wmic may change system settings");
      },
    },
  },
  cmd: {
    date: { classify: setsClockCmd },
    time: { classify: setsClockCmd },
  },
  posix: {
    arch: reads,
    aureport: reads,
    ausearch: reads,
    cal: reads,
    chcon: changesTheSystem,
    chronyc: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return ["tracking", "sources", "sourcestats", "activity", "ntpdata", "serverstats", "clients", ""].includes(sub)
          ? READ
          : change(`chronyc ${sub} changes time sync`);
      },
    },
    date: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const pos = posixPositional(a);
        return posixFlag(a, "s", ["set"]) || pos.some((x) => !x.startsWith("+")) ? change("date sets the clock") : READ;
      },
    },
    dmesg: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return posixFlag(a, "cCDEn", ["clear", "read-clear", "console-off", "console-on", "console-level"])
          ? change("dmesg clears or changes the kernel log")
          : READ;
      },
      describe: says("Show the kernel messages"),
    },
    dmidecode: reads,
    free: { classify: reads.classify, describe: says("Show the memory usage") },
    getconf: reads,
    getenforce: reads,
    "grub-install": changesTheSystem,
    halt: { classify: restartsComputer.classify, describe: says("Shut down the computer") },
    hostid: reads,
    hostname: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = posixPositional(args);
        return pos.length === 0 ? READ : change("hostname renames the computer");
      },
      describe: (s) => (s.args.filter((a) => !a.startsWith("-")).length === 0 ? "Show the computer name" : undefined),
    },
    hostnamectl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return sub === "" || sub === "status" ? READ : change("hostnamectl changes the host name");
      },
    },
    hwclock: readsBareOr(["--show", "-r", "--get"], "hwclock sets the hardware clock"),
    init: restartsComputer,
    insmod: changesTheSystem,
    inxi: reads,
    iostat: reads,
    journalctl: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some(
          (x) =>
            x.startsWith("--vacuum") ||
            x === "--rotate" ||
            x === "--flush" ||
            x === "--sync" ||
            x === "--relinquish-var",
        )
          ? change("journalctl deletes or rotates logs")
          : READ;
      },
      describe: (s) => {
        const u = s.args.findIndex((a) => a === "-u" || a === "--unit");
        const unit = u >= 0 ? s.args[u + 1] : s.args.find((a) => a.startsWith("--unit="))?.slice(7);
        if (s.args.some((a) => a.startsWith("--vacuum"))) return "Delete old system log entries";
        return unit === undefined ? "Show the system log" : `Show the log of ${posixServices([unit])}`;
      },
    },
    locale: reads,
    localectl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return sub === "" || sub === "status" || sub.startsWith("list-")
          ? READ
          : change("localectl changes locale settings");
      },
    },
    logrotate: changesTheSystem,
    lsb_release: reads,
    lscpu: reads,
    lshw: reads,
    lsmod: reads,
    lspci: reads,
    lsusb: reads,
    mailq: reads,
    modprobe: changesTheSystem,
    mpstat: reads,
    neofetch: reads,
    nproc: reads,
    ntpdate: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.includes("-q") ? READ : change("ntpdate sets the clock");
      },
    },
    poweroff: { classify: restartsComputer.classify, describe: says("Shut down the computer") },
    reboot: { classify: restartsComputer.classify, describe: says("Restart the computer") },
    restorecon: changesTheSystem,
    rmmod: changesTheSystem,
    sar: reads,
    screenfetch: reads,
    sensors: reads,
    sestatus: reads,
    setenforce: changesTheSystem,
    shutdown: {
      classify: restartsComputer.classify,
      describe: (s) => (s.shell === "bash" || s.shell === "sh" ? posixShutdown(s.args) : winShutdown(s.args)),
    },
    snapper: changesTheSystem,
    sysctl: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => x === "-w" || x === "-p" || x.startsWith("--write") || x === "--system" || x.includes("="))
          ? change("sysctl changes kernel settings")
          : READ;
      },
    },
    telinit: restartsComputer,
    timedatectl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return sub === "" || ["status", "show", "list-timezones", "timesync-status", "show-timesync"].includes(sub)
          ? READ
          : change(`timedatectl ${sub} changes the clock`);
      },
    },
    uname: { classify: reads.classify, describe: says("Show the operating system version") },
    "update-ca-certificates": changesTheSystem,
    "update-grub": changesTheSystem,
    uptime: { classify: reads.classify, describe: says("Show how long the computer has been running") },
    vmstat: reads,
  },
  cmdlets: {
    "clear-eventlog": {
      describe: (s) => {
        const log = firstPos(s, ["logname"]);
        return log === undefined ? undefined : `Clear the ${log} event log`;
      },
    },
    "get-ciminstance": {
      describe: (s) => {
        const c = firstPos(s, ["classname"]);
        return c === undefined ? undefined : `Show system information (${c})`;
      },
    },
    "get-computerinfo": { describe: says("Show system information") },
    "get-date": { describe: says("Show the date and time") },
    "get-eventlog": { describe: (s) => eventLog(psParams(s.args), ["logname"], ["newest"]) },
    "get-winevent": { describe: (s) => eventLog(psParams(s.args), ["logname"], ["maxevents"]) },
    "get-wmiobject": {
      describe: (s) => {
        const c = firstPos(s, ["class"]);
        return c === undefined ? undefined : `Show system information (${c})`;
      },
    },
    "restart-computer": {
      describe: (s) => {
        const host = param(psParams(s.args), ["computername"], 0);
        return host === undefined ? "Restart the computer" : `Restart the computer ${host}`;
      },
      whatIf: true,
      reason: "restarts the computer",
    },
    "stop-computer": {
      describe: (s) => {
        const host = param(psParams(s.args), ["computername"], 0);
        return host === undefined ? "Shut down the computer" : `Shut down the computer ${host}`;
      },
      whatIf: true,
      reason: "shuts down the computer",
    },
    "test-computersecurechannel": {
      classify: ({ args }: Invocation): Finding | undefined =>
        psSwitchSet(args, "repair", 1)
          ? change("Test-ComputerSecureChannel -Repair resets the domain secure channel")
          : READ,
    },
  },
};

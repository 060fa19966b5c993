// Network settings, name resolution, connectivity tests, firewalls, downloads and remote connections.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import {
  firstLc,
  hasArg,
  hasArgPrefix,
  lc,
  param,
  posixFlag,
  posixPositional,
  posixSubcommand,
  psParams,
  winPositional,
} from "../args.ts";
import { change, changesTheSystem, type Finding, type Invocation, type ProgramFamily, READ, reads } from "../types.ts";
import { list, says, splitList, url } from "../words.ts";

const iptables = ({ name, args: a }: Invocation): Finding | undefined => {
  return a.some((x) => /^-[a-zA-Z]*[LS]/.test(x) || x === "--list" || x === "--list-rules") &&
    !a.some(
      (x) =>
        /^-[a-zA-Z]*[ADIRFXPNZE]/.test(x) ||
        /^--(append|delete|insert|replace|flush|policy|new-chain|zero|delete-chain)/.test(x),
    )
    ? READ
    : change(`${name} changes firewall rules`);
};

export function traceTo(args: string[]): string | undefined {
  const host = args.filter((a) => !a.startsWith("-") && !/^\/[a-z]$/i.test(a)).at(-1);
  return host === undefined ? undefined : `Trace the network route to ${host}`;
}

export function netshDescribe(args: string[]): string | undefined {
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

export function curlFinding(args: readonly string[]): Finding {
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

/** ipconfig switches that change the network configuration; the others only show it. */
const IPCONFIG_CHANGES = ["/release", "/renew", "/flushdns", "/registerdns", "/setclassid"];

/** ipconfig takes `-switch` as well as `/switch`. */
function ipconfigSwitches(args: readonly string[]): string[] {
  return args.map((x) => x.toLowerCase().replace(/^-/, "/"));
}

function wget({ args: a }: Invocation): Finding {
  const toStdout =
    a.some((x, i) => (/^-[a-zA-Z]*O$/.test(x) && a[i + 1] === "-") || /^-[a-zA-Z]*O-$/.test(x)) ||
    a.includes("--output-document=-") ||
    a.includes("--spider");
  if (a.some((x) => x.startsWith("--post") || x.startsWith("--method") || x.startsWith("--body")))
    return change("wget sends data to a server");
  return toStdout ? READ : change("wget downloads a file");
}

/** curl, the Windows and the POSIX one alike. */
function describeCurl(s: Invocation): string | undefined {
  const u = url(s.args);
  if (u === undefined) return undefined;
  const out = s.args.findIndex((a) => a === "-o" || a === "--output");
  if (out >= 0 && s.args[out + 1]) return `Download ${u} to ${s.args[out + 1]}`;
  if (s.args.some((a) => a === "-O" || a === "--remote-name")) return `Download ${u}`;
  return `Contact the web address ${u}`;
}

/** "<verb> the Windows firewall rule 'X'" from -DisplayName or -Name; undefined without either. */
function firewallRule(verb: string, s: Invocation): string | undefined {
  const name = param(psParams(s.args), ["displayname", "name"], 0);
  return name === undefined ? undefined : `${verb} the Windows firewall rule '${name}'`;
}

export const network: ProgramFamily = {
  windows: {
    arp: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArg(args, "-d", "-s", "/d", "/s") ? change("arp changes the ARP cache") : READ,
    },
    bitsadmin: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/list", "/info", "/getstate", "/monitor", "/rawreturn") &&
        !hasArgPrefix(args, "/transfer", "/create", "/addfile", "/resume", "/cancel", "/reset", "/complete")
          ? READ
          : change("bitsadmin starts or changes a transfer"),
    },
    curl: {
      classify: ({ args }: Invocation): Finding | undefined => curlFinding(args),
      describe: describeCurl,
    },
    getmac: reads,
    ipconfig: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(ipconfigSwitches(args), ...IPCONFIG_CHANGES)
          ? change("ipconfig changes the network configuration")
          : READ,
      describe: (s) => {
        const a = ipconfigSwitches(s.args);
        if (a.includes("/flushdns")) return "Clear the DNS cache";
        if (a.includes("/displaydns")) return "Show the DNS cache";
        if (a.includes("/registerdns")) return "Register the computer in DNS again";
        const rel = a.includes("/release") || a.includes("/release6");
        const ren = a.includes("/renew") || a.includes("/renew6");
        if (rel && ren) return "Release and renew the computer's network address";
        if (rel) return "Release the computer's network address (it may go offline until renewed)";
        if (ren) return "Renew the computer's network address";
        return hasArgPrefix(a, ...IPCONFIG_CHANGES) ? undefined : "Show the network settings";
      },
    },
    nbtstat: {
      classify: ({ args }: Invocation): Finding | undefined => {
        // -R / -RR (upper case) purge and re-register; -r (lower case) only lists
        return args.some((x) => /^[-/](R|RR)$/.test(x)) ? change("nbtstat purges or re-registers NetBIOS names") : READ;
      },
    },
    netsh: {
      classify: ({ args }: Invocation): Finding | undefined => {
        if (
          hasArg(
            args,
            "set",
            "add",
            "delete",
            "reset",
            "import",
            "install",
            "uninstall",
            "flush",
            "connect",
            "disconnect",
          )
        )
          return change("netsh changes network or firewall settings");
        if (hasArg(args, "export", "trace", "dump") && !hasArg(args, "show"))
          return hasArg(args, "dump") ? READ : change("netsh writes a file or starts a trace");
        return hasArg(args, "show") ? READ : change("netsh changes network settings");
      },
      describe: (s) => netshDescribe(s.args),
    },
    netstat: { classify: reads.classify, describe: says("Show the network connections") },
    nslookup: {
      classify: reads.classify,
      describe: (s) => {
        const name = s.args.find((a) => !a.startsWith("-"));
        return name === undefined ? undefined : `Look up ${name} in DNS`;
      },
    },
    pathping: { classify: reads.classify, describe: (s) => traceTo(s.args) },
    ping: {
      classify: reads.classify,
      describe: (s) => {
        const host = s.args.filter((a, i) => !/^[-/]/.test(a) && !/^[-/][ncwilst]$/i.test(s.args[i - 1] ?? "")).at(-1);
        return host === undefined ? undefined : `Check whether ${host} responds on the network`;
      },
    },
    route: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = winPositional(args);
        return firstLc(pos) === "print" || (pos.length === 0 && !hasArg(args, "-f", "/f"))
          ? READ
          : change("route changes the routing table");
      },
      describe: (s) => (s.args[0]?.toLowerCase() === "print" ? "Show the network routing table" : undefined),
    },
    tracert: { classify: reads.classify, describe: (s) => traceTo(s.args) },
  },
  posix: {
    curl: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return curlFinding(a);
      },
      describe: describeCurl,
    },
    dig: {
      classify: reads.classify,
      describe: (s) => {
        const name = s.args.find(
          (a) => !a.startsWith("-") && !a.startsWith("+") && !a.startsWith("@") && !/^[A-Z]+$/.test(a),
        );
        return name === undefined ? undefined : `Look up ${name} in DNS`;
      },
    },
    drill: reads,
    ethtool: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => /^-[sKAGCEpfrLWU]$|^--(change|offload|pause|coalesce|set-|flash|reset|identify)/.test(x))
          ? change("ethtool changes a network interface")
          : READ;
      },
    },
    "firewall-cmd": {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.every((x) => /^--(list|get|query|state|info)/.test(x) || /^--(zone|permanent)/.test(x)) && a.length > 0
          ? READ
          : change("firewall-cmd changes the firewall");
      },
    },
    ftp: changesTheSystem,
    host: reads,
    ifconfig: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = posixPositional(args);
        return pos.length <= 1 ? READ : change("ifconfig changes a network interface");
      },
      describe: (s) => (s.args.length <= 1 ? "Show the network settings" : undefined),
    },
    ip: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
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
      },
      describe: (s) => {
        const a = s.args.filter((x) => !x.startsWith("-"));
        if (a.length === 0) return undefined;
        const obj = (a[0] ?? "").toLowerCase();
        if (a.some((x) => ["add", "del", "delete", "set", "flush", "change", "replace"].includes(x))) return undefined;
        if (["a", "addr", "address"].includes(obj)) return "Show the network addresses";
        if (["r", "route"].includes(obj)) return "Show the network routing table";
        if (["l", "link"].includes(obj)) return "Show the network interfaces";
        return undefined;
      },
    },
    ip6tables: { classify: iptables },
    iptables: { classify: iptables },
    "iptables-save": reads,
    iwconfig: reads,
    iwlist: reads,
    mtr: reads,
    nc: changesTheSystem,
    ncat: changesTheSystem,
    netstat: { classify: reads.classify, describe: says("Show the network connections") },
    nft: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return sub === "list" ? READ : change("nft changes firewall rules");
      },
    },
    nmcli: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
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
      },
    },
    nslookup: {
      classify: reads.classify,
      describe: (s) => {
        const name = s.args.find((a) => !a.startsWith("-"));
        return name === undefined ? undefined : `Look up ${name} in DNS`;
      },
    },
    ping: {
      classify: reads.classify,
      describe: (s) => {
        const host = s.args.filter((a, i) => !/^[-/]/.test(a) && !/^[-/][ncwilst]$/i.test(s.args[i - 1] ?? "")).at(-1);
        return host === undefined ? undefined : `Check whether ${host} responds on the network`;
      },
    },
    ping6: reads,
    resolvectl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        const pos = posixPositional(args);
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
      },
    },
    sftp: changesTheSystem,
    socat: changesTheSystem,
    ss: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return posixFlag(a, "K", ["kill"]) ? change("ss -K closes network connections") : READ;
      },
      describe: says("Show the network connections"),
    },
    ssh: changesTheSystem,
    "systemd-resolve": {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => x === "--flush-caches" || x.startsWith("--set") || x === "--revert")
          ? change("systemd-resolve changes DNS settings")
          : READ;
      },
    },
    telnet: changesTheSystem,
    tracepath: reads,
    traceroute: { classify: reads.classify, describe: (s) => traceTo(s.args) },
    ufw: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(a);
        return sub === "status" || (sub === "app" && a.includes("list")) || a.includes("--version")
          ? READ
          : change(`ufw ${sub} changes the firewall`);
      },
      describe: (s) => {
        const [verb, ...rest] = s.args.filter((a) => !a.startsWith("-"));
        if (verb === "status") return "Show the firewall status";
        if (verb === "enable") return "Turn on the firewall";
        if (verb === "disable") return "Turn off the firewall";
        if ((verb === "allow" || verb === "deny") && rest.length > 0)
          return `${verb === "allow" ? "Allow" : "Block"} ${rest.join(" ")} through the firewall`;
        return undefined;
      },
    },
    wget: {
      classify: wget,
      describe: (s) => {
        const u = url(s.args);
        if (u === undefined) return undefined;
        // to the screen only: the same words as curl's
        return wget(s).kind === "read" ? `Contact the web address ${u}` : `Download ${u}`;
      },
    },
  },
  cmdlets: {
    "clear-dnsclientcache": { describe: says("Clear the DNS cache"), whatIf: true },
    "get-netadapter": { describe: says("Show the network adapters") },
    "get-netfirewallprofile": { describe: says("Show the Windows firewall settings") },
    "get-netipaddress": { describe: says("Show the network addresses") },
    "get-netipconfiguration": { describe: says("Show the network settings") },
    "get-nettcpconnection": { describe: says("Show the network connections") },
    "invoke-restmethod": {
      describe: (s) => {
        const u = param(psParams(s.args), ["uri"], 0);
        return u === undefined ? undefined : `Contact the web address ${u}`;
      },
      reason: "downloads from or sends to the network",
    },
    "invoke-webrequest": {
      describe: (s) => {
        const p = psParams(s.args);
        const u = param(p, ["uri"], 0);
        const out = param(p, ["outfile"]);
        if (u === undefined) return undefined;
        return out === undefined ? `Contact the web address ${u}` : `Download ${u} to ${out}`;
      },
      reason: "downloads from or sends to the network",
    },
    "disable-netfirewallrule": { describe: (s) => firewallRule("Turn off", s), whatIf: true },
    "enable-netfirewallrule": { describe: (s) => firewallRule("Turn on", s), whatIf: true },
    "new-netfirewallrule": {
      describe: (s) => {
        const p = psParams(s.args);
        const rule = firewallRule("Add", s);
        const action = lc(param(p, ["action"]) ?? "allow") === "block" ? "block" : "allow";
        const direction = lc(param(p, ["direction"]) ?? "inbound") === "outbound" ? "outgoing" : "incoming";
        const protocol = param(p, ["protocol"]);
        const ports = param(p, ["localport"]) ?? param(p, ["remoteport"]);
        const program = param(p, ["program"]);
        const on =
          ports === undefined ? "" : ` on ${protocol === undefined ? "" : `${protocol.toUpperCase()} `}port ${ports}`;
        const of = program === undefined ? "" : ` for ${program}`;
        return rule && `${rule} (${action} ${direction} connections${on}${of})`;
      },
      whatIf: true,
    },
    "remove-netfirewallrule": { describe: (s) => firewallRule("Delete", s), whatIf: true },
    "set-netfirewallrule": { describe: (s) => firewallRule("Change", s), whatIf: true },
    "resolve-dnsname": {
      describe: (s) => {
        const name = param(psParams(s.args), ["name"], 0);
        return name === undefined ? undefined : `Look up ${name} in DNS`;
      },
    },
    "set-netfirewallprofile": {
      describe: (s) => {
        const p = psParams(s.args);
        const profiles = splitList([param(p, ["profile", "name"], 0)]);
        const enabled = param(p, ["enabled"])?.toLowerCase();
        if (enabled === undefined) return undefined;
        const on = /^(\$?true|1)$/.test(enabled);
        const which =
          profiles.length === 0 ? "all profiles" : `the ${list(profiles)} profile${profiles.length > 1 ? "s" : ""}`;
        return `Turn ${on ? "on" : "off"} the Windows firewall for ${which}`;
      },
      whatIf: true,
    },
    "test-connection": {
      describe: (s) => {
        const host = param(psParams(s.args), ["targetname", "computername", "destination"], 0);
        return host === undefined ? undefined : `Check whether ${host} responds on the network`;
      },
    },
    "test-netconnection": {
      describe: (s) => {
        const p = psParams(s.args);
        const host = param(p, ["computername", "remoteaddress"], 0);
        const port = param(p, ["port"]);
        if (host === undefined) return "Test the internet connection";
        return `Test the connection to ${host}${port === undefined ? "" : ` on port ${port}`}`;
      },
    },
  },
};

// Installed software, package managers and updates.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, hasArg, lc, posixSubcommand, psSwitchSet, winOpt } from "../args.ts";
import { change, changes, type Finding, type Invocation, type ProgramFamily, READ, reads } from "../types.ts";
import { list, says } from "../words.ts";

const installsSoftware = changes("installs or removes software");

const drivesWindowsUpdate = changes("drives Windows Update");

const yumFamily = ({ name, args: a }: Invocation): Finding | undefined => {
  const sub = posixSubcommand(a);
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
};

const pip = ({ name, args: a }: Invocation): Finding | undefined => {
  const sub = posixSubcommand(a);
  return ["list", "show", "freeze", "check", "--version", "-V"].includes(sub || (a[0] ?? ""))
    ? READ
    : change(`${name} ${sub} changes installed packages`);
};

export function windowsPackages(tool: "winget" | "choco", args: string[]): string | undefined {
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

export function posixPackages(args: string[]): string | undefined {
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

/** "Install 7zip" from the first name given; undefined without one. */
function named(verb: string, s: Invocation, what: string): string | undefined {
  const name = firstPos(s);
  return name === undefined ? undefined : `${verb} ${what}${name}`;
}

export const packages: ProgramFamily = {
  windows: {
    choco: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        const sub = a.find((x) => !x.startsWith("-")) ?? "";
        if (sub === "" && hasArg(args, "--version", "-v")) return READ;
        return ["list", "search", "find", "info", "outdated"].includes(sub)
          ? READ
          : change(`choco ${sub} installs or changes software`);
      },
      describe: (s) => windowsPackages("choco", s.args),
    },
    msiexec: {
      classify: installsSoftware.classify,
      describe: (s) => {
        const i = winOpt(s.args, "i");
        const x = winOpt(s.args, "x");
        if (i !== undefined) return `Install the software package ${i}`;
        if (x !== undefined) return `Uninstall the software package ${x}`;
        return undefined;
      },
    },
    usoclient: drivesWindowsUpdate,
    winget: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        const sub = a.find((x) => !x.startsWith("-")) ?? "";
        if (sub === "" && hasArg(args, "--version", "-v", "--info")) return READ;
        return ["list", "ls", "search", "find", "show", "view", "features"].includes(sub)
          ? READ
          : change(`winget ${sub} installs or changes software`);
      },
      describe: (s) => windowsPackages("winget", s.args),
    },
    wuauclt: drivesWindowsUpdate,
    wusa: installsSoftware,
  },
  posix: {
    apk: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return ["info", "search", "list", "policy", "version", "stats"].includes(sub)
          ? READ
          : change(`apk ${sub} changes installed software`);
      },
    },
    apt: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(a);
        return ["list", "search", "show", "policy", "depends", "rdepends", "showsrc", ""].includes(sub) ||
          a.includes("--version")
          ? READ
          : change(`apt ${sub} changes installed software`);
      },
      describe: (s) => posixPackages(s.args),
    },
    "apt-cache": reads,
    "apt-get": {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(a);
        return a.some((x) => x === "-s" || x === "--simulate" || x === "--dry-run" || x === "--just-print") ||
          a.includes("--version")
          ? READ
          : change(`apt-get ${sub} changes installed software`);
      },
      describe: (s) => posixPackages(s.args),
    },
    brew: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(a);
        return ["list", "info", "search", "outdated", "doctor", "config", "--version"].includes(sub || (a[0] ?? ""))
          ? READ
          : change(`brew ${sub} changes installed software`);
      },
    },
    dnf: { classify: yumFamily, describe: (s) => posixPackages(s.args) },
    dpkg: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) =>
          /^(-l|-L|-s|-S|-p|--list|--listfiles|--status|--search|--print-avail|--get-selections|--print-architecture|--version|--audit|-C)$/.test(
            x,
          ),
        )
          ? READ
          : change("dpkg installs or removes packages");
      },
    },
    "dpkg-query": reads,
    flatpak: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return ["list", "info", "search", "remotes"].includes(sub)
          ? READ
          : change(`flatpak ${sub} changes installed software`);
      },
    },
    ldconfig: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.includes("-p") || a.includes("--print-cache") ? READ : change("ldconfig rebuilds the library cache");
      },
    },
    npm: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(a);
        return ["ls", "list", "view", "info", "outdated", "-v", "--version", "root", "prefix"].includes(
          sub || (a[0] ?? ""),
        )
          ? READ
          : change(`npm ${sub} changes installed packages`);
      },
    },
    pip: { classify: pip },
    pip3: { classify: pip },
    rpm: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => /^-q|^--query|^-V|^--verify/.test(x)) &&
          !a.some((x) => /^-[iUeF]|^--(install|upgrade|erase|freshen|import)/.test(x))
          ? READ
          : change("rpm installs or removes packages");
      },
    },
    snap: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return ["list", "info", "find", "version", "services", "changes"].includes(sub)
          ? READ
          : change(`snap ${sub} changes installed software`);
      },
    },
    "update-alternatives": {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => ["--display", "--query", "--list", "--get-selections"].includes(x))
          ? READ
          : change("update-alternatives changes default programs");
      },
    },
    yum: { classify: yumFamily, describe: (s) => posixPackages(s.args) },
    zypper: { classify: yumFamily },
  },
  cmdlets: {
    "get-hotfix": { describe: says("List the installed Windows updates") },
    "get-windowsupdate": {
      describe: (s) =>
        psSwitchSet(s.args, "install") ? "Install the available Windows updates" : "List the available Windows updates",
    },
    "install-module": {
      describe: (s) => {
        const m = firstPos(s);
        return m === undefined ? undefined : `Install the PowerShell module ${m}`;
      },
    },
    "install-windowsupdate": { describe: says("Install the available Windows updates") },
    "install-package": { describe: (s) => named("Install", s, "") },
    "uninstall-module": { describe: (s) => named("Uninstall", s, "the PowerShell module ") },
    "uninstall-package": { describe: (s) => named("Uninstall", s, "") },
    "update-module": { describe: (s) => named("Update", s, "the PowerShell module ") },
  },
};

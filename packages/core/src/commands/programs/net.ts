// net.exe: one program for accounts, groups, services, network drives and shares.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { lc, winPositional } from "../args.ts";
import { change, type Finding, type Invocation, type ProgramFamily, READ } from "../types.ts";
import { list } from "../words.ts";
import { account } from "./accounts.ts";
import { winServices } from "./services.ts";

const netExe = ({ args }: Invocation): Finding | undefined => {
  const a = args.map(lc);
  const pos = winPositional(args);
  return netCommand(pos, a);
};

export function netDescribe(args: string[]): string | undefined {
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

export function netCommand(pos: string[], a: string[]): Finding {
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

export const net: ProgramFamily = {
  windows: {
    net: { classify: netExe, describe: (s) => netDescribe(s.args) },
    net1: { classify: netExe, describe: (s) => netDescribe(s.args) },
  },
};

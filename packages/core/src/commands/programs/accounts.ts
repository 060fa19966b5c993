// User accounts, groups and sign-in sessions: Windows (net is in net.ts), Active Directory and local cmdlets, POSIX.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, hasArg, hasArgPrefix, param, posixSubcommand, psParams } from "../args.ts";
import {
  change,
  changes,
  changesTheSystem,
  type Finding,
  type Invocation,
  type ProgramFamily,
  READ,
  reads,
} from "../types.ts";
import { list, says, splitList } from "../words.ts";

const endsUserSession = changes("ends a user session");

const changesAccounts = ({ name, args: a }: Invocation): Finding | undefined => {
  return name === "chage" && a.includes("-l") ? READ : change(`${name} changes user accounts`);
};

export function account(verb: string, who: string | undefined): string | undefined {
  return who === undefined ? undefined : `${verb} the user account '${who}'`;
}

/** Add-/Remove-LocalGroupMember: who joins or leaves which group. */
function groupMembers(s: Invocation, verb: "Add" | "Remove", preposition: "to" | "from"): string | undefined {
  const p = psParams(s.args);
  const group = param(p, ["group", "name"], 0);
  const members = splitList([param(p, ["member"], 1)]);
  if (group === undefined || members.length === 0) return undefined;
  return `${verb} ${list(members.map((x) => `'${x}'`))} ${preposition} the '${group}' group`;
}

export const accounts: ProgramFamily = {
  windows: {
    cmdkey: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "/list") && !hasArgPrefix(args, "/add", "/delete", "/generic")
          ? READ
          : change("cmdkey changes saved credentials"),
    },
    klist: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArg(args, "purge", "purge_bind") ? change("klist purges Kerberos tickets") : READ,
    },
    logoff: { classify: endsUserSession.classify, describe: says("Sign out the user") },
    msg: { classify: (): Finding | undefined => change("msg sends a message to a user") },
    quser: reads,
    qwinsta: reads,
    reset: endsUserSession,
    rwinsta: endsUserSession,
    tsdiscon: endsUserSession,
    whoami: { classify: reads.classify, describe: says("Show the current user") },
  },
  posix: {
    adduser: {
      classify: changesAccounts,
      describe: (s) => account("Create", s.args.filter((a) => !a.startsWith("-")).at(-1)),
    },
    chage: { classify: changesAccounts },
    chpasswd: { classify: changesAccounts },
    deluser: { classify: changesAccounts },
    getent: reads,
    gpasswd: { classify: changesAccounts },
    groupadd: { classify: changesAccounts },
    groupdel: { classify: changesAccounts },
    groupmod: { classify: changesAccounts },
    groups: reads,
    id: reads,
    last: reads,
    lastb: reads,
    lastlog: reads,
    loginctl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return sub === "" || sub.startsWith("list-") || sub.startsWith("show-") || sub.endsWith("-status")
          ? READ
          : change(`loginctl ${sub} changes sessions`);
      },
    },
    logname: reads,
    passwd: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.includes("-S") || a.includes("--status") ? READ : change("passwd changes a password");
      },
      describe: (s) => {
        const u = s.args.filter((a) => !a.startsWith("-")).at(-1);
        return u === undefined
          ? "Change the current user's password"
          : `Change the password of the user account '${u}'`;
      },
    },
    useradd: {
      classify: changesAccounts,
      describe: (s) => account("Create", s.args.filter((a) => !a.startsWith("-")).at(-1)),
    },
    userdel: {
      classify: changesAccounts,
      describe: (s) => account("Delete", s.args.filter((a) => !a.startsWith("-")).at(-1)),
    },
    usermod: { classify: changesAccounts },
    users: reads,
    visudo: { classify: changesAccounts },
    w: reads,
    wall: changesTheSystem,
    who: reads,
    whoami: { classify: reads.classify, describe: says("Show the current user") },
    write: changesTheSystem,
  },
  cmdlets: {
    "add-localgroupmember": {
      describe: (s) => groupMembers(s, "Add", "to"),
      whatIf: true,
    },
    "disable-adaccount": { describe: (s) => account("Disable", firstPos(s, ["identity"])) },
    "disable-localuser": { describe: (s) => account("Disable", firstPos(s)), whatIf: true },
    "enable-adaccount": { describe: (s) => account("Enable", firstPos(s, ["identity"])) },
    "enable-localuser": { describe: (s) => account("Enable", firstPos(s)), whatIf: true },
    "get-aduser": { describe: (s) => account("Show", firstPos(s, ["identity"])) },
    "get-localgroupmember": {
      describe: (s) => {
        const g = firstPos(s, ["group", "name"]);
        return g === undefined ? undefined : `Show the members of the '${g}' group`;
      },
    },
    "get-localuser": {
      describe: (s) => {
        const name = firstPos(s, ["name"]);
        return name === undefined ? "List the local user accounts" : `Show the user account '${name}'`;
      },
    },
    "new-localuser": { describe: (s) => account("Create", firstPos(s)) },
    "remove-localgroupmember": {
      describe: (s) => groupMembers(s, "Remove", "from"),
      whatIf: true,
    },
    "remove-localuser": { describe: (s) => account("Delete", firstPos(s)) },
    "set-adaccountpassword": {
      describe: (s) => {
        const who = firstPos(s, ["identity"]);
        return who === undefined ? undefined : `Reset the password of the user account '${who}'`;
      },
    },
    "unlock-adaccount": { describe: (s) => account("Unlock", firstPos(s, ["identity"])) },
  },
};

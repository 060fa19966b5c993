// Running programs: listing, starting and ending them.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, param, psParams, winOpt } from "../args.ts";
import { change, changesTheSystem, type Finding, type Invocation, type ProgramFamily, READ, reads } from "../types.ts";
import { fromPrevious, list, says, splitList } from "../words.ts";

const endsProcesses = ({ name, args: a }: Invocation): Finding | undefined => {
  return a.includes("-l") || a.includes("-L") ? READ : change(`${name} ends processes`);
};

export const processes: ProgramFamily = {
  windows: {
    qprocess: reads,
    taskkill: {
      classify: (): Finding | undefined => change("taskkill ends programs"),
      describe: (s) => {
        const im = winOpt(s.args, "im");
        const pid = winOpt(s.args, "pid");
        if (im !== undefined) return `Force the program '${im}' to close`;
        if (pid !== undefined) return `Force the process with ID ${pid} to close`;
        return undefined;
      },
    },
    tasklist: { classify: reads.classify, describe: says("List the running programs") },
  },
  posix: {
    htop: reads,
    kill: {
      classify: endsProcesses,
      describe: (s) => {
        const ids = s.args.filter((a) => /^\d+$/.test(a));
        return ids.length === 0 ? undefined : `Force the process with ID ${list(ids)} to close`;
      },
    },
    killall: {
      classify: endsProcesses,
      describe: (s) => {
        const t = s.args.filter((a) => !a.startsWith("-"));
        return t.length === 0 ? undefined : `Force the program ${list(t.map((x) => `'${x}'`))} to close`;
      },
    },
    lsof: reads,
    pgrep: reads,
    pidof: reads,
    pkill: {
      classify: endsProcesses,
      describe: (s) => {
        const t = s.args.filter((a) => !a.startsWith("-")).at(-1);
        return t === undefined ? undefined : `Force the program '${t}' to close`;
      },
    },
    ps: { classify: reads.classify, describe: says("List the running programs") },
    pstree: reads,
    screen: changesTheSystem,
    skill: { classify: endsProcesses },
    tmux: changesTheSystem,
    top: { classify: reads.classify, describe: says("Show the running programs and their resource usage") },
  },
  cmdlets: {
    "get-process": {
      describe: (s) => {
        const names = splitList([firstPos(s, ["name"])]);
        return names.length === 0
          ? "List the running programs"
          : `Show the running program ${list(names.map((n) => `'${n}'`))}`;
      },
    },
    "start-process": {
      describe: (s) => {
        const file = param(psParams(s.args), ["filepath"], 0);
        return file === undefined ? undefined : `Start the program ${file}`;
      },
      reason: "starts a program",
    },
    "stop-process": {
      describe: (s) => {
        const p = psParams(s.args);
        const names = splitList([param(p, ["name", "processname"])]);
        const ids = splitList([param(p, ["id"], 0)]);
        if (names.length > 0) return `Force the program ${list(names.map((n) => `'${n}'`))} to close`;
        if (ids.length > 0) return `Force the process with ID ${list(ids)} to close`;
        const from = fromPrevious("programs", s.prev, s.piped);
        return from ? `Force ${from} to close` : undefined;
      },
      whatIf: true,
      reason: "ends processes",
    },
  },
};

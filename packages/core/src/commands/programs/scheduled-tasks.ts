// Scheduled tasks and jobs: schtasks, the ScheduledTask cmdlets, cron and at.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, hasArgPrefix, lc, winOpt } from "../args.ts";
import { change, changesTheSystem, type Finding, type Invocation, type ProgramFamily, READ } from "../types.ts";

export function task(verb: string, name: string | undefined): string | undefined {
  return name === undefined ? undefined : `${verb} the scheduled task '${name}'`;
}

export const scheduledTasks: ProgramFamily = {
  windows: {
    schtasks: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        if (a.length === 0 || hasArgPrefix(args, "/query", "-query")) return READ;
        return change("schtasks changes or runs a scheduled task");
      },
      describe: (s) => {
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
    },
  },
  posix: {
    at: changesTheSystem,
    batch: changesTheSystem,
    crontab: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.length === 1 && a[0] === "-l"
          ? READ
          : a[0] === "-u" && a[2] === "-l"
            ? READ
            : change("crontab changes scheduled jobs");
      },
      describe: (s) =>
        s.args.includes("-l")
          ? "List the scheduled jobs"
          : s.args.includes("-r")
            ? "Delete all scheduled jobs"
            : undefined,
    },
  },
  cmdlets: {
    "disable-scheduledtask": { describe: (s) => task("Disable", firstPos(s, ["taskname"])), whatIf: true },
    "enable-scheduledtask": { describe: (s) => task("Enable", firstPos(s, ["taskname"])), whatIf: true },
    "get-scheduledtask": {
      describe: (s) => {
        const t = firstPos(s, ["taskname"]);
        return t === undefined ? "List the scheduled tasks" : `Show the scheduled task '${t}'`;
      },
    },
    "register-scheduledtask": { describe: (s) => task("Create", firstPos(s, ["taskname"])) },
    "set-scheduledtask": { describe: (s) => task("Change", firstPos(s, ["taskname"])) },
    "start-scheduledtask": { describe: (s) => task("Run", firstPos(s, ["taskname"])) },
    "stop-scheduledtask": { describe: (s) => task("Stop", firstPos(s, ["taskname"])) },
    "unregister-scheduledtask": { describe: (s) => task("Delete", firstPos(s, ["taskname"])) },
  },
};

// Printers and print jobs.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, param, psParams } from "../args.ts";
import { changesTheSystem, type ProgramFamily, reads } from "../types.ts";
import { says } from "../words.ts";

export const printers: ProgramFamily = {
  posix: {
    cancel: changesTheSystem,
    cupsdisable: changesTheSystem,
    cupsenable: changesTheSystem,
    lp: changesTheSystem,
    lpadmin: changesTheSystem,
    lpq: reads,
    lpr: changesTheSystem,
    lprm: changesTheSystem,
    lpstat: { classify: reads.classify, describe: says("Show the printers and print jobs") },
  },
  cmdlets: {
    "add-printer": {
      describe: (s) => {
        const name = firstPos(s, ["name", "connectionname"]);
        return name === undefined ? undefined : `Add the printer '${name}'`;
      },
    },
    "get-printer": {
      describe: (s) => {
        const name = firstPos(s, ["name"]);
        return name === undefined ? "List the printers" : `Show the printer '${name}'`;
      },
    },
    "get-printjob": {
      describe: (s) => {
        const name = firstPos(s, ["printername"]);
        return name === undefined ? "List the print jobs" : `List the print jobs for '${name}'`;
      },
    },
    "remove-printer": {
      describe: (s) => {
        const name = firstPos(s, ["name"]);
        return name === undefined ? undefined : `Remove the printer '${name}'`;
      },
    },
    "remove-printjob": {
      describe: (s) => {
        const name = param(psParams(s.args), ["printername"]);
        if (name !== undefined) return `Cancel the print jobs for '${name}'`;
        const prevName = s.prev?.name === "get-printjob" ? firstPos(s.prev, ["printername"]) : undefined;
        if (s.piped && prevName) return `Cancel the print jobs for '${prevName}'`;
        return s.piped ? "Cancel the print jobs from the previous step" : undefined;
      },
      whatIf: true,
    },
    "restart-printjob": { describe: says("Restart print jobs") },
  },
};

// Read-only vs change, and what a command does in plain words: the classifier behind the client approval policy
// `changes`, and the sentence the client contact reads before approving.
//
// A command is "read" only when every part of it is known to only look at the machine. Anything the classifier cannot
// understand with confidence — unknown programs, nested shells, scripts, computed command names, method calls on
// objects, writes through redirection, broken quoting — is a "change", so it goes to the client contact for approval.
//
// How it is built: each shell has a lexer and a walker (shells/posix.ts, shells/cmd.ts, shells/powershell.ts) that
// split a command line into its top-level steps; each step names a program, and one entry per program
// (programs/<family>.ts) says whether that invocation reads or changes and how to describe it. classifyCommand,
// summarizeCommand and describeChanges (what the approval names, change by change) read the same steps and entries.
//
// Decisions (also pinned by the tests):
// - PowerShell ForEach-Object / Where-Object / Measure-Command are read when every script block they are given is read;
//   ForEach-Object given a member name (`% Delete`) is a change.
// - `sudo`, `doas`, `env`, `nice`, `timeout`, `nohup`, `time`, `command`, `exec`: the wrapped command decides; sudo of
//   a read is a read.
// - Setting a shell or process variable (`set X=1`, `$env:X = 1`, `X=1`, `export X=1`, `cd`, `Set-Location`) is read:
//   it only lasts for this one process. Except variables that change which program runs (PATH, PATHEXT, LD_PRELOAD,
//   PSModulePath, …), aliases and functions, which are changes.
// - `Import-Module Name` is read (loads an installed module into this process); from a file path it is a change.
// - Approved PowerShell verbs that only look (Get, Test, Measure, Select, Find, Search, Show, Resolve, Compare,
//   ConvertTo, ConvertFrom, Wait, Receive, Read, Confirm, Join, Split) are read; every other verb is a change. A
//   Get-/Test- cmdlet given a switch that acts (-Install, -Download, -Repair, …, or any prefix of one) is a change.
// - A change cmdlet from the core set run with `-WhatIf` (and not `-WhatIf:$false`) only previews, so it is read.
// - A PowerShell switch is off when written `-X:$false`, `-X:0` or `-X:false`, for the classifier and the summary alike.
// - Invoke-WebRequest / Invoke-RestMethod are changes even for a GET (they are usually followed by running what they
//   fetched); POSIX curl to stdout without upload/POST flags is read, wget only with `-O -` or `--spider`.
// - Windows PowerShell 5.1 (`powershell`) maps `sc` to Set-Content and `curl`/`wget` to Invoke-WebRequest; `pwsh`
//   does not, so there they are the native programs.

import type { Shell } from "../shells.ts";
import { cmdScript } from "./shells/cmd.ts";
import { posixScript } from "./shells/posix.ts";
import { psScript } from "./shells/powershell.ts";
import type { CommandAnalysis, CommandClassification } from "./types.ts";
import { ParseError, Walk } from "./walk.ts";

export { describePrestate } from "./before.ts";
export { type ChangeLine, describeChanges } from "./changes.ts";
export {
  DATA_BUDGET_SPENT,
  joinPrestate,
  PRESTATE_LIMITS,
  PrestateRecord,
  PrestateRecords,
  prestateParts,
  withinContentBudget,
} from "./prestate.ts";
export { planProbes, type ReverseAnswer, readProbe, reverseCommand } from "./rollback.ts";
export { type CommandSummary, summarizeCommand } from "./summary.ts";
export type {
  CommandAnalysis,
  CommandClassification,
  CommandKind,
  CommandStep,
  FilePrestate,
  Prestate,
  Probe,
  ProbeCommand,
  Redirect,
  RegistryPrestate,
  ServicePrestate,
} from "./types.ts";
export { PRESTATE_MAX_BYTES } from "./types.ts";

/** Classify a command line or script as read-only or as a change. */
export function classifyCommand(shell: Shell, command: string): CommandClassification {
  const { kind, reasons } = analyzeCommand(shell, command);
  return { kind, reasons };
}

/** Classify and also return the top-level steps (what the plain-language summaries describe). */
export function analyzeCommand(shell: Shell, command: string): CommandAnalysis & { unattributed: readonly string[] } {
  const walk = new Walk(shell);
  let parseError: string | undefined;
  try {
    if (shell === "bash" || shell === "sh") posixScript(command, walk);
    else if (shell === "cmd") cmdScript(command, walk);
    else psScript(command, walk);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    parseError = err.message;
    walk.flag(`could not parse the command (${err.message})`);
  }
  const unattributed = walk.unattributed;
  if (walk.reasons.length > 0) {
    const steps = parseError ? [] : walk.steps;
    return { kind: "change", reasons: walk.reasons, steps, unattributed, ...(parseError ? { parseError } : {}) };
  }
  const reasons =
    walk.readNames.length > 0
      ? [`only reads (${walk.readNames.slice(0, 8).join(", ")}${walk.readNames.length > 8 ? ", …" : ""})`]
      : walk.steps.length > 0
        ? ["only evaluates values"]
        : ["empty command"];
  return { kind: "read", reasons, steps: walk.steps, unattributed };
}

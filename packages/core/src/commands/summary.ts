// Plain-language summaries of commands, for the approval request a client contact (an office manager, not an IT
// person) reads before saying yes. One sentence, no jargon where it can be avoided, never a guess presented as fact:
// anything not recognised is shown as "Run: <the command>".
//
// Conventions (pinned by the tests):
// - A script of more than one line is summarised by its size (`lines` is the number of lines once leading and
//   trailing blank lines are dropped) and, when it changes something, by how many changes it makes (each named by
//   describeChanges, ./changes.ts): "Run a PowerShell script of 42 lines that makes 5 changes; Caisey cannot tell
//   what one part of it does", "Run a shell script of 3 lines that makes one change: stop the cups service".
// - Sequences and pipelines: each step is described by its program's entry and the parts joined with "; then ", at
//   most three, then "; and N more steps". Pipeline stages that only filter or format (Select-Object, Sort-Object,
//   Format-Table, Where-Object, grep, head, sort, …) are left out while they only read. Steps past the third that
//   change something are announced: "; and 2 more steps, including changes".
// - A step whose output goes into a file says so, in the words of its change: "…; then replace the contents of the
//   file /etc/motd" (`>>`: "add the output to the end of the file …"). A step that only prints literal text (echo,
//   Write-Output) into a file is that change alone: "Add a line to the file /srv/app.conf".
// - A step that changes something is never described with a read-only sentence (see READ_ONLY_SENTENCE): when its
//   entry has nothing better, or the change comes from the step's own text (`$(rm x)`, `PATH=…`), it is "Run: …". A
//   step that only reads is never described with a change sentence (CHANGE_SENTENCE); `-WhatIf` makes it
//   "Preview (nothing is changed): stop the Print Spooler service".
// - Service start types are lower case: "Set the Print Spooler service to start disabled" (Set-Service and sc alike).
// - Windows services get their friendly names ("Print Spooler"), unknown ones are quoted ("the 'Foo' service"); Linux
//   services are named as written ("the cups service").
// - Passwords typed on the command line are never repeated in a summary.

import type { Shell } from "../shells.ts";
import { describeChanges, runsDownload } from "./changes.ts";
import { analyzeCommand } from "./index.ts";
import type { CommandStep } from "./types.ts";
import { READ_ONLY_SENTENCE, writeToFile } from "./words.ts";

export interface CommandSummary {
  summary: string;
  lines: number;
}

const MAX_PARTS = 3;
const RUN_MAX = 80;

export function summarizeCommand(shell: Shell, command: string): CommandSummary {
  const text = command
    .replace(/\r\n?/g, "\n")
    .replace(/^(?:[ \t]*\n)+/, "")
    .replace(/(?:\n[ \t]*)+$/, "");
  const lines = text.trim() === "" ? 0 : text.split("\n").length;
  if (lines === 0) return { summary: "Nothing to run", lines };
  if (lines > 1) return { summary: scriptSummary(shell, text, lines), lines };
  return { summary: summarizeLine(shell, text), lines };
}

const SCRIPT_KIND: Record<Shell, string> = {
  powershell: "PowerShell",
  pwsh: "PowerShell",
  bash: "shell",
  sh: "shell",
  cmd: "command",
};

function scriptSummary(shell: Shell, script: string, lines: number): string {
  const run = `Run a ${SCRIPT_KIND[shell]} script of ${lines} lines`;
  const changes = describeChanges(shell, script);
  const named = changes.filter((c) => c.kind === "change");
  const unknown = changes.length - named.length;
  const makes =
    named.length === 0
      ? ""
      : named.length === 1 && unknown === 0
        ? ` that makes one change: ${lowerFirst(named[0]?.text ?? "")}`
        : ` that makes ${count(named.length, "change")}`;
  const cannot =
    unknown === 0
      ? ""
      : `; Caisey cannot tell what ${unknown === 1 ? "one part of it does" : `${unknown} parts of it do`}`;
  return `${run}${makes}${cannot}`;
}

function count(n: number, what: string): string {
  return n === 1 ? `one ${what}` : `${n} ${what}s`;
}

/** "Run: <text>", the text cut to 80 characters (the last one an ellipsis) when longer. */
function runLiteral(text: string): string {
  const first = (text.split("\n")[0] ?? "").trim();
  return `Run: ${first.length > RUN_MAX ? `${first.slice(0, RUN_MAX - 1)}…` : first}`;
}

function summarizeLine(shell: Shell, line: string): string {
  const analysis = analyzeCommand(shell, line);
  if (analysis.parseError !== undefined || analysis.steps.length === 0) return runLiteral(line);
  // a change no step accounts for (a `case` statement, a definition): only the command itself is honest
  if (analysis.unattributed.length > 0) return runLiteral(line);
  const steps = analysis.steps;
  // download piped into a shell / iex: one honest sentence
  const dl = steps.map((_, i) => runsDownload(steps, i)).find((d) => d !== undefined);
  if (dl) return dl;
  const parts = steps.flatMap((step, i) =>
    describeStep(shell, step, steps[i - 1]).map((p) => ({
      text: p ?? runLiteral(steps.length === 1 ? line : step.raw),
      changes: step.kind === "change",
    })),
  );
  if (parts.length === 0) return runLiteral(line);
  const shown = parts.slice(0, MAX_PARTS).map((p, i) => (i === 0 ? p.text : `then ${lowerFirst(p.text)}`));
  let out = shown.join("; ");
  const hidden = parts.slice(MAX_PARTS);
  if (hidden.length > 0) {
    out += `; and ${hidden.length} more step${hidden.length === 1 ? "" : "s"}`;
    if (hidden.some((p) => p.changes)) out += ", including changes";
  }
  return out;
}

/**
 * The parts one step contributes to a summary, in order; undefined stands for "Run: <the step>". None for a stage that
 * only filters the previous one's output, or a blank step.
 */
export function describeStep(shell: Shell, step: CommandStep, prev: CommandStep | undefined): (string | undefined)[] {
  if (step.kind === "read" && step.piped && step.program?.filter && prev) return [];
  if (step.name === "" && step.kind === "read" && step.raw.trim() === "") return [];
  if (step.effects.length > 0) return [undefined];
  const { name, display, args, piped } = step;
  const inv = { shell, name, display, args, piped, prev };
  const printed = step.programChanges ? undefined : step.program?.prints?.(inv);
  // literal text printed into a file: the file's change says all of it ("Add a line to the file …")
  if (printed !== undefined && step.writes.length > 0)
    return step.writes.map((w) => writeToFile(w.target, w.append, printed));
  const sentence = step.program?.describe?.(inv);
  // an entry that describes its own change with a read-only sentence is wrong; say only what is certain
  const wrong = step.kind === "change" && step.writes.length === 0 && READ_ONLY_SENTENCE.test(sentence ?? "");
  const said = wrong ? undefined : sentence;
  // a change cmdlet that is read only because of -WhatIf
  const previews = step.kind === "read" && step.program?.whatIf && said !== undefined;
  return [
    previews ? `Preview (nothing is changed): ${lowerFirst(said)}` : said,
    ...step.writes.map((w) => writeToFile(w.target, w.append)),
  ];
}

export function lowerFirst(s: string): string {
  // keep "Run: …" and proper nouns at the start as they are; sentences start with a verb we can lower-case
  if (s.startsWith("Run: ")) return s;
  return s.charAt(0).toLowerCase() + s.slice(1);
}

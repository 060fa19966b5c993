// What a command will change, one line per change, in the words of the client's contact who approves it: every step
// of a pipeline, sequence or script that the classifier calls a change is named here, or said plainly to be beyond
// Caisey ("Caisey cannot tell what this part does: …"), never described as something harmless.
//
// Conventions (pinned by the tests):
// - A step's program names its own change with its entry's `describe` sentence ("Stop the Print Spooler service"),
//   when that sentence announces a change (CHANGE_SENTENCE: "Set …", "Delete …", "Add …"); a program Caisey does not
//   know, or one whose entry has no such sentence for these arguments, is a part Caisey cannot tell.
// - Output sent into a file is a change of that file: `>` "Replace the contents of the file …", `>>` "Add a line to
//   the file …" when the text is known (echo, printf, Write-Output of literal words), otherwise "Add the output to the
//   end of the file …".
// - A change whose arguments or file are computed when it runs (`rm "$f"` in a loop, `Stop-Service $name`) is a part
//   Caisey cannot tell: it cannot say what the name will be.
// - A step whose own text changes something (`$(rm x)`, `PATH=…`, a method call, an `if` or `foreach` whose body
//   changes something, a function definition), a command that does not parse, and the rest of a script the walker
//   stops at (`case`, a shell function) are parts Caisey cannot tell, quoted as written (trimmed, at most 160
//   characters).
// - Read-only steps are not listed: a command classified as read has no lines, one classified as a change at least one.

import type { Shell } from "../shells.ts";
import { analyzeCommand } from "./index.ts";
import type { CommandStep } from "./types.ts";
import { CHANGE_SENTENCE, url, writeToFile } from "./words.ts";

/** One line of what the contact approves: a change Caisey can name, or a part it cannot read. */
export interface ChangeLine {
  kind: "change" | "unknown";
  text: string;
}

const PART_MAX = 160;

/** A part of the command Caisey cannot read, quoted as written. */
export function unknownPart(text: string): ChangeLine {
  const part = text.trim().replace(/\s*\n\s*/g, " ");
  const shown = part.length > PART_MAX ? `${part.slice(0, PART_MAX - 1)}…` : part;
  return { kind: "unknown", text: `Caisey cannot tell what this part does: ${shown}` };
}

const changed = (text: string): ChangeLine => ({ kind: "change", text });

/** Every change the command makes, in the order it runs. */
export function describeChanges(shell: Shell, command: string): ChangeLine[] {
  const analysis = analyzeCommand(shell, command);
  if (analysis.kind === "read") return [];
  if (analysis.parseError !== undefined) return [unknownPart(command)];
  const { steps } = analysis;
  const lines = steps.flatMap((step, i) => (step.kind === "change" ? stepChanges(shell, steps, i) : []));
  // the walker stopped (a `case` statement, a function definition) or a change came after the last step
  if (analysis.unattributed.length > 0) lines.push(unknownPart(unread(command, steps)));
  return lines.length > 0 ? lines : [unknownPart(command)];
}

/** What step i changes: its program's change, then each file its output goes into. */
function stepChanges(shell: Shell, steps: readonly CommandStep[], i: number): ChangeLine[] {
  const step = steps[i] as CommandStep;
  const fetched = runsDownload(steps, i);
  if (fetched !== undefined) return [{ kind: "unknown", text: `${fetched}: Caisey cannot tell what that script does` }];
  if (step.effects.length > 0) return [unknownPart(step.raw)];
  const inv = { shell, name: step.name, display: step.display, args: step.args, piped: step.piped, prev: steps[i - 1] };
  const lines: ChangeLine[] = [];
  if (step.programChanges) {
    const sentence = step.program?.describe?.(inv);
    const named = sentence !== undefined && CHANGE_SENTENCE.test(sentence) && !step.args.some(computed);
    lines.push(named ? changed(sentence) : unknownPart(step.raw));
  }
  const printed = step.programChanges ? undefined : step.program?.prints?.(inv);
  for (const w of step.writes)
    lines.push(computed(w.target) ? unknownPart(step.raw) : changed(writeToFile(w.target, w.append, printed)));
  return lines;
}

/** A value the shell computes when the command runs (`$name`, `$(…)`, a loop's variable): what it names is unknown. */
function computed(arg: string): boolean {
  return /[$`]/.test(arg);
}

const FETCHERS = new Set(["invoke-restmethod", "invoke-webrequest", "curl", "wget"]);
const RUNNERS = new Set(["invoke-expression", "bash", "sh", "zsh", "dash", "python", "python3", "pwsh", "powershell"]);

/**
 * "Download and run a script from <url>" when step i runs what it downloads (fed by curl, wget or Invoke-WebRequest,
 * or `iex (irm …)`); undefined when it does not.
 */
export function runsDownload(steps: readonly CommandStep[], i: number): string | undefined {
  const step = steps[i];
  const prev = steps[i - 1];
  if (step === undefined || !RUNNERS.has(step.name)) return undefined;
  if (step.piped && prev && FETCHERS.has(prev.name))
    return `Download and run a script from ${url(prev.args) ?? "the internet"}`;
  const inner = step.args.join(" ");
  if (
    step.name === "invoke-expression" &&
    /\b(irm|iwr|invoke-restmethod|invoke-webrequest|downloadstring)\b/i.test(inner)
  )
    return `Download and run a script from ${url([inner]) ?? "the internet"}`;
  return undefined;
}

/** The text after the last step the walker recorded (where it stopped reading). */
function unread(command: string, steps: readonly CommandStep[]): string {
  let at = 0;
  for (const s of steps) {
    const found = s.raw === "" ? -1 : command.indexOf(s.raw, at);
    if (found >= 0) at = found + s.raw.length;
  }
  const rest = command.slice(at).replace(/^[\s;&|]+/, "");
  return rest === "" ? command : rest;
}

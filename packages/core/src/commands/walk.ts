// What a shell's walker collects while it reads a command line: the top-level steps, and every reason it is a change.

import type { Shell } from "../shells.ts";
import type { CommandStep, Finding, Program, Redirect } from "./types.ts";

export class ParseError extends Error {}

const MAX_DEPTH = 12;

/** A step as the walker found it, before the verdict. */
export type StepText = Pick<CommandStep, "name" | "display" | "args" | "raw" | "piped">;

export class Walk {
  readonly shell: Shell;
  readonly reasons: string[] = [];
  readonly readNames: string[] = [];
  readonly steps: CommandStep[] = [];
  depth = 0;
  /** Reasons found since the last top-level step: what the next step's own text does (substitutions, variables). */
  private pending: string[] = [];

  constructor(shell: Shell) {
    this.shell = shell;
  }

  flag(reason: string): void {
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
    if (!this.pending.includes(reason)) this.pending.push(reason);
  }

  /** Reasons that belong to no recorded step (a `case` statement the walker stops at, a definition). */
  get unattributed(): readonly string[] {
    return this.pending;
  }

  record(step: StepText, finding: Finding, program?: Program, writes: Redirect[] = []): void {
    const effects = this.pending.length === 0 ? [] : [...this.pending];
    for (const w of writes) this.flag(`redirects output to ${w.target}`);
    if (finding.kind === "change") this.flag(finding.reason ?? `${step.display} makes changes`);
    else if (step.display && !this.readNames.includes(step.display)) this.readNames.push(step.display);
    if (this.depth > 0) return;
    if (this.pending.length > 0) this.pending = [];
    const programChanges = finding.kind === "change";
    const kind = programChanges || writes.length > 0 || effects.length > 0 ? "change" : "read";
    const { name, display, args, raw, piped } = step;
    this.steps.push(
      program
        ? { name, display, args, raw, piped, kind, programChanges, writes, effects, program }
        : { name, display, args, raw, piped, kind, programChanges, writes, effects },
    );
  }

  nested(fn: () => void): void {
    if (this.depth >= MAX_DEPTH) {
      this.flag("nests commands too deeply to analyse");
      return;
    }
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
  }
}

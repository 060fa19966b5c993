// Rollback, the pure part: what the runtime must read before a change (planProbes), how its output becomes the
// prestate record (readProbe), and the command that puts back what the change changed (reverseCommand).
//
// The knowledge is per program, beside its classification and description (programs/<family>.ts): `probe` names what
// an invocation is about to change, `reverse` how to undo it when that is more than restoring each target as it was
// (a stop is undone by a start; chmod by the mode alone). This module only walks the steps.
//
// Decisions (pinned by the tests):
// - Prestate records come in the order of planProbes' probes, one per probe (a failed probe is a record with
//   `error`); the same target touched twice is probed once, before the whole command.
// - A reverse is proposed only when every change the command makes can be undone; otherwise none, and the reason
//   names the first part that cannot ("Caisey cannot undo this part: …").
// - The reverse undoes the steps in the opposite order, joined with `&&` (POSIX, cmd) or `;` (PowerShell 5.1 has no
//   `&&`). Its basis is `prestate` when any record was used, `inferred` when the command alone says how (mkdir).
// - File bytes cannot be written from cmd, so a cmd change whose undo needs them is undone in Windows PowerShell.
// - Restoring bytes goes in the command text, so it is bounded by the longest command (LIMITS.commandChars).

import type { Shell } from "../shells.ts";
import { POSIX_SHELLS } from "../shells.ts";
import { analyzeCommand } from "./index.ts";
import { joinUndos, restoreFile } from "./programs/files.ts";
import { parseRegQuery, registryProbe, restoreRegistry } from "./programs/registry.ts";
import { parseScQuery, parseServiceJson, parseSystemctlShow, serviceProbe } from "./programs/services.ts";
import { lowerFirst } from "./summary.ts";
import type { CommandStep, Invocation, Prestate, Probe, Target, Undo } from "./types.ts";

/** The answer of `GET …/commands/:cid/reverse` (DESIGN.md, Rollback). */
export type ReverseAnswer =
  | { reverse: { command: string; shell: Shell; summary: string; basis: "prestate" | "inferred" }; reason: string }
  | { reverse: null; reason: string };

interface StepPlan {
  step: CommandStep;
  inv: Invocation;
  /** What the step's program changes; undefined when Caisey cannot tell. */
  targets: Target[] | undefined;
  /** Files its output is redirected into. */
  writes: Target[] | undefined;
}

const key = (t: Target): string =>
  `${t.kind}\0${t.kind === "registry" ? `${t.target.toLowerCase()}\0${t.name.toLowerCase()}` : t.target}`;

/** The change steps of a command with what each touches; a string when the command cannot be planned at all. */
function planSteps(shell: Shell, command: string): StepPlan[] | string {
  const analysis = analyzeCommand(shell, command);
  if (analysis.kind === "read") return [];
  if (analysis.parseError !== undefined) return `Caisey could not read the command (${analysis.parseError})`;
  if (analysis.unattributed.length > 0) return "Caisey cannot tell what every part of the command changes";
  const { steps } = analysis;
  return steps.flatMap((step, i): StepPlan[] => {
    if (step.kind !== "change") return [];
    const { name, display, args, piped } = step;
    const inv: Invocation = { shell, name, display, args, piped, prev: steps[i - 1] };
    const targets = step.programChanges ? step.program?.probe?.(inv) : [];
    const files = step.writes.filter((w) => !/^\/dev\/(null|stdout|stderr)$/i.test(w.target) && w.target !== "nul");
    const writes = files.some((w) => /[$`]/.test(w.target))
      ? undefined
      : files.map((w): Target => ({ kind: "file", target: w.target }));
    return [{ step, inv, targets, writes }];
  });
}

function probeOf(shell: Shell, t: Target): Probe | undefined {
  if (t.kind === "file") return { kind: "file", target: t.target, read: "file" };
  if (t.kind === "registry") return registryProbe(shell, t.target, t.name);
  return serviceProbe(shell, t.target);
}

/** What the runtime reads before running `command`, in order, each target once; none for a read-only command. */
export function planProbes(shell: Shell, command: string): Probe[] {
  const plan = planSteps(shell, command);
  if (typeof plan === "string") return [];
  const seen = new Set<string>();
  const out: Probe[] = [];
  for (const p of plan) {
    for (const t of [...(p.targets ?? []), ...(p.writes ?? [])]) {
      const probe = probeOf(shell, t);
      if (probe === undefined || seen.has(key(t))) continue;
      seen.add(key(t));
      out.push(probe);
    }
  }
  return out;
}

/** A probe command's output as the prestate record (a file is read by the runtime itself). */
export function readProbe(
  probe: Exclude<Probe, { kind: "file" }>,
  out: { stdout: string; stderr?: string; exitCode: number },
): Prestate {
  switch (probe.read.format) {
    case "reg-query":
      return parseRegQuery(probe.target, probe.kind === "registry" ? probe.name : "", out);
    case "sc-query":
      return parseScQuery(probe.target, out.stdout);
    case "service-json":
      return parseServiceJson(probe.target, out.stdout);
    case "systemctl-show":
      return parseSystemctlShow(probe.target, out.stdout);
  }
}

function restoreOne(shell: Shell, p: Prestate): Undo {
  if (p.kind === "file") return restoreFile(shell, p);
  if (p.kind === "registry") return restoreRegistry(shell, p);
  return { reason: `Caisey does not know what changed on the ${p.target} service` };
}

/** The undo of every step, last step first, written in `target` (the shell the reverse runs in). */
function undoAll(plan: StepPlan[], probes: Probe[], target: Shell, prestate: readonly Prestate[]): Undo {
  const recorded = new Map<string, Prestate>();
  for (const [i, probe] of probes.entries()) {
    const p = prestate[i];
    if (p !== undefined && p.kind === probe.kind) recorded.set(key(probe), p);
  }
  const before = (ts: readonly Target[]): Prestate[] =>
    ts.map(
      (t) =>
        recorded.get(key(t)) ?? ({ ...t, exists: false, error: "nothing was recorded before the change" } as Prestate),
    );
  const undos: Undo[] = [];
  for (const { step, inv, targets, writes } of [...plan].reverse()) {
    const cannot = { reason: `Caisey cannot undo this part: ${step.raw.trim()}` };
    if (step.effects.length > 0 || writes === undefined) return cannot;
    if (step.programChanges) {
      const hook = step.program?.reverse?.(inv, before(targets ?? []), target);
      if (hook !== undefined) undos.push(hook);
      else if (targets === undefined) return cannot;
      else undos.push(joinUndos(before(targets).map((p) => restoreOne(target, p))));
    }
    undos.push(joinUndos(before(writes).map((p) => restoreOne(target, p))));
  }
  return joinUndos(undos);
}

/**
 * The command that undoes `command` (run in `shell`), from the prestate recorded before it ran; or none, and why.
 * `prestate` is the `probes` of its command.prestate event (empty when there was none).
 */
export function reverseCommand(shell: Shell, command: string, prestate: readonly Prestate[]): ReverseAnswer {
  const plan = planSteps(shell, command);
  if (typeof plan === "string") return { reverse: null, reason: plan };
  if (plan.length === 0) return { reverse: null, reason: "The command only reads: there is nothing to undo" };
  const probes = planProbes(shell, command);
  let target = shell;
  let undo = undoAll(plan, probes, target, prestate);
  if ("needs" in undo && shell === "cmd") {
    target = "powershell";
    undo = undoAll(plan, probes, target, prestate);
  }
  if ("needs" in undo) return { reverse: null, reason: "Caisey cannot write this undo in this shell" };
  if ("reason" in undo) return { reverse: null, reason: undo.reason };
  if (undo.commands.length === 0) return { reverse: null, reason: "Caisey found nothing to undo" };
  const commands = undo.commands.filter((c, i) => undo.commands.indexOf(c) === i);
  const joiner = POSIX_SHELLS.includes(target) || target === "cmd" ? " && " : "; ";
  const summary = undo.summaries
    .filter((s, i) => undo.summaries.indexOf(s) === i)
    .map((s, i) => (i === 0 ? s : `then ${lowerFirst(s)}`))
    .join("; ");
  const reason =
    undo.basis === "prestate"
      ? "Puts back what Caisey recorded before the change"
      : "The command itself says exactly how to undo it";
  return { reverse: { command: commands.join(joiner), shell: target, summary, basis: undo.basis }, reason };
}

// What a command is made of once a shell's walker has read it, and what Caisey knows about a program.

import type { Shell } from "../shells.ts";

export type CommandKind = "read" | "change";

export interface CommandClassification {
  kind: CommandKind;
  /** Why: for a change, one short sentence per reason; for a read, a single "only reads …" line. */
  reasons: string[];
}

/** Output sent into a file by the shell (`> file`, `>> file`), not by the program. */
export interface Redirect {
  target: string;
  append: boolean;
}

/** One simple command found at the top level of a command line (pipeline stages and sequence parts, in order). */
export interface CommandStep {
  /** Lower-case program or cmdlet name with aliases resolved (PowerShell: `get-childitem`), wrappers (sudo) removed. */
  name: string;
  /** The name as written (after wrappers), for messages. */
  display: string;
  /** Arguments as plain strings, quotes removed (PowerShell comma lists kept together: `a,b`). */
  args: string[];
  /** The source text of this step. */
  raw: string;
  /** True when the step reads the previous pipeline stage's output. */
  piped: boolean;
  /** "change" when the program changes something, the step writes its output into a file, or its own text does. */
  kind: CommandKind;
  /** True when the program itself changes something (apart from the step's redirections and its own text). */
  programChanges: boolean;
  /** Files the step's output is redirected into. */
  writes: Redirect[];
  /** Changes made by the step's own text rather than by its program or its redirections (`$(rm x)`, `PATH=…`). */
  effects: string[];
  /** What Caisey knows about the program the step runs; undefined for unknown programs, paths and computed names. */
  program?: Program;
}

export interface CommandAnalysis extends CommandClassification {
  steps: CommandStep[];
  /** Set when the text could not be tokenized; steps is then empty. */
  parseError?: string;
}

/** A verdict on one invocation: a read, or a change and why (one short sentence for the technician). */
export interface Finding {
  kind: CommandKind;
  reason?: string;
}

export const READ: Finding = { kind: "read" };
export const change = (reason: string): Finding => ({ kind: "change", reason });

/** One invocation of a program, as a program entry sees it. */
export interface Invocation {
  shell: Shell;
  /** Lower-case name, aliases resolved, `.exe` dropped. */
  name: string;
  display: string;
  args: string[];
  piped: boolean;
  /** The step before this one (when describing: a piped step often acts on what the previous one listed). */
  prev?: CommandStep | undefined;
  /** PowerShell: for each argument, whether it is one script block `{ … }`. */
  scriptBlocks?: readonly boolean[];
  /** POSIX: resolves a command a program runs itself (`find -exec rm {} ;`), wrappers included. */
  nested?: (words: string[]) => { finding: Finding; display: string };
}

/**
 * Everything Caisey knows about one program, cmdlet or builtin. Classification and plain-language description read
 * the same invocation from the same entry, so they cannot be about different programs.
 */
export interface Program {
  /** Read or change; undefined leaves it to the shell's general rule (PowerShell: the verb; elsewhere: unknown). */
  classify?: (inv: Invocation) => Finding | undefined;
  /**
   * One sentence for the client contact; undefined when Caisey cannot say it with confidence ("Run: …" then). For an
   * invocation classified as a change it is also the change the approval names, so it says what changes, in the
   * contact's words ("Stop the Print Spooler service", "Add a line to the file /srv/app.conf").
   */
  describe?: (inv: Invocation) => string | undefined;
  /**
   * The exact text the program prints when its arguments alone decide it (echo, printf, Write-Output): a redirection
   * of it into a file is then named by what it adds ("Add a line to the file …"), and the step by that alone.
   */
  prints?: (inv: Invocation) => string | undefined;
  /** When piped and reading, it only filters or formats what the previous step produced (left out of summaries). */
  filter?: true;
  /** PowerShell: honours -WhatIf, which makes it only preview. */
  whatIf?: true;
  /** PowerShell, decided by its verb: what it changes, for the technician (default: from the verb). */
  reason?: string;
  /**
   * What this invocation is about to change, for the runtime to record first (command.prestate); undefined when it
   * cannot tell (a pattern, a computed name, a whole registry key, a folder's tree), so no reverse is proposed.
   */
  probe?: (inv: Invocation) => Target[] | undefined;
  /**
   * How to undo this invocation from what its targets were before (`before`, one record per target `probe` named, in
   * order), written in `shell`; undefined leaves it to restoring each record as a whole (see ../rollback.ts).
   */
  reverse?: (inv: Invocation, before: readonly Prestate[], shell: Shell) => Undo | undefined;
}

/** Something a change touches: a file (path as written), a registry value (key as reg.exe writes it), a service. */
export type Target =
  | { kind: "file"; target: string }
  | { kind: "registry"; target: string; name: string }
  | { kind: "service"; target: string };

/** How a probe's output becomes a prestate record (../rollback.ts readProbe). */
export type ProbeFormat = "reg-query" | "sc-query" | "service-json" | "systemctl-show";

/**
 * What the runtime reads before a change, under the same user as the command, bounded in time and size. A file is
 * read natively by the runtime (`read: "file"`: stat, SHA-256, the bytes up to 1 MiB), its path resolved against the
 * command's working directory; the rest by running `command`, read-only, in `shell`, its stdout read as `format`.
 */
export type Probe =
  | { kind: "file"; target: string; read: "file" }
  | { kind: "registry"; target: string; name: string; read: ProbeCommand }
  | { kind: "service"; target: string; read: ProbeCommand };

export interface ProbeCommand {
  shell: Shell;
  command: string;
  format: ProbeFormat;
}

/** Content kept in a file's prestate: up to this many bytes; larger files are recorded by their hash only. */
export const PRESTATE_MAX_BYTES = 1024 * 1024;

/**
 * The record of what a target was before the change (DESIGN.md, command.prestate). `error` marks a probe that failed
 * (recorded, never blocking the command): nothing is known then.
 */
export type Prestate = FilePrestate | RegistryPrestate | ServicePrestate;

export interface FilePrestate {
  kind: "file";
  /** The absolute path the runtime read. */
  target: string;
  exists: boolean;
  sha256?: string;
  bytes?: number;
  /** POSIX permission bits, octal ("0644"). */
  mode?: string;
  /** POSIX owner, "uid:gid". */
  owner?: string;
  /** True when the path was a folder (no content recorded). */
  directory?: boolean;
  /** The content, base64, when at most PRESTATE_MAX_BYTES. */
  data?: string;
  /** Why `data` is missing from a file small enough to keep it (the command's content budget was spent). */
  dataOmitted?: string;
  error?: string;
}

export interface RegistryPrestate {
  kind: "registry";
  /** The key as reg.exe writes it: HKLM\Software\PrintSpooler. */
  target: string;
  /** The value's name; "" for the key's default value. */
  name: string;
  exists: boolean;
  /** REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY, REG_NONE. */
  type?: string;
  /** As reg query prints it: DWORD/QWORD in decimal, BINARY as hex, MULTI_SZ items joined with "\0". */
  value?: string;
  error?: string;
}

export interface ServicePrestate {
  kind: "service";
  target: string;
  exists: boolean;
  /**
   * Windows: automatic, automatic-delayed, manual, disabled, boot, system. systemd: the unit file state (enabled,
   * disabled, masked, static, …).
   */
  startType?: string;
  /** running, stopped, paused, starting, stopping (systemd: active is running, inactive and failed are stopped). */
  state?: string;
  error?: string;
}

/** One step's undo: the commands (in order) and what they do in the contact's words; or why there is none. */
export type Undo =
  | { commands: string[]; summaries: string[]; basis: "prestate" | "inferred" }
  | { reason: string }
  /** Written in PowerShell although the change ran in cmd (file bytes: cmd cannot write them). */
  | { needs: "powershell" };

/** Where a name is looked up: Windows programs (cmd and PowerShell), cmd.exe builtins, POSIX programs, cmdlets. */
export const TABLES = ["windows", "cmd", "posix", "cmdlets"] as const;
export type ProgramTable = (typeof TABLES)[number];

/** The programs of one family (files, services, …), by table and lower-case name. */
export type ProgramFamily = Partial<Record<ProgramTable, Record<string, Program>>>;

/** A program that only ever reads. */
export const reads: Program = { classify: () => READ };

/** A program that always changes something; `what` completes "<name> …" as the reason. */
export function changes(what: string): Program {
  return { classify: ({ name }) => change(`${name} ${what}`) };
}

/** A program that only reads when run bare or with one of `flags` (exact); otherwise a change, for `reason`. */
export function readsBareOr(flags: string[], reason: string): Program {
  return { classify: ({ args }) => (args.length === 0 || args.some((x) => flags.includes(x)) ? READ : change(reason)) };
}

/** A program that changes the system in ways not worth telling apart here. */
export const changesTheSystem = changes("changes the system");

// Files and folders: listing, reading, copying, deleting, permissions, archives, editors.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { LIMITS } from "../../limits.ts";
import type { Shell } from "../../shells.ts";
import {
  hasArg,
  hasArgPrefix,
  param,
  posixFlag,
  posixPositional,
  psGiven,
  psParams,
  psSwitchSet,
  winOpt,
} from "../args.ts";
import { cmdQuote, psQuote, shQuote } from "../quote.ts";
import {
  change,
  changes,
  type FilePrestate,
  type Finding,
  type Invocation,
  type Prestate,
  type ProgramFamily,
  READ,
  reads,
  type Target,
  type Undo,
} from "../types.ts";
import { fromPrevious, list, literalLines, PS_COMPUTED, splitList, writeToFile } from "../words.ts";
import { isRegistry, paths, regPath } from "./registry.ts";

const copiesFilesWindows = changes("copies or writes files");

const compresses = ({ name, args: a }: Invocation): Finding | undefined => {
  return posixFlag(a, "lct", ["list", "stdout", "test"]) ? READ : change(`${name} compresses or decompresses files`);
};

const editsFiles = changes("edits files");

const deletesFiles = changes("deletes files");

const writesFiles = changes("creates, copies or moves files");

const changesPermissions = changes("changes permissions or ownership");

const deletesFoldersCmd = changes("deletes folders");

const createsFolderCmd = changes("creates a folder");

const copiesFilesCmd = changes("copies, moves or renames files");

const definesCommandOrCreates = ({ display, args }: Invocation): Finding | undefined => {
  if (args.some((a) => /^(function|alias):/i.test(a))) return change(`${display} redefines a command`);
  return undefined;
};

export function removeItem(s: Invocation): string | undefined {
  const p = psParams(s.args);
  const targets = splitList([param(p, ["path", "literalpath"], 0)]);
  const recurse = psSwitchSet(s.args, "recurse");
  if (targets.length === 0) {
    const from = fromPrevious("files", s.prev, s.piped);
    return from ? `Delete ${from}` : undefined;
  }
  if (targets.every(isRegistry))
    return `Delete registry key ${paths(targets)}${recurse ? " and everything in it" : ""}`;
  return `Delete ${paths(targets)}${recurse ? " and everything in it" : ""}`;
}

/** `dir` (cmd, and the GNU program): the folder listed, switches (`/s`, and `-l` outside cmd) left out. */
function listFolder(s: Invocation): string {
  const targets = s.args.filter((a) => !/^\/[a-z]/i.test(a) && !(s.shell !== "cmd" && a.startsWith("-")));
  return listFiles(targets[0], hasArg(s.args, "/s"));
}

export function listFiles(where: string | undefined, recursive: boolean): string {
  if (where !== undefined && isRegistry(where)) return `List the registry keys in ${regPath(where)}`;
  return `List the files in ${where ?? "the current folder"}${recursive ? " and its subfolders" : ""}`;
}

export function cmdDelete(args: string[], folder: boolean): string | undefined {
  const targets = args.filter((a) => !/^\/[a-z]$/i.test(a));
  if (targets.length === 0) return undefined;
  const all = folder ? hasArg(args, "/s") : false;
  return `Delete ${list(targets)}${all ? " and everything in it" : hasArg(args, "/s") ? " (including in subfolders)" : ""}`;
}

export function posixDelete(args: string[], folder: boolean): string | undefined {
  const targets = args.filter((a) => !a.startsWith("-"));
  if (targets.length === 0) return undefined;
  const recursive = !folder && args.some((a) => /^-[a-zA-Z]*[rR]/.test(a) || a === "--recursive");
  return `Delete ${list(targets)}${recursive ? " and everything in it" : ""}`;
}

export function copyMove(verb: "Copy" | "Move", pos: string[]): string | undefined {
  if (pos.length < 2) return undefined;
  return `${verb} ${list(pos.slice(0, -1))} to ${pos[pos.length - 1]}`;
}

// Rollback: which files an invocation is about to change, and how to put a file back as it was.

/**
 * Files named literally, as probe targets; undefined when any is computed when the command runs or, unless `literal`
 * (PowerShell -LiteralPath), a wildcard pattern: Caisey cannot tell which files those are.
 */
export function fileTargets(paths: readonly (string | undefined)[], literal = false): Target[] | undefined {
  if (paths.length === 0 || paths.some((p) => p === undefined || p === "" || /[$`]/.test(p))) return undefined;
  if (!literal && paths.some((p) => /[*?[]/.test(p ?? ""))) return undefined;
  return paths.map((p) => ({ kind: "file", target: p as string }));
}

/** POSIX operands, after `--` too; undefined when an option takes the next word (Caisey does not guess which). */
function posixOperands(args: readonly string[], valued: string[] = []): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--") return [...out, ...args.slice(i + 1)];
    if (valued.includes(a)) i++;
    else if (/^--target-directory|^-[a-zA-Z]*t$/.test(a)) return undefined;
    else if (!a.startsWith("-") || a === "-") out.push(a);
  }
  return out;
}

/** `cp a b`, `install -m 644 a b`: the one destination, when there is one source. */
const posixDestination =
  (valued: string[] = []) =>
  ({ args }: Invocation): Target[] | undefined => {
    const ops = posixOperands(args, valued);
    return ops?.length === 2 ? fileTargets([ops[1]]) : undefined;
  };

/** `mv a b`: the source (it disappears) and the destination (it is replaced). */
function posixMoveTargets({ args }: Invocation): Target[] | undefined {
  const ops = posixOperands(args);
  return ops?.length === 2 ? fileTargets(ops) : undefined;
}

/** `chmod 640 a b`, `chown app:app a`: the files after the mode or owner; never recursively. */
function posixAttributeTargets({ args }: Invocation): Target[] | undefined {
  if (posixFlag(args, "R", ["recursive"])) return undefined;
  const ops = posixOperands(args, ["--reference"]);
  return ops && ops.length >= 2 ? fileTargets(ops.slice(1)) : undefined;
}

const cmdOperands = (args: readonly string[]): string[] => args.filter((a) => !/^\/[a-z-]+$/i.test(a));

/** `del a b`: the files, when none is a pattern; not with /s (it deletes in every subfolder). */
function cmdDeleteTargets({ args }: Invocation): Target[] | undefined {
  return hasArg(args, "/s") ? undefined : fileTargets(cmdOperands(args));
}

/** A file cmdlet's -Path (comma lists too) or -LiteralPath; never a registry path (those are keys, not values). */
const psPathTargets =
  (names: string[]) =>
  (s: Invocation): Target[] | undefined => {
    const targets = splitList([param(psParams(s.args), names, 0)]);
    if (targets.some(isRegistry)) return undefined;
    return fileTargets(targets, psGiven(s.args, "literalpath", 1));
  };

/** The part of a restore that differs: the bytes (and mode), only the mode, or only the owner. */
type FileAspect = "content" | "mode" | "owner";

/** chmod and chown are undone by putting back only what they change. */
const restoresOnly =
  (aspect: FileAspect) =>
  (_inv: Invocation, before: readonly Prestate[], shell: Shell): Undo | undefined =>
    before.length === 0
      ? undefined
      : joinUndos(before.map((p) => (p.kind === "file" ? restoreFile(shell, p, aspect) : { reason: "" })));

/** Several undos as one, in order; the first that has none decides. */
export function joinUndos(undos: readonly Undo[]): Undo {
  const commands: string[] = [];
  const summaries: string[] = [];
  let basis: "prestate" | "inferred" = "inferred";
  for (const u of undos) {
    if (!("commands" in u)) return u;
    commands.push(...u.commands);
    summaries.push(...u.summaries);
    if (u.basis === "prestate") basis = "prestate";
  }
  return { commands, summaries, basis };
}

/** Printed as they are; `-` is escaped too, so no format starts like an option. */
const SAFE_PRINTF_BYTE = /[A-Za-z0-9 ._,:;=+/@#!?~^&*(){}<>|[\]"$`]/;

/**
 * The text of a POSIX `printf` format that prints exactly `bytes`: every byte outside a safe printable set (quotes,
 * `%`, `\\`, control bytes, NUL, bytes of UTF-8 or not) as a three-digit octal escape, single-quoted for the shell.
 */
export function printfBytes(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && SAFE_PRINTF_BYTE.test(ch) ? ch : `\\${b.toString(8).padStart(3, "0")}`;
  }
  return `'${out}'`;
}

function fromBase64(data: string): Uint8Array {
  const bin = atob(data);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** How to put one file back as the prestate recorded it, written in `shell`. */
export function restoreFile(shell: Shell, before: FilePrestate, aspect: FileAspect = "content"): Undo {
  const file = before.target;
  const posix = shell === "bash" || shell === "sh";
  if (before.error !== undefined)
    return { reason: `Caisey could not read ${file} before the change (${before.error})` };
  if (before.directory) return { reason: `${file} was a folder: Caisey keeps no copy of a folder's contents` };
  if (!before.exists) {
    if (aspect !== "content") return { reason: `${file} did not exist before the change: there is nothing to undo` };
    const command = posix
      ? `rm -f -- ${shQuote(file)}`
      : shell === "cmd"
        ? cmdQuote(file) && `del /f /q ${cmdQuote(file)}`
        : `Remove-Item -LiteralPath ${psQuote(file)} -Force`;
    if (command === undefined) return { needs: "powershell" };
    return {
      commands: [command],
      summaries: [`Delete ${file}, which did not exist before the change`],
      basis: "prestate",
    };
  }
  if (aspect !== "content") {
    const was = aspect === "mode" ? before.mode : before.owner;
    if (!posix || was === undefined) return { reason: `Caisey did not record the ${aspect} of ${file}` };
    return {
      commands: [`${aspect === "mode" ? "chmod" : "chown"} ${was} -- ${shQuote(file)}`],
      summaries: [`Set the ${aspect === "mode" ? "permissions" : "owner"} of ${file} back to ${was}`],
      basis: "prestate",
    };
  }
  if (before.data === undefined) {
    const size = before.bytes === undefined ? "" : `${before.bytes} bytes, `;
    return {
      reason: `${file} was larger than 1 MiB before the change (${size}SHA-256 ${before.sha256 ?? "unknown"}): Caisey kept only its hash, so it cannot put its contents back`,
    };
  }
  if (shell === "cmd") return { needs: "powershell" };
  const bytes = fromBase64(before.data);
  const commands = posix
    ? [
        `printf ${printfBytes(bytes)} > ${shQuote(file)}`,
        ...(before.mode ? [`chmod ${before.mode} -- ${shQuote(file)}`] : []),
      ]
    : [
        `Set-Content -LiteralPath ${psQuote(file)} ${shell === "pwsh" ? "-AsByteStream" : "-Encoding Byte"} -Value ([Convert]::FromBase64String('${before.data}'))`,
      ];
  if (commands.join(" && ").length > LIMITS.commandChars - 1024)
    return {
      reason: `${file} was larger than Caisey can restore from the console: ${bytes.length} bytes; restore it by hand from the pre-state`,
    };
  return {
    commands,
    summaries: [`Put back the contents ${file} had before the change (${bytes.length} bytes)`],
    basis: "prestate",
  };
}

export const files: ProgramFamily = {
  windows: {
    attrib: {
      classify: ({ args }: Invocation): Finding | undefined =>
        args.some((x) => /^[+-][rahsiovxpu]$/i.test(x)) ? change("attrib changes file attributes") : READ,
    },
    cacls: {
      classify: ({ args }: Invocation): Finding | undefined =>
        args.length <= 1 ? READ : change("cacls changes permissions"),
    },
    cipher: {
      classify: ({ args }: Invocation): Finding | undefined =>
        args.length === 0 ? READ : change("cipher encrypts, decrypts or wipes data"),
    },
    comp: reads,
    compact: {
      classify: ({ args }: Invocation): Finding | undefined =>
        args.every((x) => !/^\/[cu]/i.test(x)) ? READ : change("compact compresses or decompresses files"),
    },
    expand: copiesFilesWindows,
    fc: reads,
    icacls: {
      classify: ({ args }: Invocation): Finding | undefined => {
        if (
          hasArgPrefix(
            args,
            "/grant",
            "/deny",
            "/remove",
            "/reset",
            "/setowner",
            "/setintegritylevel",
            "/restore",
            "/save",
            "/inheritance",
            "/substitute",
          )
        )
          return change("icacls changes permissions");
        return READ;
      },
      describe: (s) => {
        const target = s.args[0];
        if (target === undefined) return undefined;
        return s.args.length === 1 ? `Show the permissions of ${target}` : `Change the permissions of ${target}`;
      },
    },
    mklink: copiesFilesWindows,
    replace: copiesFilesWindows,
    robocopy: {
      classify: copiesFilesWindows.classify,
      describe: (s) => copyMove("Copy", s.args.filter((a) => !/^\/[a-z]/i.test(a)).slice(0, 2)),
    },
    takeown: {
      classify: (): Finding | undefined => change("takeown takes ownership of files"),
      describe: (s) => {
        const f = winOpt(s.args, "f");
        return f === undefined ? undefined : `Take ownership of ${f}`;
      },
    },
    tree: reads,
    where: reads,
    xcopy: {
      classify: copiesFilesWindows.classify,
      describe: (s) =>
        copyMove(
          "Copy",
          s.args.filter((a) => !/^\/[a-z-]+$/i.test(a)),
        ),
    },
  },
  cmd: {
    dir: { classify: reads.classify, describe: listFolder },
    type: {
      classify: reads.classify,
      describe: (s) => (s.args[0] === undefined ? undefined : `Show the contents of ${s.args[0]}`),
    },
    copy: {
      classify: copiesFilesCmd.classify,
      probe: ({ args }) => {
        const ops = cmdOperands(args);
        return ops.length === 2 && !ops.some((o) => o.includes("+")) ? fileTargets([ops[1]]) : undefined;
      },
      describe: (s) =>
        copyMove(
          "Copy",
          s.args.filter((a) => !/^\/[a-z]$/i.test(a)),
        ),
    },
    del: { classify: deletesFiles.classify, describe: (s) => cmdDelete(s.args, false), probe: cmdDeleteTargets },
    erase: { classify: deletesFiles.classify, describe: (s) => cmdDelete(s.args, false), probe: cmdDeleteTargets },
    md: {
      classify: createsFolderCmd.classify,
      describe: (s) => (s.args[0] === undefined ? undefined : `Create the folder ${s.args[0]}`),
    },
    mkdir: {
      classify: createsFolderCmd.classify,
      describe: (s) => {
        const targets = s.args.filter((a) => !a.startsWith("-") && !/^\/[a-z]$/i.test(a));
        return targets.length === 0 ? undefined : `Create the folder ${list(targets)}`;
      },
    },
    move: {
      classify: copiesFilesCmd.classify,
      probe: ({ args }) => {
        const ops = cmdOperands(args);
        return ops.length === 2 ? fileTargets(ops) : undefined;
      },
      describe: (s) =>
        copyMove(
          "Move",
          s.args.filter((a) => !/^\/[a-z]$/i.test(a)),
        ),
    },
    rd: { classify: deletesFoldersCmd.classify, describe: (s) => cmdDelete(s.args, true) },
    ren: {
      classify: copiesFilesCmd.classify,
      describe: (s) => (s.args.length === 2 ? `Rename ${s.args[0]} to ${s.args[1]}` : undefined),
    },
    rename: {
      classify: copiesFilesCmd.classify,
      describe: (s) => (s.args.length === 2 ? `Rename ${s.args[0]} to ${s.args[1]}` : undefined),
    },
    rmdir: {
      classify: deletesFoldersCmd.classify,
      describe: (s) => (s.shell === "cmd" ? cmdDelete(s.args, true) : posixDelete(s.args, true)),
    },
  },
  posix: {
    b2sum: reads,
    basename: reads,
    bzcat: reads,
    bzip2: { classify: compresses },
    cat: {
      classify: reads.classify,
      describe: (s) => {
        const targets = s.args.filter((a) => !a.startsWith("-"));
        return targets.length === 0 ? undefined : `Show the contents of ${list(targets)}`;
      },
    },
    chattr: changesPermissions,
    chgrp: changesPermissions,
    chmod: {
      classify: changesPermissions.classify,
      probe: posixAttributeTargets,
      reverse: restoresOnly("mode"),
      describe: (s) => {
        const t = s.args.filter((a) => !a.startsWith("-")).slice(1);
        return t.length === 0 ? undefined : `Change the permissions of ${list(t)}`;
      },
    },
    chown: {
      classify: changesPermissions.classify,
      probe: posixAttributeTargets,
      reverse: restoresOnly("owner"),
      describe: (s) => {
        const t = s.args.filter((a) => !a.startsWith("-"));
        return t.length < 2 ? undefined : `Change the owner of ${list(t.slice(1))} to ${t[0]}`;
      },
    },
    cksum: reads,
    cmp: reads,
    comm: reads,
    cp: {
      classify: writesFiles.classify,
      probe: posixDestination(["-S", "--suffix"]),
      describe: (s) =>
        copyMove(
          "Copy",
          s.args.filter((a) => !a.startsWith("-")),
        ),
    },
    dd: writesFiles,
    diff: reads,
    dir: { classify: reads.classify, describe: listFolder },
    dirname: reads,
    du: {
      classify: reads.classify,
      describe: (s) => {
        const t = s.args.filter((a) => !a.startsWith("-"));
        return t.length === 0
          ? "Show how much disk space the current folder uses"
          : `Show how much disk space ${list(t)} uses`;
      },
    },
    ed: editsFiles,
    emacs: editsFiles,
    file: reads,
    find: {
      classify: ({ args: a, nested }: Invocation): Finding | undefined => {
        for (let i = 0; i < a.length; i++) {
          const x = a[i] ?? "";
          if (x === "-delete") return change("find -delete deletes files");
          if (["-fprint", "-fprint0", "-fprintf", "-fls"].includes(x)) return change("find writes a file");
          if (["-exec", "-execdir", "-ok", "-okdir"].includes(x)) {
            let j = i + 1;
            const inner: string[] = [];
            while (j < a.length && a[j] !== ";" && a[j] !== "+") inner.push(a[j++] ?? "");
            const r = nested?.(inner) ?? { finding: change("find runs a command"), display: "" };
            if (r.finding.kind === "change") return change(`find ${x} runs ${r.display}: ${r.finding.reason ?? ""}`);
            i = j;
          }
        }
        return READ;
      },
      describe: (s) => {
        const start = s.args.find((a) => !a.startsWith("-") && !a.startsWith("(") && !a.startsWith("!")) ?? ".";
        if (s.args.includes("-delete")) return `Delete matching files under ${start}`;
        if (s.args.some((a) => a === "-exec" || a === "-execdir")) return undefined;
        return `Search for files under ${start}`;
      },
      filter: true,
    },
    getfacl: reads,
    gunzip: { classify: compresses },
    gzip: { classify: compresses },
    hexdump: reads,
    install: {
      classify: writesFiles.classify,
      probe: (inv) =>
        posixFlag(inv.args, "d", ["directory"]) ? undefined : posixDestination(["-m", "-o", "-g", "-S"])(inv),
    },
    ln: writesFiles,
    look: reads,
    ls: {
      classify: reads.classify,
      describe: (s) => {
        const targets = s.args.filter((a) => !a.startsWith("-"));
        return listFiles(
          targets.length > 0 ? list(targets) : undefined,
          s.args.some((a) => /^-[a-zA-Z]*R/.test(a)),
        );
      },
    },
    lsattr: reads,
    md5sum: reads,
    mkdir: {
      classify: writesFiles.classify,
      // without -p, mkdir fails on a folder that exists: once it succeeded, each folder is new (and still empty)
      reverse: ({ args }) => {
        const dirs = posixOperands(args, ["-m", "--mode"]);
        if (posixFlag(args, "p", ["parents"]) || dirs === undefined || fileTargets(dirs) === undefined)
          return undefined;
        return {
          commands: [`rmdir -- ${[...dirs].reverse().map(shQuote).join(" ")}`],
          summaries: [`Delete the empty folder${dirs.length > 1 ? "s" : ""} ${list(dirs)}`],
          basis: "inferred",
        };
      },
      describe: (s) => {
        const targets = s.args.filter((a) => !a.startsWith("-") && !/^\/[a-z]$/i.test(a));
        return targets.length === 0 ? undefined : `Create the folder ${list(targets)}`;
      },
    },
    mv: {
      classify: writesFiles.classify,
      probe: posixMoveTargets,
      describe: (s) =>
        copyMove(
          "Move",
          s.args.filter((a) => !a.startsWith("-")),
        ),
    },
    nano: editsFiles,
    od: reads,
    readlink: reads,
    realpath: reads,
    rm: {
      classify: deletesFiles.classify,
      probe: ({ args }) => fileTargets(posixOperands(args) ?? []),
      describe: (s) => (s.shell === "bash" || s.shell === "sh" ? posixDelete(s.args, false) : undefined),
    },
    rmdir: {
      classify: deletesFiles.classify,
      describe: (s) => (s.shell === "cmd" ? cmdDelete(s.args, true) : posixDelete(s.args, true)),
    },
    rsync: writesFiles,
    scp: writesFiles,
    setfacl: changesPermissions,
    sha1sum: reads,
    sha224sum: reads,
    sha256sum: reads,
    sha384sum: reads,
    sha512sum: reads,
    shred: deletesFiles,
    stat: reads,
    strings: reads,
    tar: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return posixFlag(a, "t", ["list"]) || /^[a-zA-Z]*t/.test(a[0] ?? "")
          ? READ
          : change("tar creates or extracts files");
      },
    },
    tee: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = posixPositional(args);
        return pos.every((x) => x === "/dev/null" || x === "/dev/stdout" || x === "/dev/stderr")
          ? READ
          : change(`tee writes to ${pos.join(", ")}`);
      },
      probe: ({ args }) => fileTargets(posixPositional(args).filter((x) => !x.startsWith("/dev/"))),
      describe: (s) => {
        const files = posixPositional(s.args).filter((x) => !x.startsWith("/dev/"));
        if (files.length !== 1) return undefined;
        const { prev } = s;
        const printed =
          s.piped && prev
            ? prev.program?.prints?.({
                shell: s.shell,
                name: prev.name,
                display: prev.display,
                args: prev.args,
                piped: prev.piped,
              })
            : undefined;
        return writeToFile(files[0] as string, posixFlag(s.args, "a", ["append"]), printed);
      },
    },
    touch: {
      classify: writesFiles.classify,
      describe: (s) => {
        const t = s.args.filter((a) => !a.startsWith("-"));
        return t.length === 0 ? undefined : `Create or update the file ${list(t)}`;
      },
    },
    tree: reads,
    truncate: deletesFiles,
    type: reads,
    unlink: deletesFiles,
    unzip: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => x === "-l" || x === "-v" || x === "-t" || x === "-Z")
          ? READ
          : change("unzip extracts files");
      },
    },
    vdir: reads,
    vi: editsFiles,
    vim: editsFiles,
    xxd: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = posixPositional(args);
        return pos.length >= 2 ? change("xxd writes a file") : READ;
      },
    },
    xz: { classify: compresses },
    xzcat: reads,
    zcat: reads,
    zip: writesFiles,
    zless: reads,
  },
  cmdlets: {
    "add-content": {
      probe: psPathTargets(["path", "literalpath"]),
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        const value = param(p, ["value"], 1);
        const printed = value === undefined ? undefined : literalLines(splitList([value]), PS_COMPUTED);
        return path === undefined ? undefined : writeToFile(path, true, printed);
      },
      whatIf: true,
      reason: "writes a file",
    },
    "clear-content": {
      describe: (s) => {
        const path = param(psParams(s.args), ["path", "literalpath"], 0);
        return path === undefined ? undefined : `Empty the file ${path}`;
      },
      whatIf: true,
      reason: "empties a file",
    },
    "clear-item": { whatIf: true },
    "clear-recyclebin": {
      describe: (s) => {
        const drive = param(psParams(s.args), ["driveletter"], 0);
        return drive === undefined
          ? "Empty the Recycle Bin"
          : `Empty the Recycle Bin on drive ${drive.replace(/:$/, "")}:`;
      },
      whatIf: true,
    },
    "copy-item": {
      probe: (s) => {
        const to = param(psParams(s.args), ["destination"], 1);
        return to === undefined || psSwitchSet(s.args, "recurse") ? undefined : fileTargets([to]);
      },
      describe: (s) => {
        const p = psParams(s.args);
        const from = param(p, ["path", "literalpath"], 0);
        const to = param(p, ["destination"], 1);
        if (from === undefined || to === undefined) return undefined;
        return `Copy ${from}${psSwitchSet(s.args, "recurse") ? " and everything in it" : ""} to ${to}`;
      },
      whatIf: true,
      reason: "copies files",
    },
    "export-csv": {
      describe: (s) => {
        const path = param(psParams(s.args), ["path", "literalpath"], 0);
        return path === undefined ? undefined : `Save the output to ${path}`;
      },
    },
    "get-acl": {
      describe: (s) => {
        const path = param(psParams(s.args), ["path", "literalpath"], 0);
        return path === undefined ? undefined : `Show the permissions of ${paths([path])}`;
      },
    },
    "get-childitem": {
      describe: (s) => {
        const p = psParams(s.args);
        return listFiles(param(p, ["path", "literalpath"], 0), psSwitchSet(s.args, "recurse"));
      },
    },
    "get-content": {
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        if (path === undefined) return undefined;
        const tail = param(p, ["tail", "last"]);
        const head = param(p, ["totalcount", "head", "first"]);
        if (tail !== undefined) return `Show the last ${tail} lines of ${path}`;
        if (head !== undefined) return `Show the first ${head} lines of ${path}`;
        return `Show the contents of ${path}`;
      },
    },
    "move-item": {
      probe: (s) => {
        const p = psParams(s.args);
        const from = param(p, ["path", "literalpath"], 0);
        const to = param(p, ["destination"], 1);
        return to === undefined ? undefined : fileTargets([from, to], psGiven(s.args, "literalpath", 1));
      },
      describe: (s) => {
        const p = psParams(s.args);
        const from = param(p, ["path", "literalpath"], 0);
        const to = param(p, ["destination"], 1);
        return from === undefined || to === undefined ? undefined : `Move ${from} to ${to}`;
      },
      whatIf: true,
      reason: "moves files",
    },
    "new-item": {
      classify: definesCommandOrCreates,
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path"], 0);
        const name = param(p, ["name"]);
        if (path === undefined && name === undefined) return undefined;
        const full =
          path !== undefined && name !== undefined ? `${path.replace(/\\$/, "")}\\${name}` : (path ?? name ?? "");
        if (isRegistry(full)) return `Create registry key ${regPath(full)}`;
        const type = param(p, ["itemtype", "type"])?.toLowerCase();
        return type === "directory" || s.display.toLowerCase() === "mkdir"
          ? `Create the folder ${full}`
          : `Create the file ${full}`;
      },
      whatIf: true,
      reason: "creates files, folders or keys",
    },
    "out-file": {
      probe: psPathTargets(["filepath", "literalpath"]),
      describe: (s) => {
        const path = param(psParams(s.args), ["filepath", "literalpath"], 0);
        return path === undefined ? undefined : writeToFile(path, psSwitchSet(s.args, "append"));
      },
      reason: "writes a file",
    },
    "remove-item": {
      describe: removeItem,
      probe: (s) => (psSwitchSet(s.args, "recurse") ? undefined : psPathTargets(["path", "literalpath"])(s)),
      whatIf: true,
      reason: "deletes files or keys",
    },
    "rename-item": {
      describe: (s) => {
        const p = psParams(s.args);
        const from = param(p, ["path", "literalpath"], 0);
        const to = param(p, ["newname"], 1);
        return from === undefined || to === undefined ? undefined : `Rename ${paths([from])} to ${to}`;
      },
      whatIf: true,
      reason: "renames files",
    },
    "set-content": {
      probe: psPathTargets(["path", "literalpath"]),
      describe: (s) => {
        const path = param(psParams(s.args), ["path", "literalpath"], 0);
        return path === undefined ? undefined : writeToFile(path, false);
      },
      whatIf: true,
      reason: "writes a file",
    },
    "set-item": { classify: definesCommandOrCreates, whatIf: true },
    "tee-object": {
      probe: psPathTargets(["filepath", "literalpath"]),
      classify: ({ args }: Invocation): Finding | undefined =>
        psGiven(args, "variable", 1) &&
        !psGiven(args, "filepath", 1) &&
        !psGiven(args, "literalpath", 1) &&
        !psSwitchSet(args, "append")
          ? READ
          : change("Tee-Object writes a file"),
      describe: (s) => {
        const path = param(psParams(s.args), ["filepath", "literalpath"], 0);
        return path === undefined ? undefined : writeToFile(path, psSwitchSet(s.args, "append"));
      },
    },
    "test-path": {
      describe: (s) => {
        const path = param(psParams(s.args), ["path", "literalpath"], 0);
        return path === undefined ? undefined : `Check whether ${paths([path])} exists`;
      },
    },
  },
};

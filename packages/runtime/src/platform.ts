// Platform knowledge as pure functions: how to start each shell, where things live, how to name the user. No I/O here
// (everything the OS would be asked is a parameter), so Windows and macOS behaviour is unit-tested on any machine.

import path from "node:path";
import { DEFAULT_DATA_DIR, type MachineFacts, type Shell } from "@caisey/core";

export interface Invocation {
  file: string;
  args: string[];
  /**
   * Windows only: pass args to CreateProcess as written (no MSVCRT quoting). cmd.exe does not follow the MSVCRT
   * rules, so its command line is quoted by hand, exactly as Node does for `spawn(..., { shell: true })`.
   */
  windowsVerbatimArguments?: boolean;
}

const POWERSHELL_FLAGS = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"];

/** The process that runs `command` in `shell`. `file` is a bare name, resolved against PATH by the caller. */
export function shellInvocation(shell: Shell, command: string, platform: NodeJS.Platform): Invocation {
  const win = platform === "win32";
  switch (shell) {
    case "bash":
      return { file: "bash", args: ["--noprofile", "--norc", "-c", command] };
    case "sh":
      return { file: "sh", args: ["-c", command] };
    case "powershell":
      return {
        file: win ? "powershell.exe" : "powershell",
        args: [...POWERSHELL_FLAGS, encodePowerShellCommand(command)],
      };
    case "pwsh":
      return { file: win ? "pwsh.exe" : "pwsh", args: [...POWERSHELL_FLAGS, encodePowerShellCommand(command)] };
    case "cmd":
      // `/s /c "<command>"`: cmd strips exactly the outer pair of quotes and runs the rest untouched.
      return { file: "cmd.exe", args: ["/d", "/s", "/c", `"${command}"`], windowsVerbatimArguments: true };
  }
}

/** PowerShell's -EncodedCommand form: base64 of the script's UTF-16LE bytes (immune to command-line quoting). */
export function encodePowerShellCommand(script: string): string {
  return Buffer.from(script, "utf16le").toString("base64");
}

/** How to ask the shell its version (one line of output is kept). */
export function shellVersionProbe(shell: Shell, executable: string): Invocation {
  switch (shell) {
    case "bash":
    case "sh":
      // dash has no --version: it fails, and the version is recorded as "".
      return { file: executable, args: ["--version"] };
    case "powershell":
    case "pwsh":
      return {
        file: executable,
        args: ["-NoProfile", "-NonInteractive", "-Command", "$PSVersionTable.PSVersion.ToString()"],
      };
    case "cmd":
      return { file: executable, args: ["/d", "/c", "ver"] };
  }
}

/** First non-empty line of a probe's output, trimmed and bounded to what a started frame carries. */
export function firstLine(output: string, max = 512): string {
  for (const line of output.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed !== "") return trimmed.slice(0, max);
  }
  return "";
}

/** Windows kills a process tree with taskkill; POSIX kills the process group instead (null). */
export function killTreeCommand(pid: number, platform: NodeJS.Platform): Invocation | null {
  if (platform !== "win32") return null;
  return { file: "taskkill", args: ["/T", "/F", "/PID", String(pid)] };
}

/**
 * Where the runtime keeps its enrollment and journal when --data-dir is not given: one place per platform, the one the
 * service uses, whoever runs it (README, the console's enrollment panel and `--help` say the same).
 */
export function defaultDataDir(platform: NodeJS.Platform, env: Record<string, string | undefined>): string {
  if (platform === "win32") return `${env.ProgramData ?? "C:\\ProgramData"}\\${DEFAULT_DATA_DIR.windows}`;
  if (platform === "darwin") return DEFAULT_DATA_DIR.macos;
  return DEFAULT_DATA_DIR.linux;
}

export interface UserDescription {
  platform: NodeJS.Platform;
  username: string;
  domain?: string | undefined;
  /** Running as a Windows service (LocalSystem reports its name as the machine account, `HOST$`). */
  isService?: boolean;
}

/** The account a command runs as, as an admin would write it. */
export function describeUser({ platform, username, domain, isService = false }: UserDescription): string {
  if (platform !== "win32") return username;
  if (username.toUpperCase() === "SYSTEM" || (isService && username.endsWith("$"))) return "NT AUTHORITY\\SYSTEM";
  return domain ? `${domain}\\${username}` : username;
}

const DEFAULT_PATHEXT = ".COM;.EXE;.BAT;.CMD";

/**
 * The absolute path `name` resolves to on PATH, or null. Relative and empty PATH entries are skipped: they would
 * make what runs depend on the current directory. On Windows, PATHEXT extensions are tried (the name as given first
 * when it already carries one of them).
 */
export function resolveExecutable(
  name: string,
  PATH: string | undefined,
  platform: NodeJS.Platform,
  exists: (file: string) => boolean,
  PATHEXT: string | undefined = undefined,
): string | null {
  const p = platform === "win32" ? path.win32 : path.posix;
  const candidates = (base: string): string[] => {
    if (platform !== "win32") return [base];
    const exts = (PATHEXT || DEFAULT_PATHEXT).split(";").filter((e) => e !== "");
    const hasExt = exts.some((e) => base.toLowerCase().endsWith(e.toLowerCase()));
    return hasExt ? [base, ...exts.map((e) => base + e)] : exts.map((e) => base + e);
  };
  if (name.includes("/") || (platform === "win32" && name.includes("\\"))) {
    if (!p.isAbsolute(name)) return null;
    return candidates(name).find(exists) ?? null;
  }
  const dirs = (PATH ?? "").split(platform === "win32" ? ";" : ":");
  for (const raw of dirs) {
    const dir = platform === "win32" ? raw.replace(/^"(.*)"$/, "$1") : raw;
    if (dir === "" || !p.isAbsolute(dir)) continue;
    for (const candidate of candidates(p.join(dir, name))) {
      if (exists(candidate)) return candidate;
    }
  }
  return null;
}

/** The facts' os enum for a Node platform name. */
export function osName(platform: NodeJS.Platform | string): MachineFacts["os"] {
  switch (platform) {
    case "linux":
      return "linux";
    case "darwin":
      return "darwin";
    case "win32":
      return "windows";
    case "freebsd":
      return "freebsd";
    default:
      return "other";
  }
}

/** PRETTY_NAME from /etc/os-release text ("Debian GNU/Linux 12 (bookworm)"), or null. */
export function parseOsRelease(text: string): string | null {
  for (const line of text.split("\n")) {
    const match = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (!match) continue;
    const value = (match[1] ?? "").replace(/^(["'])(.*)\1$/, "$2").trim();
    return value === "" ? null : value;
  }
  return null;
}

const ENV_VALUE_MAX = 8192;
const ENV_NAME_MAX = 256;
const ENV_VARS_MAX = 500;

/**
 * Fit a (redacted, sorted) environment into what a started frame may carry: at most 500 variables, names ≤ 256,
 * values ≤ 8192 chars, and ≤ maxJsonChars of JSON in total so the frame stays under LIMITS.runtimeFrameBytes.
 * Values that do not fit are shortened with a marker; variables past the budget are left out (`omitted` counts them).
 */
export function boundEnv(
  env: Record<string, string>,
  maxJsonChars = 64 * 1024,
): { env: Record<string, string>; omitted: number } {
  const out: Record<string, string> = {};
  let size = 2;
  let kept = 0;
  let omitted = 0;
  const marker = "…[truncated]";
  for (const name of Object.keys(env).sort()) {
    let value = env[name] as string;
    if (name.length > ENV_NAME_MAX || kept >= ENV_VARS_MAX) {
      omitted++;
      continue;
    }
    if (value.length > ENV_VALUE_MAX) value = value.slice(0, ENV_VALUE_MAX - marker.length) + marker;
    const cost = JSON.stringify(name).length + JSON.stringify(value).length + 2;
    if (size + cost > maxJsonChars) {
      omitted++;
      continue;
    }
    out[name] = value;
    size += cost;
    kept++;
  }
  return { env: out, omitted };
}

/** Split a buffer into pieces of at most `max` bytes (views, no copies). */
export function splitChunk(buffer: Buffer, max: number): Buffer[] {
  if (buffer.length <= max) return [buffer];
  const out: Buffer[] = [];
  for (let at = 0; at < buffer.length; at += max) out.push(buffer.subarray(at, Math.min(at + max, buffer.length)));
  return out;
}

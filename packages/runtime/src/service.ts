// The runtime as a service the OS starts at boot and restarts on a crash: what `install` writes and runs on each
// platform, and what `uninstall` undoes, as plans of steps. Pure (the platform, its environment and where this program
// is are parameters), so every platform's plan is tested on any machine; install.ts carries a plan out or prints it.

import path from "node:path";

/** The name systemd, launchd and the Windows service manager know the runtime by. */
export const SERVICE = {
  systemd: "caisey-runtime.service",
  launchd: "com.caisey.runtime",
  windows: "CaiseyRuntime",
} as const;

/** This program: the executable, and for the portable bundle the script Node runs (null for the one-file build). */
export interface Self {
  executable: string;
  script: string | null;
}

export interface ServiceTarget {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  self: Self;
  dataDir: string;
}

export type Step =
  | { kind: "copy"; from: string; to: string }
  | { kind: "write"; path: string; text: string; mode: number }
  | { kind: "run"; argv: string[] }
  | { kind: "remove"; path: string; recursive?: boolean };

/** Where the runtime's program lives once installed (the place `install` copies itself to). */
export function installedProgram(target: Pick<ServiceTarget, "platform" | "env" | "self">): Self {
  const { platform, env, self } = target;
  if (platform === "win32") {
    return { executable: `${env.ProgramFiles ?? "C:\\Program Files"}\\Caisey\\caisey-runtime.exe`, script: null };
  }
  const dir = platform === "darwin" ? "/Library/Caisey" : "/usr/local/lib/caisey";
  // The portable bundle keeps the Node it was started with; the one-file build is its own Node.
  if (self.script !== null) return { executable: self.executable, script: `${dir}/caisey-runtime.mjs` };
  return { executable: `${dir}/caisey-runtime`, script: null };
}

/**
 * The V8 heap settings the runtime runs with (README: The runtime protocol); the one-file build carries them itself
 * (scripts/package-runtime.mjs), the portable bundle gets them on Node's command line. `--initial-old-space-size=48`:
 * every output byte passes through short-lived Buffers, which count towards V8's heap limit, and with the runtime's
 * ~9 MB of live objects that limit started a full mark-compact every ~8 MiB streamed (31 for 256 MiB). 48 once
 * measured a 1 GiB stream's peak RSS 172 MB (over the 150 MB bound), so 32 it was; since whole-frame output buffers
 * are used again (outbox.ts) only the pipe's reads churn, and 48 cuts a 1 GiB stream's full mark-compacts 36 → 5 and
 * its runtime CPU per MiB 6.0 → 4.6 ms at a 124 MB peak (113–118 with 32; `npm run bench -- --only capture`). Idle
 * RSS unchanged.
 */
export const RUNTIME_NODE_FLAGS = [
  "--max-semi-space-size=4",
  "--max-old-space-size=256",
  "--initial-old-space-size=48",
];

/** The command line the service manager starts. */
function runArgv(program: Self, dataDir: string): string[] {
  const script = program.script === null ? [] : [...RUNTIME_NODE_FLAGS, program.script];
  return [program.executable, ...script, "run", "--data-dir", dataDir];
}

/** A word of an ExecStart line: systemd splits on spaces and honours double quotes and backslashes. */
function systemdWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/[\\"]/g, "\\$&")}"`;
}

/**
 * The systemd unit. Restart=always (a crash, an update's exit, an OOM kill), never giving up (no start limit). The
 * hardening protects the runtime without fencing in what technicians run through it: the commands are the MSP's
 * remote hands as root, so nothing that hides or freezes part of the machine (ProtectSystem, ProtectHome, PrivateTmp,
 * NoNewPrivileges: `sudo -u`, package installs, the user's /tmp and files must work as in an ssh session).
 */
export function systemdUnit(program: Self, dataDir: string): string {
  return `[Unit]
Description=Caisey runtime (remote support agent)
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${runArgv(program, dataDir).map(systemdWord).join(" ")}
Restart=always
RestartSec=5
# SIGTERM to the runtime alone: it stops its commands' process trees itself and records how they ended.
KillMode=mixed
TimeoutStopSec=20
${stateDirectory(dataDir)}KeyringMode=private
LockPersonality=yes
RestrictRealtime=yes

[Install]
WantedBy=multi-user.target
`;
}

/** systemd makes a data dir under /var/lib itself, root's alone; another one the runtime makes (0700) at enrollment. */
function stateDirectory(dataDir: string): string {
  const relative = path.posix.relative("/var/lib", dataDir);
  if (relative === "" || relative.startsWith("..") || path.posix.isAbsolute(relative)) return "";
  return `StateDirectory=${relative}\nStateDirectoryMode=0700\n`;
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The launchd daemon: started at boot, kept alive (restarted whenever it exits), its log in /Library/Logs/caisey-runtime.log. */
export function launchdPlist(program: Self, dataDir: string): string {
  const args = runArgv(program, dataDir)
    .map((a) => `    <string>${xml(a)}</string>\n`)
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${SERVICE.launchd}</string>
  <key>ProgramArguments</key>
  <array>
${args}  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>ExitTimeOut</key>
  <integer>20</integer>
  <key>StandardOutPath</key>
  <string>/Library/Logs/caisey-runtime.log</string>
  <key>StandardErrorPath</key>
  <string>/Library/Logs/caisey-runtime.log</string>
</dict>
</plist>
`;
}

/** A Windows command-line argument (the MSVCRT rules the runtime's own argv parsing follows). */
function windowsArg(arg: string): string {
  return /[\s"]/.test(arg) ? `"${arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, "$1$1")}"` : arg;
}

/**
 * The Windows service: LocalSystem, started automatically at boot, restarted 5 s after each of its first two failures
 * and a minute after later ones (the failure count resets after a day), its data dir under %ProgramData%.
 */
export function windowsService(program: Self, dataDir: string): string[][] {
  const name = SERVICE.windows;
  const binPath = runArgv(program, dataDir).map(windowsArg).join(" ");
  return [
    [
      "sc.exe",
      "create",
      name,
      "binPath=",
      binPath,
      "start=",
      "auto",
      "obj=",
      "LocalSystem",
      "DisplayName=",
      "Caisey runtime",
    ],
    ["sc.exe", "description", name, "Caisey remote support: runs the commands your MSP's technicians send"],
    ["sc.exe", "failure", name, "reset=", "86400", "actions=", "restart/5000/restart/5000/restart/60000"],
    ["sc.exe", "failureflag", name, "1"],
    ["sc.exe", "start", name],
  ];
}

/** Copy this program to its place, write the service's definition, start it. The enrollment is done before. */
export function installPlan(target: ServiceTarget): Step[] {
  const program = installedProgram(target);
  const { self, dataDir } = target;
  const copy: Step =
    program.script !== null && self.script !== null
      ? { kind: "copy", from: self.script, to: program.script }
      : { kind: "copy", from: self.executable, to: program.executable };
  switch (target.platform) {
    case "linux": {
      const unit = `/etc/systemd/system/${SERVICE.systemd}`;
      return [
        copy,
        { kind: "write", path: unit, text: systemdUnit(program, dataDir), mode: 0o644 },
        { kind: "run", argv: ["systemctl", "daemon-reload"] },
        { kind: "run", argv: ["systemctl", "enable", "--now", SERVICE.systemd] },
      ];
    }
    case "darwin": {
      const plist = `/Library/LaunchDaemons/${SERVICE.launchd}.plist`;
      return [
        copy,
        { kind: "write", path: plist, text: launchdPlist(program, dataDir), mode: 0o644 },
        { kind: "run", argv: ["launchctl", "bootstrap", "system", plist] },
      ];
    }
    case "win32":
      return [copy, ...windowsService(program, dataDir).map((argv): Step => ({ kind: "run", argv }))];
    default:
      throw new Error(`installing as a service is not supported on ${target.platform}`);
  }
}

/** Stop and remove the service and the installed program; with `purge`, the data dir (the machine's key) too. */
export function uninstallPlan(target: ServiceTarget, purge: boolean): Step[] {
  const program = installedProgram(target);
  const removeProgram: Step = { kind: "remove", path: program.script ?? program.executable };
  const removeData: Step[] = purge ? [{ kind: "remove", path: target.dataDir, recursive: true }] : [];
  switch (target.platform) {
    case "linux":
      return [
        { kind: "run", argv: ["systemctl", "disable", "--now", SERVICE.systemd] },
        { kind: "remove", path: `/etc/systemd/system/${SERVICE.systemd}` },
        { kind: "run", argv: ["systemctl", "daemon-reload"] },
        removeProgram,
        ...removeData,
      ];
    case "darwin":
      return [
        { kind: "run", argv: ["launchctl", "bootout", `system/${SERVICE.launchd}`] },
        { kind: "remove", path: `/Library/LaunchDaemons/${SERVICE.launchd}.plist` },
        removeProgram,
        ...removeData,
      ];
    case "win32":
      return [
        { kind: "run", argv: ["sc.exe", "stop", SERVICE.windows] },
        { kind: "run", argv: ["sc.exe", "delete", SERVICE.windows] },
        removeProgram,
        ...removeData,
      ];
    default:
      throw new Error(`installing as a service is not supported on ${target.platform}`);
  }
}

/** A POSIX shell word, quoted only when it must be. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function describeStep(step: Step, arg: (word: string) => string): string {
  if (step.kind === "copy") return `# copy ${step.from} to ${step.to}\n`;
  if (step.kind === "write") return `# write ${step.path} (mode ${step.mode.toString(8)}):\n${step.text}`;
  if (step.kind === "run") return `# run:\n${step.argv.map(arg).join(" ")}\n`;
  return `# remove ${step.path}${step.recursive ? " and everything in it" : ""}\n`;
}

/** A plan as `--dry-run` prints it: every file with its full text, every command as it would run. */
export function describePlan(steps: readonly Step[], platform: NodeJS.Platform): string {
  const arg = platform === "win32" ? windowsArg : shellWord;
  return steps.map((step) => describeStep(step, arg)).join("\n");
}

// What `install` and `uninstall` write and run on each platform (service.ts), against fixed expectations: the files
// whole, the commands exactly. On Linux the unit also passes `systemd-analyze verify` where systemd is installed.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args.ts";
import { defaultDataDir } from "../src/platform.ts";
import { describePlan, installPlan, type ServiceTarget, systemdUnit, uninstallPlan } from "../src/service.ts";

const WINDOWS_ENV = { ProgramData: "C:\\ProgramData", ProgramFiles: "C:\\Program Files" };

const LINUX: ServiceTarget = {
  platform: "linux",
  env: {},
  self: { executable: "/root/caisey-runtime-linux-x64", script: null },
  dataDir: defaultDataDir("linux", {}),
};
const MAC: ServiceTarget = {
  platform: "darwin",
  env: {},
  self: { executable: "/usr/local/bin/node", script: "/Users/admin/Downloads/caisey-runtime.mjs" },
  dataDir: defaultDataDir("darwin", {}),
};
const WINDOWS: ServiceTarget = {
  platform: "win32",
  env: WINDOWS_ENV,
  self: { executable: "C:\\Windows\\Temp\\caisey-runtime-win-x64.exe", script: null },
  dataDir: defaultDataDir("win32", WINDOWS_ENV),
};

describe("install --dry-run", () => {
  it("on Linux: copies the one file to /usr/local/lib/caisey, writes a systemd unit that always restarts, enables it", () => {
    expect(describePlan(installPlan(LINUX), "linux")).toBe(LINUX_INSTALL);
  });

  it("on macOS: the portable bundle under launchd with the Node it was started by, kept alive", () => {
    expect(describePlan(installPlan(MAC), "darwin")).toBe(MAC_INSTALL);
  });

  it("on Windows: a LocalSystem service with recovery actions, its data dir under %ProgramData%", () => {
    expect(describePlan(installPlan(WINDOWS), "win32")).toBe(WINDOWS_INSTALL);
  });

  it("reverses each with uninstall; --purge removes the data dir (the machine's key) too", () => {
    expect(describePlan(uninstallPlan(LINUX, true), "linux")).toBe(LINUX_UNINSTALL);
    expect(describePlan(uninstallPlan(MAC, true), "darwin")).toBe(MAC_UNINSTALL);
    expect(describePlan(uninstallPlan(WINDOWS, true), "win32")).toBe(WINDOWS_UNINSTALL);
    expect(uninstallPlan(LINUX, false).some((step) => step.kind === "remove" && step.path === LINUX.dataDir)).toBe(
      false,
    );
  });

  it("leaves a data dir outside /var/lib to the runtime (systemd makes only its own StateDirectory)", () => {
    const unit = systemdUnit({ executable: "/opt/caisey-runtime", script: null }, "/srv/caisey data");
    expect(unit).toContain('ExecStart=/opt/caisey-runtime run --data-dir "/srv/caisey data"\n');
    expect(unit).not.toContain("StateDirectory");
  });

  it("writes a unit systemd accepts (systemd-analyze verify where systemd is installed; its fields always)", () => {
    const unit = systemdUnit(
      { executable: process.execPath, script: "/usr/local/lib/caisey/caisey-runtime.mjs" },
      LINUX.dataDir,
    );
    const fields = unit.split("\n").filter((line) => /^[A-Za-z]+=/.test(line));
    expect(fields).toContain("Restart=always");
    expect(fields).toContain("WantedBy=multi-user.target");
    // Nothing that would hide the technician's files or stop privileged tools from working in a command.
    for (const fencing of ["ProtectHome", "PrivateTmp", "ProtectSystem", "NoNewPrivileges", "PrivateDevices"]) {
      expect(fields.some((field) => field.startsWith(`${fencing}=`))).toBe(false);
    }
    const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((file) => existsSync(file));
    if (analyze === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), "caisey-unit-"));
    try {
      const file = join(dir, "caisey-runtime.service");
      writeFileSync(file, unit);
      // It exits 0 even for an unknown key or a bad value, and says so on stderr: nothing said is the pass.
      const verify = spawnSync(analyze, ["verify", file], { encoding: "utf8" });
      expect({ status: verify.status, said: verify.stdout + verify.stderr }).toEqual({ status: 0, said: "" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("install and uninstall arguments", () => {
  it("takes the token from a file or CAISEY_ENROLL_TOKEN, never from the command line", () => {
    expect(parseArgs(["install", "--server", "https://s", "--token-file", "/tmp/t"])).toEqual({
      kind: "install",
      server: "https://s",
      token: { from: "file", path: "/tmp/t" },
      dataDir: null,
      dryRun: false,
    });
    expect(parseArgs(["install", "--server", "https://s", "--dry-run"], { CAISEY_ENROLL_TOKEN: "cse_x" })).toEqual({
      kind: "install",
      server: "https://s",
      token: { from: "environment", value: "cse_x" },
      dataDir: null,
      dryRun: true,
    });
    expect(parseArgs(["install", "--server", "https://s", "--token", "cse_x"])).toEqual({
      kind: "error",
      message: "unknown option: --token",
      topic: "install",
    });
    expect(parseArgs(["uninstall", "--purge"])).toEqual({
      kind: "uninstall",
      purge: true,
      dataDir: null,
      dryRun: false,
    });
  });
});

const LINUX_INSTALL = `# copy /root/caisey-runtime-linux-x64 to /usr/local/lib/caisey/caisey-runtime

# write /etc/systemd/system/caisey-runtime.service (mode 644):
[Unit]
Description=Caisey runtime (remote support agent)
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/usr/local/lib/caisey/caisey-runtime run --data-dir /var/lib/caisey-runtime
Restart=always
RestartSec=5
# SIGTERM to the runtime alone: it stops its commands' process trees itself and records how they ended.
KillMode=mixed
TimeoutStopSec=20
StateDirectory=caisey-runtime
StateDirectoryMode=0700
KeyringMode=private
LockPersonality=yes
RestrictRealtime=yes

[Install]
WantedBy=multi-user.target

# run:
systemctl daemon-reload

# run:
systemctl enable --now caisey-runtime.service
`;

const LINUX_UNINSTALL = `# run:
systemctl disable --now caisey-runtime.service

# remove /etc/systemd/system/caisey-runtime.service

# run:
systemctl daemon-reload

# remove /usr/local/lib/caisey/caisey-runtime

# remove /var/lib/caisey-runtime and everything in it
`;

const MAC_INSTALL = `# copy /Users/admin/Downloads/caisey-runtime.mjs to /Library/Caisey/caisey-runtime.mjs

# write /Library/LaunchDaemons/com.caisey.runtime.plist (mode 644):
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>com.caisey.runtime</string>
  <key>ProgramArguments</key>
  <array>
    <string>/usr/local/bin/node</string>
    <string>--max-semi-space-size=4</string>
    <string>--max-old-space-size=256</string>
    <string>--initial-old-space-size=48</string>
    <string>/Library/Caisey/caisey-runtime.mjs</string>
    <string>run</string>
    <string>--data-dir</string>
    <string>/Library/Application Support/Caisey/runtime</string>
  </array>
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

# run:
launchctl bootstrap system /Library/LaunchDaemons/com.caisey.runtime.plist
`;

const MAC_UNINSTALL = `# run:
launchctl bootout system/com.caisey.runtime

# remove /Library/LaunchDaemons/com.caisey.runtime.plist

# remove /Library/Caisey/caisey-runtime.mjs

# remove /Library/Application Support/Caisey/runtime and everything in it
`;

const WINDOWS_INSTALL = `# copy C:\\Windows\\Temp\\caisey-runtime-win-x64.exe to C:\\Program Files\\Caisey\\caisey-runtime.exe

# run:
sc.exe create CaiseyRuntime binPath= "\\"C:\\Program Files\\Caisey\\caisey-runtime.exe\\" run --data-dir C:\\ProgramData\\Caisey\\runtime" start= auto obj= LocalSystem DisplayName= "Caisey runtime"

# run:
sc.exe description CaiseyRuntime "Caisey remote support: runs the commands your MSP's technicians send"

# run:
sc.exe failure CaiseyRuntime reset= 86400 actions= restart/5000/restart/5000/restart/60000

# run:
sc.exe failureflag CaiseyRuntime 1

# run:
sc.exe start CaiseyRuntime
`;

const WINDOWS_UNINSTALL = `# run:
sc.exe stop CaiseyRuntime

# run:
sc.exe delete CaiseyRuntime

# remove C:\\Program Files\\Caisey\\caisey-runtime.exe

# remove C:\\ProgramData\\Caisey\\runtime and everything in it
`;

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  analyzeCommand,
  classifyCommand,
  describeChanges,
  type Prestate,
  planProbes,
  readProbe,
  reverseCommand,
} from "../../src/index.ts";
import type { Shell } from "../../src/shells.ts";

// The reverse of a change, from the state recorded before it (issue 12): real commands, what was there before, and
// the command Caisey proposes to put it back, or why it proposes none.

type Expect = { command: string; shell?: Shell; summary?: string; basis?: "prestate" | "inferred" } | RegExp;
type Row = [shell: Shell, command: string, before: Prestate[], expected: Expect];

const KEY = "HKLM\\Software\\PrintSpooler";
const reg = (exists: boolean, type?: string, value?: string): Prestate =>
  exists
    ? { kind: "registry", target: KEY, name: "DisableRestart", exists, type, value }
    : { kind: "registry", target: KEY, name: "DisableRestart", exists };
const PS_KEY = "-LiteralPath 'HKLM:\\Software\\PrintSpooler' -Name 'DisableRestart'";

/** What DisableRestart was, and how cmd and PowerShell put it back (null: cmd cannot, PowerShell does it). */
const REG_STATES: [Prestate, string | null, string | RegExp, string | undefined][] = [
  [
    reg(true, "REG_DWORD", "0"),
    `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 0 /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType DWord -Value 0 -Force`,
    `Set the registry value DisableRestart under ${KEY} back to 0`,
  ],
  [
    reg(true, "REG_DWORD", "4294967295"),
    `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 4294967295 /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType DWord -Value -1 -Force`,
    `Set the registry value DisableRestart under ${KEY} back to 4294967295`,
  ],
  [
    reg(true, "REG_SZ", "C:\\Program Files\\App"),
    `reg add ${KEY} /v DisableRestart /t REG_SZ /d "C:\\Program Files\\App" /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType String -Value 'C:\\Program Files\\App' -Force`,
    `Set the registry value DisableRestart under ${KEY} back to 'C:\\Program Files\\App'`,
  ],
  [
    reg(true, "REG_EXPAND_SZ", "%SystemRoot%\\system32"),
    null,
    `New-ItemProperty ${PS_KEY} -PropertyType ExpandString -Value '%SystemRoot%\\system32' -Force`,
    undefined,
  ],
  [
    reg(true, "REG_MULTI_SZ", "a\\0b c"),
    `reg add ${KEY} /v DisableRestart /t REG_MULTI_SZ /d "a\\0b c" /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType MultiString -Value @('a', 'b c') -Force`,
    undefined,
  ],
  [
    reg(true, "REG_QWORD", "18446744073709551615"),
    `reg add ${KEY} /v DisableRestart /t REG_QWORD /d 18446744073709551615 /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType QWord -Value -1 -Force`,
    undefined,
  ],
  [
    reg(true, "REG_BINARY", "01ab"),
    `reg add ${KEY} /v DisableRestart /t REG_BINARY /d 01ab /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType Binary -Value ([Convert]::FromBase64String('Aas=')) -Force`,
    undefined,
  ],
  [
    reg(true, "REG_SZ", "O'Brien"),
    `reg add ${KEY} /v DisableRestart /t REG_SZ /d "O'Brien" /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType String -Value 'O''Brien' -Force`,
    undefined,
  ],
  [
    reg(true, "REG_SZ", ""),
    `reg add ${KEY} /v DisableRestart /t REG_SZ /f`,
    `New-ItemProperty ${PS_KEY} -PropertyType String -Value '' -Force`,
    undefined,
  ],
  [
    reg(false),
    `reg delete ${KEY} /v DisableRestart /f`,
    `Remove-ItemProperty ${PS_KEY}`,
    `Delete the registry value DisableRestart from ${KEY}, which did not exist before the change`,
  ],
  [
    { kind: "registry", target: KEY, name: "DisableRestart", exists: false, error: "ERROR: Access is denied." },
    null,
    /could not read DisableRestart under HKLM\\Software\\PrintSpooler before the change \(ERROR: Access is denied\.\)/,
    undefined,
  ],
];

const REG_CMD = [
  `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 1 /f`,
  `reg add "${KEY}" /v DisableRestart /d 1 /f`,
  `reg delete ${KEY} /v DisableRestart /f`,
];
const REG_PS = [
  "Set-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart -Value 1",
  "Set-ItemProperty 'HKLM:\\Software\\PrintSpooler' DisableRestart 1",
  "New-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart -Value 1 -PropertyType DWord -Force",
  "Remove-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart",
  "Set-ItemProperty -Path Registry::HKEY_LOCAL_MACHINE\\Software\\PrintSpooler -Name DisableRestart -Value 1",
  `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 1 /f`,
];

const REGISTRY: Row[] = [
  ...REG_CMD.flatMap((command) =>
    REG_STATES.map(([before, cmd, ps, summary]): Row => {
      if (ps instanceof RegExp) return ["cmd", command, [before], ps];
      return [
        "cmd",
        command,
        [before],
        cmd === null
          ? { command: ps, shell: "powershell" }
          : { command: cmd, shell: "cmd", ...(summary ? { summary } : {}) },
      ];
    }),
  ),
  ...REG_PS.flatMap((command) =>
    REG_STATES.map(
      ([before, , ps, summary]): Row => [
        "powershell",
        command,
        [before],
        ps instanceof RegExp
          ? ps
          : { command: ps, shell: "powershell", ...(summary ? { summary } : {}), basis: "prestate" },
      ],
    ),
  ),
  ...REG_STATES.slice(0, 3).map(
    ([before, , ps]): Row => [
      "pwsh",
      "Set-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart -Value 1",
      [before],
      { command: ps as string, shell: "pwsh" },
    ],
  ),
  // the default value
  [
    "cmd",
    `reg add ${KEY} /ve /d on /f`,
    [{ kind: "registry", target: KEY, name: "", exists: true, type: "REG_SZ", value: "off" }],
    {
      command: `reg add ${KEY} /ve /t REG_SZ /d off /f`,
      summary: `Set the default registry value under ${KEY} back to 'off'`,
    },
  ],
  [
    "cmd",
    `reg add ${KEY} /ve /d on /f`,
    [{ kind: "registry", target: KEY, name: "", exists: false }],
    { command: `reg delete ${KEY} /ve /f` },
  ],
  // New-ItemProperty without -Force fails on a value that exists: without a record its reverse is still exact
  [
    "powershell",
    "New-ItemProperty -Path HKCU:\\Software\\App -Name Theme -Value dark",
    [],
    { command: "Remove-ItemProperty -LiteralPath 'HKCU:\\Software\\App' -Name 'Theme'", basis: "inferred" },
  ],
  // nothing recorded, and a change that overwrites: no reverse
  ["cmd", `reg add ${KEY} /v DisableRestart /t REG_DWORD /d 1 /f`, [], /nothing was recorded before the change/],
  // whole keys are not recorded
  ["cmd", `reg delete ${KEY} /f`, [], /Caisey cannot undo this part: reg delete/],
  ["cmd", `reg add ${KEY} /f`, [], /Caisey cannot undo this part/],
  ["powershell", "Remove-Item -Path HKLM:\\Software\\PrintSpooler -Recurse", [], /Caisey cannot undo this part/],
  ["powershell", "Set-ItemProperty -Path $key -Name DisableRestart -Value 1", [], /Caisey cannot undo this part/],
  // other hives
  [
    "powershell",
    "Set-ItemProperty -Path Registry::HKEY_USERS\\S-1-5-21\\Software\\App -Name Theme -Value dark",
    [
      {
        kind: "registry",
        target: "HKU\\S-1-5-21\\Software\\App",
        name: "Theme",
        exists: true,
        type: "REG_SZ",
        value: "light",
      },
    ],
    {
      command:
        "New-ItemProperty -LiteralPath 'Registry::HKEY_USERS\\S-1-5-21\\Software\\App' -Name 'Theme' -PropertyType String -Value 'light' -Force",
    },
  ],
];

const svc = (startType: string, state: string, target = "Spooler"): Prestate => ({
  kind: "service",
  target,
  exists: true,
  startType,
  state,
});
const NOTHING = /already in that state before the change: there is nothing to undo/;

const SERVICES: Row[] = [
  [
    "cmd",
    "sc stop Spooler",
    [svc("automatic", "running")],
    { command: "sc start Spooler", summary: "Start the Print Spooler service again" },
  ],
  ["cmd", "sc stop Spooler", [svc("automatic", "stopped")], NOTHING],
  [
    "cmd",
    "sc start Spooler",
    [svc("manual", "stopped")],
    { command: "sc stop Spooler", summary: "Stop the Print Spooler service again" },
  ],
  ["cmd", "sc start Spooler", [svc("manual", "paused")], { command: "sc pause Spooler" }],
  ["cmd", "sc pause Spooler", [svc("manual", "running")], { command: "sc start Spooler" }],
  [
    "cmd",
    "sc config Spooler start= disabled",
    [svc("automatic-delayed", "running")],
    {
      command: "sc config Spooler start= delayed-auto",
      summary: "Set the Print Spooler service back to start automatically (delayed)",
    },
  ],
  [
    "cmd",
    "sc config Spooler start= disabled",
    [svc("automatic", "running")],
    { command: "sc config Spooler start= auto" },
  ],
  [
    "cmd",
    "sc config Spooler start= disabled",
    [svc("manual", "running")],
    { command: "sc config Spooler start= demand" },
  ],
  ["cmd", "sc config Spooler start= disabled", [svc("disabled", "stopped")], NOTHING],
  [
    "cmd",
    "sc config Spooler start=delayed-auto",
    [svc("automatic", "running")],
    { command: "sc config Spooler start= auto" },
  ],
  [
    "cmd",
    "sc config Spooler start= auto",
    [svc("automatic-delayed", "running")],
    { command: "sc config Spooler start= delayed-auto" },
  ],
  [
    "cmd",
    "sc config Spooler start= demand",
    [svc("system", "running")],
    { command: "sc config Spooler start= system" },
  ],
  ["cmd", "sc config Spooler binPath= C:\\x.exe", [], /Caisey cannot undo this part/],
  ["cmd", "sc \\\\server stop Spooler", [], /Caisey cannot undo this part/],
  ["cmd", "sc stop Spooler", [{ kind: "service", target: "Spooler", exists: false }], /There was no Spooler service/],
  [
    "cmd",
    "sc stop Spooler",
    [{ kind: "service", target: "Spooler", exists: false, error: "Access is denied" }],
    /could not read the Spooler service/,
  ],
  [
    "cmd",
    "sc stop Spooler & sc config Spooler start= disabled",
    [svc("automatic", "running")],
    {
      command: "sc config Spooler start= auto && sc start Spooler",
      summary: "Set the Print Spooler service back to start automatically; then start the Print Spooler service again",
    },
  ],
  ["cmd", "net stop Spooler", [], /Caisey cannot undo this part: net stop Spooler/],
  [
    "powershell",
    "Stop-Service Spooler",
    [svc("automatic", "running")],
    { command: "Start-Service -Name 'Spooler'", summary: "Start the Print Spooler service again" },
  ],
  [
    "powershell",
    "Stop-Service -Name Spooler",
    [svc("automatic", "running")],
    { command: "Start-Service -Name 'Spooler'" },
  ],
  ["powershell", "Stop-Service Spooler", [svc("automatic", "stopped")], NOTHING],
  ["powershell", "Stop-Service Spooler -Force", [], /Caisey cannot undo this part/],
  ["powershell", "Get-Service Spooler | Stop-Service", [], /Caisey cannot undo this part/],
  ["powershell", "Start-Service Spooler", [svc("manual", "stopped")], { command: "Stop-Service -Name 'Spooler'" }],
  [
    "powershell",
    "Start-Service wuauserv",
    [svc("manual", "stopped", "wuauserv")],
    { command: "Stop-Service -Name 'wuauserv'", summary: "Stop the Windows Update service again" },
  ],
  ["powershell", "Suspend-Service Spooler", [svc("manual", "running")], { command: "Start-Service -Name 'Spooler'" }],
  ["powershell", "Resume-Service Spooler", [svc("manual", "paused")], { command: "Suspend-Service -Name 'Spooler'" }],
  [
    "powershell",
    "Set-Service -Name Spooler -StartupType Disabled",
    [svc("automatic-delayed", "running")],
    {
      command: "sc.exe config Spooler start= delayed-auto",
      summary: "Set the Print Spooler service back to start automatically (delayed)",
    },
  ],
  [
    "powershell",
    "Set-Service Spooler -StartupType Manual",
    [svc("automatic", "running")],
    { command: "sc.exe config Spooler start= auto" },
  ],
  [
    "powershell",
    "Set-Service Spooler -StartupType Automatic",
    [svc("disabled", "stopped")],
    { command: "sc.exe config Spooler start= disabled" },
  ],
  [
    "powershell",
    "Set-Service Spooler -StartupType Disabled -Status Stopped",
    [svc("automatic", "running")],
    { command: "sc.exe config Spooler start= auto; Start-Service -Name 'Spooler'" },
  ],
  [
    "powershell",
    "Set-Service Spooler -StartupType Disabled -Status Stopped",
    [svc("disabled", "running")],
    { command: "Start-Service -Name 'Spooler'" },
  ],
  ["powershell", "Set-Service Spooler -Description 'x'", [], /Caisey cannot undo this part/],
  [
    "pwsh",
    "Stop-Service Spooler",
    [svc("automatic", "running")],
    { command: "Start-Service -Name 'Spooler'", shell: "pwsh" },
  ],
  ["powershell", "Restart-Service Spooler", [], /Caisey cannot undo this part: Restart-Service Spooler/],
  ["powershell", "Stop-Service $name", [], /Caisey cannot undo this part/],
  [
    "bash",
    "systemctl stop nginx",
    [svc("enabled", "running", "nginx")],
    { command: "systemctl start nginx", summary: "Start the nginx service again" },
  ],
  ["bash", "sudo systemctl stop nginx", [svc("enabled", "running", "nginx")], { command: "systemctl start nginx" }],
  ["bash", "systemctl start nginx", [svc("enabled", "stopped", "nginx")], { command: "systemctl stop nginx" }],
  ["bash", "systemctl start nginx", [svc("enabled", "running", "nginx")], NOTHING],
  [
    "bash",
    "systemctl enable nginx",
    [svc("disabled", "stopped", "nginx")],
    {
      command: "systemctl disable nginx",
      summary: "Stop the nginx service from starting automatically again",
      basis: "prestate",
    },
  ],
  ["bash", "systemctl enable nginx", [svc("enabled", "stopped", "nginx")], NOTHING],
  [
    "bash",
    "systemctl enable nginx",
    [svc("static", "stopped", "nginx")],
    /was static before: systemctl cannot set that back/,
  ],
  ["bash", "systemctl enable nginx", [], /nothing was recorded before the change/],
  [
    "bash",
    "systemctl enable --now nginx",
    [svc("disabled", "stopped", "nginx")],
    { command: "systemctl disable nginx && systemctl stop nginx" },
  ],
  [
    "bash",
    "systemctl disable nginx",
    [svc("enabled", "running", "nginx")],
    { command: "systemctl enable nginx", summary: "Make the nginx service start automatically again" },
  ],
  [
    "bash",
    "systemctl disable --now nginx",
    [svc("enabled", "running", "nginx")],
    { command: "systemctl enable nginx && systemctl start nginx" },
  ],
  [
    "bash",
    "systemctl mask cups",
    [svc("enabled", "running", "cups")],
    { command: "systemctl unmask cups", summary: "Allow the cups service to start again" },
  ],
  ["bash", "systemctl mask cups", [svc("masked", "stopped", "cups")], NOTHING],
  [
    "bash",
    "systemctl unmask cups",
    [svc("masked", "stopped", "cups")],
    { command: "systemctl mask cups", summary: "Block the cups service from starting again" },
  ],
  ["bash", "systemctl unmask cups", [svc("disabled", "stopped", "cups")], NOTHING],
  [
    "sh",
    "systemctl stop cups.service",
    [svc("enabled", "running", "cups.service")],
    { command: "systemctl start cups.service", shell: "sh" },
  ],
  ["bash", "systemctl restart nginx", [], /Caisey cannot undo this part: systemctl restart nginx/],
  [
    "bash",
    "systemctl stop nginx apache2",
    [svc("enabled", "running", "nginx"), svc("enabled", "stopped", "apache2")],
    { command: "systemctl start nginx" },
  ],
  ["bash", "systemctl --user stop pipewire", [], /Caisey cannot undo this part/],
];

const TEXT = Buffer.from("a=1\n").toString("base64");
const file = (target: string, over: Partial<Prestate & { kind: "file" }> = {}): Prestate => ({
  kind: "file",
  target,
  exists: true,
  sha256: "9f",
  bytes: 4,
  mode: "0644",
  data: TEXT,
  ...over,
});
const missing = (target: string): Prestate => ({ kind: "file", target, exists: false });
const LARGE =
  /larger than 1 MiB before the change \(2000000 bytes, SHA-256 abc\): Caisey kept only its hash, so it cannot put its contents back/;

const APP = "/etc/app.conf";
const POSIX_WRITES = [
  "sed -i 's/a/b/' /etc/app.conf",
  "sudo sed -i.bak -e 's/a/b/' /etc/app.conf",
  "echo x > /etc/app.conf",
  "echo x >> /etc/app.conf",
  "echo x | tee /etc/app.conf",
  "echo x | sudo tee -a /etc/app.conf > /dev/null",
  "cp /tmp/new.conf /etc/app.conf",
  "cp -f /tmp/new.conf /etc/app.conf",
  "install -m 644 /tmp/new.conf /etc/app.conf",
  "rm /etc/app.conf",
  "rm -f -- /etc/app.conf",
];
const POSIX_FILES: Row[] = [
  ...POSIX_WRITES.flatMap((command): Row[] => [
    [
      "bash",
      command,
      [file(APP)],
      {
        command: "printf 'a=1\\012' > /etc/app.conf && chmod 0644 -- /etc/app.conf",
        summary: "Put back the contents /etc/app.conf had before the change (4 bytes)",
        basis: "prestate",
      },
    ],
    [
      "bash",
      command,
      [missing(APP)],
      { command: "rm -f -- /etc/app.conf", summary: "Delete /etc/app.conf, which did not exist before the change" },
    ],
    ["bash", command, [file(APP, { data: undefined, bytes: 2000000, sha256: "abc" })], LARGE],
    [
      "bash",
      command,
      [file(APP, { exists: false, error: "Permission denied" })],
      /could not read \/etc\/app.conf before the change \(Permission denied\)/,
    ],
  ]),
  [
    "bash",
    "mv /etc/app.conf /etc/app.conf.old",
    [file(APP), missing("/etc/app.conf.old")],
    {
      command: "printf 'a=1\\012' > /etc/app.conf && chmod 0644 -- /etc/app.conf && rm -f -- /etc/app.conf.old",
      summary:
        "Put back the contents /etc/app.conf had before the change (4 bytes); then delete /etc/app.conf.old, which did not exist before the change",
    },
  ],
  [
    "bash",
    "chmod 600 /etc/app.conf",
    [file(APP)],
    { command: "chmod 0644 -- /etc/app.conf", summary: "Set the permissions of /etc/app.conf back to 0644" },
  ],
  [
    "bash",
    "chown root:root /etc/app.conf",
    [file(APP, { owner: "1000:1000" })],
    { command: "chown 1000:1000 -- /etc/app.conf", summary: "Set the owner of /etc/app.conf back to 1000:1000" },
  ],
  ["bash", "chown root /etc/app.conf", [file(APP)], /did not record the owner of \/etc\/app.conf/],
  ["bash", "chmod -R 700 /srv", [], /Caisey cannot undo this part: chmod -R 700 \/srv/],
  [
    "bash",
    "rm -rf /var/cache/app",
    [file("/var/cache/app", { directory: true, data: undefined })],
    /was a folder: Caisey keeps no copy of a folder's contents/,
  ],
  ["bash", "rm /tmp/*.log", [], /Caisey cannot undo this part: rm \/tmp\/\*.log/],
  ["bash", 'rm "$f"', [], /Caisey cannot undo this part/],
  ["bash", 'echo x > "$out"', [], /Caisey cannot undo this part/],
  [
    "bash",
    "mkdir /srv/new",
    [],
    { command: "rmdir -- /srv/new", summary: "Delete the empty folder /srv/new", basis: "inferred" },
  ],
  ["bash", "mkdir /srv/a /srv/b", [], { command: "rmdir -- /srv/b /srv/a", basis: "inferred" }],
  ["bash", "mkdir -p /srv/a/b", [], /Caisey cannot undo this part: mkdir -p/],
  [
    "bash",
    "echo 'it''s 100%' > '/srv/my app.conf'",
    [file("/srv/my app.conf", { data: Buffer.from("it's 100% \\\n").toString("base64"), mode: undefined })],
    { command: "printf 'it\\047s 100\\045 \\134\\012' > '/srv/my app.conf'" },
  ],
  [
    "bash",
    "sed -i 's/a/b/' /etc/a.conf /etc/b.conf",
    [file("/etc/a.conf", { mode: undefined }), missing("/etc/b.conf")],
    { command: "printf 'a=1\\012' > /etc/a.conf && rm -f -- /etc/b.conf" },
  ],
  [
    "bash",
    "sed -i 's/a/b/' /etc/app.conf && systemctl restart app",
    [file(APP)],
    /Caisey cannot undo this part: systemctl restart app/,
  ],
  [
    "bash",
    "sed -i 's/a/b/' /etc/app.conf && systemctl stop app",
    [file(APP), svc("enabled", "running", "app")],
    { command: "systemctl start app && printf 'a=1\\012' > /etc/app.conf && chmod 0644 -- /etc/app.conf" },
  ],
  // the same file twice: put back as it was before the whole command
  [
    "bash",
    "echo a > /etc/app.conf; echo b >> /etc/app.conf",
    [file(APP)],
    { command: "printf 'a=1\\012' > /etc/app.conf && chmod 0644 -- /etc/app.conf" },
  ],
  ["bash", "cat /etc/app.conf", [], /only reads: there is nothing to undo/],
  ["bash", "echo 'unterminated", [], /could not read the command/],
  [
    "bash",
    "printf x > /srv/big",
    [file("/srv/big", { data: Buffer.alloc(30000, 0).toString("base64"), bytes: 30000 })],
    /^\/srv\/big was larger than Caisey can restore from the console: 30000 bytes; restore it by hand from the pre-state$/,
  ],
];

const INI = "C:\\App\\app.ini";
const PS_RESTORE = `Set-Content -LiteralPath 'C:\\App\\app.ini' -Encoding Byte -Value ([Convert]::FromBase64String('${TEXT}'))`;
const PS_WRITES = [
  "Set-Content -Path C:\\App\\app.ini -Value 'x=1'",
  "Add-Content C:\\App\\app.ini 'x=1'",
  "'x=1' | Out-File -FilePath C:\\App\\app.ini",
  "'x=1' | Out-File C:\\App\\app.ini -Append",
  "Remove-Item C:\\App\\app.ini",
  "Remove-Item -LiteralPath 'C:\\App\\app.ini' -Force",
  "Copy-Item C:\\tmp\\new.ini C:\\App\\app.ini",
  "Copy-Item -Path C:\\tmp\\new.ini -Destination C:\\App\\app.ini -Force",
  "'x=1' > C:\\App\\app.ini",
  "'x=1' | Tee-Object -FilePath C:\\App\\app.ini",
];
const CMD_WRITES = [
  "echo x=1> C:\\App\\app.ini",
  "echo x=1 >> C:\\App\\app.ini",
  "copy /y C:\\tmp\\new.ini C:\\App\\app.ini",
  "del C:\\App\\app.ini",
  "del /q /f C:\\App\\app.ini",
];
const WINDOWS_FILES: Row[] = [
  ...PS_WRITES.flatMap((command): Row[] => [
    [
      "powershell",
      command,
      [file(INI, { mode: undefined })],
      { command: PS_RESTORE, shell: "powershell", basis: "prestate" },
    ],
    ["powershell", command, [missing(INI)], { command: "Remove-Item -LiteralPath 'C:\\App\\app.ini' -Force" }],
    ["powershell", command, [file(INI, { data: undefined, bytes: 2000000, sha256: "abc" })], LARGE],
  ]),
  ...CMD_WRITES.flatMap((command): Row[] => [
    // cmd cannot write bytes: the reverse is Windows PowerShell
    ["cmd", command, [file(INI, { mode: undefined })], { command: PS_RESTORE, shell: "powershell" }],
    ["cmd", command, [missing(INI)], { command: `del /f /q ${INI}`, shell: "cmd" }],
    ["cmd", command, [file(INI, { data: undefined, bytes: 2000000, sha256: "abc" })], LARGE],
  ]),
  [
    "pwsh",
    "Set-Content -Path C:\\App\\app.ini -Value 'x=1'",
    [file(INI)],
    {
      command: `Set-Content -LiteralPath 'C:\\App\\app.ini' -AsByteStream -Value ([Convert]::FromBase64String('${TEXT}'))`,
      shell: "pwsh",
    },
  ],
  [
    "powershell",
    "Move-Item C:\\App\\app.ini C:\\App\\app.old",
    [file(INI), missing("C:\\App\\app.old")],
    { command: `${PS_RESTORE}; Remove-Item -LiteralPath 'C:\\App\\app.old' -Force` },
  ],
  [
    "cmd",
    "move C:\\App\\app.ini C:\\App\\app.old",
    [file(INI), missing("C:\\App\\app.old")],
    { command: `${PS_RESTORE}; Remove-Item -LiteralPath 'C:\\App\\app.old' -Force`, shell: "powershell" },
  ],
  ["cmd", "del /s C:\\App\\*.tmp", [], /Caisey cannot undo this part/],
  ["cmd", "copy a.txt+b.txt c.txt", [], /Caisey cannot undo this part/],
  ["powershell", "Remove-Item C:\\Temp\\* -Recurse", [], /Caisey cannot undo this part/],
  ["powershell", "Set-Content -Path C:\\App\\*.ini -Value x", [], /Caisey cannot undo this part/],
  [
    "cmd",
    "reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 1 /f && echo done> C:\\App\\log.txt",
    [reg(true, "REG_DWORD", "0"), missing("C:\\App\\log.txt")],
    {
      command: `del /f /q C:\\App\\log.txt && reg add ${KEY} /v DisableRestart /t REG_DWORD /d 0 /f`,
      summary:
        "Delete C:\\App\\log.txt, which did not exist before the change; then set the registry value DisableRestart under HKLM\\Software\\PrintSpooler back to 0",
    },
  ],
];

const ENV = (target: string, exists: boolean, type?: string, value?: string): Prestate =>
  exists
    ? { kind: "registry", target, name: "TOOLS", exists, type, value }
    : { kind: "registry", target, name: "TOOLS", exists };
const MACHINE_ENV = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment";
// setx writes an environment variable into the registry: put back as the value it was
const ENVIRONMENT: Row[] = [
  [
    "cmd",
    "setx TOOLS C:\\tools",
    [ENV("HKCU\\Environment", true, "REG_SZ", "C:\\old")],
    {
      command: "reg add HKCU\\Environment /v TOOLS /t REG_SZ /d C:\\old /f",
      summary: "Set the registry value TOOLS under HKCU\\Environment back to 'C:\\old'",
    },
  ],
  [
    "cmd",
    "setx TOOLS C:\\tools",
    [ENV("HKCU\\Environment", false)],
    { command: "reg delete HKCU\\Environment /v TOOLS /f" },
  ],
  [
    "cmd",
    "setx TOOLS C:\\tools /m",
    [ENV(MACHINE_ENV, true, "REG_EXPAND_SZ", "%ProgramFiles%\\old")],
    {
      command: `New-ItemProperty -LiteralPath 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment' -Name 'TOOLS' -PropertyType ExpandString -Value '%ProgramFiles%\\old' -Force`,
      shell: "powershell",
    },
  ],
  [
    "powershell",
    "setx TOOLS C:\\tools",
    [ENV("HKCU\\Environment", false)],
    { command: "Remove-ItemProperty -LiteralPath 'HKCU:\\Environment' -Name 'TOOLS'" },
  ],
  ["cmd", "setx /s server TOOLS C:\\tools", [], /Caisey cannot undo this part/],
];

const TABLE: Row[] = [...REGISTRY, ...SERVICES, ...POSIX_FILES, ...WINDOWS_FILES, ...ENVIRONMENT];

describe("reverseCommand: real command → pre-state → reverse", () => {
  it("covers at least 150 cases across PowerShell, cmd and POSIX", () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(150);
    for (const shells of [["powershell", "pwsh"], ["cmd"], ["bash", "sh"]])
      expect(TABLE.filter(([s]) => shells.includes(s)).length).toBeGreaterThan(30);
  });

  it.each(TABLE.map((row, i) => [i, ...row] as const))("%i: %s %s", (_i, shell, command, before, expected) => {
    const answer = reverseCommand(shell, command, before);
    if (expected instanceof RegExp) {
      expect(answer.reverse).toBeNull();
      expect(answer.reason).toMatch(expected);
      return;
    }
    expect(answer.reverse?.command).toBe(expected.command);
    expect(answer.reverse?.shell).toBe(expected.shell ?? shell);
    if (expected.summary !== undefined) expect(answer.reverse?.summary).toBe(expected.summary);
    if (expected.basis !== undefined) expect(answer.reverse?.basis).toBe(expected.basis);
    // the reverse is itself a change Caisey reads and names to the contact
    const reverse = answer.reverse as NonNullable<typeof answer.reverse>;
    expect(analyzeCommand(reverse.shell, reverse.command).parseError).toBeUndefined();
    expect(classifyCommand(reverse.shell, reverse.command).kind).toBe("change");
    expect(describeChanges(reverse.shell, reverse.command).filter((l) => l.kind === "unknown")).toEqual([]);
  });

  it("answers the issue's example in the contact's words", () => {
    expect(
      reverseCommand("cmd", "reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 1 /f", [
        reg(true, "REG_DWORD", "0"),
      ]),
    ).toEqual({
      reverse: {
        command: "reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 0 /f",
        shell: "cmd",
        summary: "Set the registry value DisableRestart under HKLM\\Software\\PrintSpooler back to 0",
        basis: "prestate",
      },
      reason: "Puts back what Caisey recorded before the change",
    });
  });
});

type Planned = { kind: string; target: string; name?: string; command?: string };
const PROBES: [Shell, string, Planned[]][] = [
  [
    "cmd",
    "reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 1 /f",
    [{ kind: "registry", target: KEY, name: "DisableRestart", command: `reg query ${KEY} /v DisableRestart` }],
  ],
  [
    "cmd",
    'reg add "HKLM\\Software\\My App" /ve /d 1 /f',
    [
      {
        kind: "registry",
        target: "HKLM\\Software\\My App",
        name: "",
        command: 'reg query "HKLM\\Software\\My App" /ve',
      },
    ],
  ],
  [
    "powershell",
    "Set-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart -Value 1",
    [{ kind: "registry", target: KEY, name: "DisableRestart", command: `reg.exe query '${KEY}' /v 'DisableRestart'` }],
  ],
  [
    "powershell",
    "New-ItemProperty HKCU:\\Software\\App Theme -Value dark",
    [{ kind: "registry", target: "HKCU\\Software\\App", name: "Theme" }],
  ],
  [
    "powershell",
    "Remove-ItemProperty -Path HKCU:\\Software\\App -Name Theme",
    [{ kind: "registry", target: "HKCU\\Software\\App", name: "Theme" }],
  ],
  ["powershell", "Remove-ItemProperty -Path HKCU:\\Software\\App -Name Theme, Font", []],
  ["cmd", "reg delete HKLM\\Software\\PrintSpooler /f", []],
  [
    "cmd",
    "sc config Spooler start= disabled",
    [{ kind: "service", target: "Spooler", command: "sc qc Spooler & sc query Spooler" }],
  ],
  ["cmd", "sc stop Spooler", [{ kind: "service", target: "Spooler" }]],
  [
    "powershell",
    "Stop-Service -Name Spooler",
    [
      {
        kind: "service",
        target: "Spooler",
        command:
          "Get-CimInstance -ClassName Win32_Service -Filter \"Name='Spooler'\" | Select-Object Name, State, StartMode, DelayedAutoStart | ConvertTo-Json",
      },
    ],
  ],
  ["powershell", "Set-Service Spooler -StartupType Disabled", [{ kind: "service", target: "Spooler" }]],
  [
    "powershell",
    "Start-Service Spooler, BITS",
    [
      { kind: "service", target: "Spooler" },
      { kind: "service", target: "BITS" },
    ],
  ],
  ["powershell", "Restart-Service Spooler", []],
  [
    "bash",
    "systemctl enable --now nginx",
    [
      {
        kind: "service",
        target: "nginx",
        command: "systemctl show --property=LoadState,UnitFileState,ActiveState nginx",
      },
    ],
  ],
  ["bash", "sudo systemctl mask cups", [{ kind: "service", target: "cups" }]],
  ["bash", "systemctl daemon-reload", []],
  ["bash", "sed -i 's/a/b/' /etc/app.conf", [{ kind: "file", target: "/etc/app.conf" }]],
  [
    "bash",
    "sed -e 's/a/b/' -i /etc/a /etc/b",
    [
      { kind: "file", target: "/etc/a" },
      { kind: "file", target: "/etc/b" },
    ],
  ],
  ["bash", "sed 's/a/b/' /etc/app.conf > /tmp/out", [{ kind: "file", target: "/tmp/out" }]],
  ["bash", "echo x >> /etc/app.conf; echo y > /etc/app.conf", [{ kind: "file", target: "/etc/app.conf" }]],
  [
    "bash",
    "echo x | tee -a /etc/a /etc/b >/dev/null",
    [
      { kind: "file", target: "/etc/a" },
      { kind: "file", target: "/etc/b" },
    ],
  ],
  ["bash", "cp -p /tmp/a /etc/a", [{ kind: "file", target: "/etc/a" }]],
  ["bash", "cp /tmp/a /tmp/b /etc/", []],
  ["bash", "cp -t /etc /tmp/a", []],
  [
    "bash",
    "mv /tmp/a /etc/a",
    [
      { kind: "file", target: "/tmp/a" },
      { kind: "file", target: "/etc/a" },
    ],
  ],
  [
    "bash",
    "rm -f /tmp/a /tmp/b",
    [
      { kind: "file", target: "/tmp/a" },
      { kind: "file", target: "/tmp/b" },
    ],
  ],
  ["bash", "install -o root -m 0600 /tmp/key /etc/key", [{ kind: "file", target: "/etc/key" }]],
  ["bash", "install -d /srv/x", []],
  [
    "bash",
    "chmod 600 /etc/a /etc/b",
    [
      { kind: "file", target: "/etc/a" },
      { kind: "file", target: "/etc/b" },
    ],
  ],
  ["bash", "chown -R app /srv", []],
  ["bash", "cat /etc/app.conf", []],
  ["bash", "rm $f", []],
  ["powershell", "Set-Content C:\\a.txt 'x'", [{ kind: "file", target: "C:\\a.txt" }]],
  [
    "powershell",
    "Add-Content -Path C:\\a.txt, C:\\b.txt -Value 'x'",
    [
      { kind: "file", target: "C:\\a.txt" },
      { kind: "file", target: "C:\\b.txt" },
    ],
  ],
  ["powershell", "Get-Process | Out-File -FilePath C:\\p.txt", [{ kind: "file", target: "C:\\p.txt" }]],
  ["powershell", "Remove-Item -LiteralPath 'C:\\[x].txt'", [{ kind: "file", target: "C:\\[x].txt" }]],
  ["powershell", "Remove-Item C:\\[x].txt", []],
  ["powershell", "Copy-Item C:\\a.txt -Destination C:\\b.txt", [{ kind: "file", target: "C:\\b.txt" }]],
  [
    "powershell",
    "Move-Item C:\\a.txt C:\\b.txt",
    [
      { kind: "file", target: "C:\\a.txt" },
      { kind: "file", target: "C:\\b.txt" },
    ],
  ],
  ["powershell", "Get-Service | Out-File $env:TEMP\\s.txt", []],
  ["cmd", "echo x> C:\\a.txt", [{ kind: "file", target: "C:\\a.txt" }]],
  ["cmd", "copy /y C:\\a.txt C:\\b.txt", [{ kind: "file", target: "C:\\b.txt" }]],
  [
    "cmd",
    "del /q C:\\a.txt C:\\b.txt",
    [
      { kind: "file", target: "C:\\a.txt" },
      { kind: "file", target: "C:\\b.txt" },
    ],
  ],
  [
    "cmd",
    "move C:\\a.txt D:\\a.txt",
    [
      { kind: "file", target: "C:\\a.txt" },
      { kind: "file", target: "D:\\a.txt" },
    ],
  ],
  ["cmd", "dir C:\\ > nul", []],
  [
    "cmd",
    "setx TOOLS C:\\tools /m",
    [{ kind: "registry", target: MACHINE_ENV, name: "TOOLS", command: `reg query "${MACHINE_ENV}" /v TOOLS` }],
  ],
];

describe("planProbes: what the runtime reads before a change", () => {
  it.each(PROBES)("%s %s", (shell, command, expected) => {
    const probes = planProbes(shell, command);
    expect(
      probes.map((p) => ({
        kind: p.kind,
        target: p.target,
        ...(p.kind === "registry" ? { name: p.name } : {}),
        ...(p.read === "file" ? {} : { command: p.read.command }),
      })),
    ).toMatchObject(expected);
    expect(probes).toHaveLength(expected.length);
    for (const p of probes) {
      if (p.read === "file") continue;
      // a probe only reads, in the same shell as the command
      expect(p.read.shell).toBe(shell);
      expect(classifyCommand(p.read.shell, p.read.command).kind).toBe("read");
    }
  });
});

describe("readProbe: probe output → prestate record", () => {
  const regProbe = (shell: Shell, name = "DisableRestart") => {
    const [p] = planProbes(shell, `reg add ${KEY} /v ${name} /d 1 /f`);
    if (p === undefined || p.read === "file") throw new Error("no registry probe");
    return p;
  };
  const svcProbe = (shell: Shell, command: string) => {
    const [p] = planProbes(shell, command);
    if (p === undefined || p.read === "file") throw new Error("no service probe");
    return p;
  };

  it("reads reg query's value line: DWORD and QWORD in decimal, strings as printed", () => {
    const out = (line: string) => ({
      stdout: `\r\nHKEY_LOCAL_MACHINE\\Software\\PrintSpooler\r\n${line}\r\n\r\n`,
      exitCode: 0,
    });
    expect(readProbe(regProbe("cmd"), out("    DisableRestart    REG_DWORD    0x0"))).toEqual(
      reg(true, "REG_DWORD", "0"),
    );
    expect(readProbe(regProbe("cmd"), out("    DisableRestart    REG_DWORD    0xffffffff"))).toEqual(
      reg(true, "REG_DWORD", "4294967295"),
    );
    expect(readProbe(regProbe("powershell"), out("    DisableRestart    REG_QWORD    0x10"))).toEqual(
      reg(true, "REG_QWORD", "16"),
    );
    expect(readProbe(regProbe("cmd"), out("    DisableRestart    REG_SZ    C:\\Program Files\\App  x"))).toEqual(
      reg(true, "REG_SZ", "C:\\Program Files\\App  x"),
    );
    expect(readProbe(regProbe("cmd"), out("    DisableRestart    REG_SZ    "))).toEqual(reg(true, "REG_SZ", ""));
    expect(readProbe(regProbe("cmd"), out("    DisableRestart    REG_MULTI_SZ    a\\0b"))).toEqual(
      reg(true, "REG_MULTI_SZ", "a\\0b"),
    );
    expect(readProbe(regProbe("cmd"), out("    DisableRestart    REG_BINARY    01AB"))).toEqual(
      reg(true, "REG_BINARY", "01AB"),
    );
    const [def] = planProbes("cmd", `reg add ${KEY} /ve /d 1 /f`);
    if (def === undefined || def.read === "file") throw new Error("no probe");
    expect(readProbe(def, out("    (Default)    REG_SZ    on"))).toMatchObject({
      name: "",
      exists: true,
      type: "REG_SZ",
      value: "on",
    });
  });

  it("reads a missing value as absent, and a refusal as a failed probe", () => {
    expect(
      readProbe(regProbe("cmd"), {
        stdout: "",
        stderr: "ERROR: The system was unable to find the specified registry key or value.\r\n",
        exitCode: 1,
      }),
    ).toEqual(reg(false));
    expect(readProbe(regProbe("cmd"), { stdout: "", stderr: "ERROR: Access is denied.\r\n", exitCode: 1 })).toEqual({
      ...reg(false),
      error: "ERROR: Access is denied.",
    });
  });

  const SC_QC = (start: string) =>
    `[SC] QueryServiceConfig SUCCESS\r\n\r\nSERVICE_NAME: Spooler\r\n        TYPE               : 110  WIN32_OWN_PROCESS (interactive)\r\n        START_TYPE         : ${start}\r\n        ERROR_CONTROL      : 1   NORMAL\r\n        BINARY_PATH_NAME   : C:\\Windows\\System32\\spoolsv.exe\r\n        DISPLAY_NAME       : Print Spooler\r\n`;
  const SC_QUERY = (state: string) =>
    `\r\nSERVICE_NAME: Spooler\r\n        TYPE               : 110  WIN32_OWN_PROCESS  (interactive)\r\n        STATE              : ${state}\r\n                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\r\n        WIN32_EXIT_CODE    : 0  (0x0)\r\n`;

  it.each([
    ["2   AUTO_START  (DELAYED)", "4  RUNNING", "automatic-delayed", "running"],
    ["2   AUTO_START", "4  RUNNING", "automatic", "running"],
    ["3   DEMAND_START", "1  STOPPED", "manual", "stopped"],
    ["4   DISABLED", "1  STOPPED", "disabled", "stopped"],
    ["2   AUTO_START", "7  PAUSED", "automatic", "paused"],
    ["2   AUTO_START", "2  START_PENDING", "automatic", "starting"],
  ])("reads sc qc + sc query: %s, %s", (start, state, startType, s) => {
    const probe = svcProbe("cmd", "sc stop Spooler");
    expect(readProbe(probe, { stdout: SC_QC(start) + SC_QUERY(state), exitCode: 0 })).toEqual(svc(startType, s));
  });

  it("reads sc's 1060 as no such service", () => {
    const stdout =
      "[SC] OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n\r\n";
    expect(readProbe(svcProbe("cmd", "sc stop Nope"), { stdout: stdout + stdout, exitCode: 1060 })).toEqual({
      kind: "service",
      target: "Nope",
      exists: false,
    });
  });

  it.each([
    ['{"Name":"Spooler","State":"Running","StartMode":"Auto","DelayedAutoStart":true}', "automatic-delayed", "running"],
    ['{"Name":"Spooler","State":"Running","StartMode":"Auto","DelayedAutoStart":false}', "automatic", "running"],
    ['{"Name":"Spooler","State":"Stopped","StartMode":"Disabled","DelayedAutoStart":false}', "disabled", "stopped"],
    ['{"Name":"Spooler","State":"Paused","StartMode":"Manual"}', "manual", "paused"],
    // Get-Service | ConvertTo-Json in Windows PowerShell 5.1: enums as numbers
    ['{"Name":"Spooler","Status":4,"StartType":2}', "automatic", "running"],
    ['{"Name":"Spooler","Status":1,"StartType":4}', "disabled", "stopped"],
    // PowerShell 7: names
    ['{"Name":"Spooler","Status":"Running","StartType":"AutomaticDelayedStart"}', "automatic-delayed", "running"],
  ])("reads service JSON %s", (stdout, startType, state) => {
    expect(readProbe(svcProbe("powershell", "Stop-Service Spooler"), { stdout, exitCode: 0 })).toEqual(
      svc(startType, state),
    );
  });

  it("reads empty CIM output as no such service, and garbage as a failed probe", () => {
    const probe = svcProbe("powershell", "Stop-Service Spooler");
    expect(readProbe(probe, { stdout: "\r\n", exitCode: 0 })).toEqual({
      kind: "service",
      target: "Spooler",
      exists: false,
    });
    expect(readProbe(probe, { stdout: "Get-CimInstance : Access denied", exitCode: 1 })).toMatchObject({
      exists: false,
      error: "the probe's output is not JSON",
    });
  });

  it.each([
    [
      "LoadState=loaded\nUnitFileState=enabled\nActiveState=active\n",
      { exists: true, startType: "enabled", state: "running" },
    ],
    [
      "LoadState=loaded\nUnitFileState=disabled\nActiveState=inactive\n",
      { exists: true, startType: "disabled", state: "stopped" },
    ],
    [
      "LoadState=masked\nUnitFileState=masked\nActiveState=inactive\n",
      { exists: true, startType: "masked", state: "stopped" },
    ],
    [
      "LoadState=loaded\nUnitFileState=static\nActiveState=failed\n",
      { exists: true, startType: "static", state: "stopped" },
    ],
    ["LoadState=not-found\nUnitFileState=\nActiveState=inactive\n", { exists: false }],
  ])("reads systemctl show %j", (stdout, expected) => {
    expect(readProbe(svcProbe("bash", "systemctl stop nginx"), { stdout, exitCode: 0 })).toEqual({
      kind: "service",
      target: "nginx",
      ...expected,
    });
  });
});

describe("properties", () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9._-]{0,12}$/);
  const dir = fc.constantFrom("/etc", "/srv/app", "/var/lib/x", "/tmp");

  it("every change that names a file plans a file probe for it", () => {
    const templates = [
      (p: string) => `sed -i 's/a/b/' ${p}`,
      (p: string) => `echo x > ${p}`,
      (p: string) => `printf 'a\\n' >> ${p}`,
      (p: string) => `rm -f ${p}`,
      (p: string) => `cp /tmp/src ${p}`,
      (p: string) => `echo x | tee ${p}`,
      (p: string) => `chmod 640 ${p}`,
    ];
    fc.assert(
      fc.property(dir, name, fc.integer({ min: 0, max: templates.length - 1 }), (d, n, t) => {
        const path = `${d}/${n}`;
        const command = (templates[t] as (p: string) => string)(path);
        expect(classifyCommand("bash", command).kind).toBe("change");
        expect(planProbes("bash", command)).toContainEqual({ kind: "file", target: path, read: "file" });
      }),
    );
  });

  it("a reverse is always a change Caisey can read and name", () => {
    const shells = fc.constantFrom<Shell>("cmd", "powershell", "pwsh");
    const value = fc.oneof(
      fc.record({ type: fc.constant("REG_DWORD"), value: fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }).map(String) }),
      fc.record({ type: fc.constant("REG_SZ"), value: fc.string({ maxLength: 40 }) }),
      fc.record({ type: fc.constant("REG_EXPAND_SZ"), value: fc.string({ maxLength: 40 }) }),
    );
    fc.assert(
      fc.property(shells, value, (shell, v) => {
        const answer = reverseCommand(shell, `reg add ${KEY} /v DisableRestart /t REG_SZ /d x /f`, [
          reg(true, v.type, v.value),
        ]);
        if (answer.reverse === null) return;
        const { command, shell: runIn } = answer.reverse;
        expect(analyzeCommand(runIn, command).parseError).toBeUndefined();
        expect(classifyCommand(runIn, command).kind).toBe("change");
        // describeChanges reads `$` and a backtick in any argument as computed (cmd included), so it cannot name those
        if (!/[$`]/.test(v.value))
          expect(describeChanges(runIn, command).filter((l) => l.kind === "unknown")).toEqual([]);
      }),
    );
  });

  const work = mkdtempSync(join(tmpdir(), "caisey-rollback-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each(["/bin/sh", "/bin/bash"])("restores any bytes exactly when %s runs the reverse", (sh) => {
    const target = join(work, `app ${sh.replace(/\W/g, "")}.conf`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom("0600", "0644", "0755"), (bytes, mode) => {
        writeFileSync(target, "changed by the command\n");
        const before: Prestate = {
          kind: "file",
          target,
          exists: true,
          bytes: bytes.length,
          mode,
          data: Buffer.from(bytes).toString("base64"),
        };
        const answer = reverseCommand("sh", `sed -i 's/a/b/' '${target}'`, [before]);
        if (answer.reverse === null) throw new Error(answer.reason);
        execFileSync(sh, ["-c", answer.reverse.command]);
        expect(Buffer.from(readFileSync(target)).equals(Buffer.from(bytes))).toBe(true);
        expect((statSync(target).mode & 0o777).toString(8).padStart(4, "0")).toBe(mode);
      }),
      { numRuns: 60 },
    );
  });

  it("restores a file that starts with a dash (printf would read it as an option)", () => {
    const target = join(work, "dash.conf");
    writeFileSync(target, "x");
    const data = Buffer.from("-\0-n\n").toString("base64");
    const answer = reverseCommand("sh", `sed -i 's/a/b/' '${target}'`, [{ kind: "file", target, exists: true, data }]);
    execFileSync("/bin/sh", ["-c", answer.reverse?.command ?? "false"]);
    expect(readFileSync(target).toString("base64")).toBe(data);
  });

  it("removes, when run, a file that did not exist before", () => {
    const target = join(work, "created.txt");
    writeFileSync(target, "x");
    const answer = reverseCommand("bash", `echo x > '${target}'`, [{ kind: "file", target, exists: false }]);
    execFileSync("/bin/sh", ["-c", answer.reverse?.command ?? "false"]);
    expect(() => statSync(target)).toThrow(/ENOENT/);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CHANGE_SENTENCE } from "../../src/commands/words.ts";
import { classifyCommand, describeChanges, summarizeCommand } from "../../src/index.ts";
import type { Shell } from "../../src/shells.ts";
import { joinedCommands, knownCommands } from "./corpus.ts";

// What the client's contact approves: every change the command makes, in their words, or plainly what Caisey cannot
// tell. Lines starting with "?" are parts Caisey cannot tell.
type Row = [shell: Shell, command: string, changes: string[]];

const cannot = (part: string): string => `? Caisey cannot tell what this part does: ${part}`;

const NAMED: Row[] = [
  // the examples
  ["bash", "echo 'DisableRestart=1' >> /srv/app.conf", ["Add a line to the file /srv/app.conf"]],
  [
    "powershell",
    "Set-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart -Value 1",
    ["Set the registry value DisableRestart under HKLM\\Software\\PrintSpooler to 1"],
  ],
  ["powershell", "Stop-Service Spooler", ["Stop the Print Spooler service"]],
  ["cmd", "setx TOOLS C:\\tools /m", ["Set the environment variable TOOLS to 'C:\\tools' for every user"]],
  ["cmd", "setx TOOLS C:\\tools", ["Set the environment variable TOOLS to 'C:\\tools' for this user"]],
  // redirections and the programs that write files
  ["bash", "echo 'nameserver 1.1.1.1' > /etc/resolv.conf", ["Replace the contents of the file /etc/resolv.conf"]],
  ["bash", "printf 'a=1\\nb=2\\n' >> /etc/app.conf", ["Add 2 lines to the file /etc/app.conf"]],
  ["bash", "printf 'a=1' >> /etc/app.conf", ["Add text to the end of the file /etc/app.conf"]],
  ["bash", "uptime >> /var/log/uptime.log", ["Add the output to the end of the file /var/log/uptime.log"]],
  ["bash", "echo 'DisableRestart=1' | sudo tee -a /srv/app.conf", ["Add a line to the file /srv/app.conf"]],
  ["bash", "cat /etc/hosts | tee /tmp/hosts.bak", ["Replace the contents of the file /tmp/hosts.bak"]],
  ["bash", "sed -i 's/^Port 22/Port 2222/' /etc/ssh/sshd_config", ["Edit the file /etc/ssh/sshd_config"]],
  [
    "bash",
    "cp /etc/app.conf /etc/app.conf.bak && mv /tmp/new.conf /etc/app.conf; rm -rf /var/cache/app",
    [
      "Copy /etc/app.conf to /etc/app.conf.bak",
      "Move /tmp/new.conf to /etc/app.conf",
      "Delete /var/cache/app and everything in it",
    ],
  ],
  ["cmd", "echo DisableRestart=1>>C:\\App\\app.ini", ["Add a line to the file C:\\App\\app.ini"]],
  ["powershell", "Write-Output 'DisableRestart=1' >> C:\\App\\app.ini", ["Add a line to the file C:\\App\\app.ini"]],
  [
    "powershell",
    "Set-Content C:\\App\\app.ini 'a=1'; Add-Content -Path C:\\App\\app.ini -Value 'b=2','c=3'; Get-Date | Out-File C:\\App\\log.txt -Append",
    [
      "Replace the contents of the file C:\\App\\app.ini",
      "Add 2 lines to the file C:\\App\\app.ini",
      "Add the output to the end of the file C:\\App\\log.txt",
    ],
  ],
  [
    "powershell",
    "Copy-Item C:\\App\\app.ini C:\\App\\app.bak; Move-Item C:\\Temp\\new.ini C:\\App\\app.ini; Remove-Item C:\\Temp\\old -Recurse",
    [
      "Copy C:\\App\\app.ini to C:\\App\\app.bak",
      "Move C:\\Temp\\new.ini to C:\\App\\app.ini",
      "Delete C:\\Temp\\old and everything in it",
    ],
  ],
  // registry, services, scheduled tasks, accounts, firewall rules, packages, reboots
  [
    "cmd",
    "reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 1 /f",
    ["Set the registry value DisableRestart under HKLM\\Software\\PrintSpooler to 1"],
  ],
  [
    "powershell",
    "New-ItemProperty -Path HKCU:\\Software\\Vendor -Name Mode -Value 2; Remove-ItemProperty -Path HKLM:\\Software\\Vendor -Name Legacy",
    [
      "Create the registry value Mode under HKCU\\Software\\Vendor set to 2",
      "Delete the registry value Legacy from HKLM\\Software\\Vendor",
    ],
  ],
  [
    "powershell",
    "Set-Service -Name Spooler -StartupType Disabled; Restart-Service wuauserv",
    ["Set the Print Spooler service to start disabled", "Restart the Windows Update service"],
  ],
  [
    "powershell",
    "Register-ScheduledTask -TaskName 'Nightly backup' -Xml $xml; Unregister-ScheduledTask -TaskName OldJob",
    [cannot("Register-ScheduledTask -TaskName 'Nightly backup' -Xml $xml"), "Delete the scheduled task 'OldJob'"],
  ],
  ["cmd", "schtasks /create /tn Backup /tr C:\\backup.cmd /sc daily", ["Create the scheduled task 'Backup'"]],
  ["bash", "useradd -m bob", ["Create the user account 'bob'"]],
  [
    "powershell",
    "New-NetFirewallRule -DisplayName 'Remote Desktop' -Direction Inbound -Protocol TCP -LocalPort 3389 -Action Allow",
    ["Add the Windows firewall rule 'Remote Desktop' (allow incoming connections on TCP port 3389)"],
  ],
  ["bash", "sudo ufw allow 22", ["Allow 22 through the firewall"]],
  [
    "bash",
    "apt-get install -y htop && systemctl restart cups && reboot",
    ["Install htop", "Restart the cups service", "Restart the computer"],
  ],
  ["powershell", "Install-Package 7zip; Restart-Computer -Force", ["Install 7zip", "Restart the computer"]],
  // read-only steps are not changes
  ["powershell", "Get-Service Spooler; Stop-Service Spooler; Get-Service Spooler", ["Stop the Print Spooler service"]],
  ["bash", "df -h; free -m", []],
  ["powershell", "Stop-Service Spooler -WhatIf", []],
];

const UNKNOWN: Row[] = [
  ["bash", "frobnicate --all", [cannot("frobnicate --all")]],
  ["bash", "echo 'unclosed", [cannot("echo 'unclosed")]],
  ["bash", "$TOOL --reset", [cannot("$TOOL --reset")]],
  ["powershell", "Invoke-Expression $x", [cannot("Invoke-Expression $x")]],
  ["powershell", "Stop-Service $name", [cannot("Stop-Service $name")]],
  [
    "powershell",
    "function Reset-App { Remove-Item C:\\App\\cache -Recurse }\nReset-App",
    [cannot("function Reset-App { Remove-Item C:\\App\\cache -Recurse }"), cannot("Reset-App")],
  ],
  [
    "powershell",
    "if (Test-Path C:\\App\\old) { Remove-Item C:\\App\\old }",
    [cannot("if (Test-Path C:\\App\\old) { Remove-Item C:\\App\\old }")],
  ],
  ["powershell", "Get-Service | ForEach-Object { $_.Stop() }", [cannot("ForEach-Object { $_.Stop() }")]],
  ["bash", 'for f in /var/log/app/*.log; do rm "$f"; done', [cannot('rm "$f"')]],
  ["bash", "ls /tmp; case $1 in a) rm -rf /tmp/x;; esac", [cannot("case $1 in a) rm -rf /tmp/x;; esac")]],
  ["bash", "PATH=/tmp/evil:$PATH ls", [cannot("PATH=/tmp/evil:$PATH ls")]],
  [
    "bash",
    "curl -fsSL https://get.example.com/install.sh | sudo bash",
    ["? Download and run a script from https://get.example.com/install.sh: Caisey cannot tell what that script does"],
  ],
  [
    "powershell",
    "iex (irm https://get.example.com/install.ps1)",
    ["? Download and run a script from https://get.example.com/install.ps1: Caisey cannot tell what that script does"],
  ],
  ["bash", `frobnicate ${"x".repeat(300)}`, [cannot(`frobnicate ${"x".repeat(148)}…`)]],
];

function lines(shell: Shell, command: string): string[] {
  return describeChanges(shell, command).map((c) => (c.kind === "unknown" ? `? ${c.text}` : c.text));
}

describe("describeChanges", () => {
  for (const [shell, command, expected] of [...NAMED, ...UNKNOWN]) {
    it(`${shell}: ${command.slice(0, 100)}`, () => {
      expect(lines(shell, command)).toEqual(expected);
    });
  }

  // A script of 42 lines, as a technician pastes it: every change in it is named, in order; the rest only reads.
  const SCRIPT = [
    "# Print Spooler keeps restarting: stop it, turn off the watchdog, note it in the app's config",
    "$ErrorActionPreference = 'Stop'",
    "Get-Service Spooler | Select-Object Name, Status, StartType",
    "Get-ItemProperty -Path HKLM:\\Software\\PrintSpooler",
    "Stop-Service Spooler",
    "Set-ItemProperty -Path HKLM:\\Software\\PrintSpooler -Name DisableRestart -Value 1",
    "Write-Output 'DisableRestart=1' >> C:\\App\\app.conf",
    ...Array.from({ length: 30 }, (_, i) => `Write-Host "check ${i + 1} of 30"`),
    "Get-Content C:\\App\\app.conf -Tail 5",
    "Set-Service -Name Spooler -StartupType Manual",
    "Start-Service Spooler",
    "frobnicate.exe /quiet",
    "Get-Service Spooler",
  ].join("\n");

  it("names every change of a 42-line PowerShell script", () => {
    expect(SCRIPT.split("\n")).toHaveLength(42);
    expect(lines("powershell", SCRIPT)).toEqual([
      "Stop the Print Spooler service",
      "Set the registry value DisableRestart under HKLM\\Software\\PrintSpooler to 1",
      "Add a line to the file C:\\App\\app.conf",
      "Set the Print Spooler service to start manually",
      "Start the Print Spooler service",
      cannot("frobnicate.exe /quiet"),
    ]);
    // and the headline says how many, instead of only the size (it was "Run a PowerShell script of 42 lines")
    expect(summarizeCommand("powershell", SCRIPT)).toEqual({
      summary: "Run a PowerShell script of 42 lines that makes 5 changes; Caisey cannot tell what one part of it does",
      lines: 42,
    });
    expect(summarizeCommand("bash", "cd /etc\nsystemctl stop cups\n").summary).toBe(
      "Run a shell script of 2 lines that makes one change: stop the cups service",
    );
  });
});

// The property: whatever the classifier calls a change yields at least one line (a named change or a part Caisey
// cannot tell), and a read yields none; every named change is worded as one, and every other line says it cannot tell.

const CORPUS = knownCommands([...NAMED, ...UNKNOWN]);

const JOINERS: Record<Shell, string[]> = {
  bash: [" | ", " && ", " || ", "; ", "\n"],
  sh: [" | ", " && ", " || ", "; ", "\n"],
  cmd: [" | ", " & ", " && ", " || ", "\r\n"],
  powershell: [" | ", "; ", "\n"],
  pwsh: [" | ", "; ", "\n"],
};

function checkChanges(shell: Shell, command: string): void {
  const where = JSON.stringify({ shell, command });
  const changes = describeChanges(shell, command);
  if (classifyCommand(shell, command).kind === "change") expect(changes.length, where).toBeGreaterThan(0);
  else expect(changes, where).toEqual([]);
  for (const c of changes) {
    if (c.kind === "change") expect(c.text, where).toMatch(CHANGE_SENTENCE);
    else expect(c.text, where).toMatch(/^(Caisey cannot tell what this part does: |Download and run a script from )/);
  }
}

describe("a change is never left out of what the contact approves", () => {
  it("holds for every command in the tests", () => {
    for (const [shell, command] of CORPUS) checkChanges(shell, command);
  });

  it("holds for pipelines, sequences and scripts of them", () => {
    fc.assert(
      fc.property(joinedCommands(CORPUS, JOINERS, 6), ({ shell, command }) => checkChanges(shell, command)),
      { numRuns: 2000 },
    );
  });
});

import { describe, expect, it } from "vitest";
import { summarizeCommand } from "../src/index.ts";
import type { Shell } from "../src/shells.ts";

type Row = [shell: Shell, command: string, summary: string];

// What the client contact reads in an approval request. Exact strings: this is the spec.
const EXAMPLES: Row[] = [
  // the examples from the design brief
  [
    "cmd",
    "reg delete HKLM\\Software\\PrintSpooler /v DisableRestart /f",
    "Delete registry value 'DisableRestart' from HKLM\\Software\\PrintSpooler",
  ],
  [
    "cmd",
    "reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 1 /f",
    "Set registry value 'DisableRestart' in HKLM\\Software\\PrintSpooler to 1",
  ],
  ["powershell", "Restart-Service Spooler", "Restart the Print Spooler service"],
  ["powershell", "Restart-Service -Name Spooler -Force", "Restart the Print Spooler service"],
  ["powershell", "Stop-Service Spooler", "Stop the Print Spooler service"],
  ["powershell", "Start-Service -Name Spooler", "Start the Print Spooler service"],
  ["powershell", "Set-Service -Name Spooler -StartupType Disabled", "Set the Print Spooler service to start disabled"],
  ["cmd", "sc config Spooler start= disabled", "Set the Print Spooler service to start disabled"],
  ["powershell", "Remove-Item C:\\Temp\\old-logs -Recurse -Force", "Delete C:\\Temp\\old-logs and everything in it"],
  ["powershell", "Restart-Computer -Force", "Restart the computer"],
  ["cmd", "shutdown /r /t 0", "Restart the computer"],
  ["bash", "systemctl restart cups", "Restart the cups service"],
  ["bash", "rm -rf /var/log/old", "Delete /var/log/old and everything in it"],
  [
    "powershell",
    'Set-ItemProperty -Path "HKLM:\\SOFTWARE\\Vendor\\Auth" -Name "LegacyMode" -Value 0',
    "Set registry value 'LegacyMode' in HKLM\\SOFTWARE\\Vendor\\Auth to 0",
  ],
  ["cmd", "netsh advfirewall set allprofiles state off", "Turn off the Windows firewall for all profiles"],
  ["powershell", "Get-Service Spooler", "Show the status of the Print Spooler service"],
  ["cmd", "dir C:\\Temp", "List the files in C:\\Temp"],
  ["powershell", "dir C:\\Temp", "List the files in C:\\Temp"],
  ["powershell", "Get-ChildItem C:\\Temp", "List the files in C:\\Temp"],
  ["powershell", "ls C:\\Temp", "List the files in C:\\Temp"],
  ["bash", "ls /tmp", "List the files in /tmp"],
  // service names: friendly, several, unknown, other spellings
  ["powershell", "Restart-Service wuauserv", "Restart the Windows Update service"],
  ["powershell", "Restart-Service BITS", "Restart the Background Intelligent Transfer service"],
  ["powershell", "Restart-Service W32Time", "Restart the Windows Time service"],
  ["powershell", "Restart-Service Dnscache", "Restart the DNS Client service"],
  ["powershell", "Restart-Service LanmanServer", "Restart the Server (file sharing) service"],
  ["powershell", "Restart-Service Spooler, wuauserv", "Restart the Print Spooler and Windows Update services"],
  ["powershell", "Restart-Service FooSvc", "Restart the 'FooSvc' service"],
  ["powershell", "spsv Spooler", "Stop the Print Spooler service"],
  ["powershell", "sasv Spooler", "Start the Print Spooler service"],
  [
    "powershell",
    "Set-Service BITS -StartupType Automatic -Status Running",
    "Set the Background Intelligent Transfer service to start automatically and start it",
  ],
  ["powershell", "sc.exe config wuauserv start= auto", "Set the Windows Update service to start automatically"],
  ["cmd", "sc query spooler", "Show the status of the Print Spooler service"],
  ["cmd", "net stop spooler", "Stop the Print Spooler service"],
  ["bash", "sudo systemctl status sshd", "Show the status of the sshd service"],
  ["bash", "systemctl enable --now cups", "Make the cups service start automatically and start it now"],
  // registry
  [
    "powershell",
    "Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Vendor\\Auth' -Name LegacyMode",
    "Show registry value 'LegacyMode' in HKLM\\SOFTWARE\\Vendor\\Auth",
  ],
  [
    "powershell",
    "Remove-ItemProperty -Path HKLM:\\SOFTWARE\\Vendor\\Auth -Name LegacyMode",
    "Delete registry value 'LegacyMode' from HKLM\\SOFTWARE\\Vendor\\Auth",
  ],
  [
    "cmd",
    "reg query HKLM\\Software\\PrintSpooler /v DisableRestart",
    "Show registry value 'DisableRestart' in HKLM\\Software\\PrintSpooler",
  ],
  [
    "cmd",
    "reg delete HKCU\\Software\\OldVendor /f",
    "Delete registry key HKCU\\Software\\OldVendor and everything in it",
  ],
  [
    "cmd",
    'reg add "HKLM\\SOFTWARE\\Vendor" /v Server /t REG_SZ /d "app01.contoso.local" /f',
    "Set registry value 'Server' in HKLM\\SOFTWARE\\Vendor to 'app01.contoso.local'",
  ],
  // files, disks, cleanup
  ["cmd", "rd /s /q C:\\Temp\\old", "Delete C:\\Temp\\old and everything in it"],
  ["powershell", "Remove-Item C:\\Temp\\report.pdf", "Delete C:\\Temp\\report.pdf"],
  ["powershell", "Clear-RecycleBin -Force", "Empty the Recycle Bin"],
  ["powershell", "Get-Content C:\\Logs\\app.log -Tail 50", "Show the last 50 lines of C:\\Logs\\app.log"],
  ["powershell", "Test-Path C:\\Temp\\old-logs", "Check whether C:\\Temp\\old-logs exists"],
  ["cmd", "chkdsk C: /f", "Check and repair the disk C:"],
  ["cmd", "sfc /scannow", "Scan and repair Windows system files"],
  ["cmd", "DISM /Online /Cleanup-Image /RestoreHealth", "Repair the Windows component store"],
  ["bash", "df -h", "Show the free disk space"],
  // network
  ["cmd", "ipconfig /flushdns", "Clear the DNS cache"],
  ["cmd", "ipconfig /all", "Show the network settings"],
  [
    "powershell",
    "Test-NetConnection mail.contoso.com -Port 443",
    "Test the connection to mail.contoso.com on port 443",
  ],
  ["cmd", "ping -n 4 8.8.8.8", "Check whether 8.8.8.8 responds on the network"],
  [
    "powershell",
    "Set-NetFirewallProfile -Profile Domain,Public,Private -Enabled False",
    "Turn off the Windows firewall for the Domain, Public and Private profiles",
  ],
  ["cmd", "netsh advfirewall set domainprofile state on", "Turn on the Windows firewall for the domain profile"],
  ["cmd", "netsh winsock reset", "Reset the Windows network settings (Winsock)"],
  // printers, processes, users, tasks, updates, events
  ["powershell", "Get-Printer", "List the printers"],
  ["powershell", "Stop-Process -Name winword -Force", "Force the program 'winword' to close"],
  ["cmd", "taskkill /im outlook.exe /f", "Force the program 'outlook.exe' to close"],
  ["cmd", "net user jsmith S3cret!", "Change the password of the user account 'jsmith'"],
  ["cmd", "net user tempadmin /add", "Create the user account 'tempadmin'"],
  [
    "cmd",
    "net localgroup administrators CONTOSO\\helpdesk /add",
    "Add 'CONTOSO\\helpdesk' to the 'administrators' group",
  ],
  ["powershell", "Unlock-ADAccount -Identity jsmith", "Unlock the user account 'jsmith'"],
  ["cmd", 'schtasks /run /tn "Backup Nightly"', "Run the scheduled task 'Backup Nightly'"],
  ["powershell", "winget upgrade --all", "Update all installed software"],
  ["bash", "sudo apt-get install -y cups", "Install cups"],
  ["bash", "apt update", "Refresh the list of available software"],
  ["powershell", "Get-WinEvent -LogName System -MaxEvents 50", "Show the latest 50 entries of the System event log"],
  ["cmd", "wevtutil cl Application", "Clear the Application event log"],
  ["cmd", "gpupdate /force", "Refresh the Group Policy settings"],
  ["cmd", "shutdown /r /t 300", "Restart the computer in 300 seconds"],
  ["bash", "shutdown -r +5", "Restart the computer in 5 minutes"],
  ["bash", "reboot", "Restart the computer"],
  ["cmd", "shutdown /s /t 0", "Shut down the computer"],
  // downloads that run code
  ["powershell", "iex (irm https://example.com/fix.ps1)", "Download and run a script from https://example.com/fix.ps1"],
  [
    "bash",
    "curl -fsSL https://get.example.com/install.sh | sudo bash",
    "Download and run a script from https://get.example.com/install.sh",
  ],
  // pipelines and sequences
  [
    "powershell",
    "Get-Service | Where-Object Status -eq Stopped | Select-Object Name",
    "Show the status of all services",
  ],
  [
    "powershell",
    "Get-Service Spooler | Restart-Service",
    "Show the status of the Print Spooler service; then restart the Print Spooler service",
  ],
  [
    "powershell",
    "Get-PrintJob -PrinterName 'HP LaserJet' | Remove-PrintJob",
    "List the print jobs for 'HP LaserJet'; then cancel the print jobs for 'HP LaserJet'",
  ],
  [
    "cmd",
    "ipconfig /release && ipconfig /renew",
    "Release the computer's network address (it may go offline until renewed); then renew the computer's network address",
  ],
  [
    "bash",
    "systemctl stop cups && rm -rf /var/spool/cups/tmp && systemctl start cups",
    "Stop the cups service; then delete /var/spool/cups/tmp and everything in it; then start the cups service",
  ],
  [
    "powershell",
    "Stop-Service Spooler; Remove-Item C:\\Windows\\System32\\spool\\PRINTERS\\* -Force; Start-Service Spooler; Get-Service Spooler; Get-Printer",
    "Stop the Print Spooler service; then delete C:\\Windows\\System32\\spool\\PRINTERS\\*; then start the Print Spooler service; and 2 more steps",
  ],
  [
    "powershell",
    "Stop-Service Spooler; Start-Service Spooler; Get-Service Spooler; Get-Printer",
    "Stop the Print Spooler service; then start the Print Spooler service; then show the status of the Print Spooler service; and 1 more step",
  ],
  // anything unknown is shown as it is
  ["powershell", "Frobnicate-Widget -Level 11", "Run: Frobnicate-Widget -Level 11"],
  ["bash", "./fix.sh --all", "Run: ./fix.sh --all"],
  [
    "powershell",
    "Stop-Service Spooler; Frobnicate-Widget",
    "Stop the Print Spooler service; then Run: Frobnicate-Widget",
  ],
  ["bash", "echo 'unterminated", "Run: echo 'unterminated"],
];

describe("summarizeCommand", () => {
  for (const [shell, command, summary] of EXAMPLES) {
    it(`${shell}: ${command}`, () => {
      expect(summarizeCommand(shell, command)).toEqual({ summary, lines: 1 });
    });
  }

  it("summarises multi-line scripts by their size", () => {
    const ps = Array.from({ length: 42 }, (_, i) => `Write-Host "step ${i}"`).join("\n");
    expect(summarizeCommand("powershell", ps)).toEqual({ summary: "Run a PowerShell script of 42 lines", lines: 42 });
    expect(summarizeCommand("pwsh", "Get-Date\r\nGet-Service\r\n")).toEqual({
      summary: "Run a PowerShell script of 2 lines",
      lines: 2,
    });
    expect(summarizeCommand("bash", "set -e\ncd /tmp\nls\n")).toEqual({
      summary: "Run a shell script of 3 lines",
      lines: 3,
    });
    expect(summarizeCommand("sh", "a\nb")).toEqual({ summary: "Run a shell script of 2 lines", lines: 2 });
    expect(summarizeCommand("cmd", "@echo off\nsc query spooler\necho done")).toEqual({
      summary: "Run a command script of 3 lines",
      lines: 3,
    });
    // blank lines around a one-liner do not make it a script
    expect(summarizeCommand("powershell", "\n\n  Restart-Service Spooler  \n\n")).toEqual({
      summary: "Restart the Print Spooler service",
      lines: 1,
    });
  });

  it("shows unknown commands truncated to 80 characters", () => {
    const long = `Frobnicate-Widget -Target "${"x".repeat(200)}"`;
    const { summary } = summarizeCommand("powershell", long);
    expect(summary).toBe(`Run: ${long.slice(0, 79)}…`);
    expect(summary.length).toBe("Run: ".length + 80);
    expect(summarizeCommand("bash", `foo ${"y".repeat(76)}`).summary).toBe(`Run: foo ${"y".repeat(76)}`);
  });

  it("has nothing to say about an empty command", () => {
    expect(summarizeCommand("bash", "")).toEqual({ summary: "Nothing to run", lines: 0 });
    expect(summarizeCommand("cmd", "  \n \n")).toEqual({ summary: "Nothing to run", lines: 0 });
  });

  it("never repeats a password typed on the command line", () => {
    expect(summarizeCommand("cmd", "net user bob Hunter2!").summary).not.toContain("Hunter2");
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyzeCommand, classifyCommand } from "../src/index.ts";
import type { Shell } from "../src/shells.ts";

type Row = [command: string, kind: "read" | "change"];

// The spec: how real MSP commands classify. A "change" needs the client contact's approval under policy `changes`.

const POWERSHELL: Row[] = [
  // services
  ["Get-Service Spooler", "read"],
  ["Get-Service -Name Spooler, BITS | Select-Object Name, Status, StartType", "read"],
  ["gsv wuauserv", "read"],
  ["Restart-Service Spooler", "change"],
  ["Restart-Service -Name Spooler -Force", "change"],
  ["Stop-Service -Name Spooler -Force", "change"],
  ["sasv Spooler", "change"],
  ["spsv Spooler", "change"],
  ["Set-Service -Name Spooler -StartupType Disabled", "change"],
  ["Get-Service | Where-Object { $_.Status -eq 'Stopped' -and $_.StartType -eq 'Automatic' }", "read"],
  ["Get-Service | Restart-Service", "change"],
  ["Get-Service Spooler | Stop-Service -WhatIf", "read"],
  ["Get-CimInstance Win32_Service -Filter \"Name='Spooler'\" | Select-Object Name, State, StartMode, PathName", "read"],
  ["get-service spooler", "read"],
  ["GET-SERVICE SPOOLER | FORMAT-LIST *", "read"],
  // files and disk cleanup
  ["Get-ChildItem C:\\Temp -Recurse | Measure-Object -Property Length -Sum", "read"],
  [
    "gci C:\\Windows\\Temp -Recurse -Force -ErrorAction SilentlyContinue | Sort-Object Length -Descending | Select-Object -First 20",
    "read",
  ],
  ["ls C:\\Users", "read"],
  ["dir 'C:\\Program Files' | ft Name, LastWriteTime", "read"],
  ["Get-ChildItem C:\\Temp\\old-logs | Remove-Item -Recurse -Force", "change"],
  ["Remove-Item C:\\Temp\\old-logs -Recurse -Force", "change"],
  ["Remove-Item C:\\Temp\\old-logs -Recurse -WhatIf", "read"],
  ["rm C:\\Temp\\x.log", "change"],
  ["del C:\\Temp\\*.tmp", "change"],
  ["Get-Content C:\\Windows\\Logs\\CBS\\CBS.log -Tail 50", "read"],
  ["cat C:\\Windows\\System32\\drivers\\etc\\hosts", "read"],
  ["type C:\\Windows\\System32\\drivers\\etc\\hosts | sls 'localhost'", "read"],
  ["Select-String -Path C:\\Logs\\*.log -Pattern 'error' | Select-Object -Last 10", "read"],
  ["Test-Path C:\\Temp\\old-logs", "read"],
  ["Get-Volume", "read"],
  ["Get-PSDrive C | Select-Object Used, Free", "read"],
  ["Get-ChildItem C:\\Temp | Out-File C:\\Temp\\listing.txt", "change"],
  ["Get-Process > C:\\Temp\\procs.txt", "change"],
  ["Get-Process 2>&1 > $null", "read"],
  ["Get-Item C:\\Temp\\x.txt 2> $null", "read"],
  ["Get-ChildItem C:\\Temp | Export-Csv C:\\Temp\\files.csv -NoTypeInformation", "change"],
  ["Clear-RecycleBin -Force", "change"],
  ["Get-ChildItem $env:TEMP -File | ForEach-Object { $_.FullName }", "read"],
  ["Get-ChildItem $env:TEMP -File | ForEach-Object { Remove-Item $_.FullName -Force }", "change"],
  ["Get-ChildItem $env:TEMP | % Delete", "change"],
  ["(Get-Item C:\\Temp\\x.txt).Delete()", "change"],
  ["(Get-Item C:\\Temp\\x.txt).Length / 1MB", "read"],
  [
    "Get-CimInstance Win32_LogicalDisk | Select-Object DeviceID, @{N='FreeGB';E={[math]::Round($_.FreeSpace/1GB,2)}}",
    "read",
  ],
  // registry
  ["Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Vendor\\Auth' -Name LegacyMode", "read"],
  ['Set-ItemProperty -Path "HKLM:\\SOFTWARE\\Vendor\\Auth" -Name "LegacyMode" -Value 0', "change"],
  ["New-ItemProperty -Path HKLM:\\SOFTWARE\\Vendor -Name Flag -Value 1 -PropertyType DWord -Force", "change"],
  ["Remove-ItemProperty -Path HKLM:\\SOFTWARE\\Vendor -Name Flag", "change"],
  ["sp HKCU:\\Software\\X Y 1", "change"],
  // printers
  ["Get-Printer | Where-Object PrinterStatus -ne 'Normal'", "read"],
  ["Get-PrintJob -PrinterName 'HP LaserJet' | Remove-PrintJob", "change"],
  ["Remove-Item C:\\Windows\\System32\\spool\\PRINTERS\\* -Force", "change"],
  // network
  ["Test-NetConnection mail.contoso.com -Port 443", "read"],
  ["Resolve-DnsName contoso.com -Type MX", "read"],
  ["Get-NetIPConfiguration; ipconfig /all", "read"],
  ["ipconfig /flushdns", "change"],
  ["Clear-DnsClientCache", "change"],
  ["Set-NetFirewallProfile -Profile Domain,Public,Private -Enabled False", "change"],
  ["netsh advfirewall show allprofiles", "read"],
  ["Test-Connection 8.8.8.8 -Count 2 && Get-NetAdapter", "read"],
  // system, updates, users
  ["Get-HotFix | Sort-Object InstalledOn -Descending | Select-Object -First 5", "read"],
  ["Get-WindowsUpdate", "read"],
  ["Get-WindowsUpdate -Install -AcceptAll -AutoReboot", "change"],
  ["Install-Module PSWindowsUpdate -Force", "change"],
  ["Import-Module ActiveDirectory; Get-ADUser jsmith -Properties LockedOut", "read"],
  ["Import-Module C:\\Tools\\Fix.psm1", "change"],
  ["Unlock-ADAccount -Identity jsmith", "change"],
  ["Get-LocalGroupMember Administrators", "read"],
  ["Add-LocalGroupMember -Group Administrators -Member CONTOSO\\helpdesk", "change"],
  ["Get-WinEvent -LogName System -MaxEvents 50 | Where-Object LevelDisplayName -eq 'Error'", "read"],
  ["Get-EventLog -LogName Application -Newest 20 -EntryType Error | Format-Table -AutoSize", "read"],
  ["Restart-Computer -Force", "change"],
  ["shutdown /r /t 0", "change"],
  ["Get-ComputerInfo | Select-Object OsName, OsVersion, CsTotalPhysicalMemory", "read"],
  ["Get-Process | Sort-Object CPU -Descending | Select-Object -First 10", "read"],
  ["Get-Process chrome | Stop-Process -Force", "change"],
  ["Get-BitLockerVolume", "read"],
  ["Format-Volume -DriveLetter E", "change"],
  // nesting, downloads, scripts, quoting
  ["iex (irm https://example.com/fix.ps1)", "change"],
  ["irm https://example.com/fix.ps1 | iex", "change"],
  ["Invoke-WebRequest https://example.com/tool.zip -OutFile C:\\Temp\\tool.zip", "change"],
  ["Invoke-Expression 'Get-Service'", "change"],
  ["Start-Process msiexec -ArgumentList '/i C:\\Temp\\agent.msi /qn' -Wait", "change"],
  [".\\Fix-Printer.ps1", "change"],
  ["& 'C:\\Scripts\\cleanup.ps1' -Days 30", "change"],
  ["& { Get-Service Spooler }", "read"],
  ["powershell -NoProfile -EncodedCommand SQBFAFgA", "change"],
  ["cmd /c dir C:\\", "change"],
  ['Write-Output "Free: $([math]::Round((Get-PSDrive C).Free / 1GB, 1)) GB"', "read"],
  ['Write-Host "$(Remove-Item C:\\x)"', "change"],
  ["Write-Host 'it''s $(Remove-Item C:\\x) fine'", "read"],
  ["$svc = Get-Service Spooler; $svc.Status", "read"],
  ["$svc = Get-Service Spooler; $svc.Stop()", "change"],
  ["$env:Path = 'C:\\evil;' + $env:Path; ipconfig", "change"],
  ["Set-Alias ls Remove-Item; ls C:\\Temp", "change"],
  ["function Get-Foo { Remove-Item C:\\x }; Get-Foo", "change"],
  ["Get-Service 'Spooler", "change"],
  ["foo-bar.exe --status", "change"],
  ["if (Test-Path C:\\Temp\\old) { Get-ChildItem C:\\Temp\\old } else { Write-Host 'missing' }", "read"],
  ["if (Test-Path C:\\Temp\\old) { Remove-Item C:\\Temp\\old -Recurse }", "change"],
  ["foreach ($s in Get-Service) { if ($s.Status -eq 'Running') { $s.Name } }", "read"],
  ["try { Get-Item C:\\x -ErrorAction Stop } catch { Write-Warning $_ }", "read"],
  ["# just a comment\n\n   \nGet-Date", "read"],
  ["<# block\ncomment #>\nGet-Date", "read"],
  ["Get-Service `\n  -Name Spooler", "read"],
  ["sc query spooler", "change"],
  ["sc.exe query spooler", "read"],
  ["New-Object System.Net.WebClient", "change"],
  ["[System.IO.File]::ReadAllText('C:\\x.txt')", "read"],
  ["[System.IO.File]::Delete('C:\\x.txt')", "change"],
  ["Measure-Command { Get-ChildItem C:\\ -Recurse }", "read"],
];

const CMD: Row[] = [
  ["reg query HKLM\\Software\\PrintSpooler /v DisableRestart", "read"],
  ["reg add HKLM\\Software\\PrintSpooler /v DisableRestart /t REG_DWORD /d 1 /f", "change"],
  ["reg delete HKLM\\Software\\PrintSpooler /v DisableRestart /f", "change"],
  ['REG QUERY "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" /v ProductName', "read"],
  ["reg export HKLM\\Software\\Vendor C:\\Temp\\vendor.reg", "change"],
  ["sc query spooler", "read"],
  ["sc qc Spooler", "read"],
  ["sc config Spooler start= disabled", "change"],
  ["sc stop Spooler && sc start Spooler", "change"],
  ["sc query spooler | findstr STATE", "read"],
  ["net start", "read"],
  ["net start spooler", "change"],
  ["net stop spooler", "change"],
  ["net user jsmith /domain", "read"],
  ["net user jsmith NewP@ss123", "change"],
  ["net user tempadmin /add", "change"],
  ["net user jsmith /active:no", "change"],
  ["net localgroup administrators", "read"],
  ["net localgroup administrators CONTOSO\\helpdesk /add", "change"],
  ["net use", "read"],
  ["net use Z: \\\\fileserver\\share /persistent:yes", "change"],
  ["ipconfig /all", "read"],
  ["ipconfig /release && ipconfig /renew", "change"],
  ["IPCONFIG /FLUSHDNS", "change"],
  ["ping -n 4 8.8.8.8 & tracert 8.8.8.8", "read"],
  ["nslookup contoso.com 8.8.8.8", "read"],
  ["netstat -ano | findstr :443", "read"],
  ["route print", "read"],
  ["route add 10.0.0.0 mask 255.0.0.0 192.168.1.1", "change"],
  ["netsh advfirewall set allprofiles state off", "change"],
  ["netsh wlan show profiles", "read"],
  ["netsh winsock reset", "change"],
  ['systeminfo | findstr /B /C:"OS Name" /C:"OS Version"', "read"],
  ["wmic logicaldisk get name,size,freespace", "read"],
  ['wmic product where name="Agent" call uninstall', "change"],
  ["gpresult /r", "read"],
  ["gpupdate /force", "change"],
  ["dism /online /cleanup-image /checkhealth", "read"],
  ["DISM /Online /Cleanup-Image /RestoreHealth", "change"],
  ["sfc /verifyonly", "read"],
  ["sfc /scannow", "change"],
  ["chkdsk C:", "read"],
  ["chkdsk C: /f /r", "change"],
  ["shutdown /r /t 0", "change"],
  ["del /s /q C:\\Windows\\Temp\\*", "change"],
  ["rd /s /q C:\\Temp\\old-logs", "change"],
  ["dir C:\\Windows\\Temp /s", "read"],
  ["dir C:\\Temp > C:\\Temp\\listing.txt", "change"],
  ["dir C:\\Temp > nul 2>&1", "read"],
  ["type C:\\Windows\\System32\\drivers\\etc\\hosts", "read"],
  ["icacls C:\\Shares\\Finance", "read"],
  ["icacls C:\\Shares\\Finance /grant CONTOSO\\finance:(OI)(CI)M", "change"],
  ["schtasks /query /fo LIST /v", "read"],
  ['schtasks /run /tn "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag"', "change"],
  ["wevtutil qe System /c:20 /rd:true /f:text", "read"],
  ["wevtutil cl Application", "change"],
  ["w32tm /query /status", "read"],
  ["w32tm /resync", "change"],
  ["winget list", "read"],
  ["winget upgrade --all --silent", "change"],
  ["choco list --local-only", "read"],
  ["certutil -hashfile C:\\Temp\\setup.exe SHA256", "read"],
  ["certutil -urlcache -split -f http://x/a.exe a.exe", "change"],
  ['tasklist /svc | find /i "spool"', "read"],
  ["taskkill /im winword.exe /f", "change"],
  ["set", "read"],
  ["set TEMPDIR=C:\\Temp", "read"],
  ["set PATH=C:\\evil;%PATH%", "change"],
  ["@echo off\nrem check the spooler\nsc query spooler\necho done", "read"],
  [":: comment only", "read"],
  ["if exist C:\\Temp\\old (rd /s /q C:\\Temp\\old) else (echo nothing to do)", "change"],
  ["if not exist C:\\Temp\\old echo missing", "read"],
  ["for /f \"tokens=*\" %i in ('dir /b C:\\Temp') do @echo %i", "read"],
  ["for %f in (C:\\Temp\\*.log) do del %f", "change"],
  ["echo ^& del C:\\x", "read"],
  ["C:\\Windows\\System32\\ipconfig.exe /all", "read"],
  ["C:\\Tools\\ipconfig.exe /all", "change"],
  ["cleanup.bat", "change"],
  ['powershell -Command "Get-Service"', "change"],
  ["foo.exe /status", "change"],
  ["%COMSPEC% /c dir", "change"],
];

const POSIX: Row[] = [
  ["ls -la /var/log", "read"],
  ["cat /etc/os-release", "read"],
  ["tail -n 100 /var/log/syslog | grep -i error", "read"],
  ["head -20 /etc/passwd", "read"],
  ["grep -r 'Failed password' /var/log/auth.log | wc -l", "read"],
  ["df -h && du -sh /var/log/* | sort -h | tail", "read"],
  ["ps aux --sort=-%mem | head", "read"],
  ["top -b -n1 | head -20", "read"],
  ["uptime; uname -a; id; whoami; hostname", "read"],
  ["ip a", "read"],
  ["ip route show", "read"],
  ["ip link set eth0 down", "change"],
  ["ss -tulpn", "read"],
  ["ping -c 4 8.8.8.8", "read"],
  ["dig +short contoso.com MX", "read"],
  ["curl -sI https://contoso.com", "read"],
  ["curl -fsSL https://example.com/install.sh | bash", "change"],
  ["curl -o /tmp/agent.deb https://example.com/agent.deb", "change"],
  ["curl -X POST -d 'a=1' https://example.com/api", "change"],
  ["wget https://example.com/agent.deb", "change"],
  ["wget -qO- https://ifconfig.me", "read"],
  ["systemctl status cups", "read"],
  ["systemctl is-active sshd && systemctl is-enabled sshd", "read"],
  ["systemctl restart cups", "change"],
  ["sudo systemctl restart cups", "change"],
  ["sudo systemctl status cups", "read"],
  ["service cups status", "read"],
  ["service cups restart", "change"],
  ["journalctl -u cups --since '1 hour ago' --no-pager", "read"],
  ["journalctl --vacuum-time=7d", "change"],
  ["dmesg | tail -50", "read"],
  ["lsblk -f; blkid; mount", "read"],
  ["mount /dev/sdb1 /mnt/backup", "change"],
  ["free -m", "read"],
  ["find /var/log -name '*.gz' -mtime +30", "read"],
  ["find /var/log -name '*.gz' -mtime +30 -delete", "change"],
  ["find /tmp -type f -mtime +7 -exec rm -f {} \\;", "change"],
  ["find /etc -name '*.conf' -exec grep -l 'Listen' {} +", "read"],
  ["rm -rf /var/log/old", "change"],
  ["sudo rm -rf /tmp/cache/*", "change"],
  ["mv /etc/cups/cupsd.conf /etc/cups/cupsd.conf.bak", "change"],
  ["cp /etc/hosts /tmp/hosts.bak", "change"],
  ["chmod 600 /etc/ssh/sshd_config", "change"],
  ["echo 'nameserver 1.1.1.1' > /etc/resolv.conf", "change"],
  ["echo 'test' >> /tmp/notes.txt", "change"],
  ["echo hello > /dev/null 2>&1", "read"],
  ["cat /etc/hosts 2>/dev/null || echo missing >&2", "read"],
  ["echo 'nameserver 1.1.1.1' | sudo tee -a /etc/resolv.conf", "change"],
  ["sed -n '1,20p' /etc/ssh/sshd_config", "read"],
  ["sed -i 's/PermitRootLogin yes/PermitRootLogin no/' /etc/ssh/sshd_config", "change"],
  ["awk -F: '$3 >= 1000 {print $1}' /etc/passwd", "read"],
  ["awk '{ system(\"rm \" $1) }' list.txt", "change"],
  ["apt list --installed | grep openssl", "read"],
  ["apt-get install -y cups", "change"],
  ["sudo apt update && sudo apt upgrade -y", "change"],
  ["dpkg -l | grep cups", "read"],
  ["rpm -qa | grep kernel", "read"],
  ["yum check-update", "read"],
  ["crontab -l", "read"],
  ["crontab -r", "change"],
  ["kill -9 1234", "change"],
  ["pkill -f backup.sh", "change"],
  ["reboot", "change"],
  ["shutdown -r now", "change"],
  ["useradd -m tempadmin", "change"],
  ["getent passwd jsmith; last -n 20; who", "read"],
  ["lsof -i :443", "read"],
  ["sha256sum /tmp/agent.deb", "read"],
  ["git status && git log --oneline -5", "read"],
  ["git pull", "change"],
  ["ufw status verbose", "read"],
  ["ufw disable", "change"],
  ["iptables -L -n -v", "read"],
  ["iptables -F", "change"],
  ['echo "Disk: $(df -h / | tail -1)"', "read"],
  ['echo "$(rm -rf /tmp/x)"', "change"],
  ["echo `date`", "read"],
  ['for f in /var/log/*.log; do echo "$f"; wc -l "$f"; done', "read"],
  ['for f in /var/log/*.log; do gzip "$f"; done', "change"],
  ['while read -r line; do echo "$line"; done < /etc/hosts', "read"],
  ["if [ -f /etc/cups/cupsd.conf ]; then cat /etc/cups/cupsd.conf; fi", "read"],
  ["[ -d /var/log/old ] && rm -rf /var/log/old", "change"],
  ["./fix.sh", "change"],
  ["bash -c 'ls /tmp'", "change"],
  ["sh /tmp/install.sh", "change"],
  ['eval "$CMD"', "change"],
  ["$CMD --status", "change"],
  ["PATH=/tmp/evil:$PATH ls", "change"],
  ["LC_ALL=C sort /etc/passwd", "read"],
  ["export EDITOR=nano", "read"],
  ["echo 'unterminated", "change"],
  ["foobar --status", "change"],
  ["# only a comment\n\n", "read"],
  ["cat <<'EOF'\nhello $(rm -rf /)\nEOF", "read"],
  ["cat <<EOF > /etc/motd\nWelcome\nEOF", "change"],
  ["/usr/bin/ls -la", "read"],
  ["/opt/vendor/bin/agent --status", "change"],
  ["xargs rm < files.txt", "change"],
  ["diff <(ls /a) <(ls /b)", "read"],
];

function run(shell: Shell, rows: Row[]): void {
  for (const [command, kind] of rows) {
    it(`${shell}: ${JSON.stringify(command)} → ${kind}`, () => {
      const got = classifyCommand(shell, command);
      expect({ command, kind: got.kind, reasons: got.reasons }).toMatchObject({ command, kind });
      expect(got.reasons.length).toBeGreaterThan(0);
    });
  }
}

describe("classifyCommand: PowerShell", () => {
  run("powershell", POWERSHELL);
});

describe("classifyCommand: cmd", () => {
  run("cmd", CMD);
});

describe("classifyCommand: POSIX", () => {
  run("bash", POSIX);
});

describe("classifyCommand: shells and details", () => {
  it("has a table of at least 150 real-world commands", () => {
    expect(POWERSHELL.length).toBeGreaterThanOrEqual(60);
    expect(CMD.length).toBeGreaterThanOrEqual(40);
    expect(POSIX.length).toBeGreaterThanOrEqual(50);
  });

  it("sh behaves like bash, pwsh like powershell except the 5.1-only aliases", () => {
    expect(classifyCommand("sh", "ls -la /tmp").kind).toBe("read");
    expect(classifyCommand("sh", "rm -f /tmp/x").kind).toBe("change");
    expect(classifyCommand("pwsh", "Get-Service Spooler").kind).toBe("read");
    expect(classifyCommand("pwsh", "sc.exe query spooler").kind).toBe("read");
    // Windows PowerShell maps sc to Set-Content; pwsh does not
    expect(classifyCommand("powershell", "sc query spooler").kind).toBe("change");
    expect(classifyCommand("pwsh", "sc query spooler").kind).toBe("read");
    expect(classifyCommand("pwsh", "systemctl status cups").kind).toBe("read");
  });

  it("explains changes in short human sentences", () => {
    expect(classifyCommand("powershell", "Remove-Item C:\\x").reasons).toEqual(["Remove-Item deletes files or keys"]);
    expect(classifyCommand("cmd", "dir > C:\\temp\\x.txt").reasons).toEqual(["redirects output to C:\\temp\\x.txt"]);
    expect(classifyCommand("bash", "foo --bar").reasons).toEqual(["unknown command 'foo'"]);
    expect(classifyCommand("powershell", "Get-Service | Select-Object Name").reasons).toEqual([
      "only reads (Get-Service, Select-Object)",
    ]);
    expect(classifyCommand("bash", "echo 'x").reasons[0]).toMatch(/^could not parse the command/);
  });

  it("treats an empty command as read", () => {
    expect(classifyCommand("bash", "").kind).toBe("read");
    expect(classifyCommand("powershell", "  \n ").kind).toBe("read");
    expect(classifyCommand("cmd", "").kind).toBe("read");
  });

  it("returns the top-level steps in order", () => {
    const a = analyzeCommand("powershell", "Get-ChildItem C:\\Temp | Remove-Item; gsv Spooler");
    expect(a.steps.map((s) => [s.name, s.piped, s.kind])).toEqual([
      ["get-childitem", false, "read"],
      ["remove-item", true, "change"],
      ["get-service", false, "read"],
    ]);
    const b = analyzeCommand("bash", "sudo systemctl restart cups");
    expect(b.steps.map((s) => [s.name, s.args])).toEqual([["systemctl", ["restart", "cups"]]]);
  });

  it("never throws and always answers read or change", () => {
    const shells: Shell[] = ["bash", "sh", "powershell", "pwsh", "cmd"];
    const alphabet = fc.constantFrom(..."ab $()`'\"{}[]|&;<>^%!#@=,.\\/-\n\t*?:+0123".split(""));
    fc.assert(
      fc.property(fc.constantFrom(...shells), fc.array(alphabet, { maxLength: 60 }), (shell, chars) => {
        const r = classifyCommand(shell, chars.join(""));
        expect(["read", "change"]).toContain(r.kind);
      }),
      { numRuns: 3000 },
    );
  });

  it("classifies a long script line by line: one change anywhere makes it a change", () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `Get-Service Svc${i} | Select-Object Name, Status`);
    expect(classifyCommand("powershell", lines.join("\n")).kind).toBe("read");
    lines[1234] = "Stop-Service Svc1234";
    expect(classifyCommand("powershell", lines.join("\n")).kind).toBe("change");
  });
});

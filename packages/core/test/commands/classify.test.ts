import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyzeCommand, classifyCommand } from "../../src/index.ts";
import type { Shell } from "../../src/shells.ts";
import { CMD, POSIX, POWERSHELL, type Row } from "./corpus.ts";

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

import { describe, expect, it } from "vitest";
import { summarizeCommand } from "../../src/index.ts";
import { SUMMARIES } from "./corpus.ts";

describe("summarizeCommand", () => {
  for (const [shell, command, summary] of SUMMARIES) {
    it(`${shell}: ${command}`, () => {
      expect(summarizeCommand(shell, command)).toEqual({ summary, lines: 1 });
    });
  }

  it("summarises multi-line scripts by their size and the changes they make", () => {
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
    // (two programs Caisey does not know: said, not hidden behind the size)
    expect(summarizeCommand("sh", "a\nb")).toEqual({
      summary: "Run a shell script of 2 lines; Caisey cannot tell what 2 parts of it do",
      lines: 2,
    });
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

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeStep } from "../../src/commands/summary.ts";
import { CHANGE_SENTENCE, READ_ONLY_SENTENCE } from "../../src/commands/words.ts";
import { analyzeCommand, classifyCommand, summarizeCommand } from "../../src/index.ts";
import type { Shell } from "../../src/shells.ts";
import { joinedCommands, knownCommands, SUMMARIES } from "./corpus.ts";

// Classification (does the contact need to approve?) and the summary (what the contact reads) come from the same
// steps and the same program entries. These commands were read one way by one and another way by the other.
type Agreement = [shell: Shell, command: string, kind: "read" | "change", summary: string];

const DISAGREED: Agreement[] = [
  // a switch written -X:false is off for both (it was "set" for the classifier: a deletion passed as a preview)
  ["powershell", "Remove-Item C:\\Temp\\old -WhatIf:false", "change", "Delete C:\\Temp\\old"],
  ["powershell", "Get-WindowsUpdate -Install:false", "read", "List the available Windows updates"],
  // a shortened switch is the switch for both (the classifier wanted the full name)
  ["powershell", "Get-WindowsUpdate -Inst", "change", "Install the available Windows updates"],
  // output written into a file is part of what the contact reads; literal text is named by what it does to the file
  // (it was "Show a message; then save the output to …": the message is the change)
  [
    "bash",
    "echo 'nameserver 1.1.1.1' > /etc/resolv.conf",
    "change",
    "Replace the contents of the file /etc/resolv.conf",
  ],
  ["bash", "echo 'test' >> /tmp/notes.txt", "change", "Add a line to the file /tmp/notes.txt"],
  [
    "powershell",
    "Get-Process > C:\\Temp\\procs.txt",
    "change",
    "List the running programs; then replace the contents of the file C:\\Temp\\procs.txt",
  ],
  [
    "cmd",
    "dir C:\\Temp > C:\\Temp\\listing.txt",
    "change",
    "List the files in C:\\Temp; then replace the contents of the file C:\\Temp\\listing.txt",
  ],
  // a pipeline stage that changes something is never left out as "only filtering"
  [
    "bash",
    "cat /etc/hosts | sort -o /etc/hosts.sorted",
    "change",
    "Show the contents of /etc/hosts; then Run: sort -o /etc/hosts.sorted",
  ],
  // a program Caisey does not know in this shell is not described as the one it knows elsewhere
  ["cmd", "ls", "change", "Run: ls"],
  ["bash", "tasklist", "change", "Run: tasklist"],
  // the program's entry describes exactly what it classified
  ["cmd", "chkdsk C: /x", "change", "Check and repair the disk C:"],
  ["cmd", "ipconfig /setclassid Ethernet Lab", "change", "Run: ipconfig /setclassid Ethernet Lab"],
  ["cmd", "ipconfig -registerdns", "change", "Register the computer in DNS again"],
  // a change made by the step's own text, not by its program
  ["bash", "PATH=/tmp/evil:$PATH ls", "change", "Run: PATH=/tmp/evil:$PATH ls"],
  ["bash", 'echo "$(rm -rf /tmp/x)"', "change", 'Run: echo "$(rm -rf /tmp/x)"'],
  ["bash", "ls /tmp; case x in a) rm -rf /tmp/x;; esac", "change", "Run: ls /tmp; case x in a) rm -rf /tmp/x;; esac"],
  [
    "powershell",
    "$env:Path = 'C:\\evil;' + $env:Path; ipconfig",
    "change",
    "Run: $env:Path = 'C:\\evil;' + $env:Path; then show the network settings",
  ],
  // -WhatIf only previews: read, and said so
  [
    "powershell",
    "Get-Service Spooler | Stop-Service -WhatIf",
    "read",
    "Show the status of the Print Spooler service; then preview (nothing is changed): stop the Print Spooler service",
  ],
  // a change past the third step is announced
  [
    "bash",
    "df -h; free -m; uptime; rm -rf /var/log/old",
    "change",
    "Show the free disk space; then show the memory usage; then show how long the computer has been running; and 1 more step, including changes",
  ],
];

describe("classification and summary agree", () => {
  for (const [shell, command, kind, summary] of DISAGREED) {
    it(`${shell}: ${command}`, () => {
      expect(classifyCommand(shell, command).kind).toBe(kind);
      expect(summarizeCommand(shell, command).summary).toBe(summary);
    });
  }
});

// The property: over every command the tests know, and fast-check's pipelines and sequences of them, a step the
// classifier calls a change is never described only with read-only sentences (READ_ONLY_SENTENCE: "Show …", "List …",
// "Check whether …", …), a step it calls a read never with a change sentence (CHANGE_SENTENCE: "Delete …", "Stop …",
// …), and a command classified as a change never gets a summary made only of read-only sentences.

const CORPUS = knownCommands(DISAGREED);

const JOINERS: Record<Shell, string[]> = {
  bash: [" | ", " && ", " || ", "; "],
  sh: [" | ", " && ", " || ", "; "],
  cmd: [" | ", " & ", " && ", " || "],
  powershell: [" | ", "; "],
  pwsh: [" | ", "; "],
};

/** Every part of the summary is a read-only sentence ("and N more steps" counts as one only without changes). */
function readOnlySummary(summary: string): boolean {
  const parts = summary.split(/; (?:then |and \d+ more steps?)/).filter((p) => p !== "");
  return !summary.endsWith(", including changes") && parts.every((p) => READ_ONLY_SENTENCE.test(p.trim()));
}

function checkAgreement(shell: Shell, command: string): void {
  const analysis = analyzeCommand(shell, command);
  analysis.steps.forEach((step, i) => {
    const parts = describeStep(shell, step, analysis.steps[i - 1]);
    const where = { shell, command, step: step.raw, kind: step.kind, parts };
    if (step.kind === "change") {
      // present, and at least one part that is "Run: …" (undefined) or not read-only
      expect(where.parts.length, JSON.stringify(where)).toBeGreaterThan(0);
      expect(
        parts.some((p) => p === undefined || !READ_ONLY_SENTENCE.test(p)),
        JSON.stringify(where),
      ).toBe(true);
    } else {
      expect(
        parts.every((p) => p === undefined || !CHANGE_SENTENCE.test(p)),
        JSON.stringify(where),
      ).toBe(true);
    }
  });
  if (classifyCommand(shell, command).kind === "change") {
    const { summary } = summarizeCommand(shell, command);
    expect(readOnlySummary(summary), JSON.stringify({ shell, command, summary })).toBe(false);
  }
}

describe("a change is never described as a read", () => {
  it("holds for every command in the tests", () => {
    for (const [shell, command] of CORPUS) checkAgreement(shell, command);
  });

  it("holds for pipelines and sequences of them", () => {
    const oneLine = CORPUS.filter(([, c]) => !c.includes("\n"));
    fc.assert(
      fc.property(joinedCommands(oneLine, JOINERS, 5), ({ shell, command }) => checkAgreement(shell, command)),
      { numRuns: 2000 },
    );
  });

  it("is checked against sentences of both kinds", () => {
    // the two vocabularies are not empty and do not overlap on the summaries the tests pin
    const sentences = SUMMARIES.map(([, , s]) => s.split("; ")[0] ?? "");
    expect(sentences.filter((s) => READ_ONLY_SENTENCE.test(s)).length).toBeGreaterThan(10);
    expect(sentences.filter((s) => CHANGE_SENTENCE.test(s)).length).toBeGreaterThan(10);
    expect(sentences.filter((s) => READ_ONLY_SENTENCE.test(s) && CHANGE_SENTENCE.test(s))).toEqual([]);
  });
});

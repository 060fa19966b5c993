import { describe, expect, it } from "vitest";
import { diffBytes, HUNK_MAX_LINES, lineRuns, structuredDiff } from "../../src/index.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const FIRST = { hunk: 0, hunks: 20 };

// Real outputs, captured from the programs named (trailing spaces as PowerShell pads them).
const GET_PRINTER_BEFORE = `
Name                           ComputerName    Type         DriverName                PortName        Shared   Published
----                           ------------    ----         ----------                --------        ------   ---------
Microsoft Print to PDF                         Local        Microsoft Print To PDF    PORTPROMPT:     False    False
HP LaserJet 400 M401 Front                     Local        HP LaserJet 400 M401 PCL6 IP_10.0.4.21    True     False
`;
const GET_PRINTER_AFTER = `
Name                           ComputerName    Type         DriverName                PortName        Shared   Published
----                           ------------    ----         ----------                --------        ------   ---------
Microsoft Print to PDF                         Local        Microsoft Print To PDF    PORTPROMPT:     False    False
HP LaserJet 400 M401 Front                     Local        HP LaserJet 400 M401 PCL6 IP_10.0.4.22    True     False
`;

const GET_SERVICE_BEFORE = `
Status   Name               DisplayName
------   ----               -----------
Running  Spooler            Print Spooler
Stopped  W32Time            Windows Time
`;
const GET_SERVICE_AFTER = `
Status   Name               DisplayName
------   ----               -----------
Running  Spooler            Print Spooler
Running  W32Time            Windows Time
Running  WinRM              Windows Remote Management (WS-Management)
`;

const SYSTEMCTL_BEFORE = `  UNIT                     LOAD   ACTIVE SUB     DESCRIPTION
  cron.service             loaded active running Regular background program processing daemon
● nginx.service            loaded failed failed  A high performance web server and a reverse proxy server
  ssh.service              loaded active running OpenBSD Secure Shell server

LOAD   = Reflects whether the unit definition was properly loaded.
ACTIVE = The high-level unit activation state, i.e. generalization of SUB.
SUB    = The low-level unit activation state, values depend on unit type.

3 loaded units listed.
`;
const SYSTEMCTL_AFTER = `  UNIT                     LOAD   ACTIVE SUB     DESCRIPTION
  cron.service             loaded active running Regular background program processing daemon
  nginx.service            loaded active running A high performance web server and a reverse proxy server
  ssh.service              loaded active running OpenBSD Secure Shell server

LOAD   = Reflects whether the unit definition was properly loaded.
ACTIVE = The high-level unit activation state, i.e. generalization of SUB.
SUB    = The low-level unit activation state, values depend on unit type.

3 loaded units listed.
`;

const PS_BEFORE = `    PID TTY          TIME CMD
      1 ?        00:00:03 systemd
    812 ?        00:41:17 java -jar /opt/app/app.jar
   1290 pts/0    00:00:00 bash
`;
const PS_AFTER = `    PID TTY          TIME CMD
      1 ?        00:00:03 systemd
   1290 pts/0    00:00:00 bash
   2051 ?        00:00:02 java -jar /opt/app/app.jar
`;

const PRINTER_LIST_BEFORE = `\r
Name         : HP LaserJet 400 M401 Front\r
PrinterStatus : Error\r
JobCount     : 14\r
\r
`;
const PRINTER_LIST_AFTER = `\r
Name         : HP LaserJet 400 M401 Front\r
PrinterStatus : Normal\r
JobCount     : 0\r
\r
`;

const JSON_BEFORE = `[
    {
        "Name":  "Spooler",
        "Status":  "Stopped",
        "StartType":  "Automatic"
    },
    {
        "Name":  "W32Time",
        "Status":  "Running",
        "StartType":  "Manual"
    }
]`;
const JSON_AFTER = `[
    {
        "Name":  "W32Time",
        "Status":  "Running",
        "StartType":  "Manual"
    },
    {
        "Name":  "Spooler",
        "Status":  "Running",
        "StartType":  "Automatic"
    }
]`;

describe("the line diff of two outputs", () => {
  it("finds nothing in identical outputs", () => {
    const d = diffBytes(bytes(PS_BEFORE), bytes(PS_BEFORE), FIRST);
    expect(d).toMatchObject({ changed: false, summary: { added: 0, removed: 0 }, hunkCount: 0, hunks: [] });
  });

  it("shows a changed line with its context and line numbers", () => {
    const d = diffBytes(bytes("a\nb\nc\nd\ne\nf\ng\nh\n"), bytes("a\nb\nc\nd\nE\nf\ng\nh\n"), FIRST);
    expect(d.summary).toEqual({ added: 1, removed: 1 });
    expect(d.hunks).toEqual([
      {
        before: { start: 2, count: 7 },
        after: { start: 2, count: 7 },
        lines: [
          { op: "same", text: "b", before: 2, after: 2 },
          { op: "same", text: "c", before: 3, after: 3 },
          { op: "same", text: "d", before: 4, after: 4 },
          { op: "removed", text: "e", before: 5 },
          { op: "added", text: "E", after: 5 },
          { op: "same", text: "f", before: 6, after: 6 },
          { op: "same", text: "g", before: 7, after: 7 },
          { op: "same", text: "h", before: 8, after: 8 },
        ],
      },
    ]);
  });

  it("keeps far-apart changes in separate hunks and near ones together", () => {
    const before = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const after = [...before];
    after[2] = "changed 2";
    after[6] = "changed 6"; // 3 lines apart: one hunk
    after[30] = "changed 30"; // far: a hunk of its own
    const d = diffBytes(bytes(before.join("\n")), bytes(after.join("\n")), FIRST);
    expect(d.hunkCount).toBe(2);
    expect(d.hunks.map((h) => [h.before.start, h.before.count])).toEqual([
      [1, 10],
      [28, 7],
    ]);
  });

  it("reads CRLF and LF outputs line by line the same, and says when only the line endings changed", () => {
    const unix = "Status: OK\nJobs: 0\n";
    const windows = "Status: OK\r\nJobs: 0\r\n";
    const d = diffBytes(bytes(unix), bytes(windows), FIRST);
    expect(d).toMatchObject({ changed: true, lineEndingsChanged: true, summary: { added: 0, removed: 0 }, hunks: [] });
    const e = diffBytes(bytes(windows), bytes("Status: Error\r\nJobs: 0\r\n"), FIRST);
    expect(e.hunks[0]?.lines.map((l) => [l.op, l.text])).toEqual([
      ["removed", "Status: OK"],
      ["added", "Status: Error"],
      ["same", "Jobs: 0"],
    ]);
  });

  it("compares binary output by its bytes alone", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    const other = png.slice();
    other[11] = 0x0e;
    expect(diffBytes(png, other, FIRST)).toMatchObject({
      changed: true,
      binary: true,
      hunks: [],
      before: { bytes: 12 },
      after: { bytes: 12 },
    });
    expect(diffBytes(png, png.slice(), FIRST)).toMatchObject({ changed: false, binary: true });
  });

  it("diffs a huge output by pages of hunks, each hunk at most HUNK_MAX_LINES lines", () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => `${String(i).padStart(7, "0")} 2026-12-01T09:00:00Z ok`);
    const before = bytes(`${lines.join("\n")}\n`);
    const changed = [...lines];
    for (const at of [10, 50_000, 199_990]) changed[at] = `${String(at).padStart(7, "0")} 2026-12-01T09:00:00Z FAIL`;
    const after = bytes(`${changed.join("\n")}\n`);
    const d = diffBytes(before, after, { hunk: 1, hunks: 1 });
    expect(d).toMatchObject({ changed: true, approximate: false, summary: { added: 3, removed: 3 }, hunkCount: 3 });
    expect(d.hunks).toHaveLength(1);
    expect(d.hunks[0]?.lines.filter((l) => l.op !== "same").map((l) => [l.op, l.text, l.before ?? l.after])).toEqual([
      ["removed", "0050000 2026-12-01T09:00:00Z ok", 50_001],
      ["added", "0050000 2026-12-01T09:00:00Z FAIL", 50_001],
    ]);

    const replaced = bytes(lines.map((l) => `${l}!`).join("\n"));
    const all = diffBytes(before, replaced, { hunk: 0, hunks: 2 });
    expect(all.summary).toEqual({ added: 200_000, removed: 200_000 });
    expect(all.hunkCount).toBe(2000);
    expect(all.hunks.map((h) => h.lines.length)).toEqual([HUNK_MAX_LINES, HUNK_MAX_LINES]);
  });

  it("bounds Myers' work on outputs that differ throughout, showing the middle replaced", () => {
    const a = Array.from({ length: 100_000 }, (_, i) => i * 2);
    const b = Array.from({ length: 100_000 }, (_, i) => (i % 2 === 0 ? i * 2 : i * 2 + 1));
    const { runs, approximate } = lineRuns(a, b);
    expect(approximate).toBe(true);
    expect(runs).toEqual([
      { op: "same", count: 1 },
      { op: "removed", count: 99_999 },
      { op: "added", count: 99_999 },
    ]);
  });

  it("cuts a very long line and shows how long it was", () => {
    const long = "x".repeat(10_000);
    const d = diffBytes(bytes("a\n"), bytes(`${long}\n`), FIRST);
    expect(d.hunks[0]?.lines[1]).toEqual({ op: "added", text: `${"x".repeat(2000)}… (10000 bytes in all)`, after: 1 });
  });
});

describe("tables, lists and JSON compared by meaning", () => {
  it("compares Get-Printer's Format-Table row by row by Name", () => {
    expect(structuredDiff(GET_PRINTER_BEFORE, GET_PRINTER_AFTER)).toMatchObject({
      kind: "table",
      keyColumn: "Name",
      rows: [
        {
          key: "HP LaserJet 400 M401 Front",
          change: "changed",
          cells: [{ column: "PortName", before: "IP_10.0.4.21", after: "IP_10.0.4.22" }],
        },
      ],
    });
  });

  it("compares Get-Service: a service started, one added", () => {
    expect(structuredDiff(GET_SERVICE_BEFORE, GET_SERVICE_AFTER)).toEqual({
      kind: "table",
      keyColumn: "Name",
      columns: ["Status", "Name", "DisplayName"],
      rows: [
        { key: "W32Time", change: "changed", cells: [{ column: "Status", before: "Stopped", after: "Running" }] },
        {
          key: "WinRM",
          change: "added",
          cells: [
            { column: "Status", before: null, after: "Running" },
            { column: "Name", before: null, after: "WinRM" },
            { column: "DisplayName", before: null, after: "Windows Remote Management (WS-Management)" },
          ],
        },
      ],
    });
  });

  it("compares systemctl list-units by UNIT, ignoring the legend", () => {
    expect(structuredDiff(SYSTEMCTL_BEFORE, SYSTEMCTL_AFTER)).toMatchObject({
      kind: "table",
      keyColumn: "UNIT",
      rows: [
        {
          key: "nginx.service",
          change: "changed",
          cells: [
            { column: "ACTIVE", before: "failed", after: "active" },
            { column: "SUB", before: "failed", after: "running" },
          ],
        },
      ],
    });
  });

  it("compares ps by PID: a process gone, one new", () => {
    const d = structuredDiff(PS_BEFORE, PS_AFTER);
    expect(d).toMatchObject({ kind: "table", keyColumn: "PID" });
    expect(d?.kind === "table" && d.rows.map((r) => [r.key, r.change])).toEqual([
      ["812", "removed"],
      ["2051", "added"],
    ]);
    expect(d?.kind === "table" && d.rows[1]?.cells.find((c) => c.column === "CMD")?.after).toBe(
      "java -jar /opt/app/app.jar",
    );
  });

  it("compares Format-List (CRLF) field by field: PrinterStatus: Error → Normal", () => {
    expect(structuredDiff(PRINTER_LIST_BEFORE, PRINTER_LIST_AFTER)).toEqual({
      kind: "list",
      keys: [
        { key: "PrinterStatus", before: "Error", after: "Normal" },
        { key: "JobCount", before: "14", after: "0" },
      ],
    });
  });

  it("compares ConvertTo-Json key by key, matching list items by Name whatever their order", () => {
    expect(structuredDiff(JSON_BEFORE, JSON_AFTER)).toEqual({
      kind: "json",
      keys: [{ key: "[Name=Spooler].Status", before: '"Stopped"', after: '"Running"' }],
    });
    expect(structuredDiff('{"a":{"b":1,"c":[1,2]}}', '{"a":{"b":2,"c":[1]},"d":null}')).toEqual({
      kind: "json",
      keys: [
        { key: "a.b", before: "1", after: "2" },
        { key: "a.c[1]", before: "2", after: null },
        { key: "d", before: null, after: "null" },
      ],
    });
  });

  it("has no structured view for free text or outputs of different shapes", () => {
    expect(structuredDiff("hello\nworld\n", "hello\nthere\n")).toBeNull();
    expect(structuredDiff(JSON_BEFORE, GET_SERVICE_AFTER)).toBeNull();
  });
});

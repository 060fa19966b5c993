import { describe, expect, it } from "vitest";
import { AsciicastWriter } from "../../src/evidence/index.ts";
import { decodeRecord, encodeOutputRecord, toBase64, utf8 } from "../../src/index.ts";
import { MACHINE, PRINTER_CASE, SERVICE_OUTPUT } from "./printer-case.ts";

describe("the asciicast v2 recording", () => {
  it("plays the printer case: a prompt per command, its output, markers at each start and end", () => {
    const writer = new AsciicastWriter({
      sessionId: "ses_printer",
      hostname: "FRONT-DESK-PC",
      openedAt: "2026-05-14T15:15:32.000Z",
    });
    const lines = [writer.header(), ...PRINTER_CASE.map(decodeRecord).flatMap((e) => writer.lines(e))];
    expect(JSON.parse(lines[0] as string)).toEqual({
      version: 2,
      width: 120,
      height: 36,
      timestamp: Date.parse("2026-05-14T15:15:32Z") / 1000,
      idle_time_limit: 2,
      title: "Caisey session ses_printer on FRONT-DESK-PC",
      env: { TERM: "xterm-256color" },
    });
    expect(lines.slice(1).map((l) => JSON.parse(l))).toEqual([
      [33, "m", "$ Restart-Service Spooler"],
      [33, "o", "\u001b[1m$ Restart-Service Spooler\u001b[0m\r\n"],
      [35.4, "o", "\u001b[2m[exit 0]\u001b[0m\r\n"],
      [35.4, "m", "exit 0: Restart-Service Spooler"],
      [58, "m", "$ Get-Service Spooler"],
      [58, "o", "\u001b[1m$ Get-Service Spooler\u001b[0m\r\n"],
      [58.1, "o", SERVICE_OUTPUT],
      [58.8, "o", "\u001b[2m[exit 0]\u001b[0m\r\n"],
      [58.8, "m", "exit 0: Get-Service Spooler"],
    ]);
  });

  it("keeps a character split across two output events whole, and turns bare LFs into CR LF", () => {
    const writer = new AsciicastWriter({ sessionId: "s", hostname: "h", openedAt: "2026-05-14T15:00:00.000Z" });
    const bytes = utf8("café\nok\n");
    const chunk = (seq: number, offset: number, part: Uint8Array) =>
      decodeRecord(
        encodeOutputRecord(seq, "2026-05-14T15:00:01.000Z", MACHINE, {
          commandId: "cmd_x",
          stream: "stderr",
          offset,
          data: toBase64(part),
        }),
      );
    const out = [chunk(1, 0, bytes.slice(0, 4)), chunk(2, 4, bytes.slice(4))].flatMap((e) => writer.lines(e));
    expect(out.map((l) => JSON.parse(l)[2])).toEqual(["\u001b[31mcaf\u001b[0m", "\u001b[31mé\r\nok\r\n\u001b[0m"]);
  });
});

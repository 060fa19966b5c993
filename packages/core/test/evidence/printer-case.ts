// The fourth product document's SLA dispute, as a record: the printer at the front desk was fixed and verified
// within two minutes of connecting, though the client's ticket says 4 PM. Shared by the timeline and export tests.

import { createHash } from "node:crypto";
import { encodeOutputRecord, encodeRecord, finishedData, toBase64, utf8 } from "../../src/index.ts";

export const SESSION_ID = "ses_printerprinterprint";
export const TECHNICIAN = "user:usr_danadanadanadanadana";
export const CONTACT = "contact:usr_miramiramiramiramira";
export const MACHINE = "machine:mch_frontdeskfrontdeskfr";
const RESTART = "cmd_restartrestartrestart";
const CHECK = "cmd_checkcheckcheckcheck";
const APPROVAL = "apr_spoolerspoolerspoole";

export const NAMES = { [TECHNICIAN]: "Dana Whitfield", [CONTACT]: "Mira Okafor" };

export const SERVICE_OUTPUT =
  "\r\nStatus   Name               DisplayName\r\n------   ----               -----------\r\nRunning  Spooler            Print Spooler\r\n\r\n";

const event = (seq: number, time: string, type: string, actor: string, data: Record<string, unknown>) =>
  encodeRecord({ seq, ts: `2026-05-14T${time}Z`, type, actor, data });

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A command.finished's data as the Session records it: exit 0, these stdout bytes, no stderr. */
const finished = (commandId: string, stdout: string, durationMs: number) =>
  finishedData(commandId, { state: "finished", exitCode: 0, signal: null, reason: null, durationMs }, null, {
    stdoutBytes: utf8(stdout).length,
    stderrBytes: 0,
    stdoutSha256: createHash("sha256").update(stdout).digest("hex"),
    stderrSha256: EMPTY_SHA256,
  });

/** The record lines, exactly as a Session would have appended them. */
export const PRINTER_CASE: string[] = [
  event(1, "15:15:32.000", "session.opened", TECHNICIAN, {
    sessionId: SESSION_ID,
    hostname: "FRONT-DESK-PC",
    ticket: "T-4471",
  }),
  event(2, "15:15:40.120", "chat.message", TECHNICIAN, {
    text: "I see the print spooler is stuck. I need to restart it. Is that okay?",
  }),
  event(3, "15:15:41.000", "command.requested", TECHNICIAN, {
    commandId: RESTART,
    command: "Restart-Service Spooler",
    shell: "powershell",
    approvalRequired: true,
  }),
  event(4, "15:15:41.000", "approval.requested", TECHNICIAN, {
    approvalId: APPROVAL,
    commandId: RESTART,
    command: "Restart-Service Spooler",
  }),
  event(5, "15:16:01.000", "approval.granted", CONTACT, {
    approvalId: APPROVAL,
    commandId: RESTART,
    contactName: "Mira Okafor",
    comment: "Go ahead",
  }),
  event(6, "15:16:05.000", "command.started", MACHINE, { commandId: RESTART, pid: 4120 }),
  event(7, "15:16:07.400", "command.finished", MACHINE, finished(RESTART, "", 2400)),
  event(8, "15:16:29.500", "command.requested", TECHNICIAN, {
    commandId: CHECK,
    command: "Get-Service Spooler",
    shell: "powershell",
    approvalRequired: false,
  }),
  event(9, "15:16:30.000", "command.started", MACHINE, { commandId: CHECK, pid: 4188 }),
  encodeOutputRecord(10, "2026-05-14T15:16:30.100Z", MACHINE, {
    commandId: CHECK,
    stream: "stdout",
    offset: 0,
    data: toBase64(utf8(SERVICE_OUTPUT)),
  }),
  event(11, "15:16:30.800", "command.finished", MACHINE, finished(CHECK, SERVICE_OUTPUT, 800)),
  event(12, "15:16:40.000", "chat.message", TECHNICIAN, { text: "Spooler is running. Please try printing." }),
  event(13, "15:17:12.000", "chat.message", CONTACT, { text: "It worked — test page printed. Merci, ça marche !" }),
  event(14, "15:17:20.000", "note.added", TECHNICIAN, { text: "Stuck job from the accounting PC; told Mira." }),
  event(15, "15:17:30.000", "verification.recorded", TECHNICIAN, {
    baselineCommandId: CHECK,
    verifyCommandId: null,
    verdict: "fixed",
    note: "Test page printed at the front desk",
  }),
  event(16, "15:17:45.000", "session.closed", TECHNICIAN, {}),
];

// The readable exports, end to end with a real runtime and bash: the PDF report read back with poppler's pdftotext
// (Debian's poppler-utils) finds the timeline's timestamps, each command with its exit code, the chat with its
// non-ASCII text, and the notes only when the exporter chose them (never in a client contact's export).

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";

const MIRA = { name: "Mira Okafor", email: "mira@contoso.test", password: "a long enough password" };
const org = useOrganization({ clients: [{ name: "Contoso Dental", machine: true, contacts: [MIRA] }] });

const CHAT = "It worked — test page printed. Merci, ça marche ! Пример ✓";
const NOTE = "Stuck job from the accounting PC; replace the driver next visit";
const COMMANDS = ["printf 'Status: Running\\nName: Spooler\\n'", "ls /no/such/printer"];
/** Enough messages to need a second page. */
const FILLER = Array.from({ length: 40 }, (_, i) => `Checking the queue, step ${i + 1} of 40`);

let sessionId: string;
let mira: Api;
let timestamps: string[];

/** The text of a PDF, laid out as on the page (pdftotext -layout). */
function pdfText(pdf: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "caisey-pdf-"));
  writeFileSync(join(dir, "r.pdf"), pdf);
  return execFileSync("pdftotext", ["-layout", "-enc", "UTF-8", join(dir, "r.pdf"), "-"], { encoding: "utf8" });
}

async function pdf(as: Api, query = ""): Promise<Buffer> {
  const res = await as.get(`/api/v1/sessions/${sessionId}/export?format=pdf${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/pdf");
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  mira = await org.login(MIRA.email);
  ({ id: sessionId } = await org.owner.json("/api/v1/sessions", {
    machineId: org.runtime.machineId,
    ticket: "T-4471",
  }));
  await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: "I see the print spooler is stuck." });
  for (const command of COMMANDS) {
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" });
    await waitCommand(org.owner, sessionId, commandId);
  }
  for (const text of FILLER) await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text });
  await mira.json(`/api/v1/sessions/${sessionId}/messages`, { text: CHAT });
  await org.owner.json(`/api/v1/sessions/${sessionId}/notes`, { text: NOTE });
  await org.owner.json(`/api/v1/sessions/${sessionId}/close`, {});
  const { events } = await org.owner.json(`/api/v1/sessions/${sessionId}/events?limit=1000`);
  timestamps = events
    .filter(
      (e: { type: string }) =>
        !["command.output", "participant.joined", "participant.left", "note.added"].includes(e.type),
    )
    .map((e: { ts: string }) => e.ts.slice(11, 23));
});

describe("the PDF report", () => {
  it("reads back with the timeline's timestamps, each command and exit code, and the chat in its own script", async () => {
    const report = await pdf(org.owner);
    expect(report.subarray(0, 5).toString()).toBe("%PDF-");
    // Kept for a look at the first pages, as a client's accountant would see them.
    mkdirSync("/tmp/shots/exports", { recursive: true });
    writeFileSync("/tmp/shots/exports/report.pdf", report);
    execFileSync("pdftoppm", [
      "-png",
      "-r",
      "70",
      "-l",
      "2",
      "/tmp/shots/exports/report.pdf",
      "/tmp/shots/exports/report",
    ]);
    const text = pdfText(report);
    for (const ts of timestamps) expect(text).toContain(ts);
    expect(text).toContain(COMMANDS[0]);
    expect(text).toContain("Status: Running");
    expect(text).toContain("ls /no/such/printer");
    expect(text).toMatch(/exit code 0/);
    expect(text).toMatch(/exit code 2/);
    expect(text).toContain("No such file or directory");
    expect(text).toContain(CHAT);
    expect(text).toContain("Contoso Dental");
    // Closed, so sealed: the seal note and its place in the organization's log, with how to verify it.
    const seal = await org.owner.json<{ note: string; leafIndex: number; treeSize: number }>(
      `/api/v1/sessions/${sessionId}/seal`,
    );
    expect(text).toContain(`caisey-seal/v1`);
    expect(text).toContain(seal.note.split("\n")[2] as string);
    expect(text).toContain(`${seal.leafIndex} of ${seal.treeSize} in the organization's transparency log`);
    expect(text).not.toContain("Not sealed yet");
    expect(text).not.toContain(NOTE);
    const pages = Number(
      /Pages:\s+(\d+)/.exec(execFileSync("pdfinfo", ["-"], { input: report, encoding: "utf8" }))?.[1],
    );
    expect(pages).toBeGreaterThan(1);
    expect(text).toContain(`page ${pages} of ${pages}`);
  });

  it("holds the notes only when the exporter chose them, and never for a client contact", async () => {
    expect(pdfText(await pdf(org.owner, "&includeNotes=1"))).toContain(NOTE);
    const contactReport = pdfText(await pdf(mira));
    expect(contactReport).toContain(CHAT);
    expect(contactReport).not.toContain(NOTE);
    const refused = await mira.get(`/api/v1/sessions/${sessionId}/export?format=pdf&includeNotes=1`);
    expect(refused.status).toBe(403);
  });
});

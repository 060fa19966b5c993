// The session report as a PDF, laid out inside the Worker with @cantoo/pdf-lib (the maintained fork of pdf-lib) and
// DejaVu fonts embedded as subsets through @cantoo/fontkit, so any Unicode text the record holds (a client's "ça
// marche", a Cyrillic file name) prints as written. A4, paginated, every page footed with the session and its number.

import {
  formatDuration,
  formatTimestamp,
  type Head,
  printableText,
  type ReportCommand,
  type ReportVerdict,
  type SessionSeal,
  type Timeline,
  type TimelineEntry,
} from "@caisey/core";
import fontkit from "@cantoo/fontkit";
import { AFRelationship, PDFDocument, type PDFFont, type PDFPage, rgb } from "@cantoo/pdf-lib";
import SANS from "../../fonts/DejaVuSans.ttf";
import SANS_BOLD from "../../fonts/DejaVuSans-Bold.ttf";
import MONO from "../../fonts/DejaVuSansMono.ttf";
import { HOW_TO_CHECK_CHAIN } from "./seal.ts";

export interface ReportCommandWithOutput extends ReportCommand {
  /** The first lines of its stdout then stderr, printable. */
  preview: string[];
}

export interface SessionReport {
  organization: string;
  client: string;
  hostname: string;
  os: string;
  sessionId: string;
  ticket: string | null;
  technicians: string[];
  state: string;
  head: Head;
  timeline: Timeline;
  commands: ReportCommandWithOutput[];
  verdicts: ReportVerdict[];
  /** The notes the exporter chose to include; null when they chose not to. */
  notes: TimelineEntry[] | null;
  seal: SessionSeal | null;
  /** The log's verifier key, printed for a verifier to compare with the one the organization gave them. */
  vkey: string | null;
  /** The evidence bundle of the same choices, attached to the PDF; null until the session is sealed. */
  bundle: { name: string; bytes: Uint8Array } | null;
  exportedAt: string;
  exportedBy: string;
}

const PAGE: [number, number] = [595.28, 841.89];
const MARGIN = 50;
const WIDTH = PAGE[0] - 2 * MARGIN;
const INK = rgb(0.1, 0.1, 0.12);
const MUTED = rgb(0.38, 0.4, 0.45);
const ACCENT = rgb(0.05, 0.33, 0.6);
const SHADE = rgb(0.95, 0.96, 0.97);

type Style = { font: PDFFont; size: number; color?: ReturnType<typeof rgb> };

class Writer {
  private page!: PDFPage;
  private y = 0;
  readonly pages: PDFPage[] = [];
  private readonly doc: PDFDocument;
  readonly sans: PDFFont;
  readonly bold: PDFFont;
  readonly mono: PDFFont;

  constructor(doc: PDFDocument, fonts: { sans: PDFFont; bold: PDFFont; mono: PDFFont }) {
    this.doc = doc;
    this.sans = fonts.sans;
    this.bold = fonts.bold;
    this.mono = fonts.mono;
    this.newPage();
  }

  newPage() {
    this.page = this.doc.addPage(PAGE);
    this.pages.push(this.page);
    this.y = PAGE[1] - MARGIN;
  }

  /** Room for `height` more points on this page, or a new page. */
  room(height: number) {
    if (this.y - height < MARGIN + 20) this.newPage();
  }

  gap(points: number) {
    this.y -= points;
  }

  /** Lines of `text` that fit `width` at `style`, broken at spaces (or anywhere, for a long word). */
  wrap(text: string, style: Style, width: number): string[] {
    const out: string[] = [];
    for (const paragraph of printableText(text).split("\n")) {
      let line = "";
      for (const word of paragraph.split(/(?<= )/)) {
        const candidate = line + word;
        if (style.font.widthOfTextAtSize(candidate.trimEnd(), style.size) <= width) {
          line = candidate;
          continue;
        }
        if (line) out.push(line.trimEnd());
        line = "";
        let rest = word;
        while (style.font.widthOfTextAtSize(rest.trimEnd(), style.size) > width) {
          let cut = rest.length - 1;
          while (cut > 1 && style.font.widthOfTextAtSize(rest.slice(0, cut), style.size) > width) cut--;
          out.push(rest.slice(0, cut));
          rest = rest.slice(cut);
        }
        line = rest;
      }
      out.push(line.trimEnd());
    }
    return out;
  }

  /** A paragraph at `x`, wrapped to the page. */
  text(text: string, style: Style, x = 0, width = WIDTH - x) {
    const height = style.size * 1.35;
    for (const line of this.wrap(text, style, width)) {
      this.room(height);
      this.y -= height;
      this.page.drawText(line, {
        x: MARGIN + x,
        y: this.y + 2,
        size: style.size,
        font: style.font,
        color: style.color ?? INK,
      });
    }
  }

  heading(text: string) {
    this.room(60);
    this.gap(14);
    this.text(text, { font: this.bold, size: 14, color: ACCENT });
    this.page.drawLine({
      start: { x: MARGIN, y: this.y - 2 },
      end: { x: MARGIN + WIDTH, y: this.y - 2 },
      thickness: 0.5,
      color: ACCENT,
    });
    this.gap(8);
  }

  /** Label and value side by side; the value wraps under itself. */
  pair(label: string, value: string, labelWidth = 150) {
    const style = { font: this.sans, size: 10 };
    const lines = this.wrap(value, style, WIDTH - labelWidth);
    const height = style.size * 1.35;
    this.room(height * lines.length);
    this.page.drawText(label, { x: MARGIN, y: this.y - height + 2, size: 10, font: this.bold, color: MUTED });
    for (const line of lines) {
      this.y -= height;
      this.page.drawText(line, { x: MARGIN + labelWidth, y: this.y + 2, size: 10, font: this.sans, color: INK });
    }
  }

  /** A timeline row: time, who, what. */
  row(time: string, who: string, what: string, emphasis: string | undefined) {
    const style = { font: this.sans, size: 9.5 };
    const lines = this.wrap(emphasis ? `${what}  — ${emphasis}` : what, style, WIDTH - 190);
    const height = style.size * 1.4;
    this.room(height * lines.length);
    const top = this.y - height + 2;
    this.page.drawText(time, { x: MARGIN, y: top, size: 9.5, font: this.mono, color: INK });
    const whoLine = this.wrap(who, { font: this.sans, size: 9 }, 80)[0] ?? "";
    this.page.drawText(whoLine, { x: MARGIN + 105, y: top, size: 9, font: this.sans, color: MUTED });
    for (const line of lines) {
      this.y -= height;
      const font = emphasis ? this.bold : this.sans;
      this.page.drawText(line, { x: MARGIN + 190, y: this.y + 2, size: 9.5, font, color: INK });
    }
  }

  /** Monospaced lines on a shaded band (output, a seal's note). */
  block(lines: string[], x = 0) {
    const size = 8;
    const height = size * 1.3;
    const wrapped = lines.flatMap((source) => this.wrap(source, { font: this.mono, size }, WIDTH - x - 12));
    // A short block (a signed note, a command) stays on one page: a signature split over two is unreadable.
    if (wrapped.length <= 12) this.room(height * wrapped.length);
    for (const line of wrapped) {
      this.room(height);
      this.page.drawRectangle({ x: MARGIN + x, y: this.y - height, width: WIDTH - x, height, color: SHADE });
      this.y -= height;
      this.page.drawText(line, { x: MARGIN + x + 6, y: this.y + 2.5, size, font: this.mono, color: INK });
    }
    this.gap(4);
  }

  footers(sessionId: string) {
    const total = this.pages.length;
    this.pages.forEach((page, i) => {
      const text = `Caisey session report · ${sessionId} · page ${i + 1} of ${total}`;
      page.drawText(text, { x: MARGIN, y: MARGIN - 20, size: 8, font: this.sans, color: MUTED });
    });
  }
}

const time = (ts: string | null) => (ts ? ts.slice(11, 19) : "—");
const bytes = (n: number) => `${n.toLocaleString("en-US")} byte${n === 1 ? "" : "s"}`;

function outcome(c: ReportCommand): string {
  if (c.state === "finished") return `exit code ${c.exitCode}`;
  return c.state.replace("_", " ");
}

const SMALL = 9.5;
const fingerprint = (head: Head) => `${head.seq} events, fingerprint (SHA-256 chain hash) ${head.hash}`;
/** How far a numbered step's text and commands sit in from its number. */
const STEP = 14;

/**
 * The last section, written for whoever must rely on the report (a client's accounts department, an auditor): what
 * the seal proves in plain words, how to take the attached bundle out and check it, then the technical details.
 */
function howToVerify(w: Writer, report: SessionReport) {
  const body = { font: w.sans, size: SMALL };
  const strong = { font: w.bold, size: SMALL };
  w.newPage();
  w.heading("How to verify this report");
  const { seal, bundle } = report;
  if (!seal || !bundle) {
    w.text("Not sealed yet: the session has no seal in the organization's transparency log.", strong);
    w.gap(4);
    w.text(
      "A session is sealed when it closes, and only a sealed session has an evidence bundle, so none is attached. Export the report again once the session is closed to get one. Until then, the record's hash chain below still shows whether the record agrees with itself.",
      body,
    );
    w.gap(6);
    w.pair("Record", fingerprint(report.head));
  } else {
    w.text(
      `When the session closed, ${report.organization || "the organization"} sealed its complete record: a digital signature over the record's last event and its SHA-256 fingerprint, entered in the organization's transparency log, an append-only register of every session it has sealed. Anyone can check, without an account and without trusting Caisey, that the record this report was made from is the sealed one and was not changed afterwards.`,
      body,
    );
    w.gap(6);
    w.pair(
      "Log entry",
      `${seal.leafIndex} of ${seal.treeSize} in the organization's transparency log (entries are numbered from 0)`,
    );
    w.pair("Sealed record", fingerprint(report.head));
    w.pair("Attached file", `${bundle.name} (${bytes(bundle.bytes.length)}, a zip archive)`);
    w.gap(8);
    w.text("1. Take the evidence bundle out of this PDF.", strong);
    w.text(
      `The bundle is attached to this PDF as ${bundle.name}. Most PDF readers (Adobe Acrobat Reader, Firefox, Okular, Evince) list it in their attachments side panel, shown by a paper-clip icon: save it from there. On the command line, poppler-utils' pdfdetach saves it next to the report:`,
      body,
      STEP,
    );
    w.block([`pdfdetach -saveall caisey-${report.sessionId}.pdf`], STEP);
    w.text(
      "2. Check it with either verifier (Node.js 22 or later; verify-caisey.mjs is one file, Node.js only).",
      strong,
    );
    w.text(
      "Both recompute the record's hash chain, check the seal's Ed25519 signature against the organization's key and the seal's place in the transparency log, print each check, and end with \"verified\" — or name the first check that failed.",
      body,
      STEP,
    );
    w.block(
      [
        `npx caisey verify ${bundle.name} --key '<the organization's key>'`,
        `node verify-caisey.mjs ${bundle.name} --key '<the organization's key>'`,
      ],
      STEP,
    );
    w.text("3. Use the organization's key, obtained from them directly.", strong);
    w.text(
      "The key this bundle was sealed with is printed below and included in the bundle; a check against those copies only shows that the bundle agrees with itself. Compare it with the key the organization gives you (GET /api/v1/log/key on their Caisey).",
      body,
      STEP,
    );
    // The full width: a key is copied whole, and most fit on one line there.
    if (report.vkey) w.block([report.vkey]);
    w.text(
      "Lines withheld from this export (internal notes, unless the exporter chose to include them) are in the attached record as their SHA-256 fingerprint: the seal still checks, and their words stay private.",
      { ...body, color: MUTED },
    );
  }

  w.heading("Technical details");
  w.text(HOW_TO_CHECK_CHAIN, { font: w.sans, size: 9, color: MUTED });
  w.gap(4);
  if (seal) {
    w.room(110); // the label with its note
    w.text("Seal (C2SP signed note):", strong);
    w.block(seal.note.split("\n"));
    w.room(110); // the label with its note
    w.text("Checkpoint of the transparency log (C2SP tlog-checkpoint):", strong);
    w.block(seal.checkpoint.split("\n"));
  }
}

async function attachBundle(doc: PDFDocument, report: SessionReport) {
  if (!report.bundle) return;
  const at = new Date(report.exportedAt);
  await doc.attach(report.bundle.bytes, report.bundle.name, {
    mimeType: "application/zip",
    description: `Caisey evidence bundle of session ${report.sessionId}: the sealed record, its seal and proof, the log's key; check it with npx caisey verify`,
    creationDate: at,
    modificationDate: at,
    afRelationship: AFRelationship.Source,
  });
}

export async function sessionReportPdf(report: SessionReport): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const [sans, bold, mono] = await Promise.all(
    [SANS, SANS_BOLD, MONO].map((font) => doc.embedFont(new Uint8Array(font), { subset: true })),
  );
  const title = `Session report: ${report.hostname}, ${report.client}`;
  doc.setTitle(title);
  doc.setAuthor(report.organization);
  doc.setSubject(`Caisey session ${report.sessionId}`);
  doc.setCreator("Caisey");
  doc.setProducer("Caisey");
  doc.setCreationDate(new Date(report.exportedAt));
  doc.setModificationDate(new Date(report.exportedAt));
  const w = new Writer(doc, { sans: sans as PDFFont, bold: bold as PDFFont, mono: mono as PDFFont });
  const t = report.timeline;

  w.text(report.organization, { font: w.sans, size: 11, color: MUTED });
  w.text(title, { font: w.bold, size: 18 });
  w.gap(6);
  w.pair("Client", report.client);
  w.pair("Machine", `${report.hostname} (${report.os})`);
  w.pair("Technician(s)", report.technicians.join(", ") || "—");
  w.pair("Session", report.sessionId);
  if (report.ticket) w.pair("Ticket", report.ticket);
  w.pair("Opened", t.openedAt ? formatTimestamp(t.openedAt) : "—");
  w.pair("Closed", t.closedAt ? formatTimestamp(t.closedAt) : `not closed (${report.state})`);
  w.pair("Record", `${report.head.seq} events, fingerprint ${report.head.hash.slice(0, 16)}… (in full at the end)`);
  w.pair("Exported", `${formatTimestamp(report.exportedAt)} by ${report.exportedBy}`);
  w.pair(
    "Evidence",
    report.bundle
      ? `Sealed when the session closed. The evidence bundle ${report.bundle.name} is attached to this PDF: see "How to verify this report" at the end.`
      : `Not sealed yet (the session is ${report.state.replace("_", " ")}): a session is sealed when it closes.`,
  );

  w.heading("At a glance");
  const d = t.durations;
  const span = (v: number | null, none: string) => (v === null ? none : formatDuration(v));
  w.pair("First technician action", span(d.toFirstActionMs, "none recorded"), 190);
  w.pair("Waiting for the client", formatDuration(d.waitingForClientMs), 190);
  w.pair("Verified fix", span(d.toVerifiedFixMs, 'no verdict "fixed" recorded'), 190);
  w.pair("Open in total", span(d.openMs, "—"), 190);

  w.heading("Timeline (UTC)");
  let day = "";
  for (const e of t.entries) {
    if (e.ts.slice(0, 10) !== day) {
      day = e.ts.slice(0, 10);
      w.text(day, { font: w.bold, size: 9.5, color: MUTED });
    }
    w.row(e.ts.slice(11, 23), e.who, e.text, e.milestone);
  }

  w.heading("Commands");
  if (report.commands.length === 0) w.text("No command was run.", { font: w.sans, size: 10, color: MUTED });
  for (const c of report.commands) {
    w.room(80);
    w.gap(4);
    w.text(`${c.verifies ? "[verification] " : ""}${c.command}`, { font: w.mono, size: 9.5 });
    const when = `${c.shell} · requested ${time(c.requestedAt)} · started ${time(c.startedAt)} · ended ${time(c.finishedAt)}`;
    const took = c.durationMs === null ? "" : ` after ${formatDuration(c.durationMs)}`;
    w.text(`${when} · ${outcome(c)}${took}`, { font: w.sans, size: 9, color: MUTED });
    w.text(`stdout ${bytes(c.stdoutBytes)}, SHA-256 ${c.stdoutSha256 ?? "—"}`, { font: w.sans, size: 8, color: MUTED });
    w.text(`stderr ${bytes(c.stderrBytes)}, SHA-256 ${c.stderrSha256 ?? "—"}`, { font: w.sans, size: 8, color: MUTED });
    if (c.preview.length > 0) w.block(c.preview);
  }

  w.heading("Chat");
  const chat = t.entries.filter((e) => e.kind === "chat");
  if (chat.length === 0) w.text("No message was exchanged.", { font: w.sans, size: 10, color: MUTED });
  for (const e of chat) w.row(e.ts.slice(11, 19), e.who, e.text, undefined);

  if (report.notes) {
    w.heading("Internal notes");
    if (report.notes.length === 0) w.text("No note was added.", { font: w.sans, size: 10, color: MUTED });
    for (const e of report.notes) w.row(e.ts.slice(11, 19), e.who, e.text.replace(/^Internal note: /, ""), undefined);
  }

  w.heading("Verification");
  if (report.verdicts.length === 0) w.text("No verdict was recorded.", { font: w.sans, size: 10, color: MUTED });
  for (const v of report.verdicts) {
    w.pair(formatTimestamp(v.ts), `${v.verdict.replace("_", " ")}: ${v.note}`);
    w.pair("Baseline", v.baseline);
    if (v.verification) w.pair("Re-run", v.verification);
  }

  howToVerify(w, report);
  w.footers(report.sessionId);
  await attachBundle(doc, report);
  return doc.save({ useObjectStreams: true });
}

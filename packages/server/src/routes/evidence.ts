// Evidence for third parties: the readable exports of a session (PDF report, asciicast recording) and read-only share
// links. Both read the record as disclosed by the Session (notes only when chosen and never for a client contact,
// output in full or as digests), and the seal through evidence/seal.ts.

import {
  type ActorNames,
  AsciicastWriter,
  concatBytes,
  type Disclosure,
  entriesOf,
  firstLines,
  type RecordEvent,
  type RedactedRecord,
  reportCommands,
  reportVerdicts,
  type SharedSession,
  sessionTimeline,
  utf8,
} from "@caisey/core";
import { createShare, exportSession, listShares, readShare, revokeShare } from "@caisey/core/routes";
import type { Context, Hono } from "hono";
import { type AppEnv, by, clientAddress, scope } from "../auth.ts";
import { type Env, session, tenant } from "../env.ts";
import { bundleExport, bundleFileName, evidenceBundle } from "../evidence/bundle.ts";
import { sessionReportPdf } from "../evidence/pdf.ts";
import { logVerifierKey, sessionSeal } from "../evidence/seal.ts";
import { HttpError, unwrap } from "../http.ts";
import type { Scope } from "../objects/session/index.ts";
import { parseToken } from "../tokens.ts";
import { route } from "./table.ts";

const NO_NOTES_FOR_CONTACTS = "notes are the MSP's internal words: a client contact's export or link never holds them";
/** How much of each stream the report reads for its first lines. */
const PREVIEW_BYTES = 4096;

const parse = (line: string) => JSON.parse(line) as RecordEvent | RedactedRecord;

/** Every line of the record as disclosed, parsed (for the report: output withheld keeps this small). */
async function disclosedRecord(env: Env, view: Scope, sessionId: string, disclosure: Disclosure) {
  const stub = session(env, sessionId);
  const records: (RecordEvent | RedactedRecord)[] = [];
  let after = 0;
  for (;;) {
    const page = unwrap(await stub.recordPage(view, after, disclosure));
    for (const line of page.lines) records.push(parse(line));
    if (page.done) return records;
    after = page.last;
  }
}

/** The names of everyone the record may name: staff as `user:`, contacts as `contact:`. */
async function actorNames(env: Env, tenantId: string): Promise<Record<string, string>> {
  const t = tenant(env, tenantId);
  const [staff, contacts] = await Promise.all([t.listPeople({ contacts: false }), t.listPeople({ contacts: true })]);
  return Object.fromEntries([
    ...staff.map((p) => [`user:${p.id}`, p.name]),
    ...contacts.map((p) => [`contact:${p.id}`, p.name]),
  ]);
}

/** Who worked the session: its holder and everyone staff who requested a command in it. */
function techniciansOf(technicianId: string, records: readonly (RecordEvent | RedactedRecord)[], names: ActorNames) {
  const actors = new Set([`user:${technicianId}`]);
  for (const r of records) if (!("redacted" in r) && r.type === "command.requested") actors.add(r.actor);
  return [...actors].map((a) => names[a] ?? a.slice(5));
}

async function preview(env: Env, view: Scope, sessionId: string, commandId: string, streams: ("stdout" | "stderr")[]) {
  const stub = session(env, sessionId);
  const lines: string[] = [];
  for (const stream of streams) {
    const page = unwrap(await stub.outputPage(view, commandId, stream, 0));
    const chunks: Uint8Array[] = [];
    let length = 0;
    for (const chunk of page.chunks) {
      if (length >= PREVIEW_BYTES) break;
      chunks.push(chunk);
      length += chunk.length;
    }
    lines.push(...firstLines(new TextDecoder().decode(concatBytes(...chunks).subarray(0, PREVIEW_BYTES))));
  }
  return lines;
}

/**
 * The PDF report, with the evidence bundle of the same choices attached once the session is sealed: the report is
 * what people read, the attachment what a verifier checks, and both travel as one file.
 */
async function pdfExport(c: Context<AppEnv>, sessionId: string, includeNotes: boolean): Promise<Response> {
  const view = scope(c);
  const { session: info } = unwrap(await session(c.env, sessionId).summary(view));
  const t = tenant(c.env, view.tenantId);
  const [records, names, organization, clients, seal] = await Promise.all([
    disclosedRecord(c.env, view, sessionId, { notes: includeNotes, output: false }),
    actorNames(c.env, view.tenantId),
    t.organization(),
    t.listClients(info.clientId),
    sessionSeal(c.env, view.tenantId, sessionId),
  ]);
  const vkey = seal ? await logVerifierKey(c.env, view.tenantId) : null;
  const bundle =
    seal && vkey
      ? {
          name: bundleFileName(sessionId),
          bytes: await evidenceBundle(
            c.env,
            view,
            sessionId,
            { info, proof: seal, vkey },
            { notes: includeNotes, output: true },
          ),
        }
      : null;
  const timeline = sessionTimeline(records, names);
  const commands = await Promise.all(
    reportCommands(records).map(async (command) => ({
      ...command,
      preview: await preview(c.env, view, sessionId, command.commandId, [
        ...(command.stdoutBytes > 0 ? (["stdout"] as const) : []),
        ...(command.stderrBytes > 0 ? (["stderr"] as const) : []),
      ]),
    })),
  );
  const pdf = await sessionReportPdf({
    organization: organization?.name ?? "",
    client: clients[0]?.name ?? info.clientId,
    hostname: info.hostname,
    os: info.os,
    sessionId,
    ticket: info.ticket,
    technicians: techniciansOf(info.technicianId, records, names),
    state: info.state,
    head: info.head,
    timeline,
    commands,
    verdicts: reportVerdicts(records, commands),
    notes: includeNotes ? entriesOf(timeline.entries, "note") : null,
    seal,
    vkey,
    bundle,
    exportedAt: new Date().toISOString(),
    exportedBy: c.var.principal.name,
  });
  return new Response(pdf, {
    headers: {
      "content-type": "application/pdf",
      "content-disposition": `attachment; filename="caisey-${sessionId}.pdf"`,
      "cache-control": "no-store",
    },
  });
}

/** The recording, streamed page by page: a session's output can be far larger than a Worker's memory. */
async function asciicastExport(c: Context<AppEnv>, sessionId: string): Promise<Response> {
  const view = scope(c);
  const stub = session(c.env, sessionId);
  const { session: info } = unwrap(await stub.summary(view));
  const writer = new AsciicastWriter({ sessionId, hostname: info.hostname, openedAt: info.openedAt });
  let after = 0;
  let done = false;
  let first = true;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return controller.close();
      const page = unwrap(await stub.recordPage(view, after, { notes: false, output: true }));
      const out = first ? [writer.header()] : [];
      first = false;
      for (const line of page.lines) {
        const record = parse(line);
        if (!("redacted" in record)) out.push(...writer.lines(record));
      }
      if (out.length > 0) controller.enqueue(utf8(`${out.join("\n")}\n`));
      after = page.last;
      done = page.done;
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "application/x-asciicast; charset=utf-8",
      "content-disposition": `attachment; filename="caisey-${sessionId}.cast"`,
      "cache-control": "no-store",
    },
  });
}

/** A share link's token from the path: it names its tenant, and only its hash is stored. */
function shareToken(token: string) {
  const parsed = parseToken(token, "css");
  if (!parsed) throw new HttpError(404, "not_found", "this share link is not valid");
  return parsed;
}

export function evidenceRoutes(app: Hono<AppEnv>): void {
  route(app, exportSession, async (c, { params: { id }, query }) => {
    if (query.includeNotes === "1" && c.var.principal.role === "contact")
      throw new HttpError(403, "forbidden", NO_NOTES_FOR_CONTACTS);
    // Not asked: the bundle is the record as the reader reads it (the Session withholds notes from a contact), the
    // PDF leaves notes out. Asked either way, the PDF and its attached bundle are the bundle of that choice.
    const includeNotes = query.includeNotes === undefined ? query.format === "bundle" : query.includeNotes === "1";
    if (query.format === "bundle") return bundleExport(c.env, scope(c), id, { notes: includeNotes, output: true });
    return query.format === "pdf" ? pdfExport(c, id, includeNotes) : asciicastExport(c, id);
  });

  route(app, createShare, async (c, { params: { id }, body }) => {
    if (body.includeNotes && c.var.principal.role === "contact")
      throw new HttpError(403, "forbidden", NO_NOTES_FOR_CONTACTS);
    const view = scope(c);
    const { session: info } = unwrap(await session(c.env, id).summary(view));
    const created = await tenant(c.env, view.tenantId).createShare(
      {
        sessionId: id,
        clientId: info.clientId,
        ttlSeconds: body.ttlSeconds,
        disclosure: { notes: body.includeNotes, output: body.includeOutput },
      },
      by(c),
    );
    const url = `${new URL(c.req.url).origin}/share/${created.token}`;
    return c.json({ id: created.id, url, token: created.token, expiresAt: created.expiresAt }, 201);
  });

  route(app, listShares, async (c, { params: { id } }) => {
    const view = scope(c);
    unwrap(await session(c.env, id).summary(view));
    return c.json({ shares: await tenant(c.env, view.tenantId).listShares(id, view.clientId) });
  });

  route(app, revokeShare, async (c, { params: { id } }) => {
    const view = scope(c);
    unwrap(await tenant(c.env, view.tenantId).revokeShare(id, view.clientId, by(c)));
    return c.body(null, 204);
  });

  route(app, readShare, async (c, { params, query: { after } }) => {
    const { tenantId, hash } = shareToken(params.token);
    const t = tenant(c.env, tenantId);
    const viewer = after === 0 ? { address: clientAddress(c) } : null;
    const share = unwrap(await t.openShare(hash, viewer));
    // What the link discloses was settled when it was made (a contact's never holds notes).
    const view = { tenantId, clientId: null };
    const stub = session(c.env, share.sessionId);
    const [summary, paged, names, organization, clients, seal] = await Promise.all([
      stub.summary(view),
      stub.recordPage(view, after, share.disclosure, true),
      actorNames(c.env, tenantId),
      t.organization(),
      t.listClients(share.clientId),
      sessionSeal(c.env, tenantId, share.sessionId),
    ]);
    const info = unwrap(summary).session;
    const page = unwrap(paged);
    // The key is public (GET /api/v1/log/key); the outsider has no sign-in to ask for it.
    const vkey = seal ? await logVerifierKey(c.env, tenantId) : null;
    const shared: SharedSession = {
      id: info.id,
      organization: organization?.name ?? "",
      client: clients[0]?.name ?? "",
      hostname: info.hostname,
      technicians: [names[`user:${info.technicianId}`] ?? info.technicianId],
      state: info.state,
      openedAt: info.openedAt,
      closedAt: info.closedAt,
      head: info.head,
      names,
      includeOutput: share.disclosure.output,
      includeNotes: share.disclosure.notes,
      expiresAt: share.expiresAt,
    };
    // Events are spliced in as stored, never re-serialized.
    const next = page.done ? null : page.last;
    return new Response(
      `{"session":${JSON.stringify(shared)},"events":[${page.lines.join(",")}],"seal":${JSON.stringify(seal)},"vkey":${JSON.stringify(vkey)},"next":${next}}`,
      { headers: { "content-type": "application/json", "cache-control": "no-store" } },
    );
  });
}

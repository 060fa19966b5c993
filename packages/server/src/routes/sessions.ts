// Sessions: open one on a machine, run commands, read the record (events, live socket, NDJSON, exact output).

import { newId, utf8 } from "@caisey/core";
import {
  addNote,
  assignSession,
  cancelCommand,
  closeSession,
  commandDetail,
  commandOutput,
  listSessions,
  liveSession,
  openSession,
  postMessage,
  requestCommand,
  sessionEvents,
  sessionRecord,
  sessionSummary,
} from "@caisey/core/routes";
import type { Context, Hono } from "hono";
import { type AppEnv, scope } from "../auth.ts";
import { fleet, session, tenant } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import { route, routeByToken } from "./table.ts";

const actorOf = (c: Context<AppEnv>) =>
  `${c.var.principal.role === "contact" ? "contact" : "user"}:${c.var.principal.userId}`;

/** Open a session on a machine for the caller; its id. */
export async function openSessionOn(
  c: Context<AppEnv>,
  machineId: string,
  ticket: string | null,
  id = newId("ses"),
): Promise<string> {
  const p = c.var.principal;
  const m = await fleet(c.env, p.tenantId).getMachine(machineId);
  if (!m) throw new HttpError(404, "not_found", "machine not found");
  if (m.revoked) throw new HttpError(409, "machine_revoked", "this machine's identity was revoked; enroll it again");
  // The Session puts itself on the Fleet's session list (through its outbox) before it answers.
  unwrap(
    await session(c.env, id).open({
      sessionId: id,
      tenantId: p.tenantId,
      machineId: m.id,
      clientId: m.clientId,
      hostname: m.hostname,
      os: m.os,
      technicianId: p.userId,
      ticket,
    }),
  );
  return id;
}

export function sessionRoutes(app: Hono<AppEnv>): void {
  route(app, openSession, async (c, { body }) => {
    const ticket = body.ticket && body.ticket.length > 0 ? body.ticket : null;
    return c.json({ id: await openSessionOn(c, body.machineId, ticket) }, 201);
  });

  route(app, listSessions, async (c, { query: { limit, machineId, technicianId, state } }) => {
    const view = scope(c);
    const sessions = await fleet(c.env, view.tenantId).listSessions({
      limit,
      clientId: view.clientId,
      ...(machineId ? { machineId } : {}),
      ...(technicianId ? { technicianId } : {}),
      ...(state ? { state } : {}),
    });
    return c.json({ sessions });
  });

  route(app, sessionSummary, async (c, { params }) =>
    c.json(unwrap(await session(c.env, params.id).summary(scope(c)))),
  );

  // The Session has the Tenant authenticate a bearer token with the command's policy, in one call (routeByToken).
  routeByToken(app, requestCommand, async (c, { params: { id }, body }, token) => {
    const stub = session(c.env, id);
    const asked = token
      ? await stub.requestCommandByToken(token, requestCommand.access, body)
      : await stub.requestCommand(scope(c), { id: c.var.principal.userId, name: c.var.principal.name }, body);
    return c.json(unwrap(asked), 202);
  });

  route(app, commandDetail, async (c, { params }) =>
    c.json(unwrap(await session(c.env, params.id).commandDetail(scope(c), params.cid))),
  );

  route(app, commandOutput, async (c, { params, query: { stream } }) => {
    const stub = session(c.env, params.id);
    const cid = params.cid;
    const view = scope(c);
    let page = unwrap(await stub.outputPage(view, cid, stream, 0));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (const chunk of page.chunks) controller.enqueue(chunk);
        if (page.done) return controller.close();
        page = unwrap(await stub.outputPage(view, cid, stream, page.next));
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream", "cache-control": "no-store" } });
  });

  route(app, cancelCommand, async (c, { params }) =>
    c.json(unwrap(await session(c.env, params.id).cancel(scope(c), c.var.principal.userId, params.cid)), 202),
  );

  route(app, postMessage, async (c, { params: { id }, body: { text } }) => {
    return c.json(unwrap(await session(c.env, id).addText(scope(c), actorOf(c), "chat.message", text)), 201);
  });

  route(app, addNote, async (c, { params: { id }, body: { text } }) => {
    return c.json(unwrap(await session(c.env, id).addText(scope(c), actorOf(c), "note.added", text)), 201);
  });

  route(app, closeSession, async (c, { params }) =>
    c.json(unwrap(await session(c.env, params.id).close(scope(c), c.var.principal.userId))),
  );

  route(app, sessionEvents, async (c, { params, query: { after, limit } }) => {
    const { events, head } = unwrap(await session(c.env, params.id).events(scope(c), after, limit));
    // Events are spliced in as stored, never re-serialized.
    return new Response(`{"events":[${events.join(",")}],"head":${JSON.stringify(head)}}`, {
      headers: { "content-type": "application/json" },
    });
  });

  route(app, sessionRecord, async (c, { params }) => {
    const stub = session(c.env, params.id);
    const view = scope(c);
    let page = unwrap(await stub.recordPage(view, 0));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (page.lines.length > 0) controller.enqueue(utf8(`${page.lines.join("\n")}\n`));
        if (page.done) return controller.close();
        page = unwrap(await stub.recordPage(view, page.last));
      },
    });
    return new Response(body, {
      headers: { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" },
    });
  });

  route(app, liveSession, async (c, { params: { id }, query: { after } }) => {
    const view = scope(c);
    const headers = new Headers({
      upgrade: "websocket",
      "x-caisey-tenant": view.tenantId,
      "x-caisey-client": view.clientId ?? "",
      "x-caisey-actor": actorOf(c),
      "x-caisey-name": encodeURIComponent(c.var.principal.name),
    });
    return session(c.env, id).fetch(new Request(`https://session/live?after=${after}`, { headers }));
  });

  route(app, assignSession, async (c, { params: { id }, body }) => {
    const p = c.var.principal;
    const colleague = (await tenant(c.env, p.tenantId).listPeople({ contacts: false })).find(
      (u) => u.id === body.technicianId,
    );
    if (!colleague || colleague.disabled) throw new HttpError(404, "not_found", "colleague not found");
    // To oneself, it is a takeover (see core's handoffRefusal for who may).
    return c.json(
      unwrap(
        await session(c.env, id).assign(
          scope(c),
          { id: p.userId, name: p.name },
          { id: colleague.id, name: colleague.name, role: colleague.role },
          body.note ?? null,
        ),
      ),
    );
  });
}

// Sessions: open one on a machine, run commands, read the record (events, live socket, NDJSON, exact output).

import { AssignBody, CommandBody, fromBase64, idPattern, LIMITS, newId, SessionBody, utf8 } from "@caisey/core";
import type { Context, Hono } from "hono";
import { z } from "zod";
import { type AppEnv, scope } from "../auth.ts";
import { fleet, session, tenant } from "../env.ts";
import { HttpError, intParam, readJson, unwrap } from "../http.ts";
import { EVERYONE, RUNNERS, route, STAFF } from "./table.ts";

const TextBody = z.object({ text: z.string().trim().min(1, "must not be empty").max(4000) });

function sessionId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!idPattern("ses").test(id)) throw new HttpError(404, "not_found", "session not found");
  return id;
}

function commandId(c: Context<AppEnv>): string {
  const id = c.req.param("cid") ?? "";
  if (!idPattern("cmd").test(id)) throw new HttpError(404, "not_found", "command not found");
  return id;
}

const actorOf = (c: Context<AppEnv>) =>
  `${c.var.principal.role === "contact" ? "contact" : "user"}:${c.var.principal.userId}`;

export function sessionRoutes(app: Hono<AppEnv>): void {
  route(app, "post", "/api/v1/sessions", RUNNERS, async (c) => {
    const body = await readJson(c, SessionBody);
    const p = c.var.principal;
    const t = fleet(c.env, p.tenantId);
    const m = await t.getMachine(body.machineId);
    if (!m) throw new HttpError(404, "not_found", "machine not found");
    if (m.revoked) throw new HttpError(409, "machine_revoked", "this machine's identity was revoked; enroll it again");
    const id = newId("ses");
    const ticket = body.ticket && body.ticket.length > 0 ? body.ticket : null;
    const { openedAt } = unwrap(
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
    await t.recordSession({ id, machineId: m.id, clientId: m.clientId, technicianId: p.userId, ticket, openedAt });
    return c.json({ id }, 201);
  });

  route(app, "get", "/api/v1/sessions", EVERYONE, async (c) => {
    const limit = intParam(c, "limit", 50, 200) || 50;
    const machineId = c.req.query("machineId");
    const view = scope(c);
    const sessions = await fleet(c.env, view.tenantId).listSessions({
      limit,
      clientId: view.clientId,
      ...(machineId ? { machineId } : {}),
    });
    return c.json({ sessions });
  });

  route(app, "get", "/api/v1/sessions/:id", EVERYONE, async (c) =>
    c.json(unwrap(await session(c.env, sessionId(c)).summary(scope(c)))),
  );

  route(app, "post", "/api/v1/sessions/:id/commands", RUNNERS, async (c) => {
    const id = sessionId(c);
    const body = await readJson(c, CommandBody);
    return c.json(
      unwrap(
        await session(c.env, id).requestCommand(
          scope(c),
          { id: c.var.principal.userId, name: c.var.principal.name },
          body,
        ),
      ),
      202,
    );
  });

  route(app, "get", "/api/v1/sessions/:id/commands/:cid", EVERYONE, async (c) =>
    c.json(unwrap(await session(c.env, sessionId(c)).commandDetail(scope(c), commandId(c)))),
  );

  route(app, "get", "/api/v1/sessions/:id/commands/:cid/output", EVERYONE, async (c) => {
    const stream = c.req.query("stream") ?? "stdout";
    if (stream !== "stdout" && stream !== "stderr")
      throw new HttpError(400, "invalid_query", "stream must be stdout or stderr");
    const stub = session(c.env, sessionId(c));
    const cid = commandId(c);
    const view = scope(c);
    let page = unwrap(await stub.outputPage(view, cid, stream, 0));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (const chunk of page.chunks) controller.enqueue(fromBase64(chunk));
        if (page.done) return controller.close();
        page = unwrap(await stub.outputPage(view, cid, stream, page.next));
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream", "cache-control": "no-store" } });
  });

  route(app, "post", "/api/v1/sessions/:id/commands/:cid/cancel", RUNNERS, async (c) =>
    c.json(unwrap(await session(c.env, sessionId(c)).cancel(scope(c), c.var.principal.userId, commandId(c))), 202),
  );

  route(app, "post", "/api/v1/sessions/:id/messages", EVERYONE, async (c) => {
    const id = sessionId(c);
    const { text } = await readJson(c, TextBody);
    return c.json(unwrap(await session(c.env, id).addText(scope(c), actorOf(c), "chat.message", text)), 201);
  });

  route(app, "post", "/api/v1/sessions/:id/notes", STAFF, async (c) => {
    const id = sessionId(c);
    const { text } = await readJson(c, TextBody);
    return c.json(unwrap(await session(c.env, id).addText(scope(c), actorOf(c), "note.added", text)), 201);
  });

  route(app, "post", "/api/v1/sessions/:id/close", STAFF, async (c) =>
    c.json(unwrap(await session(c.env, sessionId(c)).close(scope(c), c.var.principal.userId))),
  );

  route(app, "get", "/api/v1/sessions/:id/events", EVERYONE, async (c) => {
    const after = intParam(c, "after", 0);
    const limit = intParam(c, "limit", LIMITS.eventsPageMax, LIMITS.eventsPageMax) || LIMITS.eventsPageMax;
    const { events, head } = unwrap(await session(c.env, sessionId(c)).events(scope(c), after, limit));
    // Events are spliced in as stored, never re-serialized.
    return new Response(`{"events":[${events.join(",")}],"head":${JSON.stringify(head)}}`, {
      headers: { "content-type": "application/json" },
    });
  });

  route(app, "get", "/api/v1/sessions/:id/record", EVERYONE, async (c) => {
    const stub = session(c.env, sessionId(c));
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

  route(app, "get", "/api/v1/sessions/:id/live", EVERYONE, async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
      throw new HttpError(426, "upgrade_required", "connect with a WebSocket");
    const id = sessionId(c);
    const after = intParam(c, "after", 0);
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

  route(app, "post", "/api/v1/sessions/:id/assign", STAFF, async (c) => {
    const id = sessionId(c);
    const body = await readJson(c, AssignBody);
    const p = c.var.principal;
    const colleague = (await tenant(c.env, p.tenantId).listPeople({ contacts: false })).find(
      (u) => u.id === body.technicianId,
    );
    if (!colleague || colleague.disabled) throw new HttpError(404, "not_found", "colleague not found");
    if (colleague.role === "dispatcher")
      throw new HttpError(422, "invalid_assignee", "a session is assigned to someone who can run commands");
    return c.json(
      unwrap(
        await session(c.env, id).assign(
          scope(c),
          { id: p.userId, name: p.name },
          { id: colleague.id, name: colleague.name },
          body.note ?? null,
        ),
      ),
    );
  });
}

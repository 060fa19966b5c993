// Sessions: open one on a machine, run commands, read the record (events, live socket, NDJSON, exact output).

import type { CommandState } from "../record.ts";
import type { SessionEvent, SessionInfo, SessionSummary } from "../views.ts";
import { answer, defineRoute, EVERYONE, RUNNERS, STAFF } from "./define.ts";

/** What an appended event answers: its place in the record. */
type Appended = { seq: number };

export const openSession = defineRoute({
  method: "post",
  path: "/api/v1/sessions",
  access: RUNNERS,
  body: "SessionBody",
  answer: answer<{ id: string }>(),
});

export const listSessions = defineRoute({
  method: "get",
  path: "/api/v1/sessions",
  access: EVERYONE,
  query: "SessionListQuery",
  answer: answer<{ sessions: SessionSummary[] }>(),
});

export const sessionSummary = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id",
  access: EVERYONE,
  params: { id: "ses" },
  answer: answer<{ session: SessionInfo; commands: Record<string, unknown>[] }>(),
});

export const requestCommand = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/commands",
  access: RUNNERS,
  params: { id: "ses" },
  body: "CommandBody",
  answer: answer<{ commandId: string; state: CommandState; approvalId?: string }>(),
});

export const commandDetail = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/commands/:cid",
  access: EVERYONE,
  params: { id: "ses", cid: "cmd" },
  answer: answer<{ command: Record<string, unknown> }>(),
});

/** The command's exact output bytes (application/octet-stream). */
export const commandOutput = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/commands/:cid/output",
  access: EVERYONE,
  params: { id: "ses", cid: "cmd" },
  query: "OutputQuery",
  answer: answer<void>(),
});

export const cancelCommand = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/commands/:cid/cancel",
  access: RUNNERS,
  params: { id: "ses", cid: "cmd" },
  answer: answer<{ state: CommandState }>(),
});

export const postMessage = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/messages",
  access: EVERYONE,
  params: { id: "ses" },
  body: "TextBody",
  answer: answer<Appended>(),
});

export const addNote = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/notes",
  access: STAFF,
  params: { id: "ses" },
  body: "TextBody",
  answer: answer<Appended>(),
});

/** Under the `review` close policy the session is sent for review (`review_pending`) rather than closed. */
export const closeSession = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/close",
  access: STAFF,
  params: { id: "ses" },
  answer: answer<Appended & { state: "closed" | "review_pending" }>(),
});

export const sessionEvents = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/events",
  access: EVERYONE,
  params: { id: "ses" },
  query: "EventsQuery",
  answer: answer<{ events: SessionEvent[]; head: SessionInfo["head"] }>(),
});

/** Every record line, exact bytes (application/x-ndjson). */
export const sessionRecord = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/record",
  access: EVERYONE,
  params: { id: "ses" },
  answer: answer<void>(),
});

/** One event per message, in order, from `after + 1` on. */
export const liveSession = defineRoute({
  method: "get",
  path: "/api/v1/sessions/:id/live",
  access: EVERYONE,
  websocket: true,
  params: { id: "ses" },
  query: "LiveQuery",
  answer: answer<void>(),
});

export const assignSession = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/assign",
  access: STAFF,
  params: { id: "ses" },
  body: "AssignBody",
  answer: answer<Appended>(),
});

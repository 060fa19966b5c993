// What the workerd tests share: requests through the real Worker, an organization, and a simulated runtime that
// holds a real Ed25519 key and speaks the real protocol over the real WebSocket route.

import { env, exports as workerExports } from "cloudflare:workers";
import { dispatchMessage, fromBase64Url, toBase64Url, utf8 } from "@caisey/core";
import { Webhook } from "standardwebhooks";
import { expect, vi } from "vitest";
import { type Migration, migrate } from "../src/migrations.ts";
import { lineOf } from "../src/objects/session/store.ts";

/** The Worker under test, through its real request path (routing, auth, Durable Objects). */
export const worker = (workerExports as unknown as { default: Fetcher }).default;

export interface CallInit {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function request(path: string, init: CallInit): Request {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return new Request(`https://caisey.test${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

export async function call(path: string, init: CallInit = {}): Promise<Response> {
  return worker.fetch(request(path, init));
}

/**
 * The Worker's routes with some settings changed (`npm start` is what the tests run as; this is, say, Cloudflare's
 * deployment with its edge in front: `{ CAISEY_TRUSTED_ADDRESS_HEADER: "cf-connecting-ip" }`).
 */
export async function callWith(
  settings: Partial<Cloudflare.Env>,
  path: string,
  init: CallInit = {},
): Promise<Response> {
  const { app } = await import("../src/index.ts");
  return app.fetch(request(path, init), { ...env, ...settings });
}

/** The answer's JSON, asserting its status first (with the body in the message when it differs). */
export async function json<T = any>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export const PASSWORD = "correct horse battery";

/** First-run setup, once per test file (storage is shared within a file); returns the owner's token. */
export function ownerOnce(email: string, organization = "Northwind IT"): () => Promise<string> {
  let token: Promise<string> | null = null;
  return () => {
    token ??= (async () =>
      (
        await json(
          await call("/api/v1/setup", { body: { organization, name: "Olivia Owner", email, password: PASSWORD } }),
          201,
        )
      ).token as string)();
    return token;
  };
}

/** Messages of a WebSocket, awaitable one at a time or by condition. */
export function inbox(ws: WebSocket) {
  const items: any[] = [];
  let read = 0;
  ws.addEventListener("message", (e) => {
    items.push(JSON.parse(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer)));
  });
  const until = (predicate: (items: any[]) => boolean, ms = 10_000) =>
    vi.waitFor(
      () => {
        if (!predicate(items))
          throw new Error(`${items.length} messages so far: ${JSON.stringify(items.slice(-3)).slice(0, 500)}`);
      },
      { timeout: ms, interval: 10 },
    );
  return {
    items,
    until,
    /** The next message not yet read. */
    next: async (ms = 5000): Promise<any> => {
      await until(() => items.length > read, ms);
      return items[read++];
    },
  };
}

export interface SimulatedMachine {
  machineId: string;
  clientId: string;
  keys: CryptoKeyPair;
  facts: { hostname: string; os: string; osVersion: string; arch: string; runtimeVersion: string };
  /** The tenant's public signing key, as the runtime pins it at enrollment. */
  signingKey: string;
}

export async function enrollMachine(
  token: string,
  clientName = "Contoso Dental",
  os = "linux",
): Promise<SimulatedMachine> {
  const { id: clientId } = await json(await call("/api/v1/clients", { token, body: { name: clientName } }), 201);
  const { token: enrollToken } = await json(await call("/api/v1/enrollments", { token, body: { clientId } }), 201);
  const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", keys.publicKey)) as ArrayBuffer);
  const facts = { hostname: "FRONTDESK-01", os, osVersion: "6.1", arch: "x64", runtimeVersion: "0.1.0" };
  const { machineId, signingKey } = await json(
    await call("/api/v1/runtime/enroll", { body: { token: enrollToken, publicKey: toBase64Url(raw), facts } }),
    201,
  );
  return { machineId, clientId, keys, facts, signingKey };
}

/** Connect as the machine's runtime and prove its identity; `hello` adds fields to the hello (e.g. its health). */
export async function connectRuntime(m: SimulatedMachine, hello: object = {}) {
  const res = await call(`/api/v1/runtime/connect?machineId=${m.machineId}`, { headers: { upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket as WebSocket;
  ws.accept();
  const box = inbox(ws);
  const challenge = await box.next();
  expect(challenge.t).toBe("challenge");
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: "Ed25519" },
      m.keys.privateKey,
      utf8(`caisey-runtime-auth-v1\n${m.machineId}\n${challenge.nonce}`),
    ),
  );
  ws.send(
    JSON.stringify({
      t: "hello",
      v: 1,
      machineId: m.machineId,
      signature: toBase64Url(signature),
      facts: m.facts,
      ...hello,
    }),
  );
  expect(await box.next()).toEqual({ t: "welcome", machineId: m.machineId });
  return { ws, box };
}

/** A machine enrolled by the owner, its runtime connected, and a session opened on it. */
export async function sessionOnline(owner: () => Promise<string>) {
  const token = await owner();
  const m = await enrollMachine(token);
  const runtime = await connectRuntime(m);
  const { id: sessionId } = await json(
    await call("/api/v1/sessions", { token, body: { machineId: m.machineId } }),
    201,
  );
  return { token, m, runtime, sessionId: sessionId as string };
}

/** Does a dispatch verify against the tenant key the runtime pinned, as the runtime checks it? */
export async function dispatchVerifies(m: SimulatedMachine, frame: any): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", fromBase64Url(m.signingKey), { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify(
    { name: "Ed25519" },
    key,
    fromBase64Url(frame.signature),
    utf8(dispatchMessage(m.machineId, frame)),
  );
}

// The runtime's started and finished frames come from one builder, shared with core's tests.
export { finishedFrame, startedFrame } from "../../core/test/frames.ts";

/**
 * An object's storage as a previous release left it: emptied, then only the first `applied` migrations, then `seed`.
 * Returns its SQL, for the caller to put that release's rows in.
 */
export async function previousRelease(
  state: DurableObjectState,
  migrations: readonly Migration[],
  applied: number,
  seed: (sql: SqlStorage) => void = () => {},
): Promise<SqlStorage> {
  await state.storage.deleteAll();
  migrate(state.storage, migrations.slice(0, applied));
  seed(state.storage.sql);
  return state.storage.sql;
}

/** A Session's rows under the current schema, table by table: what restoreRows puts back into an earlier release. */
export function sessionRows(sql: SqlStorage): { table: string; rows: Record<string, SqlStorageValue>[] }[] {
  return ["session", "events", "commands", "approvals"].map((table) => ({
    table,
    rows: sql.exec(`SELECT * FROM ${table}`).toArray(),
  }));
}

/**
 * Rows read under the current schema, put back into an object rolled back to an earlier release: of each row, only the
 * columns that release's table has (a column added later is not there yet). A release before output was stored
 * beside its line held the whole line: an events row is put back in that form.
 */
export function restoreRows(
  sql: SqlStorage,
  tables: readonly { table: string; rows: Record<string, SqlStorageValue>[] }[],
) {
  for (const { table, rows } of tables) {
    const known = new Set(
      sql
        .exec<{ name: string }>(`PRAGMA table_info(${table})`)
        .toArray()
        .map((c) => c.name),
    );
    for (const stored of rows) {
      const row =
        table === "events" && !known.has("output") && stored.output instanceof ArrayBuffer
          ? { ...stored, record: lineOf(stored as { record: string; output: ArrayBuffer }) }
          : stored;
      const columns = Object.keys(row).filter((c) => known.has(c));
      sql.exec(
        `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        ...columns.map((c) => row[c] as SqlStorageValue),
      );
    }
  }
}

/** Every row of every table of an object's SQLite, as text: what a copy of its data directory would show. */
export function everythingStored(state: DurableObjectState): string {
  return state.storage.sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'")
    .toArray()
    .map(({ name }) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray()))
    .join("\n");
}

/**
 * The organization's webhook receiver at `urlPrefix` (fetch is intercepted there; restore with vi.restoreAllMocks):
 * `messages(type)` are the verified ones received so far, as a receiver reads them (Standard Webhooks), and `nth`
 * waits for the n-th of a type (`where` narrows it).
 */
export function webhookReceiver(urlPrefix: string) {
  const received: { headers: Record<string, string>; body: string }[] = [];
  let secret = "";
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(urlPrefix)) return realFetch(input, init);
    received.push({ headers: Object.fromEntries(new Headers(init?.headers).entries()), body: String(init?.body) });
    return new Response(null, { status: 204 });
  });
  const messages = (type: string, where: (m: any) => boolean = () => true): any[] => {
    const wh = new Webhook(secret);
    return received
      .map((r) =>
        wh.verify(r.body, {
          "webhook-id": r.headers["webhook-id"] as string,
          "webhook-timestamp": r.headers["webhook-timestamp"] as string,
          "webhook-signature": r.headers["webhook-signature"] as string,
        }),
      )
      .filter((m: any) => m.type === type && where(m));
  };
  return {
    /** The secret POST /api/v1/webhooks answered: messages are verified with it. */
    keySecret: (s: string) => {
      secret = s;
    },
    messages,
    nth: async (type: string, n: number, where?: (m: any) => boolean): Promise<any> => {
      await vi.waitFor(
        () => {
          const got = messages(type, where).length;
          if (got < n) throw new Error(`${got} ${type} messages so far`);
        },
        { timeout: 10_000, interval: 20 },
      );
      return messages(type, where)[n - 1];
    },
  };
}

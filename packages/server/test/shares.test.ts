// Share links and the asciicast export, inside workerd: a link opens one session's record to someone with no
// account, disclosing output and notes only as chosen (withheld lines as digests, so the chain still verifies), until
// it is revoked or expires (410); making, opening and revoking one are in the audit log. A client contact's link or
// export never holds a note.

import { env, runInDurableObject } from "cloudflare:test";
import { encodeOutputFrame, type SharedEvent, sharedLine, toHex, utf8, verifyChain } from "@caisey/core";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import {
  call,
  connectRuntime,
  enrollMachine,
  finishedFrame,
  json,
  ownerOnce,
  PASSWORD,
  startedFrame,
} from "./harness.ts";

const owner = ownerOnce("owner@shares.test");
const NOTE = "Internal: the spooler keeps dying, replace the driver next visit";
const CHAT = "Ça marche — merci beaucoup !";

let staff: string;
let contact: string;
let sessionId: string;
let tenantId: string;

beforeAll(async () => {
  staff = await owner();
  tenantId = (await json(await call("/api/v1/me", { token: staff }), 200)).organization.id;
  const m = await enrollMachine(staff, "Contoso Dental");
  await json(
    await call(`/api/v1/clients/${m.clientId}/contacts`, {
      token: staff,
      body: { name: "Carla Contact", email: "carla@shares.test", password: PASSWORD },
    }),
    201,
  );
  contact = (
    await json(await call("/api/v1/auth/login", { body: { email: "carla@shares.test", password: PASSWORD } }), 200)
  ).token;
  const runtime = await connectRuntime(m);
  sessionId = (await json(await call("/api/v1/sessions", { token: staff, body: { machineId: m.machineId } }), 201)).id;
  const { commandId } = await json(
    await call(`/api/v1/sessions/${sessionId}/commands`, {
      token: staff,
      body: { command: "echo hello", shell: "bash" },
    }),
    202,
  );
  expect((await runtime.box.next()).t).toBe("dispatch");
  const ref = { sessionId, commandId };
  runtime.ws.send(JSON.stringify(startedFrame(ref)));
  await runtime.box.next();
  runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, utf8("hello\n")));
  await runtime.box.next();
  const digest = toHex(sha256(utf8("hello\n")));
  runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: 6, stdoutSha256: digest, durationMs: 5 })));
  expect(await runtime.box.next()).toMatchObject({ finished: true });
  await json(await call(`/api/v1/sessions/${sessionId}/notes`, { token: staff, body: { text: NOTE } }), 201);
  await json(await call(`/api/v1/sessions/${sessionId}/messages`, { token: contact, body: { text: CHAT } }), 201);
});

const share = async (token: string, body: Record<string, unknown>, status = 201) =>
  json(await call(`/api/v1/sessions/${sessionId}/shares`, { token, body }), status);

async function read(token: string) {
  const res = await call(`/api/v1/shares/${token}`);
  return { status: res.status, text: await res.text() };
}

async function head() {
  return (await json(await call(`/api/v1/sessions/${sessionId}`, { token: staff }), 200)).session.head;
}

async function audited(action: string) {
  const { entries } = await json(await call(`/api/v1/audit?action=${action}`, { token: staff }), 200);
  return entries as { actor: string; action: string; target: string }[];
}

describe("share links", () => {
  it("open the record to anyone holding the link, without credentials, withholding output and notes as chosen", async () => {
    const created = await share(staff, { includeOutput: false, ttlSeconds: 3600 });
    expect(created).toEqual({
      id: expect.stringMatching(/^shr_[a-z2-7]{20}$/),
      url: `https://caisey.test/share/${created.token}`,
      token: expect.stringMatching(/^css_ten_[a-z2-7]{20}_[A-Za-z0-9_-]{43}$/),
      expiresAt: expect.any(String),
    });
    const { status, text } = await read(created.token);
    expect(status).toBe(200);
    expect(text).not.toContain("spooler keeps dying");
    expect(text).not.toContain(btoa("hello\n"));
    const body = JSON.parse(text) as {
      session: Record<string, unknown>;
      events: SharedEvent[];
      seal: null;
      next: null;
    };
    expect(body.session).toMatchObject({
      id: sessionId,
      organization: "Northwind IT",
      client: "Contoso Dental",
      hostname: "FRONTDESK-01",
      includeOutput: false,
      includeNotes: false,
      expiresAt: created.expiresAt,
    });
    expect(body.seal).toBeNull();
    expect(body.next).toBeNull();
    const kinds = body.events.map((e) => ("redacted" in e ? "redacted" : e.type));
    expect(kinds).toEqual([
      "session.opened",
      "command.requested",
      "command.started",
      "redacted",
      "command.finished",
      "redacted",
      "chat.message",
    ]);
    expect(body.events.at(-1)).toMatchObject({ type: "chat.message", data: { text: CHAT } });
    // What the outsider was given recomputes to the session's head.
    expect(verifyChain(sha256, sessionId, body.events.map(sharedLine))).toEqual({
      ok: true,
      head: await head(),
      count: 7,
    });
    const viewed = await audited("share.viewed");
    expect(viewed.some((e) => e.target === created.id && e.actor === `share:${created.id}`)).toBe(true);
    expect((await audited("share.created")).some((e) => e.target === created.id)).toBe(true);
  });

  it("disclose notes and output when staff chose to", async () => {
    const { token } = await share(staff, { includeNotes: true });
    const { status, text } = await read(token);
    expect(status).toBe(200);
    expect(text).toContain(NOTE);
    expect(text).toContain(btoa("hello\n"));
  });

  it("answer 410 once revoked, and the revocation is audited", async () => {
    const { id, token } = await share(staff, {});
    expect((await read(token)).status).toBe(200);
    const revoked = await call(`/api/v1/shares/${id}/revoke`, { token: staff, method: "POST" });
    expect(revoked.status).toBe(204);
    expect(await read(token)).toEqual({
      status: 410,
      text: JSON.stringify({ error: { code: "share_revoked", message: "this share link was revoked" } }),
    });
    expect((await audited("share.revoked")).map((e) => e.target)).toContain(id);
    const { shares } = await json(await call(`/api/v1/sessions/${sessionId}/shares`, { token: staff }), 200);
    expect(shares.find((s: { id: string }) => s.id === id).revokedAt).toEqual(expect.any(String));
  });

  it("answer 410 once expired", async () => {
    const { token } = await share(staff, { ttlSeconds: 60 });
    expect((await read(token)).status).toBe(200);
    // A minute later, as far as the link's row knows.
    await runInDurableObject(env.TENANT.get(env.TENANT.idFromName(tenantId)), (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE shares SET expires_at = ? WHERE hash = ?",
        new Date(Date.now() - 1000).toISOString(),
        toHex(sha256(utf8(token))),
      );
    });
    expect(JSON.parse((await read(token)).text)).toEqual({
      error: { code: "share_expired", message: "this share link has expired" },
    });
  });

  it("store only the token's hash", async () => {
    const { id, token } = await share(staff, {});
    const rows = await runInDurableObject(env.TENANT.get(env.TENANT.idFromName(tenantId)), (_instance, state) =>
      state.storage.sql.exec("SELECT * FROM shares WHERE id = ?", id).toArray(),
    );
    expect(JSON.stringify(rows)).not.toContain(token.slice(-43));
    expect(rows[0]?.hash).toBe(toHex(sha256(utf8(token))));
  });

  it("never hold a note when a client contact makes one, and refuse a contact who asks for notes", async () => {
    const refused = await share(contact, { includeNotes: true }, 403);
    expect(refused.error.code).toBe("forbidden");
    const { token } = await share(contact, {});
    const { status, text } = await read(token);
    expect(status).toBe(200);
    expect(text).not.toContain("spooler keeps dying");
    expect(JSON.parse(text).events.filter((e: SharedEvent) => "redacted" in e)).toHaveLength(1);
  });

  it("refuse an unknown token, a malformed one and bad input", async () => {
    expect((await read(`css_${tenantId}_${"A".repeat(43)}`)).status).toBe(404);
    expect((await read("nonsense")).status).toBe(404);
    expect((await share(staff, { ttlSeconds: 5 }, 422)).error.code).toBe("invalid_request");
    expect((await call(`/api/v1/shares/shr_${"a".repeat(20)}/revoke`, { token: staff, method: "POST" })).status).toBe(
      404,
    );
  });
});

describe("the PDF export", () => {
  it("is a PDF made inside the Worker (pdftotext reads it back in the end-to-end suite)", async () => {
    const res = await call(`/api/v1/sessions/${sessionId}/export?format=pdf`, { token: staff });
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/pdf"]);
    expect(new TextDecoder().decode(bytes.subarray(0, 5))).toBe("%PDF-");
  });
});

describe("the asciicast export", () => {
  it("is asciicast v2: a header, the command at a prompt with a start marker, its output, an end marker", async () => {
    const res = await call(`/api/v1/sessions/${sessionId}/export?format=asciicast`, { token: contact });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-asciicast; charset=utf-8");
    const lines = (await res.text())
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      version: 2,
      width: 120,
      height: 36,
      title: `Caisey session ${sessionId} on FRONTDESK-01`,
    });
    expect(lines.slice(1).map(([t, code, data]) => [typeof t, code, data])).toEqual([
      ["number", "m", "$ echo hello"],
      ["number", "o", "\u001b[1m$ echo hello\u001b[0m\r\n"],
      ["number", "o", "hello\r\n"],
      ["number", "o", "\u001b[2m[exit 0]\u001b[0m\r\n"],
      ["number", "m", "exit 0: echo hello"],
    ]);
  });

  it("refuses a contact who asks for notes, and an unknown format", async () => {
    const notes = await call(`/api/v1/sessions/${sessionId}/export?format=pdf&includeNotes=1`, { token: contact });
    expect(notes.status).toBe(403);
    const bad = await call(`/api/v1/sessions/${sessionId}/export?format=docx`, { token: staff });
    expect((await json(bad, 400)).error.code).toBe("invalid_query");
  });
});

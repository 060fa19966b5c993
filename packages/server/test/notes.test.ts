// Notes are the MSP's internal words: a client contact never reads one — not in the events route, the live socket,
// the record or search — and where a contact reads the record, a note's line is its redacted form, so the chain
// still verifies from the lines the contact was given.

import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { call, enrollMachine, inbox, json, ownerOnce, PASSWORD } from "./harness.ts";

const owner = ownerOnce("owner@notes.test");
const NOTE = "Root cause: watchdog restarts the app. Workaround only.";
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest();

let staff: string;
let contact: string;
let sessionId: string;

beforeAll(async () => {
  staff = await owner();
  const m = await enrollMachine(staff, "Contoso Dental");
  await json(
    await call(`/api/v1/clients/${m.clientId}/contacts`, {
      token: staff,
      body: { name: "Carla Contact", email: "carla@notes.test", password: PASSWORD },
    }),
    201,
  );
  contact = (
    await json(await call("/api/v1/auth/login", { body: { email: "carla@notes.test", password: PASSWORD } }), 200)
  ).token;
  sessionId = (await json(await call("/api/v1/sessions", { token: staff, body: { machineId: m.machineId } }), 201)).id;
  await json(await call(`/api/v1/sessions/${sessionId}/messages`, { token: staff, body: { text: "Hi Carla" } }), 201);
  await json(await call(`/api/v1/sessions/${sessionId}/notes`, { token: staff, body: { text: NOTE } }), 201);
  await json(await call(`/api/v1/sessions/${sessionId}/messages`, { token: contact, body: { text: "Thanks" } }), 201);
});

async function record(token: string): Promise<string[]> {
  const res = await call(`/api/v1/sessions/${sessionId}/record`, { token });
  expect(res.status).toBe(200);
  return (await res.text()).slice(0, -1).split("\n");
}

describe("internal notes", () => {
  it("reach a contact's record only as redacted lines, and the chain verifies from what the contact was given", async () => {
    const full = await record(staff);
    const seen = await record(contact);
    const at = full.findIndex((l) => JSON.parse(l).type === "note.added");
    expect(JSON.parse(full[at] as string).data).toEqual({ text: NOTE });
    expect(seen.length).toBe(full.length);
    // Every line but the note is the same bytes; the note is its seq and the SHA-256 of its exact line.
    expect(seen.filter((_, i) => i !== at)).toEqual(full.filter((_, i) => i !== at));
    expect(seen[at]).toBe(`{"seq":${at + 1},"redacted":"${sha(full[at] as string).toString("hex")}"}`);
    expect(seen.join("\n")).not.toContain("watchdog");
    // h_i = SHA-256(h_{i-1} || SHA-256(line_i)): a redacted line gives SHA-256(line_i) itself.
    let h = sha(`caisey-session-v1\n${sessionId}`);
    for (const line of seen) {
      const parsed = JSON.parse(line) as { redacted?: string };
      const digest = parsed.redacted ? Buffer.from(parsed.redacted, "hex") : sha(line);
      h = sha(Buffer.concat([h, digest]));
    }
    const { session } = await json(await call(`/api/v1/sessions/${sessionId}`, { token: contact }), 200);
    expect(session.head).toEqual({ seq: full.length, hash: h.toString("hex") });
  });

  it("reach a contact's events page and live socket redacted, with their chain hash; staff read them whole", async () => {
    const staffEvents = (await json(await call(`/api/v1/sessions/${sessionId}/events`, { token: staff }), 200)).events;
    const note = staffEvents.find((e: { type: string }) => e.type === "note.added");
    expect(note.data).toEqual({ text: NOTE });
    const res = await call(`/api/v1/sessions/${sessionId}/events`, { token: contact });
    const body = await res.text();
    expect(body).not.toContain("watchdog");
    const events = JSON.parse(body).events;
    expect(events.find((e: { seq: number }) => e.seq === note.seq)).toEqual({
      seq: note.seq,
      redacted: expect.stringMatching(/^[0-9a-f]{64}$/),
      hash: note.hash,
    });
    expect(events.map((e: { type?: string }) => e.type ?? "redacted")).toEqual(
      staffEvents.map((e: { type: string }) => (e.type === "note.added" ? "redacted" : e.type)),
    );

    // Live: the backlog, then a note added while the contact watches.
    const live = await call(`/api/v1/sessions/${sessionId}/live?after=0`, {
      token: contact,
      headers: { upgrade: "websocket" },
    });
    const ws = live.webSocket as WebSocket;
    ws.accept();
    const box = inbox(ws);
    await box.until((items) => items.some((e) => e.type === "participant.joined"));
    const second = await json(
      await call(`/api/v1/sessions/${sessionId}/notes`, {
        token: staff,
        body: { text: "Ask about the watchdog again" },
      }),
      201,
    );
    await box.until((items) => items.some((e) => e.seq === second.seq));
    expect(JSON.stringify(box.items)).not.toContain("watchdog");
    expect(box.items.filter((e) => e.redacted).map((e) => e.seq)).toEqual([note.seq, second.seq]);
    ws.close();
  });

  it("are never found by a contact's search; staff find them", async () => {
    const search = (token: string, params: Record<string, string>) =>
      call(`/api/v1/search?${new URLSearchParams(params)}`, { token }).then((r) => json(r, 200));
    // The index is fed asynchronously: wait until staff find the note, then ask as the contact.
    await expect
      .poll(async () => (await search(staff, { q: "watchdog" })).results.map((r: { kind: string }) => r.kind), {
        timeout: 10_000,
      })
      .toContain("note");
    expect((await search(contact, { q: "watchdog" })).results).toEqual([]);
    expect((await search(contact, { q: "watchdog", kind: "note" })).results).toEqual([]);
    // What the contact may read is still found.
    expect((await search(contact, { q: "Thanks" })).results.map((r: { kind: string }) => r.kind)).toEqual(["chat"]);
  });
});

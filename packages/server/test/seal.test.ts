// Sealed sessions and the tenant's transparency log, inside workerd (issue 14): closing a session seals its head with
// the tenant's log key; the seal verifies offline against the key `GET /api/v1/log/key` publishes, its inclusion proof
// against the checkpoint; the log's trees are consistent with each other; nothing is appended after the seal; a seal
// lands once however often it is delivered; the log key is not in the clear at rest.

import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import {
  fromBase64,
  fromHex,
  type NoteKey,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  type SealProof,
  sealText,
  verifyConsistency,
  verifySeal,
} from "@caisey/core";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { sha256 } from "../src/crypto.ts";
import type { Effect } from "../src/durable/outbox.ts";
import { transparencyLog } from "../src/env.ts";
import { MIGRATIONS } from "../src/objects/session/store.ts";
import { SEAL_REQUESTED, type TransparencyLog } from "../src/objects/transparency-log.ts";
import {
  call,
  enrollMachine,
  everythingStored,
  json,
  ownerOnce,
  PASSWORD,
  previousRelease,
  restoreRows,
} from "./harness.ts";

const owner = ownerOnce("olga@seal.test", "Sealed Tight IT");

let token: string;
let tenantId: string;
let machineId: string;
let key: NoteKey;

beforeAll(async () => {
  token = await owner();
  tenantId = (await json(await call("/api/v1/me", { token }), 200)).user.tenantId;
  machineId = (await enrollMachine(token, "Contoso Dental")).machineId;
  const published = await json(await call("/api/v1/log/key", { token }), 200);
  key = (await parseVerifierKey(sha256, published.vkey)) as NoteKey;
});

async function openSession(): Promise<string> {
  return (await json(await call("/api/v1/sessions", { token, body: { machineId } }), 201)).id;
}

async function closeSession(id: string): Promise<void> {
  await json(await call(`/api/v1/sessions/${id}/close`, { token, body: {} }), 200);
}

const sealOf = async (id: string): Promise<SealProof> =>
  json(await call(`/api/v1/sessions/${id}/seal`, { token }), 200);

async function events(id: string): Promise<{ events: any[]; head: { seq: number; hash: string } }> {
  return json(await call(`/api/v1/sessions/${id}/events`, { token }), 200);
}

describe("the tenant's log key", () => {
  it("is published as origin, key name, raw public key and a signed-note verifier key that parses back", async () => {
    const published = await json(await call("/api/v1/log/key", { token }), 200);
    expect(published.origin).toBe(`support.northwind.test/log/${tenantId}`);
    expect(published.keyName).toBe(published.origin);
    expect(fromBase64(published.publicKey)).toHaveLength(32);
    expect(published.vkey).toMatch(new RegExp(`^support\\.northwind\\.test/log/${tenantId}\\+[0-9a-f]{8}\\+`));
    expect(key.publicKey).toEqual(fromBase64(published.publicKey));
    // The same key on every read.
    expect(await json(await call("/api/v1/log/key", { token }), 200)).toEqual(published);
  });

  it("is stored wrapped with the deployment's key secret: no clear private key in the log's SQLite", async () => {
    await runInDurableObject(transparencyLog(env, tenantId), async (_: TransparencyLog, state) => {
      const everything = everythingStored(state);
      expect(everything).not.toMatch(/\\"d\\":/);
      expect(everything).not.toMatch(/"kty"/);
      const row = state.storage.sql.exec<{ private_wrapped: string }>("SELECT private_wrapped FROM log_key").one();
      expect(row.private_wrapped).toMatch(/^caisey-wrap-v1\./);
    });
  });
});

describe("closing a session", () => {
  it("seals its head: the note is the contract's text, signed by the log key, in the log the checkpoint names", async () => {
    const id = await openSession();
    await json(
      await call(`/api/v1/sessions/${id}/messages`, {
        token,
        body: { text: "Spooler is running. Please try printing." },
      }),
      201,
    );
    expect(await json(await call(`/api/v1/sessions/${id}/seal`, { token }), 404)).toEqual({
      error: { code: "not_sealed", message: "the session is sealed when it closes" },
    });
    await closeSession(id);
    const { events: all, head } = await events(id);
    const closed = all.at(-1);
    expect(closed).toMatchObject({ type: "session.closed", seq: head.seq, hash: head.hash });

    const seal = await sealOf(id);
    const opened = await openNote(seal.note, key);
    expect(opened).toEqual({
      text: sealText({ tenantId, sessionId: id, seq: head.seq, headHash: head.hash, closedAt: closed.ts }),
    });
    const check = await verifySeal(sha256, seal, key);
    expect(check).toMatchObject({ ok: true, seal: { sessionId: id, seq: head.seq, headHash: head.hash } });
    // The checkpoint is the log's latest, as the log route serves it.
    const latest = await call("/api/v1/log/checkpoint", { token });
    expect(latest.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await latest.text()).toBe(seal.checkpoint);
    // The session's state says closed; the seal is the same on every read.
    expect(await sealOf(id)).toEqual(seal);
  });

  it("by the idle alarm seals it the same way", async () => {
    await json(await call("/api/v1/settings", { method: "PUT", token, body: { idleCloseSeconds: 1 } }), 200);
    const id = await openSession();
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(env.SESSION.get(env.SESSION.idFromName(id)));
        expect((await json(await call(`/api/v1/sessions/${id}`, { token }), 200)).session.state).toBe("closed");
      },
      { timeout: 10_000, interval: 200 },
    );
    await json(await call("/api/v1/settings", { method: "PUT", token, body: { idleCloseSeconds: 86_400 } }), 200);
    const { head } = await events(id);
    const check = await verifySeal(sha256, await sealOf(id), key);
    expect(check).toMatchObject({ ok: true, seal: { sessionId: id, seq: head.seq, headHash: head.hash } });
  });

  it("makes the record final: nothing is appended after the seal", async () => {
    const id = await openSession();
    await closeSession(id);
    const before = await events(id);
    for (const [path, code] of [
      ["notes", "session_closed"],
      ["messages", "session_closed"],
    ] as const) {
      const res = await call(`/api/v1/sessions/${id}/${path}`, { token, body: { text: "one more thing" } });
      expect((await json(res, 409)).error.code).toBe(code);
    }
    expect((await json(await call(`/api/v1/sessions/${id}/close`, { token, body: {} }), 409)).error.code).toBe(
      "session_closed",
    );
    expect(await events(id)).toEqual(before);
    const check = await verifySeal(sha256, await sealOf(id), key);
    expect(check).toMatchObject({ ok: true, seal: { seq: before.head.seq, headHash: before.head.hash } });
  });
});

describe("the log", () => {
  it("proves each later tree consistent with each earlier one, and the earlier seals still included", async () => {
    const first = await openSession();
    await closeSession(first);
    const a = await sealOf(first);
    const second = await openSession();
    await closeSession(second);
    const b = await sealOf(second);
    expect(b.treeSize).toBe(a.treeSize + 1);
    expect(b.leafIndex).toBe(a.treeSize);
    const rootOf = async (note: string) => {
      const opened = await openNote(note, key);
      if (typeof opened === "string") throw new Error(opened);
      const c = parseCheckpoint(opened.text);
      if (typeof c === "string") throw new Error(c);
      return c.root;
    };
    const { proof } = await json(
      await call(`/api/v1/log/consistency?from=${a.treeSize}&to=${b.treeSize}`, { token }),
      200,
    );
    const path = (proof as string[]).map(fromHex);
    const consistent = async (earlier: string) =>
      verifyConsistency(sha256, a.treeSize, b.treeSize, path, await rootOf(earlier), await rootOf(b.checkpoint));
    expect(await consistent(a.checkpoint)).toBeNull();
    // A checkpoint of another history (here: the later one claimed as the earlier) does not pass.
    expect(await consistent(b.checkpoint)).not.toBeNull();
    // The first seal, read again, is proven against the newer checkpoint.
    const again = await sealOf(first);
    expect(again).toMatchObject({ note: a.note, leafIndex: a.leafIndex, checkpoint: b.checkpoint });
    expect((await verifySeal(sha256, again, key)).ok).toBe(true);
  });

  it("refuses a range it cannot prove, and a malformed one, changing nothing", async () => {
    const checkpoint = await (await call("/api/v1/log/checkpoint", { token })).text();
    const size = Number(checkpoint.split("\n")[1]);
    for (const [query, status, code] of [
      [`from=0&to=${size}`, 422, "invalid_range"],
      [`from=${size}&to=${size + 1}`, 422, "invalid_range"],
      [`from=2&to=1`, 422, "invalid_range"],
      ["from=1", 400, "invalid_query"],
      ["from=x&to=1", 400, "invalid_query"],
    ] as const) {
      expect((await json(await call(`/api/v1/log/consistency?${query}`, { token }), status)).error.code).toBe(code);
    }
    expect(await (await call("/api/v1/log/checkpoint", { token })).text()).toBe(checkpoint);
  });

  it("appends a session's seal once, however often it is delivered", async () => {
    const id = await openSession();
    await closeSession(id);
    const seal = await sealOf(id);
    const { head, events: all } = await events(id);
    const request = {
      tenantId,
      sessionId: id,
      seq: head.seq,
      headHash: head.hash,
      closedAt: all.at(-1).ts,
    };
    await runInDurableObject(transparencyLog(env, tenantId), async (log: TransparencyLog, state) => {
      const leaves = () => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM leaves").one().n;
      const count = leaves();
      const payload = JSON.stringify(request);
      // The same effect again (a lost answer), and as a new effect (a sender that lost its receipts).
      for (const seq of [1, 1_000_000]) {
        const again = await log.receive(`session:${id}`, [{ seq, kind: SEAL_REQUESTED, key: id, payload }]);
        expect(again.ok).toBe(true);
      }
      // Another session cannot seal this one.
      expect(
        await log.receive("session:ses_aaaaaaaaaaaaaaaaaaaa", [{ seq: 1, kind: SEAL_REQUESTED, key: id, payload }]),
      ).toMatchObject({ ok: false, code: "not_your_seal" });
      expect(leaves()).toBe(count);
    });
    expect((await sealOf(id)).note).toBe(seal.note);
  });

  it("takes a seal it failed to take, once, when the Session's outbox delivers it again", async () => {
    let faults = 0;
    await runInDurableObject(transparencyLog(env, tenantId), (instance: TransparencyLog) => {
      const log = instance as unknown as { applyEffect(source: string, effect: Effect, note?: unknown): void };
      const apply = log.applyEffect.bind(instance);
      log.applyEffect = (source, effect, note) => {
        if (faults++ < 2) throw new Error("injected fault");
        apply(source, effect, note);
      };
    });
    const id = await openSession();
    await closeSession(id); // the close itself stands; its seal waits in the outbox
    expect((await json(await call(`/api/v1/sessions/${id}/seal`, { token }), 404)).error.code).toBe("not_sealed");
    // As if the backoff had passed: reading the seal delivers what waits, so the second read seals it.
    const retryDue = () =>
      runInDurableObject(env.SESSION.get(env.SESSION.idFromName(id)), (_: unknown, state) => {
        state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE delivered_at IS NULL");
      });
    await retryDue();
    expect((await json(await call(`/api/v1/sessions/${id}/seal`, { token }), 404)).error.code).toBe("not_sealed");
    await retryDue();
    const seal = await sealOf(id);
    expect(faults).toBe(3);
    expect((await verifySeal(sha256, seal, key)).ok).toBe(true);
    const leaves = await runInDurableObject(transparencyLog(env, tenantId), (_: TransparencyLog, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM leaves WHERE session_id = ?", id).one(),
    );
    expect(leaves.n).toBe(1);
  });

  it("seals a session closed before this release, over the same head, once", async () => {
    const id = await openSession();
    await closeSession(id);
    const seal = await sealOf(id);
    const stub = env.SESSION.get(env.SESSION.idFromName(id));
    // Its storage as the previous release left it: closed, no seal asked for.
    await runInDurableObject(stub, async (_: unknown, state) => {
      const sql = state.storage.sql;
      const rows = (["session", "events"] as const).map((table) => ({
        table,
        rows: sql.exec(`SELECT * FROM ${table}`).toArray(),
      }));
      // The release before seals: its migrations, and of each row the columns it had.
      const sealing = MIGRATIONS.findIndex((m) => m.name === "seal a session closed before seals");
      expect(sealing).toBeGreaterThan(0);
      await previousRelease(state, MIGRATIONS, sealing);
      restoreRows(sql, rows);
    });
    await evictDurableObject(stub);
    await runDurableObjectAlarm(stub);
    const asked = await runInDurableObject(stub, (_: unknown, state) =>
      state.storage.sql
        .exec<{ payload: string; delivered_at: string | null }>(
          "SELECT payload, delivered_at FROM outbox WHERE kind = ?",
          SEAL_REQUESTED,
        )
        .toArray(),
    );
    expect(asked).toHaveLength(1);
    expect(asked[0]?.delivered_at).not.toBeNull();
    const opened = await openNote(seal.note, key);
    expect(typeof opened !== "string" && sealText(JSON.parse(asked[0]?.payload as string))).toBe(
      typeof opened !== "string" && opened.text,
    );
    expect((await sealOf(id)).note).toBe(seal.note);
  });

  it("is readable by the client's contact for their own sessions, and not by another organization", async () => {
    const id = await openSession();
    await closeSession(id);
    const { clientId } = (await json(await call(`/api/v1/sessions/${id}`, { token }), 200)).session;
    await json(
      await call(`/api/v1/clients/${clientId}/contacts`, {
        token,
        body: { name: "Carla", email: "carla@seal.test", password: PASSWORD },
      }),
      201,
    );
    const contact = (
      await json(await call("/api/v1/auth/login", { body: { email: "carla@seal.test", password: PASSWORD } }), 200)
    ).token;
    const seal = await json(await call(`/api/v1/sessions/${id}/seal`, { token: contact }), 200);
    expect((await verifySeal(sha256, seal, key)).ok).toBe(true);
    const other = await json(
      await call("/api/v1/tenants", {
        headers: { authorization: "Bearer operator-secret-for-the-server-tests" },
        body: { organization: "Fabrikam", name: "Fay", email: "fay@fabrikam.test", password: PASSWORD },
      }),
      201,
    );
    expect(await json(await call(`/api/v1/sessions/${id}/seal`, { token: other.token }), 404)).toMatchObject({
      error: { code: "not_found" },
    });
    // Their own log has another key.
    const theirs = await json(await call("/api/v1/log/key", { token: other.token }), 200);
    expect(theirs.vkey).not.toBe((await json(await call("/api/v1/log/key", { token }), 200)).vkey);
    const check = await verifySeal(sha256, seal, (await parseVerifierKey(sha256, theirs.vkey)) as NoteKey);
    expect(check.ok).toBe(false);
  });
});

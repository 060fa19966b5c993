// A search shard takes a batch in few statements (packages/server/src/objects/search-batch.ts): these check that what
// it writes is what one document at a time would have written — every document, each under its own time key in time
// order, FTS5 exactly in step with `docs`, and a command's facts as its last event left them.

import { env, runInDurableObject } from "cloudflare:test";
import { encodeRecord, KEY_SLOTS, newId, recordTimestamp, timeKey, toBase64, utf8 } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { searchIndex } from "../src/env.ts";
import { CommandBatch, type CommandRow } from "../src/objects/search-batch.ts";
import type { IngestBatch, SearchIndex } from "../src/objects/search-index.ts";

const header = (tenantId: string): IngestBatch["session"] => ({
  sessionId: newId("ses"),
  tenantId,
  machineId: newId("mch"),
  clientId: newId("cli"),
  hostname: "FRONTDESK-01",
});

function lines(events: { ts: string; type: string; data: Record<string, unknown> }[], actor = "user:usr_tom") {
  return events.map((e, i) => ({ seq: i + 1, line: encodeRecord({ seq: i + 1, actor, ...e }) }));
}

async function shardRows(tenantId: string, month: string, words: string[]) {
  return runInDurableObject(searchIndex(env, tenantId, month), (_instance, state) => {
    const sql = state.storage.sql;
    // FTS5's own check: the index holds exactly the documents' text and tags.
    sql.exec("INSERT INTO fts (fts, rank) VALUES ('integrity-check', 1)");
    const docs = sql
      .exec<{ id: number; session_id: string; seq: number; body: string }>(
        "SELECT id, session_id, seq, body FROM docs ORDER BY id",
      )
      .toArray();
    const matches = words.map(
      (word) => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM fts WHERE fts MATCH ?", word).one().n,
    );
    return { docs, matches };
  });
}

describe("a search shard's batch", () => {
  it("keys documents of one millisecond past its slots as one at a time would, across batches", async () => {
    const tenantId = newId("ten");
    const ts = "2026-03-04T05:06:07.089Z";
    const base = timeKey(Date.parse(ts));
    const first = header(tenantId);
    const many = KEY_SLOTS + 100;
    const shard = searchIndex(env, tenantId, "2026-03");
    const chat = Array.from({ length: many }, (_, i) => ({ ts, type: "chat.message", data: { text: `printer ${i}` } }));
    expect(await shard.ingest({ session: first, events: lines(chat) })).toEqual({ through: many });
    // A second session in the same millisecond: its documents take the next free keys after the first's.
    const second = header(tenantId);
    expect(
      await shard.ingest({
        session: second,
        events: lines([
          { ts, type: "chat.message", data: { text: "scanner one" } },
          { ts, type: "note.added", data: { text: "scanner two" } },
        ]),
      }),
    ).toEqual({ through: 2 });

    const { docs, matches } = await shardRows(tenantId, "2026-03", ["printer", "scanner"]);
    expect(docs.map((d) => d.id - base)).toEqual(Array.from({ length: many + 2 }, (_, i) => i));
    expect(docs.slice(0, many).every((d, i) => d.session_id === first.sessionId && d.seq === i + 1)).toBe(true);
    expect(docs.slice(many).map((d) => [d.session_id, d.seq, d.body])).toEqual([
      [second.sessionId, 1, "scanner one"],
      [second.sessionId, 2, "scanner two"],
    ]);
    expect(matches).toEqual([many, 2]);
  });

  it("writes a command's facts as its last event left them, and output over many statements in order", async () => {
    const tenantId = newId("ten");
    const session = header(tenantId);
    const commandId = newId("cmd");
    // 40 pieces of output of ~16 KiB: several statements' worth of text, all in one batch.
    const block = `${"Event 7036 The Spooler service entered the running state.\n".repeat(300)}`;
    const output = Array.from({ length: 40 }, (_, i) => ({
      ts: recordTimestamp(Date.parse("2026-05-02T10:00:01Z") + i),
      type: "command.output",
      data: { commandId, stream: "stdout", offset: i * block.length, data: toBase64(utf8(`part${i} ${block}`)) },
    }));
    const events = lines([
      { ts: "2026-05-02T10:00:00.000Z", type: "session.opened", data: { technicianId: "usr_tom", ticket: null } },
      {
        ts: "2026-05-02T10:00:00.500Z",
        type: "command.requested",
        data: { commandId, command: "Restart-Service Spooler", shell: "powershell", requestedBy: "usr_tom" },
      },
      ...output,
      {
        ts: "2026-05-02T10:00:02.000Z",
        type: "command.finished",
        data: { commandId, state: "finished", exitCode: 3 },
      },
    ]);
    const shard = searchIndex(env, tenantId, "2026-05");
    expect(await shard.ingest({ session, events })).toEqual({ through: events.length });
    const { docs, matches } = await shardRows(tenantId, "2026-05", ["part0", "part39", '{tags} : "zxnz"']);
    expect(docs.length).toBe(1 + 40 * 2); // the command, and each output event in two pieces (over 16 KiB each)
    expect(docs.map((d) => d.seq)).toEqual([2, ...output.flatMap((_, i) => [i + 3, i + 3])]);
    // The finish came after the output in the same batch: every document of the command carries its exit code.
    expect(matches).toEqual([1, 1, docs.length]);
    const facts = await runInDurableObject(shard, (_instance, state) =>
      state.storage.sql
        .exec("SELECT requested, state, exit_code, output_indexed FROM commands WHERE id = ?", commandId)
        .one(),
    );
    expect(facts).toEqual({
      requested: 1,
      state: "finished",
      exit_code: 3,
      output_indexed: output.reduce((n, _, i) => n + utf8(`part${i} ${block}`).length, 0),
    });
  });

  it("writes new command rows together and changed ones each, none lost if it appeared after the batch read it", async () => {
    const stub = searchIndex(env, newId("ten"), "2026-06");
    const rows = await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      const row = (id: string, state: string | null, exitCode: number | null): CommandRow => ({
        id,
        session_id: "ses_a",
        requested: 1,
        requested_by: "usr_tom",
        state,
        state_seq: 2,
        exit_code: exitCode,
        exit_seq: exitCode === null ? 0 : 3,
        approval: "none",
        approval_seq: 0,
        home: null,
        output_indexed: 7,
      });
      // 25 new commands: more than one multi-row statement's worth.
      const ids = Array.from({ length: 25 }, (_, i) => `cmd_${String(i).padStart(2, "0")}`);
      const first = new CommandBatch(sql, ids);
      for (const id of ids) first.put(row(id, "queued", null));
      first.flush();
      // A later batch changes two of them; a third batch reads one more command as absent, and the row appears
      // (written by another path) before it flushes: its write must land as an update, not be ignored.
      const second = new CommandBatch(sql, ["cmd_03", "cmd_24", "cmd_late"]);
      second.put(row("cmd_03", "finished", 2));
      second.put(row("cmd_24", "finished", 0));
      sql.exec("INSERT INTO commands (id, session_id, state) VALUES ('cmd_late', 'ses_a', 'running')");
      second.put(row("cmd_late", "finished", 1));
      second.flush();
      return sql
        .exec(
          "SELECT id, session_id, requested, requested_by, state, exit_code, output_indexed FROM commands ORDER BY id",
        )
        .toArray();
    });
    expect(rows.length).toBe(26);
    expect(rows.filter((r) => r.state === "queued").length).toBe(23);
    expect(rows.find((r) => r.id === "cmd_00")).toEqual({
      id: "cmd_00",
      session_id: "ses_a",
      requested: 1,
      requested_by: "usr_tom",
      state: "queued",
      exit_code: null,
      output_indexed: 7,
    });
    expect(rows.filter((r) => r.state === "finished").map((r) => [r.id, r.exit_code])).toEqual([
      ["cmd_03", 2],
      ["cmd_24", 0],
      ["cmd_late", 1],
    ]);
  });

  it("indexes the batches of one turn together, a later batch re-tagging an earlier one's documents", async () => {
    const tenantId = newId("ten");
    const stub = searchIndex(env, tenantId, "2026-07");
    const [a, b] = [header(tenantId), header(tenantId)];
    const at = (s: number) => recordTimestamp(Date.parse("2026-07-01T08:00:00Z") + s * 1000);
    const opened = (s: number) => ({ ts: at(s), type: "session.opened", data: { technicianId: "usr_tom" } });
    for (const [session, s] of [
      [a, 0],
      [b, 1],
    ] as const)
      expect(await stub.ingest({ session, events: lines([opened(s)]) })).toEqual({ through: 1 });
    const commandId = newId("cmd");
    const output = (s: number, text: string, offset: number) => ({
      ts: at(s),
      type: "command.output",
      data: { commandId, stream: "stdout", offset, data: toBase64(utf8(text)) },
    });
    // Session a's command and output, then (a later batch) its failure; session b's documents fall in between in
    // time, so the turn's documents do not ascend batch by batch.
    const first: IngestBatch = {
      session: a,
      events: [
        {
          ts: at(10),
          type: "command.requested",
          data: { commandId, command: "Restart-Service Spooler", shell: "powershell", requestedBy: "usr_tom" },
        },
        output(12, "spooler restarted\n", 0),
        output(30, "spooler stopped again\n", 18),
      ].map((e, i) => ({ seq: i + 2, line: encodeRecord({ seq: i + 2, actor: "user:usr_tom", ...e }) })),
    };
    const second: IngestBatch = {
      session: a,
      events: [
        {
          seq: 5,
          line: encodeRecord({
            seq: 5,
            actor: "user:usr_tom",
            ts: at(31),
            type: "command.finished",
            data: { commandId, state: "finished", exitCode: 2 },
          }),
        },
      ],
    };
    const other: IngestBatch = {
      session: b,
      events: [11, 20, 40].map((s, i) => ({
        seq: i + 2,
        line: encodeRecord({
          seq: i + 2,
          actor: "user:usr_tom",
          ts: at(s),
          type: "chat.message",
          data: { text: `spooler chat ${s}` },
        }),
      })),
    };
    // Called inside the object, none waits before the turn's write: all three are written in one transaction.
    const throughs = await runInDurableObject(stub, (instance: SearchIndex) =>
      Promise.all([instance.ingest(first), instance.ingest(other), instance.ingest(second)]),
    );
    expect(throughs).toEqual([{ through: 4 }, { through: 4 }, { through: 5 }]);
    const { docs, matches } = await shardRows(tenantId, "2026-07", ["spooler", '{tags} : "zxnz"', "chat"]);
    expect(docs.map((d) => [d.session_id, d.seq])).toEqual([
      [a.sessionId, 2],
      [b.sessionId, 2],
      [a.sessionId, 3],
      [b.sessionId, 3],
      [a.sessionId, 4],
      [b.sessionId, 4],
    ]);
    // Every document of the failed command carries its exit tag, though the failure came in a later batch.
    expect(matches).toEqual([6, 3, 3]);
  });

  it("writes the other batches of a turn when one of them fails, and nothing of the one that failed", async () => {
    const tenantId = newId("ten");
    const stub = searchIndex(env, tenantId, "2026-08");
    const sessions = [header(tenantId), header(tenantId), header(tenantId)];
    const chat = (s: number) => [
      { ts: "2026-08-01T09:00:00.000Z", type: "session.opened", data: { technicianId: "usr_tom" } },
      { ts: `2026-08-01T09:00:0${s}.000Z`, type: "chat.message", data: { text: `printer jam ${s}` } },
    ];
    // The middle one breaks inside its write (a session without a client violates the table's NOT NULL).
    const broken = { ...sessions[1], clientId: null } as unknown as IngestBatch["session"];
    const settled = await runInDurableObject(stub, (instance: SearchIndex) =>
      Promise.allSettled([
        instance.ingest({ session: sessions[0] as IngestBatch["session"], events: lines(chat(1)) }),
        instance.ingest({ session: broken, events: lines(chat(2)) }),
        instance.ingest({ session: sessions[2] as IngestBatch["session"], events: lines(chat(3)) }),
      ]),
    );
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const { docs, matches } = await shardRows(tenantId, "2026-08", ["printer"]);
    expect(docs.map((d) => [d.session_id, d.body])).toEqual([
      [sessions[0]?.sessionId, "printer jam 1"],
      [sessions[2]?.sessionId, "printer jam 3"],
    ]);
    expect(matches).toEqual([2]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  afterCursor,
  buildMatch,
  compareHits,
  composeMatch,
  decodeCursor,
  decodeOutputText,
  docTags,
  encodeCursor,
  encodeRecord,
  factTags,
  indexEntries,
  mergeHits,
  monthsBetween,
  OUTPUT_PART_BYTES,
  parseSnippet,
  type RankedHit,
  type RecordEvent,
  type SearchOrder,
  shardMonth,
  splitOutput,
  toBase64,
  utf8,
} from "../src/index.ts";

const ev = (seq: number, type: string, data: Record<string, unknown>, actor = "user:usr_a"): RecordEvent =>
  JSON.parse(encodeRecord({ seq, ts: "2026-03-04T05:06:07.089Z", type, actor, data })) as RecordEvent;

/** Real FTS5 when this Node has node:sqlite (Node 22 does), to prove every built MATCH is valid. */
async function fts5() {
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(":memory:");
    db.exec(`CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, tags TEXT);
      CREATE VIRTUAL TABLE fts USING fts5(body, tags, content='docs', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
      INSERT INTO docs VALUES (1, 'Get-Service spooler failed', 'zkcommand zcclia');
      INSERT INTO fts(rowid, body, tags) VALUES (1, 'Get-Service spooler failed', 'zkcommand zcclia');`);
    const stmt = db.prepare("SELECT rowid FROM fts WHERE fts MATCH ?");
    return (match: string) => stmt.all(match).length;
  } catch {
    return null;
  }
}

describe("output text", () => {
  it("decodes lossily, strips terminal escapes, turns NUL and controls into spaces", () => {
    const bytes = new Uint8Array([
      ...utf8("\u001b[31mred\u001b[0m ok\u0000x\r\n\u001b]0;title\u0007t\u0002m"),
      0xff,
      ...utf8("é"),
    ]);
    expect(decodeOutputText(bytes)).toBe("red ok x\nt m\ufffdé");
  });

  it("splits into bounded pieces at line ends or character boundaries, covering every byte", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 3000 }), fc.integer({ min: 8, max: 600 }), (s, max) => {
        const bytes = utf8(s);
        const parts = splitOutput(bytes, max);
        let at = 0;
        for (const [start, end] of parts) {
          expect(start).toBe(at);
          expect(end - start).toBeGreaterThan(0);
          expect(end - start).toBeLessThanOrEqual(max);
          at = end;
        }
        expect(at).toBe(bytes.length);
        // No piece starts inside a multi-byte character (unless a character is longer than a piece, not here).
        for (const [start] of parts) expect((bytes[start] ?? 0) & 0xc0).not.toBe(0x80);
      }),
      { numRuns: 200 },
    );
  });
});

describe("indexEntries", () => {
  it("indexes a command's text and reason and records who asked", () => {
    const e = indexEntries(
      ev(2, "command.requested", { commandId: "cmd_1", command: "Get-Service spooler", reason: "ticket 42" }),
      () => 0,
    );
    expect(e.docs).toMatchObject([
      { seq: 2, kind: "command", commandId: "cmd_1", text: "Get-Service spooler\nticket 42" },
    ]);
    expect(e.command).toEqual({ commandId: "cmd_1", requestedBy: "usr_a", state: "queued" });
  });

  it("indexes a rollback with the word rollback, so a search for it finds every one", () => {
    const rollbackOf = { sessionId: "ses_1", commandId: "cmd_0", seq: 9, hash: "ab" };
    const e = indexEntries(
      ev(2, "command.requested", { commandId: "cmd_1", command: "sc start Spooler", reason: "app broke", rollbackOf }),
      () => 0,
    );
    expect(e.docs).toMatchObject([
      { kind: "command", commandId: "cmd_1", text: "sc start Spooler\napp broke\nrollback" },
    ]);
  });

  it("indexes chat and notes, and takes the technician from session events", () => {
    expect(indexEntries(ev(3, "chat.message", { text: "hello there" }), () => 0).docs[0]).toMatchObject({
      kind: "chat",
      text: "hello there",
    });
    expect(indexEntries(ev(4, "note.added", { text: "rebooted" }), () => 0).docs[0]?.kind).toBe("note");
    expect(indexEntries(ev(1, "session.opened", { technicianId: "usr_t" }), () => 0).technicianId).toBe("usr_t");
    // The Session records a hand-over as { from, to }.
    expect(indexEntries(ev(9, "session.assigned", { from: "usr_t", to: "usr_u" }), () => 0).technicianId).toBe("usr_u");
    expect(indexEntries(ev(9, "session.assigned", { technicianId: "usr_v" }), () => 0).technicianId).toBe("usr_v");
  });

  it("keeps exit codes, states and approval states per command", () => {
    expect(
      indexEntries(ev(5, "command.finished", { commandId: "c", state: "finished", exitCode: 3 }), () => 0).command,
    ).toEqual({ commandId: "c", state: "finished", exitCode: 3 });
    expect(indexEntries(ev(5, "approval.requested", { commandId: "c", approvalId: "a" }), () => 0).command).toEqual({
      commandId: "c",
      approval: "pending",
    });
    expect(indexEntries(ev(6, "approval.granted", { commandId: "c" }), () => 0).command?.approval).toBe("granted");
    expect(indexEntries(ev(6, "approval.declined", { commandId: "c" }), () => 0).command?.approval).toBe("declined");
    expect(indexEntries(ev(7, "approval.expired", { commandId: "c" }), () => 0).command?.approval).toBe("expired");
  });

  it("indexes output up to the cap per command, in pieces pointing at their byte offsets", () => {
    const text = `${"line of output\n".repeat(3000)}`; // 45,000 bytes
    const data = toBase64(utf8(text));
    let indexed = 0;
    const run = (seq: number, offset: number) => {
      const e = indexEntries(
        ev(seq, "command.output", { commandId: "c", stream: "stdout", offset, data }),
        () => indexed,
        60_000,
      );
      indexed = e.command?.outputIndexed ?? indexed;
      return e;
    };
    const first = run(7, 0);
    expect(first.docs.length).toBe(Math.ceil(45_000 / OUTPUT_PART_BYTES));
    expect(first.docs.map((d) => d.offset)).toEqual(first.docs.map((_, i) => i * 16_380)); // whole lines of 15 bytes
    expect(first.docs.map((d) => d.text).join("")).toBe(text);
    const second = run(8, 45_000);
    expect(second.docs.map((d) => d.text).join("").length).toBe(15_000);
    expect(indexed).toBe(60_000);
    expect(run(9, 90_000).docs).toEqual([]);
  });

  it("leaves binary pieces of output out of the index, counted against the cap, and keeps text with a stray byte", () => {
    // Bytes of a binary file: most are not UTF-8 (each invalid byte decodes as U+FFFD).
    const binary = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 167 + (i >> 7) * 13) & 0xff);
    const latin1 = Uint8Array.from([...utf8("caf"), 0xe9, ...utf8(" au lait, pr"), 0xea, ...utf8("t\n")]); // 2 of 18
    const bytes = new Uint8Array([...binary, ...latin1.subarray(0, 1)]);
    bytes.set(utf8("needle in text\n"), OUTPUT_PART_BYTES - 15); // a whole line ends the first piece
    const output = (data: Uint8Array, offset = 0) =>
      indexEntries(
        ev(3, "command.output", { commandId: "c", stream: "stdout", offset, data: toBase64(data) }),
        () => 0,
      );
    const mixed = output(bytes);
    expect(mixed.docs).toEqual([]); // each piece is mostly binary, the line of text in it too little
    expect(mixed.command).toEqual({ commandId: "c", outputIndexed: bytes.length });
    expect(output(latin1, 7).docs).toMatchObject([{ offset: 7, text: "caf\ufffd au lait, pr\ufffdt\n" }]);
    const both = output(new Uint8Array([...utf8("needle\n".repeat(3000)), ...binary]));
    // The first piece is text; the next holds the last 4620 bytes of text and 11,764 of the binary: left out.
    expect(both.docs.map((d) => [d.offset, d.text.length])).toEqual([[0, 16_380]]);
    expect(both.command?.outputIndexed).toBe(21_000 + binary.length);
  });

  it("ignores events it does not index and malformed data", () => {
    expect(indexEntries(ev(1, "participant.joined", {}), () => 0)).toEqual({
      docs: [],
      command: null,
      technicianId: null,
    });
    expect(
      indexEntries(ev(1, "command.output", { commandId: "c", stream: "stdout", data: "%%%" }), () => 0).docs,
    ).toEqual([]);
  });
});

describe("buildMatch", () => {
  it("turns words, phrases and prefixes into quoted FTS5 strings", () => {
    expect(buildMatch("spooler failed")).toEqual({
      ok: true,
      match: '{body} : ("spooler" AND "failed")',
      terms: ["spooler", "failed"],
    });
    expect(buildMatch('"access is denied" Get-Serv*')).toMatchObject({
      ok: true,
      match: '{body} : ("access is denied" AND "Get-Serv"*)',
    });
    expect(buildMatch('NEAR(a b) OR c "unterminated')).toMatchObject({
      ok: true,
      match: '{body} : ("NEAR(a" AND "b)" AND "OR" AND "c" AND "unterminated")',
    });
    expect(buildMatch('a"b').ok).toBe(true);
    for (const q of ['"', "*", "-", "')--", "   ", "", "()", "^:"]) expect(buildMatch(q).ok).toBe(false);
    expect(buildMatch("x".repeat(501)).ok).toBe(false);
    expect(buildMatch("a ".repeat(17)).ok).toBe(false);
  });

  it("never throws and never builds an invalid MATCH (checked against real FTS5)", async () => {
    const match = await fts5();
    const shape = /^\{body\} : \((?:"(?:[^"]|"")*"\*?)(?: AND "(?:[^"]|"")*"\*?)*\)$/;
    const input = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.string({ unit: "binary", maxLength: 60 }),
      fc
        .array(
          fc.constantFrom(
            '"',
            "*",
            "(",
            ")",
            "NEAR",
            "OR",
            "AND",
            "NOT",
            "-",
            "^",
            ":",
            "{",
            "}",
            "body",
            "a",
            " ",
            "é",
            "'",
            ";",
            "+",
          ),
          {
            maxLength: 30,
          },
        )
        .map((parts) => parts.join("")),
    );
    fc.assert(
      fc.property(input, (q) => {
        const built = buildMatch(q);
        if (!built.ok) return;
        expect(built.match).toMatch(shape);
        const full = composeMatch(built.match, { kinds: ["command", "chat"], clientId: "cli_a" }) as string;
        if (match) expect(() => match(full)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
    // 2000 generated queries, each run against a real FTS5: seconds on a loaded machine, more than vitest's default 5.
  }, 60_000);

  it("composes the user's terms with filters kept as tags", () => {
    expect(composeMatch(null, {})).toBeNull();
    expect(composeMatch('{body} : ("x")', { kinds: ["output"], machineId: "mch_ab" })).toBe(
      '({body} : ("x")) AND ({tags} : (("zkoutput") AND "zmmchab"))',
    );
    expect(composeMatch(null, { technicianId: "usr_t", exit: "nonzero", approval: "granted" })).toBe(
      '({tags} : ("ztusrt" AND "zxnz" AND "zagranted"))',
    );
    expect(composeMatch(null, { exit: -1 })).toBe('({tags} : ("zxn1"))');
    expect(composeMatch('{body} : ("x")', { exit: 0 })).toBe(
      '(({body} : ("x")) AND ({tags} : (("zkcommand" OR "zkoutput")))) NOT ({tags} : ("zxnz"))',
    );
  });

  it("tags a document with its facts: technician, a non-zero exit code, an approval state other than none", () => {
    expect(factTags({})).toEqual([]);
    expect(factTags({ technicianId: "usr_a-b", exitCode: 0, approval: "none" })).toEqual(["ztusrab"]);
    expect(factTags({ exitCode: 3, approval: "pending" })).toEqual(["zxnz", "zx3", "zapending"]);
    expect(factTags({ exitCode: -1073741510 })).toEqual(["zxnz", "zxn1073741510"]);
    const session = { sessionId: "ses_1", machineId: "mch_1", clientId: "cli_1" };
    expect(docTags({ kind: "output" }, session)).toBe("zkoutput zccli1 zmmch1 zsses1");
    expect(docTags({ kind: "output" }, session, { technicianId: "usr_1", exitCode: 2 })).toBe(
      "zkoutput zccli1 zmmch1 zsses1 ztusr1 zxnz zx2",
    );
  });

  it("answers every fact filter in FTS5 exactly as the facts say", async () => {
    let db: import("node:sqlite").DatabaseSync;
    try {
      const { DatabaseSync } = await import("node:sqlite");
      db = new DatabaseSync(":memory:");
    } catch {
      return; // no node:sqlite: the server tests run the same MATCH in workerd
    }
    db.exec(`CREATE VIRTUAL TABLE fts USING fts5(body, tags, tokenize='unicode61 remove_diacritics 2')`);
    const session = { sessionId: "ses_1", machineId: "mch_1", clientId: "cli_1" };
    type Doc = { kind: "command" | "output" | "chat"; tech: string | null; exit?: number | null; approval?: string };
    const docs: Doc[] = [];
    for (const kind of ["command", "output", "chat"] as const)
      for (const tech of ["usr_a", "usr_b", null])
        for (const exit of kind === "chat" ? [undefined] : [null, 0, 1, 5, -1])
          for (const approval of kind === "chat" ? [undefined] : ["none", "pending", "granted", "declined"])
            docs.push({ kind, tech, exit, approval });
    const insert = db.prepare("INSERT INTO fts (rowid, body, tags) VALUES (?, 'word', ?)");
    docs.forEach((d, i) => {
      const facts = { technicianId: d.tech, exitCode: d.exit ?? null, approval: (d.approval ?? null) as never };
      insert.run(i + 1, docTags({ kind: d.kind }, session, facts));
    });
    const found = (filter: Parameters<typeof composeMatch>[1]) =>
      (
        db
          .prepare("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid")
          .all(composeMatch('{body} : ("word")', filter) as string) as { rowid: number }[]
      ).map((r) => r.rowid);
    const expected = (keep: (d: Doc) => boolean) => docs.flatMap((d, i) => (keep(d) ? [i + 1] : []));
    const command = (d: Doc) => d.kind !== "chat";
    expect(found({ technicianId: "usr_a" })).toEqual(expected((d) => d.tech === "usr_a"));
    expect(found({ exit: "nonzero" })).toEqual(expected((d) => command(d) && d.exit != null && d.exit !== 0));
    expect(found({ exit: 5 })).toEqual(expected((d) => d.exit === 5));
    expect(found({ exit: -1 })).toEqual(expected((d) => d.exit === -1));
    // exit=0 also holds commands that have not finished: the index checks the exit code itself.
    expect(found({ exit: 0 })).toEqual(expected((d) => command(d) && (d.exit === 0 || d.exit === null)));
    for (const approval of ["none", "pending", "granted", "declined"] as const)
      expect(found({ approval })).toEqual(expected((d) => command(d) && d.approval === approval));
    expect(found({ approval: "none", exit: 0, technicianId: "usr_b", kinds: ["output"] })).toEqual(
      expected(
        (d) => d.kind === "output" && d.approval === "none" && (d.exit === 0 || d.exit === null) && d.tech === "usr_b",
      ),
    );
    expect(found({ kinds: ["chat"], exit: 0 })).toEqual([]);
  });
});

describe("snippets, months, cursors, merge", () => {
  it("parses highlight markers into offsets", () => {
    expect(parseSnippet("…the \u0002spooler\u0003 service \u0002failed\u0003")).toEqual({
      snippet: "…the spooler service failed",
      highlights: [
        [5, 12],
        [21, 27],
      ],
    });
  });

  it("names months", () => {
    expect(shardMonth("2026-01-31T23:59:59.999Z")).toBe("2026-01");
    expect(monthsBetween(Date.parse("2025-11-15T00:00:00Z"), Date.parse("2026-02-01T00:00:00Z"))).toEqual([
      "2025-11",
      "2025-12",
      "2026-01",
      "2026-02",
    ]);
  });

  it("names a timestamp's month as a Date would, whatever the timestamp's form", () => {
    // Record timestamps take a shortcut (no Date); others, and days the shortcut does not vouch for, go through Date.
    const viaDate = (ts: string) => new Date(ts).toISOString().slice(0, 7);
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse("1970-01-01T00:00:00Z"), max: Date.parse("9999-12-31T23:59:59Z") }),
        (ms) => {
          const ts = new Date(ms).toISOString();
          expect(shardMonth(ts)).toBe(viaDate(ts));
          expect(shardMonth(ts.replace(/\.\d+Z$/, "Z"))).toBe(viaDate(ts));
        },
      ),
    );
    for (const ts of [
      "2026-02-29T00:00:00.000Z",
      "2026-04-31T12:00:00Z",
      "2026-01-31T24:00:00Z",
      "2026-03-01T00:00:00+02:00",
    ])
      expect(shardMonth(ts)).toBe(viaDate(ts));
    expect(shardMonth("2026-02-29T00:00:00.000Z")).toBe("2026-03");
    expect(shardMonth("2026-03-01T00:00:00+02:00")).toBe("2026-02");
  });

  it("round-trips cursors and refuses anything else", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (key, rank) => {
          expect(decodeCursor(encodeCursor({ order: "newest", key }))).toEqual({ order: "newest", key });
          expect(decodeCursor(encodeCursor({ order: "best", key, rank }))).toEqual({
            order: "best",
            key,
            rank: rank + 0,
          });
        },
      ),
    );
    fc.assert(fc.property(fc.string(), (s) => void decodeCursor(s)));
    expect(decodeCursor("bm9wZQ")).toBeNull();
  });

  it("pages through several shards' answers exactly once, in order", () => {
    const hit = fc.record({ key: fc.nat({ max: 5000 }), rank: fc.constantFrom(-3, -2, -1.5, -1, 0) });
    fc.assert(
      fc.property(
        fc.array(fc.uniqueArray(hit, { selector: (h) => h.key, maxLength: 40 }), { minLength: 1, maxLength: 5 }),
        fc.constantFrom<SearchOrder>("newest", "best"),
        fc.integer({ min: 1, max: 7 }),
        (shardsRaw, order, limit) => {
          // Keys are unique across shards (months are disjoint).
          const seen = new Set<number>();
          const shards = shardsRaw.map((s) =>
            s
              .filter((h) => {
                if (seen.has(h.key)) return false;
                seen.add(h.key);
                return true;
              })
              .sort((a, b) => compareHits(order, a, b)),
          );
          const all = shards.flat().sort((a, b) => compareHits(order, a, b));
          const got: RankedHit[] = [];
          let cursor = null as ReturnType<typeof mergeHits>["next"];
          for (let i = 0; i < 1000; i++) {
            const pages = shards.map((s) =>
              s.filter((h) => (cursor ? afterCursor(cursor, h) : true)).slice(0, limit + 1),
            );
            const page = mergeHits(pages, order, limit);
            got.push(...page.hits);
            cursor = page.next;
            if (!cursor) break;
          }
          expect(got).toEqual(all);
        },
      ),
      { numRuns: 300 },
    );
  });
});

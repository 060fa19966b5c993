import { createHash, webcrypto } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  chainStep,
  concatBytes,
  decodeRecord,
  encodeOutputRecord,
  encodeRecord,
  fromHex,
  genesisHash,
  lineFor,
  nextHash,
  recordTimestamp,
  redactedLine,
  type Sha256,
  splitRecordLines,
  toHex,
  verifyChain,
  verifyChainWebCrypto,
} from "../src/index.ts";

const sha256: Sha256 = (d) => new Uint8Array(createHash("sha256").update(d).digest());

// Fixed vectors, computed independently with Python's hashlib:
//   h = sha256(("caisey-session-v1\n" + sid).encode()).digest()
//   for r in records: h = sha256(h + sha256(r.encode()).digest()).digest()
const SESSION = "ses_aaaaaaaaaaaaaaaaaaaa";
const RECORDS = [
  '{"seq":1,"ts":"2026-11-21T09:00:00.000Z","type":"session.opened","actor":"user:usr_bbbbbbbbbbbbbbbbbbbb","data":{"sessionId":"ses_aaaaaaaaaaaaaaaaaaaa"}}',
  '{"seq":2,"ts":"2026-11-21T09:00:01.250Z","type":"command.requested","actor":"user:usr_bbbbbbbbbbbbbbbbbbbb","data":{"commandId":"cmd_cccccccccccccccccccc","command":"Get-Service Spooler | Restart-Service","shell":"powershell"}}',
  '{"seq":3,"ts":"2026-11-21T09:00:02.000Z","type":"chat.message","actor":"contact:usr_dddddddddddddddddddd","data":{"text":"Go ahead — thanks! ✓"}}',
];
const H0 = "cc0707fb78f66abc67b4e1d550d5a171393f7b464a15253efe45e6e62527510b";
const HASHES = [
  "2303d42ebe2a8c6411418470829ee7cf5985c1198f7618cef876ec49e23feb5b",
  "454cbcadbee2d501468e08b25992eccb67a058ecd6c970bda5daa241d095d651",
  "bec3f380e216b638352d10f8c36c28eaa965d6dbcdad59b0664832b19e8c985c",
];

describe("hash chain", () => {
  it("matches the fixed vectors", () => {
    expect(genesisHash(sha256, SESSION)).toBe(H0);
    let h = H0;
    RECORDS.forEach((line, i) => {
      h = nextHash(sha256, h, line);
      expect(h).toBe(HASHES[i]);
    });
  });

  it("verifies a whole record and reports its head", async () => {
    const expected = { ok: true, head: { seq: 3, hash: HASHES[2] }, count: 3 };
    expect(verifyChain(sha256, SESSION, RECORDS)).toEqual(expected);
    expect(await verifyChainWebCrypto(webcrypto.subtle as SubtleCrypto, SESSION, RECORDS)).toEqual(expected);
    expect(verifyChain(sha256, SESSION, [])).toEqual({ ok: true, head: { seq: 0, hash: H0 }, count: 0 });
  });

  it("finds the first tampered, missing or reordered record", async () => {
    const tampered = [
      RECORDS[0] as string,
      (RECORDS[1] as string).replace("Restart-Service", "Stop-Service"),
      RECORDS[2] as string,
    ];
    // A changed record still parses; its own chain is consistent, so tampering shows as a different head.
    const t = verifyChain(sha256, SESSION, tampered);
    expect(t.ok && t.head.hash).not.toBe(HASHES[2]);
    expect(verifyChain(sha256, SESSION, [RECORDS[0] as string, RECORDS[2] as string])).toEqual({
      ok: false,
      seq: 2,
      reason: "expected seq 2, found 3",
    });
    expect(verifyChain(sha256, SESSION, [RECORDS[1] as string])).toEqual({
      ok: false,
      seq: 1,
      reason: "expected seq 1, found 2",
    });
    const spaced = (RECORDS[0] as string).replace('"seq":1,', '"seq": 1,');
    expect(verifyChain(sha256, SESSION, [spaced])).toEqual({
      ok: false,
      seq: 1,
      reason: "record is not in canonical form",
    });
    expect(await verifyChainWebCrypto(webcrypto.subtle as SubtleCrypto, SESSION, ["{"])).toEqual({
      ok: false,
      seq: 1,
      reason: "record is not valid JSON",
    });
    // A different session id gives a different chain for the same records.
    const other = verifyChain(sha256, "ses_bbbbbbbbbbbbbbbbbbbb", RECORDS);
    expect(other.ok && other.head.hash).not.toBe(HASHES[2]);
  });

  it("splits an NDJSON export into lines", () => {
    expect(splitRecordLines(`${RECORDS.join("\n")}\n`)).toEqual(RECORDS);
    expect(splitRecordLines("")).toEqual([]);
    expect(() => splitRecordLines(RECORDS[0] as string)).toThrow("record export must end with a newline");
  });
});

describe("what is kept from the last call", () => {
  it("a chain step is the same whichever chain came before it (the last hash's bytes are kept)", () => {
    const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), digest), { minLength: 1, maxLength: 30 }), (steps) => {
        // Three chains stepped in an arbitrary interleaving, as sessions in one isolate are.
        const heads = [0, 1, 2].map((i) => genesisHash(sha256, `ses_${"a".repeat(19)}${i}`));
        for (const [chain, lineDigest] of steps) {
          const expected = toHex(sha256(concatBytes(fromHex(heads[chain] as string), lineDigest)));
          heads[chain] = chainStep(sha256, heads[chain] as string, lineDigest);
          expect(heads[chain]).toBe(expected);
        }
      }),
    );
  });

  it("a record timestamp is the time's ISO text, repeated, on the same day or not", () => {
    const day = 86_400_000;
    const range = 8.64e15;
    const times = fc.oneof(
      fc.integer({ min: 0, max: 4e12 }),
      fc.integer({ min: -range, max: range }),
      fc.double({ min: -range - 2 * day, max: range + 2 * day }),
      fc.constantFrom(0, -0, -1, 1.5, -1.5, day - 1, day, -day, range, -range, range + 1, -range - 1, range + day - 1),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    // Runs of times near each other (the same day, the next, the one before), as a session's clock goes.
    const runs = fc.array(
      fc.tuple(times, fc.array(fc.integer({ min: -2 * day, max: 2 * day }), { maxLength: 6 }), fc.nat(2)),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(runs, (run) => {
        for (const [start, steps, repeats] of run) {
          for (const ms of [start, ...steps.map((step) => start + step)]) {
            for (let i = 0; i <= repeats; i++) {
              let expected: string | RangeError;
              try {
                expected = new Date(ms).toISOString();
              } catch (error) {
                expected = error as RangeError;
              }
              if (typeof expected === "string") expect(recordTimestamp(ms)).toBe(expected);
              else expect(() => recordTimestamp(ms)).toThrow(RangeError);
            }
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("record encoding", () => {
  it("encodes an output event to exactly the bytes encodeRecord gives", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 4e12 }),
        fc.constantFrom("machine:mch_aaaaaaaaaaaaaaaaaaaa", "system"),
        fc.constantFrom("stdout", "stderr") as fc.Arbitrary<"stdout" | "stderr">,
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 300 }),
        (seq, ms, actor, stream, offset, bytes) => {
          const ts = new Date(ms).toISOString();
          const data = Buffer.from(bytes).toString("base64");
          const output = { commandId: "cmd_aaaaaaaaaaaaaaaaaaaa", stream, offset, data };
          const line = encodeOutputRecord(seq, ts, actor, output);
          expect(line).toBe(encodeRecord({ seq, ts, type: "command.output", actor: actor as "system", data: output }));
          expect(decodeRecord(line).data).toEqual(output);
        },
      ),
    );
    expect(() =>
      encodeOutputRecord(1, "2026-01-02T03:04:05.006Z", "system", {
        commandId: "cmd_aaaaaaaaaaaaaaaaaaaa",
        stream: "stdout",
        offset: -1,
        data: "",
      }),
    ).toThrow("offset must be a whole number");
  });

  it("round-trips exactly, with the contract's key order", () => {
    for (const line of RECORDS) expect(encodeRecord(decodeRecord(line))).toBe(line);
    const line = encodeRecord({
      data: { b: 1, a: [1, "x"] },
      actor: "system",
      type: "note.added",
      ts: "2026-01-02T03:04:05.006Z",
      seq: 9,
    } as never);
    expect(line).toBe(
      '{"seq":9,"ts":"2026-01-02T03:04:05.006Z","type":"note.added","actor":"system","data":{"b":1,"a":[1,"x"]}}',
    );
    expect(decodeRecord(line)).toEqual({
      seq: 9,
      ts: "2026-01-02T03:04:05.006Z",
      type: "note.added",
      actor: "system",
      data: { b: 1, a: [1, "x"] },
    });
  });

  it("keeps any text exactly, including control characters and non-BMP", () => {
    const text = 'a\u0000b\n\t"quoted" \\ 🙂 \u2028 é';
    const line = encodeRecord({
      seq: 1,
      ts: "2026-01-01T00:00:00.000Z",
      type: "chat.message",
      actor: "user:usr_x",
      data: { text },
    });
    expect((decodeRecord(line).data as { text: string }).text).toBe(text);
    expect(line).not.toContain("\n");
  });

  it("refuses malformed events", () => {
    const ok = { seq: 1, ts: "2026-01-01T00:00:00.000Z", type: "note.added", actor: "system", data: {} };
    expect(() => encodeRecord({ ...ok, seq: 0 })).toThrow("seq must be a positive integer");
    expect(() => encodeRecord({ ...ok, ts: "2026-01-01T00:00:00Z" })).toThrow(
      "ts must be RFC 3339 UTC with milliseconds",
    );
    expect(() => encodeRecord({ ...ok, actor: "root" })).toThrow("invalid actor: root");
    expect(() => encodeRecord({ ...ok, type: "Note" })).toThrow("invalid event type: Note");
    expect(() => encodeRecord({ ...ok, data: [] as never })).toThrow("data must be an object");
    expect(() =>
      decodeRecord('{"ts":"2026-01-01T00:00:00.000Z","seq":1,"type":"note.added","actor":"system","data":{}}'),
    ).toThrow("record keys must be seq,ts,type,actor,data");
  });
});

describe("redacted lines", () => {
  const line = '{"seq":4,"ts":"2026-12-01T10:00:00.000Z","type":"note.added","actor":"user:usr_a","data":{"text":"x"}}';
  const hex = (t: string) => createHash("sha256").update(t).digest("hex");
  it("give a contact an internal line as its seq and the SHA-256 of its exact bytes; staff the line itself", () => {
    expect(lineFor("contact", 4, "note.added", line, hex)).toBe(`{"seq":4,"redacted":"${hex(line)}"}`);
    expect(lineFor("staff", 4, "note.added", line, hex)).toBe(line);
    expect(lineFor("contact", 4, "chat.message", line, hex)).toBe(line);
    expect(redactedLine(9, "0".repeat(64))).toBe(`{"seq":9,"redacted":"${"0".repeat(64)}"}`);
  });
});

describe("a chain with withheld lines", () => {
  const hex = (t: string) => createHash("sha256").update(t).digest("hex");
  const withheld = RECORDS.map((line, i) => (i === 1 ? redactedLine(2, hex(line)) : line));
  it("verifies to the same head: a redacted line counts by its digest", async () => {
    const head = { ok: true, head: { seq: 3, hash: HASHES[2] }, count: 3 };
    expect(verifyChain(sha256, SESSION, withheld)).toEqual(head);
    expect(await verifyChainWebCrypto(webcrypto.subtle as SubtleCrypto, SESSION, withheld)).toEqual(head);
  });
  it("breaks when a redacted digest is not the line's", async () => {
    const forged = [...withheld];
    forged[1] = redactedLine(2, "0".repeat(64));
    const check = verifyChain(sha256, SESSION, forged);
    expect(check.ok && check.head.hash).not.toBe(HASHES[2]);
    expect(verifyChain(sha256, SESSION, [RECORDS[0] as string, redactedLine(3, hex(RECORDS[1] as string))])).toEqual({
      ok: false,
      seq: 2,
      reason: "expected seq 2, found 3",
    });
  });
});

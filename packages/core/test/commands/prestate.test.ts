import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DATA_BUDGET_SPENT,
  describePrestate,
  joinPrestate,
  LIMITS,
  PRESTATE_LIMITS,
  type Prestate,
  type PrestateFrame,
  parseFrame,
  prestateParts,
  RuntimeFrame,
  withinContentBudget,
} from "../../src/index.ts";

// The pre-state on its way from the runtime to the record: cut into frames that stay within the socket's bounds,
// joined back exactly, and refused when it is not what a runtime may send.

const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };
const sha = "ab".repeat(32);

const recordArb: fc.Arbitrary<Prestate> = fc.oneof(
  fc.record(
    {
      kind: fc.constant("file" as const),
      target: fc.string({ minLength: 1, maxLength: 200 }),
      exists: fc.boolean(),
      sha256: fc.constant(sha),
      bytes: fc.nat(),
      mode: fc.constantFrom("0644", "0600", "04755"),
      owner: fc.constantFrom("0:0", "1000:1000"),
      data: fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b).toString("base64")),
      error: fc.string({ minLength: 1, maxLength: 50 }),
    },
    { requiredKeys: ["kind", "target", "exists"] },
  ),
  fc.record(
    {
      kind: fc.constant("registry" as const),
      target: fc.string({ minLength: 1, maxLength: 100 }),
      name: fc.string({ maxLength: 40 }),
      exists: fc.boolean(),
      type: fc.constantFrom("REG_SZ", "REG_DWORD", "REG_MULTI_SZ"),
      value: fc.string({ maxLength: 300, unit: "binary" }),
    },
    { requiredKeys: ["kind", "target", "name", "exists"] },
  ),
  fc.record(
    {
      kind: fc.constant("service" as const),
      target: fc.string({ minLength: 1, maxLength: 50 }),
      exists: fc.boolean(),
      startType: fc.constantFrom("automatic", "automatic-delayed", "disabled", "enabled", "masked"),
      state: fc.constantFrom("running", "stopped"),
    },
    { requiredKeys: ["kind", "target", "exists"] },
  ),
);

/** The frames the runtime sends for these records, through the real parser. */
function framesOf(records: Prestate[]): PrestateFrame[] {
  const { parts } = prestateParts(records);
  return parts.map((text, part) => {
    const raw = JSON.stringify({ t: "prestate", ...ref, part, parts: parts.length, text });
    const parsed = parseFrame(RuntimeFrame, raw, LIMITS.runtimeFrameBytes);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.frame as PrestateFrame;
  });
}

describe("pre-state frames", () => {
  it("carry any records exactly, in order, as printable ASCII (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 12 }), (records) => {
        const frames = framesOf(records);
        expect(frames.every((f) => /^[\x20-\x7e]+$/.test(f.text))).toBe(true);
        expect(joinPrestate(frames.map((f) => f.text))).toEqual({ ok: true, probes: records });
      }),
      { numRuns: 300 },
    );
  });

  it("cut a 1 MiB file into parts that each fit a frame even if every character is escaped again", () => {
    const data = Buffer.alloc(PRESTATE_LIMITS.dataBytes, 0x22).toString("base64");
    const records: Prestate[] = [
      { kind: "file", target: '/srv/"quoted"\\path', exists: true, sha256: sha, bytes: 1 << 20, data },
      { kind: "registry", target: "HKLM\\Software\\Ünïcode", name: "值", exists: true, type: "REG_SZ", value: "é\n" },
    ];
    const frames = framesOf(records);
    expect(frames.length).toBe(Math.ceil(JSON.stringify(records).length / PRESTATE_LIMITS.partChars));
    for (const f of frames) expect(JSON.stringify(f).length).toBeLessThan(LIMITS.runtimeFrameBytes);
    expect(joinPrestate(frames.map((f) => f.text))).toEqual({ ok: true, probes: records });
  });

  it("leave off the records that do not fit, last first", () => {
    const path = (i: number) => `/srv/${String(i).padStart(5, "0")}/${"x".repeat(PRESTATE_LIMITS.textChars - 20)}`;
    const records: Prestate[] = Array.from({ length: 200 }, (_, i) => ({
      kind: "file",
      target: path(i),
      exists: false,
    }));
    const { parts, kept } = prestateParts(records);
    expect(parts.length).toBe(PRESTATE_LIMITS.parts);
    expect(kept).toBeLessThan(200);
    expect(joinPrestate(parts)).toEqual({ ok: true, probes: records.slice(0, kept) });
    const one = prestateParts(records.slice(0, kept + 1));
    expect(one.kept).toBe(kept);
  });

  it("are refused with a readable reason when malformed", () => {
    const frame = { t: "prestate", ...ref, part: 0, parts: 1, text: "[]" };
    const cases: [object, string][] = [
      [{ ...frame, part: 1 }, "part: part must be below parts"],
      [
        { ...frame, parts: PRESTATE_LIMITS.parts + 1 },
        `parts: Too big: expected number to be <=${PRESTATE_LIMITS.parts}`,
      ],
      [{ ...frame, text: "" }, "text: Too small: expected string to have >=1 characters"],
      [{ ...frame, text: "é" }, "text: must be printable ASCII"],
      [
        { ...frame, text: "x".repeat(PRESTATE_LIMITS.partChars + 1) },
        `text: Too big: expected string to have <=${PRESTATE_LIMITS.partChars} characters`,
      ],
      [{ ...frame, commandId: "cmd_1" }, "commandId: Invalid string: must match pattern /^cmd_[a-z2-7]{20}$/"],
    ];
    for (const [f, message] of cases) {
      expect(parseFrame(RuntimeFrame, JSON.stringify(f), LIMITS.runtimeFrameBytes)).toEqual({
        ok: false,
        code: "invalid_frame",
        message,
      });
    }
  });

  it("never throw on mutations of a valid frame or of its text (fuzz)", () => {
    const valid = { t: "prestate", ...ref, part: 0, parts: 1, text: '[{"kind":"file","target":"/a","exists":false}]' };
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(valid)), fc.jsonValue(), (key, value) => {
        const r = parseFrame(RuntimeFrame, JSON.stringify({ ...valid, [key]: value }), LIMITS.runtimeFrameBytes);
        if (r.ok) expect(RuntimeFrame.safeParse(r.frame).success).toBe(true);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary-ascii" }), { maxLength: 3 }), fc.jsonValue(), (parts, value) => {
        expect(typeof joinPrestate(parts).ok).toBe("boolean");
        const r = joinPrestate([JSON.stringify([value])]);
        if (r.ok) expect(r.probes.length).toBe(1);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("joining the pre-state", () => {
  it("refuses what is not a command's records", () => {
    expect(joinPrestate(['[{"kind":"file"', "]"])).toEqual({
      ok: false,
      why: "the pre-state's parts are not one JSON array",
    });
    expect(joinPrestate(['[{"kind":"file","target":"/a","exists":true,"data":"not base64!"}]'])).toMatchObject({
      ok: false,
      why: expect.stringMatching(/^0\.data: /),
    });
    expect(joinPrestate(['[{"kind":"printer","target":"x","exists":true}]'])).toMatchObject({ ok: false });
    const half = Buffer.alloc(600 * 1024).toString("base64");
    const twoHalves = JSON.stringify([
      { kind: "file", target: "/a", exists: true, data: half },
      { kind: "file", target: "/b", exists: true, data: half },
    ]);
    expect(joinPrestate([twoHalves])).toEqual({ ok: false, why: "file content over 1048576 bytes in all" });
  });
});

describe("the content budget", () => {
  it("keeps content for the first files up to 1 MiB in all, then the hash only, saying why", () => {
    const file = (target: string, bytes: number): Prestate => ({
      kind: "file",
      target,
      exists: true,
      sha256: sha,
      bytes,
      data: Buffer.alloc(bytes).toString("base64"),
    });
    const kept = withinContentBudget([file("/a", 700 * 1024), file("/b", 400 * 1024), file("/c", 300 * 1024)]);
    expect(kept.map((r) => (r.kind === "file" ? [r.target, r.data !== undefined, r.dataOmitted] : []))).toEqual([
      ["/a", true, undefined],
      ["/b", false, DATA_BUDGET_SPENT],
      ["/c", true, undefined],
    ]);
    expect(kept[1]).toMatchObject({ sha256: sha, bytes: 400 * 1024 });
  });
});

describe("what the technician reads before a change", () => {
  it("says in one line what each target was", () => {
    const key = "HKLM\\Software\\PrintSpooler";
    const cases: [Prestate, string][] = [
      [
        { kind: "registry", target: key, name: "DisableRestart", exists: true, type: "REG_DWORD", value: "0" },
        "before: DisableRestart = 0 (REG_DWORD)",
      ],
      [
        { kind: "registry", target: key, name: "Paths", exists: true, type: "REG_MULTI_SZ", value: "a\\0b c" },
        "before: Paths = a, b c (REG_MULTI_SZ)",
      ],
      [{ kind: "registry", target: key, name: "", exists: false }, "before: (Default) did not exist"],
      [
        { kind: "service", target: "Spooler", exists: true, state: "running", startType: "automatic" },
        "before: Spooler: running, start automatic",
      ],
      [
        { kind: "service", target: "Spooler", exists: true, state: "stopped", startType: "automatic-delayed" },
        "before: Spooler: stopped, start automatic (delayed)",
      ],
      [{ kind: "file", target: "/srv/app.conf", exists: false }, "before: /srv/app.conf did not exist"],
      [
        { kind: "file", target: "/srv/app.conf", exists: true, bytes: 1204, mode: "0644", sha256: sha, data: "" },
        "before: /srv/app.conf 1,204 bytes, mode 0644, sha256 abab…",
      ],
      [
        { kind: "file", target: "/var/log/big", exists: true, bytes: 5_000_000, sha256: sha },
        "before: /var/log/big 5,000,000 bytes, sha256 abab… (content not kept)",
      ],
      [
        { kind: "file", target: "/srv/conf.d", exists: true, mode: "0755", directory: true },
        "before: /srv/conf.d was a folder, mode 0755",
      ],
      [
        { kind: "file", target: "/root/x", exists: false, error: "permission denied" },
        "before: /root/x could not be read (permission denied)",
      ],
    ];
    for (const [p, line] of cases) expect(describePrestate(p)).toBe(line);
  });
});

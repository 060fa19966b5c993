import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  CommandBody,
  checkedFinished,
  checkedOutputHeader,
  checkedStarted,
  ENV_LIMITS,
  encodeOutputFrame,
  FinishedFrame,
  HealthFrame,
  LIMITS,
  OUTPUT_HEADER_MAX,
  OutputHeader,
  parseFrame,
  parseOutputFrame,
  parseRuntimeFrame,
  RUNTIME_FINAL_STATES,
  RuntimeFrame,
  ServerFrame,
  SetupBody,
  SHELLS,
  StartedFrame,
  UpdateRefusedFrame,
  utf8,
} from "../src/index.ts";
import { finishedFrame, startedFrame } from "./frames.ts";

const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };

describe("binary output frames", () => {
  const header: OutputHeader = { t: "output", ...ref, stream: "stderr", offset: 7 };
  /** A frame from a header given as text, then the output bytes. */
  const raw = (headerText: string, bytes: Uint8Array, length = utf8(headerText).length) => {
    const json = utf8(headerText);
    const frame = new Uint8Array(2 + json.length + bytes.length);
    frame.set([length >> 8, length & 0xff]);
    frame.set(json, 2);
    frame.set(bytes, 2 + json.length);
    return frame;
  };

  it("round-trip any bytes exactly, with the documented layout", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("stdout", "stderr") as fc.Arbitrary<"stdout" | "stderr">,
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        (stream, offset, bytes) => {
          const frame = encodeOutputFrame({ t: "output", ...ref, stream, offset }, bytes);
          expect(parseOutputFrame(frame, LIMITS.runtimeFrameBytes)).toEqual({
            ok: true,
            header: { t: "output", ...ref, stream, offset },
            bytes,
          });
        },
      ),
    );
    const frame = encodeOutputFrame(header, new Uint8Array([0, 0xff, 0x0a]));
    const json = `{"t":"output","sessionId":"${ref.sessionId}","commandId":"${ref.commandId}","stream":"stderr","offset":7}`;
    expect([...frame]).toEqual([...raw(json, new Uint8Array([0, 0xff, 0x0a]))]);
    // The largest chunk fits a frame.
    const big = encodeOutputFrame(header, new Uint8Array(LIMITS.outputChunkBytes));
    expect(parseOutputFrame(big, LIMITS.runtimeFrameBytes).ok).toBe(true);
  });

  it("refuses malformed frames with a readable reason", () => {
    const json = JSON.stringify(header);
    const one = new Uint8Array([1]);
    const cases: [Uint8Array, string, string][] = [
      [new Uint8Array(0), "bad_frame", "binary frame shorter than its header length"],
      [new Uint8Array([0]), "bad_frame", "binary frame shorter than its header length"],
      [raw(json, one, 0), "bad_frame", "binary frame header length 0 is out of bounds"],
      [raw(json, one, 60_000), "bad_frame", "binary frame header length 60000 is out of bounds"],
      [
        raw("x".repeat(OUTPUT_HEADER_MAX + 1), one),
        "bad_frame",
        `binary frame header length ${OUTPUT_HEADER_MAX + 1} is out of bounds`,
      ],
      [raw("{", one), "bad_frame", "binary frame header is not valid UTF-8 JSON"],
      [
        (() => {
          const f = raw(`"${"a".repeat(8)}"`, one);
          f[4] = 0xc3; // a lone lead byte: invalid UTF-8
          return f;
        })(),
        "bad_frame",
        "binary frame header is not valid UTF-8 JSON",
      ],
      [
        raw(JSON.stringify({ ...header, stream: "stdin" }), one),
        "invalid_frame",
        'stream: Invalid option: expected one of "stdout"|"stderr"',
      ],
      [
        raw(JSON.stringify({ ...header, offset: -1 }), one),
        "invalid_frame",
        "offset: Too small: expected number to be >=0",
      ],
      [raw(JSON.stringify({ ...header, t: "finished" }), one), "invalid_frame", 't: Invalid input: expected "output"'],
      [raw(json, new Uint8Array(0)), "invalid_frame", "output frame carries no bytes"],
      [
        raw(json, new Uint8Array(LIMITS.outputChunkBytes + 1)),
        "invalid_frame",
        `output frame carries more than ${LIMITS.outputChunkBytes} bytes`,
      ],
      [
        raw(json, new Uint8Array(LIMITS.runtimeFrameBytes)),
        "frame_too_large",
        `frame exceeds ${LIMITS.runtimeFrameBytes} bytes`,
      ],
    ];
    for (const [frame, code, message] of cases) {
      expect(parseOutputFrame(frame, LIMITS.runtimeFrameBytes)).toEqual({ ok: false, code, message });
    }
  });

  it("never throws on arbitrary bytes (fuzz)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc.tuple(fc.jsonValue(), fc.uint8Array({ maxLength: 64 })).map(([v, b]) => raw(JSON.stringify(v) ?? "", b)),
          fc
            .tuple(fc.constantFrom(...Object.keys(header)), fc.jsonValue(), fc.uint8Array({ maxLength: 64 }))
            .map(([key, value, b]) => raw(JSON.stringify({ ...header, [key]: value }), b)),
        ),
        (frame) => {
          const r = parseOutputFrame(frame, LIMITS.runtimeFrameBytes);
          if (r.ok) {
            expect(r.bytes.length).toBeGreaterThan(0);
            expect(RuntimeFrame.safeParse({ ...r.header }).success).toBe(false); // never a text frame
          } else expect(typeof r.message).toBe("string");
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("runtime frames", () => {
  const startedWith = (env: unknown) => ({
    t: "started",
    ...ref,
    pid: 4,
    user: "u",
    cwd: "/",
    executable: "/bin/sh",
    shell: "sh",
    shellVersion: "",
    env,
  });

  it("accepts well-formed frames", () => {
    const started = startedWith({ PATH: "/bin" });
    expect(parseFrame(RuntimeFrame, JSON.stringify(started), LIMITS.runtimeFrameBytes)).toEqual({
      ok: true,
      frame: started,
    });
    const ack = { t: "ack", ...ref, started: true, stdout: 4, stderr: 0, finished: false };
    expect(parseFrame(ServerFrame, JSON.stringify(ack), 1 << 20)).toEqual({ ok: true, frame: ack });
  });

  it("refuses bad frames with a readable reason", () => {
    const cases: [string | ArrayBuffer, string, string][] = [
      ["{", "bad_frame", "frame is not valid JSON"],
      [new ArrayBuffer(4), "bad_frame", "this frame must be JSON text"],
      ["x".repeat(LIMITS.runtimeFrameBytes + 1), "frame_too_large", `frame exceeds ${LIMITS.runtimeFrameBytes} bytes`],
      [
        JSON.stringify({ t: "output", ...ref, stream: "stdout", offset: 0, data: "YQ==" }),
        "invalid_frame",
        "t: Invalid discriminator value. Expected 'hello' | 'started' | 'finished' | 'prestate'",
      ],
      [
        JSON.stringify({ t: "nope" }),
        "invalid_frame",
        "t: Invalid discriminator value. Expected 'hello' | 'started' | 'finished' | 'prestate'",
      ],
    ];
    for (const [raw, code, message] of cases) {
      const result = parseFrame(RuntimeFrame, raw, LIMITS.runtimeFrameBytes);
      expect(result).toEqual({ ok: false, code, message });
    }
  });

  it("checks a started frame's environment: kept as sent at its limits, refused past them with the reason", () => {
    const started = (env: unknown) => JSON.stringify(startedWith(env));
    const full = Object.fromEntries(
      Array.from({ length: ENV_LIMITS.count }, (_, i) => [
        `${i}`.padEnd(ENV_LIMITS.nameChars, "N"),
        i === 0 ? "v".repeat(ENV_LIMITS.valueChars) : `é${i}`,
      ]),
    );
    const kept = parseFrame(RuntimeFrame, started(full), LIMITS.runtimeFrameBytes);
    expect(kept.ok && kept.frame.t === "started" && JSON.stringify(kept.frame.env)).toBe(JSON.stringify(full));
    expect(parseFrame(RuntimeFrame, started({}), LIMITS.runtimeFrameBytes).ok).toBe(true);
    const cases: [unknown, string][] = [
      [{ ...full, one: "more" }, `at most ${ENV_LIMITS.count} environment variables`],
      [{ ["N".repeat(ENV_LIMITS.nameChars + 1)]: "v" }, `a variable's name exceeds ${ENV_LIMITS.nameChars} characters`],
      [{ HOME: "v".repeat(ENV_LIMITS.valueChars + 1) }, `HOME: exceeds ${ENV_LIMITS.valueChars} characters`],
      [{ HOME: 1 }, "HOME: expected a string"],
      [{ HOME: null }, "HOME: expected a string"],
      [["PATH=/bin"], "expected an object of strings"],
      [null, "expected an object of strings"],
      ["PATH=/bin", "expected an object of strings"],
    ];
    for (const [env, message] of cases) {
      expect(parseFrame(RuntimeFrame, started(env), LIMITS.runtimeFrameBytes)).toEqual({
        ok: false,
        code: "invalid_frame",
        message: `env: ${message}`,
      });
    }
  });

  it("never throws on arbitrary input (fuzz)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (raw) => {
          const r = parseFrame(RuntimeFrame, raw, LIMITS.runtimeFrameBytes);
          expect(typeof r.ok).toBe("boolean");
          const s = parseFrame(ServerFrame, raw, 1 << 20);
          expect(typeof s.ok).toBe("boolean");
        },
      ),
      { numRuns: 2000 },
    );
    // Mutations of a valid frame: either still valid per schema or refused, never an exception.
    const valid = finishedFrame(ref, { stdoutBytes: 1, stdoutSha256: "a".repeat(64), stderrSha256: "b".repeat(64) });
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(valid)), fc.jsonValue(), (key, value) => {
        const r = parseFrame(RuntimeFrame, JSON.stringify({ ...valid, [key]: value }), LIMITS.runtimeFrameBytes);
        if (r.ok) expect(RuntimeFrame.safeParse(r.frame).success).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the frames every command sends, checked without zod", () => {
  const checks = [
    [checkedStarted, StartedFrame],
    [checkedFinished, FinishedFrame],
    [checkedOutputHeader, OutputHeader],
  ] as const;
  const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
  const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const text = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.constant("é".repeat(max)));
  const env = fc.dictionary(fc.string({ maxLength: 40 }), fc.string({ maxLength: 200 }), { maxKeys: 80 });
  /** Frames the schemas accept, fields drawn from all they allow (boundaries included). */
  const valid = {
    started: fc.record({
      t: fc.constant("started"),
      pid: count,
      user: text(256),
      cwd: text(4096),
      executable: text(4096),
      shell: fc.constantFrom(...SHELLS),
      shellVersion: text(512),
      env,
    }),
    finished: fc.record({
      t: fc.constant("finished"),
      state: fc.constantFrom(...RUNTIME_FINAL_STATES),
      exitCode: fc.option(fc.integer({ min: -2147483648, max: 4294967295 })),
      signal: fc.option(text(32)),
      reason: fc.option(text(1024)),
      stdoutBytes: count,
      stderrBytes: count,
      stdoutSha256: fc.option(hex),
      stderrSha256: fc.option(hex),
      durationMs: count,
    }),
    output: fc.record({
      t: fc.constant("output"),
      stream: fc.constantFrom("stdout", "stderr"),
      offset: count,
    }),
  };
  const ids = fc.record({
    sessionId: fc.stringMatching(/^ses_[a-z2-7]{20}$/),
    commandId: fc.stringMatching(/^cmd_[a-z2-7]{20}$/),
  });
  const anyValid = fc
    .tuple(fc.oneof(valid.started, valid.finished, valid.output), ids)
    .map(([{ t, ...fields }, id]) => ({ t, ...id, ...fields }) as Record<string, unknown>);
  /** Values at and around every bound the schemas set, and of every type. */
  const EDGES: unknown[] = [
    ...[0, -0, -1, 1.5, 2 ** 53 - 1, 2 ** 53, -2147483648, -2147483649, 4294967295, 4294967296, Number.NaN],
    ...[32, 64, 256, 512, 1024, 4096].flatMap((n) => ["x".repeat(n), "x".repeat(n + 1)]),
    ...["", "A".repeat(64), "ses_aaaaaaaaaaaaaaaaaaa1", "cmd_aaaaaaaaaaaaaaaaaaaaa", " ses_aaaaaaaaaaaaaaaaaaaa"],
    ...["stdout", "stdin", "finished", "running", "bash", "zsh", "output", "started", "1", true],
    ...[null, undefined, [], {}, { PATH: 1 }, { ["N".repeat(257)]: "v" }, { A: "v".repeat(8193) }],
  ];
  const KEYS = [
    ...["t", "sessionId", "commandId", "pid", "user", "cwd", "executable", "shell", "shellVersion", "env", "state"],
    ...["exitCode", "signal", "reason", "stdoutBytes", "stderrBytes", "stdoutSha256", "stderrSha256", "durationMs"],
    ...["stream", "offset"],
  ];
  /** A valid frame with fields changed, removed or added. */
  const mutated = fc
    .tuple(
      anyValid,
      fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })),
          fc.oneof(fc.jsonValue(), fc.constantFrom(...EDGES)),
          fc.boolean(),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([frame, changes]) => {
      const out: Record<string, unknown> = { ...frame };
      for (const [key, value, remove] of changes) {
        if (remove) delete out[key];
        else out[key] = value;
      }
      return out;
    });
  /** The fast check gives null, or exactly what the schema gives. */
  const agrees = (value: unknown) => {
    for (const [checked, schema] of checks) {
      const fast = checked(value as Record<string, unknown>);
      if (fast === null) continue;
      const slow = (schema as z.ZodType).safeParse(value);
      expect(slow.success).toBe(true);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
      expect(fast).toEqual(slow.data);
    }
  };

  it("accept nothing the schema refuses: every field at every bound, missing, and of every type", () => {
    const samples = fc.sample(anyValid, { numRuns: 30, seed: 15 });
    for (const frame of [startedFrame(ref), finishedFrame(ref), { t: "output", ...ref, stream: "stdout", offset: 0 }])
      samples.push(frame);
    for (const frame of samples) {
      for (const key of KEYS) {
        const { [key]: _, ...without } = frame as Record<string, unknown>;
        agrees(without);
        for (const value of EDGES) agrees({ ...frame, [key]: value });
      }
    }
  });

  it("accept only what the schema accepts, and give what it gives, key order included (fuzz)", () => {
    fc.assert(fc.property(fc.oneof(anyValid, mutated, mutated), agrees), { numRuns: 3000 });
  });

  it("accept every frame the schema accepts, so a runtime's frames never take zod's path (fuzz)", () => {
    fc.assert(
      fc.property(anyValid, (value) => {
        const checked =
          value.t === "started" ? checkedStarted : value.t === "finished" ? checkedFinished : checkedOutputHeader;
        expect(checked(value)).not.toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it("parseRuntimeFrame and parseOutputFrame answer exactly as the schemas alone did (fuzz)", () => {
    /** The schema parseRuntimeFrame used alone before the checks: the one for the frame's type. */
    const schemaFor = (value: unknown) => {
      const t = typeof value === "object" && value !== null ? (value as { t?: unknown }).t : undefined;
      return (t === "health" ? HealthFrame : t === "update_refused" ? UpdateRefusedFrame : RuntimeFrame) as z.ZodType;
    };
    fc.assert(
      fc.property(fc.oneof(anyValid, mutated), (value) => {
        const raw = JSON.stringify(value);
        const parsed = parseRuntimeFrame(raw, LIMITS.runtimeFrameBytes);
        const expected = parseFrame(schemaFor(value), raw, LIMITS.runtimeFrameBytes);
        expect(parsed).toEqual(expected);
        if (parsed.ok && expected.ok) expect(JSON.stringify(parsed.frame)).toBe(JSON.stringify(expected.frame));
        const json = utf8(raw);
        if (json.length > OUTPUT_HEADER_MAX) return;
        const output = parseOutputFrame(new Uint8Array([json.length >> 8, json.length & 0xff, ...json, 1]), 1 << 20);
        const header = parseFrame(OutputHeader, raw, LIMITS.runtimeFrameBytes);
        if (output.ok !== header.ok || !output.ok || !header.ok) {
          expect(output.ok ? output : { ok: false, message: output.message }).toEqual(
            header.ok ? header : { ok: false, message: header.message },
          );
        } else expect(JSON.stringify(output.header)).toBe(JSON.stringify(header.frame));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("request bodies", () => {
  it("normalises and bounds setup and commands", () => {
    expect(
      SetupBody.parse({ organization: " Acme ", name: "A", email: "Owner@Acme.TEST ", password: "0123456789" }),
    ).toEqual({
      organization: "Acme",
      name: "A",
      email: "owner@acme.test",
      password: "0123456789",
    });
    expect(SetupBody.safeParse({ organization: "A", name: "A", email: "a@b.c", password: "short" }).success).toBe(
      false,
    );
    expect(CommandBody.safeParse({ command: "   " }).success).toBe(false);
    expect(CommandBody.safeParse({ command: "x".repeat(LIMITS.commandChars + 1) }).success).toBe(false);
    expect(CommandBody.safeParse({ command: "ls", shell: "zsh" }).success).toBe(false);
    expect(CommandBody.parse({ command: "ls", shell: "sh", timeoutSeconds: 5 })).toEqual({
      command: "ls",
      shell: "sh",
      timeoutSeconds: 5,
    });
  });
});

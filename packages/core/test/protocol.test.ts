import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CommandBody,
  ENV_LIMITS,
  encodeOutputFrame,
  LIMITS,
  OUTPUT_HEADER_MAX,
  type OutputHeader,
  parseFrame,
  parseOutputFrame,
  RuntimeFrame,
  ServerFrame,
  SetupBody,
  utf8,
} from "../src/index.ts";
import { finishedFrame } from "./frames.ts";

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

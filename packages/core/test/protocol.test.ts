import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CommandBody, LIMITS, parseFrame, RuntimeFrame, ServerFrame, SetupBody } from "../src/index.ts";

const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };

describe("runtime frames", () => {
  it("accepts well-formed frames", () => {
    const output = { t: "output", ...ref, stream: "stdout", offset: 0, data: "YQBiCg==" };
    expect(parseFrame(RuntimeFrame, JSON.stringify(output), LIMITS.runtimeFrameBytes)).toEqual({
      ok: true,
      frame: output,
    });
    const ack = { t: "ack", ...ref, started: true, stdout: 4, stderr: 0, finished: false };
    expect(parseFrame(ServerFrame, JSON.stringify(ack), 1 << 20)).toEqual({ ok: true, frame: ack });
  });

  it("refuses bad frames with a readable reason", () => {
    const cases: [string | ArrayBuffer, string, string][] = [
      ["{", "bad_frame", "frame is not valid JSON"],
      [new ArrayBuffer(4), "bad_frame", "frames must be JSON text"],
      ["x".repeat(LIMITS.runtimeFrameBytes + 1), "frame_too_large", `frame exceeds ${LIMITS.runtimeFrameBytes} bytes`],
      [
        JSON.stringify({ t: "output", ...ref, stream: "stdin", offset: 0, data: "YQ==" }),
        "invalid_frame",
        'stream: Invalid option: expected one of "stdout"|"stderr"',
      ],
      [
        JSON.stringify({ t: "output", ...ref, stream: "stdout", offset: -1, data: "YQ==" }),
        "invalid_frame",
        "offset: Too small: expected number to be >=0",
      ],
      [
        JSON.stringify({ t: "nope" }),
        "invalid_frame",
        "t: Invalid discriminator value. Expected 'hello' | 'started' | 'output' | 'finished'",
      ],
    ];
    for (const [raw, code, message] of cases) {
      const result = parseFrame(RuntimeFrame, raw, LIMITS.runtimeFrameBytes);
      expect(result).toEqual({ ok: false, code, message });
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
    const valid = {
      t: "finished",
      ...ref,
      state: "finished",
      exitCode: 0,
      signal: null,
      reason: null,
      stdoutBytes: 1,
      stderrBytes: 0,
      stdoutSha256: "a".repeat(64),
      stderrSha256: "b".repeat(64),
      durationMs: 1,
    };
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

import {
  type AckFrame,
  encodeOutputFrame,
  type FinishedFrame,
  LIMITS,
  type OutputFrame,
  type StartedFrame,
} from "@caisey/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { finishedFrame, startedFrame } from "../../core/test/frames.ts";
import {
  frameJson,
  frameMessage,
  holdOutput,
  MemoryOutboxStore,
  Outbox,
  type OutboxEntry,
  type OutboxFrame,
  outputBuffer,
  outputFrame,
  releaseOutput,
} from "../src/outbox.ts";

const SES = "ses_aaaaaaaaaaaaaaaaaaaa";
const CMD = "cmd_aaaaaaaaaaaaaaaaaaaa";
const CMD2 = "cmd_bbbbbbbbbbbbbbbbbbbb";
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function started(commandId = CMD): StartedFrame {
  return startedFrame({ sessionId: SES, commandId }, { pid: 10, shellVersion: "" });
}

function output(stream: "stdout" | "stderr", offset: number, bytes: number, commandId = CMD): OutputFrame {
  return {
    t: "output",
    sessionId: SES,
    commandId,
    stream,
    offset,
    data: Buffer.alloc(bytes, 0x61).toString("base64"),
  };
}

function finished(commandId = CMD): FinishedFrame {
  return finishedFrame({ sessionId: SES, commandId }, { stdoutSha256: EMPTY, stderrSha256: EMPTY });
}

function ack(a: Partial<Omit<AckFrame, "t" | "sessionId">> = {}): AckFrame {
  return { t: "ack", sessionId: SES, commandId: CMD, started: false, stdout: 0, stderr: 0, finished: false, ...a };
}

const describeFrame = (f: OutboxFrame) =>
  f.t === "output" ? `${f.commandId.slice(4, 5)}:${f.stream}@${f.offset}` : `${f.commandId.slice(4, 5)}:${f.t}`;

describe("Outbox", () => {
  it("sends frames while connected and keeps them until acknowledged", () => {
    const sent: OutboxFrame[] = [];
    const outbox = new Outbox({ windowBytes: 1000 });
    outbox.push(started()); // disconnected: kept, not sent
    expect(sent).toEqual([]);
    outbox.connected((f) => sent.push(f));
    outbox.push(output("stdout", 0, 10));
    expect(sent.map(describeFrame)).toEqual(["a:started", "a:stdout@0"]);
    expect(outbox.pending().map(describeFrame)).toEqual(["a:started", "a:stdout@0"]);
    expect(outbox.online).toBe(true);
  });

  it("drops exactly the frames an ack covers", () => {
    const outbox = new Outbox({ windowBytes: 1000 });
    outbox.push(started());
    outbox.push(output("stdout", 0, 10));
    outbox.push(output("stderr", 0, 5));
    outbox.push(output("stdout", 10, 10));
    outbox.push(output("stderr", 5, 5));
    outbox.push(finished());
    expect(outbox.unackedBytes(CMD)).toBe(30);

    outbox.ack(ack({ started: true, stdout: 10, stderr: 0 }));
    expect(outbox.pending().map(describeFrame)).toEqual(["a:stderr@0", "a:stdout@10", "a:stderr@5", "a:finished"]);
    expect(outbox.unackedBytes(CMD)).toBe(20);

    // A byte count inside a frame does not cover it.
    outbox.ack(ack({ started: true, stdout: 15, stderr: 7 }));
    expect(outbox.pending().map(describeFrame)).toEqual(["a:stdout@10", "a:stderr@5", "a:finished"]);

    outbox.ack(ack({ started: true, stdout: 20, stderr: 10, finished: false }));
    expect(outbox.pending().map(describeFrame)).toEqual(["a:finished"]);
    expect(outbox.unackedBytes(CMD)).toBe(0);
  });

  it("reports a command settled once its finish and everything before it are acknowledged", () => {
    const settled: string[] = [];
    const outbox = new Outbox({ windowBytes: 1000, onSettled: (id) => settled.push(id) });
    outbox.push(started());
    outbox.push(output("stdout", 0, 4));
    outbox.ack(ack({ started: true, stdout: 4 })); // no finish yet
    expect(settled).toEqual([]);
    outbox.push(finished());
    outbox.ack(ack({ started: true, stdout: 3, finished: true }));
    expect(settled).toEqual([CMD]);
    expect(outbox.pending()).toEqual([]);
    expect(outbox.hasPending(CMD)).toBe(false);
    outbox.ack(ack({ started: true, stdout: 4, finished: true })); // late duplicate ack: nothing happens
    expect(settled).toEqual([CMD]);
  });

  it("resends everything unacknowledged in original order on reconnect", () => {
    const outbox = new Outbox({ windowBytes: 1000 });
    const first: OutboxFrame[] = [];
    outbox.connected((f) => first.push(f));
    outbox.push(started());
    outbox.push(started(CMD2));
    outbox.push(output("stdout", 0, 3));
    outbox.push(output("stdout", 0, 3, CMD2));
    outbox.push(output("stderr", 0, 3));
    outbox.disconnected();
    expect(outbox.online).toBe(false);
    outbox.push(output("stdout", 3, 3)); // while disconnected: kept
    outbox.push(finished(CMD2));
    expect(first.length).toBe(5);

    outbox.ack(ack({ started: true, stdout: 0 })); // acks can arrive before the socket goes away
    const second: OutboxFrame[] = [];
    outbox.connected((f) => second.push(f));
    expect(second.map(describeFrame)).toEqual([
      "b:started",
      "a:stdout@0",
      "b:stdout@0",
      "a:stderr@0",
      "a:stdout@3",
      "b:finished",
    ]);
  });

  it("resends one command's frames on a redispatch, only while connected", () => {
    const outbox = new Outbox({ windowBytes: 1000 });
    outbox.push(started());
    outbox.push(started(CMD2));
    outbox.push(output("stdout", 0, 3));
    expect(outbox.resend(CMD)).toBe(0);
    const sent: OutboxFrame[] = [];
    outbox.connected((f) => sent.push(f));
    sent.length = 0;
    expect(outbox.resend(CMD)).toBe(2);
    expect(sent.map(describeFrame)).toEqual(["a:started", "a:stdout@0"]);
  });

  it("pauses a command above the window and resumes it under half", () => {
    const flow: string[] = [];
    const outbox = new Outbox({
      windowBytes: 100,
      onFlow: (id, paused) => flow.push(`${id.slice(4, 5)}:${paused ? "pause" : "resume"}`),
    });
    outbox.push(output("stdout", 0, 60));
    outbox.push(output("stdout", 0, 60, CMD2)); // other commands have their own window
    outbox.push(output("stderr", 0, 40));
    expect(outbox.unackedBytes(CMD)).toBe(100);
    expect(flow).toEqual([]); // exactly at the window: not over it
    outbox.push(output("stdout", 60, 1));
    expect(flow).toEqual(["a:pause"]);
    expect(outbox.isPaused(CMD)).toBe(true);
    expect(outbox.isPaused(CMD2)).toBe(false);
    outbox.push(output("stdout", 61, 10)); // still over: no second pause
    expect(flow).toEqual(["a:pause"]);

    outbox.ack(ack({ stdout: 60 })); // 111 - 60 = 51: not under half
    expect(outbox.unackedBytes(CMD)).toBe(51);
    expect(flow).toEqual(["a:pause"]);
    outbox.ack(ack({ stdout: 61 })); // 50: not under half
    expect(flow).toEqual(["a:pause"]);
    outbox.ack(ack({ stdout: 71 })); // 40: under half
    expect(outbox.unackedBytes(CMD)).toBe(40);
    expect(flow).toEqual(["a:pause", "a:resume"]);
    expect(outbox.isPaused(CMD)).toBe(false);
  });

  it("logs an ack that claims less than what was already acknowledged and dropped", () => {
    const lines: string[] = [];
    const outbox = new Outbox({ windowBytes: 1000, log: (l) => lines.push(l) });
    outbox.push(output("stdout", 0, 10));
    outbox.push(output("stdout", 10, 10));
    outbox.ack(ack({ stdout: 10 }));
    expect(lines).toEqual([]);
    outbox.ack(ack({ stdout: 5 }));
    expect(lines).toEqual([
      `ack for ${CMD} says the server holds 5 stdout bytes, but 10 were already acknowledged and dropped`,
    ]);
    expect(outbox.pending().map(describeFrame)).toEqual(["a:stdout@10"]);
  });

  it("ignores acks for commands it does not know", () => {
    const outbox = new Outbox({ windowBytes: 1000 });
    outbox.push(output("stdout", 0, 10));
    outbox.ack({ ...ack({ stdout: 10 }), commandId: CMD2 });
    expect(outbox.pending().length).toBe(1);
  });
});

describe("MemoryOutboxStore", () => {
  it("keeps entries in order, overall and per command", () => {
    const store = new MemoryOutboxStore();
    store.append({ seq: 1, frame: started(), bytes: 0 });
    store.append({ seq: 2, frame: started(CMD2), bytes: 0 });
    store.append({ seq: 3, frame: output("stdout", 0, 2), bytes: 2 });
    store.remove(new Set([1, 99]));
    expect([...store.entries()].map((e) => e.seq)).toEqual([2, 3]);
    expect([...store.entriesFor(CMD)].map((e) => e.seq)).toEqual([3]);
    store.remove(new Set([3]));
    expect([...store.entriesFor(CMD)]).toEqual([]);
  });
});

/** Any stream, offset and bytes of an output frame. */
const outputCases = [
  fc.constantFrom("stdout", "stderr") as fc.Arbitrary<"stdout" | "stderr">,
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
] as const;

describe("frameJson", () => {
  it("gives exactly JSON.stringify's text for every frame, made once per frame", () => {
    fc.assert(
      fc.property(...outputCases, (stream, offset, bytes) => {
        const frame: OutputFrame = {
          t: "output",
          sessionId: SES,
          commandId: CMD,
          stream,
          offset,
          data: Buffer.from(bytes).toString("base64"),
        };
        expect(frameJson(frame)).toBe(JSON.stringify(frame));
      }),
    );
    const frame = started();
    expect(frameJson(frame)).toBe(JSON.stringify(frame));
    frame.pid = 11; // frames are never changed after they are made: the first text stays
    expect(frameJson(frame)).toBe(JSON.stringify({ ...frame, pid: 10 }));
  });
});

describe("frameMessage", () => {
  it("sends output made in an outputBuffer as exactly the binary frame encodeOutputFrame makes, bytes untouched", () => {
    fc.assert(
      fc.property(...outputCases, (stream, offset, content) => {
        const bytes = outputBuffer(content.length);
        bytes.set(content);
        const header = { t: "output", sessionId: SES, commandId: CMD, stream, offset } as const;
        const frame = outputFrame(header, bytes);
        const expected = encodeOutputFrame(header, content);
        expect(Buffer.from(frameMessage(frame) as Uint8Array)).toEqual(Buffer.from(expected));
        // Sent again (a reconnect, a redispatch): the same message, and the frame's bytes are as they were.
        expect(Buffer.from(frameMessage(frame) as Uint8Array)).toEqual(Buffer.from(expected));
        expect(Buffer.from(bytes)).toEqual(Buffer.from(content));
        expect(frame.data).toBe(Buffer.from(content).toString("base64"));
      }),
    );
  });

  it("copies output from any other buffer into a frame of its own (nothing is written before its bytes)", () => {
    const whole = Buffer.from("headroom that is not the frame's: one\n");
    const bytes = whole.subarray(whole.length - 4);
    const header = { t: "output", sessionId: SES, commandId: CMD, stream: "stdout", offset: 7 } as const;
    const message = frameMessage(outputFrame(header, bytes)) as Uint8Array;
    expect(Buffer.from(message)).toEqual(Buffer.from(encodeOutputFrame(header, Buffer.from("one\n"))));
    expect(whole.toString()).toBe("headroom that is not the frame's: one\n");
  });
});

describe("whole-frame output buffers", () => {
  const WHOLE = LIMITS.outputChunkBytes;
  const frameOf = (bytes: Buffer, offset = 0) =>
    outputFrame({ t: "output", sessionId: SES, commandId: CMD, stream: "stdout", offset }, bytes);

  it("are used again only once the frame is acknowledged and no send holds it any more", () => {
    const outbox = new Outbox({ windowBytes: 8 * WHOLE });
    const sending: OutboxFrame[] = [];
    outbox.connected((f) => {
      holdOutput(f); // as the connection does from queueing to the end of the socket write
      sending.push(f);
    });
    const bytes = outputBuffer(WHOLE).fill(0x61);
    const frame = frameOf(bytes);
    outbox.push(frame);
    expect(sending).toEqual([frame]);
    expect(outputBuffer(WHOLE)).not.toBe(bytes); // held by the outbox and the send

    outbox.ack(ack({ started: true, stdout: WHOLE }));
    expect(outputBuffer(WHOLE)).not.toBe(bytes); // still being written to the socket
    const sent = Buffer.from(frameMessage(frame) as Uint8Array);
    expect(sent.subarray(-WHOLE).equals(Buffer.alloc(WHOLE, 0x61))).toBe(true);

    releaseOutput(frame); // the socket write is done
    expect(outputBuffer(WHOLE)).toBe(bytes);
    // Whatever still has the old frame cannot read the new frame's bytes through it.
    expect(() => frame.data).toThrow(/read after its buffer was reused/);
  });

  it("are never used again while the journal has not written the frame, even if an ack covers it", () => {
    class UnwrittenStore extends MemoryOutboxStore {
      override append(entry: OutboxEntry): void {
        super.append(entry); // never durable
      }
    }
    const outbox = new Outbox({ store: new UnwrittenStore(), windowBytes: 8 * WHOLE });
    const bytes = outputBuffer(WHOLE).fill(0x62);
    const frame = frameOf(bytes);
    outbox.push(frame);
    outbox.ack(ack({ started: true, stdout: WHOLE }));
    expect(outputBuffer(WHOLE)).not.toBe(bytes);
    expect(frame.data).toBe(Buffer.alloc(WHOLE, 0x62).toString("base64"));
  });

  it("are never taken for a frame of fewer bytes", () => {
    const outbox = new Outbox({ windowBytes: 8 * WHOLE });
    const bytes = outputBuffer(WHOLE);
    outbox.push(frameOf(bytes));
    outbox.ack(ack({ started: true, stdout: WHOLE }));
    expect(outputBuffer(WHOLE - 1).buffer).not.toBe(bytes.buffer);
    expect(outputBuffer(WHOLE)).toBe(bytes);
  });
});

import { describe, expect, it } from "vitest";
import type { OutboxFrame } from "../src/outbox.ts";
import { FairSender } from "../src/sender.ts";

const output = (sessionId: string, commandId: string, offset: number, bytes: number): OutboxFrame => ({
  t: "output",
  sessionId,
  commandId,
  stream: "stdout",
  offset,
  data: Buffer.alloc(bytes).toString("base64"),
});
const ack = (sessionId: string, commandId: string, stdout: number, finished: boolean) => ({
  t: "ack" as const,
  sessionId,
  commandId,
  started: true,
  stdout,
  stderr: 0,
  finished,
});

describe("FairSender", () => {
  it("takes turns between sessions as acks free the window, each session's frames in order", () => {
    const written: string[] = [];
    const sender = new FairSender((f) => written.push(`${f.commandId}@${f.t === "output" ? f.offset : f.t}`), 200_000);
    for (let i = 0; i < 4; i++) sender.send(output("ses_a", "cmd_a", i * 100_000, 100_000));
    for (let i = 0; i < 2; i++) sender.send(output("ses_b", "cmd_b", i * 100_000, 100_000));
    expect(written).toEqual(["cmd_a@0", "cmd_a@100000"]);
    sender.acked(ack("ses_a", "cmd_a", 100_000, false));
    sender.acked(ack("ses_a", "cmd_a", 200_000, false));
    sender.acked(ack("ses_a", "cmd_a", 300_000, false));
    // Session b's frames went in turns with a's rest, not after all of it.
    expect(written).toEqual(["cmd_a@0", "cmd_a@100000", "cmd_a@200000", "cmd_b@0", "cmd_a@300000"]);
    sender.acked(ack("ses_b", "cmd_b", 100_000, false));
    expect(written.slice(5)).toEqual(["cmd_b@100000"]);
  });

  it("stops counting a command once the server holds its end, though it skipped output sent after the end", () => {
    const written: string[] = [];
    const sender = new FairSender((f) => written.push(`${f.commandId}@${f.t === "output" ? f.offset : f.t}`), 200_000);
    for (let i = 0; i < 2; i++) sender.send(output("ses_a", "cmd_a", i * 100_000, 100_000));
    sender.send(output("ses_b", "cmd_b", 0, 100_000));
    expect(written).toEqual(["cmd_a@0", "cmd_a@100000"]);
    // Cancelled on the server after 50 000 bytes: the rest is never committed, and never acknowledged as committed.
    sender.acked(ack("ses_a", "cmd_a", 50_000, true));
    expect(written.slice(2)).toEqual(["cmd_b@0"]);
  });
});

// Test helper: what a fake server receives from the runtime, as frames — JSON text, or binary output frames turned
// back into OutputFrame (data as base64) so tests compare them with what the runtime journalled.

import { LIMITS, type OutputFrame, parseFrame, parseOutputFrame, RuntimeFrame, toBase64 } from "@caisey/core";
import type { RawData } from "ws";

export type ReceivedFrame = RuntimeFrame | OutputFrame;

export function receivedFrame(data: RawData, isBinary: boolean): ReceivedFrame {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
  if (isBinary) {
    const output = parseOutputFrame(buffer, LIMITS.runtimeFrameBytes);
    if (!output.ok) throw new Error(output.message);
    return { ...output.header, data: toBase64(output.bytes) };
  }
  const parsed = parseFrame(RuntimeFrame, buffer.toString("utf8"), LIMITS.runtimeFrameBytes);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.frame;
}

// Verification: a baseline command re-run as its check, and the before/after comparison of the two.

import { type HunkPage, hunkPage, indexLines, linesToRead, planStream, type StreamDiff, streamDiff } from "./diff.ts";
import { LineCollector } from "./lines.ts";

export * from "./diff.ts";
export * from "./lines.ts";
export * from "./schedule.ts";
export * from "./structured.ts";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The diff of two outputs held in memory, one page of hunks (the route reads outputs page by page instead). */
export function diffBytes(before: Uint8Array, after: Uint8Array, page: HunkPage): StreamDiff {
  const plan = planStream(indexLines(before), indexLines(after), sameBytes(before, after));
  const wanted = linesToRead(plan, page);
  const read = (bytes: Uint8Array, lines: Set<number>) => {
    const collector = new LineCollector(lines);
    collector.push(bytes);
    return collector.end();
  };
  return streamDiff(plan, hunkPage(plan, page, read(before, wanted.before), read(after, wanted.after)));
}

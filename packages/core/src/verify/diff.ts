// The before/after diff of two outputs, line by line: a verification re-runs a diagnostic, and the technician and the
// dispatcher read what changed. Outputs of any size are compared by line fingerprints (lines.ts); only the page of
// hunks asked for is read back as text. The edit script is jsdiff's Myers diff, after the common head and tail are
// set aside, with a bound on its work: past that bound the middle is shown as replaced whole (`approximate`).

import { diffArrays } from "diff";
import { type LineIndex, LineIndexer } from "./lines.ts";

export { HUNKS_PER_PAGE, HUNKS_PER_PAGE_MAX } from "./page.ts";

export type LineOp = "same" | "added" | "removed";

/** A run of lines with one fate, in order: `same` lines advance both outputs, `removed` the before, `added` the after. */
export interface Run {
  op: LineOp;
  count: number;
}

/** Lines of context shown around each change. */
export const CONTEXT_LINES = 3;
/** A hunk longer than this is cut into several, so a page of hunks stays small whatever the outputs. */
export const HUNK_MAX_LINES = 200;
/** Myers' work grows with (lines × edits): the edits it may look for shrink as the outputs grow. */
const EDIT_BUDGET = 20_000_000;

/** The edit script from `before` to `after`; `approximate` when the bound on work made it show the middle replaced. */
export function lineRuns(before: readonly number[], after: readonly number[]): { runs: Run[]; approximate: boolean } {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (
    tail < before.length - head &&
    tail < after.length - head &&
    before[before.length - 1 - tail] === after[after.length - 1 - tail]
  )
    tail++;
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);
  const runs: Run[] = [];
  const add = (op: LineOp, count: number) => {
    if (count === 0) return;
    const last = runs[runs.length - 1];
    if (last?.op === op) last.count += count;
    else runs.push({ op, count });
  };
  add("same", head);
  let approximate = false;
  if (a.length === 0 || b.length === 0) {
    add("removed", a.length);
    add("added", b.length);
  } else {
    const maxEditLength = Math.max(64, Math.floor(EDIT_BUDGET / (a.length + b.length)));
    const changes = diffArrays(a, b, { maxEditLength });
    if (changes === undefined) {
      approximate = true;
      add("removed", a.length);
      add("added", b.length);
    } else {
      for (const c of changes) add(c.added ? "added" : c.removed ? "removed" : "same", c.count);
    }
  }
  add("same", tail);
  return { runs, approximate };
}

/** Where a hunk sits: 0-based first line and line count in each output, and its runs (context included). */
export interface HunkRange {
  before: { start: number; count: number };
  after: { start: number; count: number };
  runs: Run[];
}

/** The hunks of an edit script: each change with `context` lines around it, near changes joined, long ones cut. */
export function hunkRanges(runs: readonly Run[], context = CONTEXT_LINES, maxLines = HUNK_MAX_LINES): HunkRange[] {
  const hunks: HunkRange[] = [];
  let open: HunkRange | null = null;
  let a = 0;
  let b = 0;
  const extend = (h: HunkRange, op: LineOp, count: number) => {
    if (count === 0) return;
    const last = h.runs[h.runs.length - 1];
    if (last?.op === op) last.count += count;
    else h.runs.push({ op, count });
    if (op !== "added") h.before.count += count;
    if (op !== "removed") h.after.count += count;
  };
  runs.forEach((run, i) => {
    if (run.op === "same") {
      const isLast = i === runs.length - 1;
      if (open && !isLast && run.count <= 2 * context) extend(open, "same", run.count);
      else if (open) {
        extend(open, "same", Math.min(context, run.count));
        hunks.push(open);
        open = null;
      }
      a += run.count;
      b += run.count;
      return;
    }
    if (!open) {
      const lead = i > 0 ? Math.min(context, (runs[i - 1] as Run).count) : 0;
      open = { before: { start: a - lead, count: 0 }, after: { start: b - lead, count: 0 }, runs: [] };
      extend(open, "same", lead);
    }
    extend(open, run.op, run.count);
    if (run.op === "removed") a += run.count;
    else b += run.count;
  });
  if (open) hunks.push(open);
  return hunks.flatMap((h) => cut(h, maxLines));
}

/** A hunk of more than `maxLines` lines, as consecutive hunks of at most that many. */
function cut(h: HunkRange, maxLines: number): HunkRange[] {
  const total = h.runs.reduce((n, r) => n + r.count, 0);
  if (total <= maxLines) return [h];
  const pieces: HunkRange[] = [];
  let a = h.before.start;
  let b = h.after.start;
  let piece: HunkRange = { before: { start: a, count: 0 }, after: { start: b, count: 0 }, runs: [] };
  let size = 0;
  for (const run of h.runs) {
    let left = run.count;
    while (left > 0) {
      const take = Math.min(left, maxLines - size);
      const last = piece.runs[piece.runs.length - 1];
      if (last?.op === run.op) last.count += take;
      else piece.runs.push({ op: run.op, count: take });
      if (run.op !== "added") {
        piece.before.count += take;
        a += take;
      }
      if (run.op !== "removed") {
        piece.after.count += take;
        b += take;
      }
      size += take;
      left -= take;
      if (size === maxLines) {
        pieces.push(piece);
        piece = { before: { start: a, count: 0 }, after: { start: b, count: 0 }, runs: [] };
        size = 0;
      }
    }
  }
  if (size > 0) pieces.push(piece);
  return pieces;
}

/** One line of a hunk as shown: 1-based line numbers in the output(s) it is in. */
export interface HunkLine {
  op: LineOp;
  text: string;
  before?: number;
  after?: number;
}

export interface Hunk {
  /** 1-based first line and line count in each output, as a unified diff's `@@ -a,n +b,m @@` says. */
  before: { start: number; count: number };
  after: { start: number; count: number };
  lines: HunkLine[];
}

/** Which hunks a page shows: `hunk` is the first (0-based), `hunks` how many. */
export interface HunkPage {
  hunk: number;
  hunks: number;
}

/** The diff of one stream, before the page's text is read. */
export interface StreamPlan {
  changed: boolean;
  binary: boolean;
  approximate: boolean;
  /** Only the ends of lines changed (\n against \r\n): every line reads the same. */
  lineEndingsChanged: boolean;
  summary: { added: number; removed: number };
  ranges: HunkRange[];
  before: { bytes: number; lines: number };
  after: { bytes: number; lines: number };
}

/**
 * Compare two indexed outputs. `sameBytes` is what their SHA-256 digests say (the record has them): the outputs are
 * unchanged exactly when their bytes are, whatever the fingerprints. Binary output is compared by its bytes alone.
 */
export function planStream(before: LineIndex, after: LineIndex, sameBytes: boolean): StreamPlan {
  const binary = before.binary || after.binary;
  const sizes = {
    before: { bytes: before.bytes, lines: before.fingerprints.length },
    after: { bytes: after.bytes, lines: after.fingerprints.length },
  };
  if (binary || sameBytes) {
    return {
      changed: !sameBytes,
      binary,
      approximate: false,
      lineEndingsChanged: false,
      summary: { added: 0, removed: 0 },
      ranges: [],
      ...sizes,
    };
  }
  const { runs, approximate } = lineRuns(before.fingerprints, after.fingerprints);
  const summary = { added: 0, removed: 0 };
  for (const r of runs) if (r.op !== "same") summary[r.op] += r.count;
  const ranges = hunkRanges(runs);
  return {
    changed: true,
    binary,
    approximate,
    lineEndingsChanged: ranges.length === 0 && before.crlf !== after.crlf,
    summary,
    ranges,
    ...sizes,
  };
}

/** The 0-based line numbers of each output a page of hunks shows: all that needs reading back. */
export function linesToRead(plan: StreamPlan, page: HunkPage): { before: Set<number>; after: Set<number> } {
  const before = new Set<number>();
  const after = new Set<number>();
  for (const h of plan.ranges.slice(page.hunk, page.hunk + page.hunks)) {
    for (let i = 0; i < h.before.count; i++) before.add(h.before.start + i);
    for (let i = 0; i < h.after.count; i++) after.add(h.after.start + i);
  }
  return { before, after };
}

/** A page of hunks with their text, from the lines read back (see linesToRead). */
export function hunkPage(
  plan: StreamPlan,
  page: HunkPage,
  beforeLines: ReadonlyMap<number, string>,
  afterLines: ReadonlyMap<number, string>,
): Hunk[] {
  return plan.ranges.slice(page.hunk, page.hunk + page.hunks).map((h) => {
    const lines: HunkLine[] = [];
    let a = h.before.start;
    let b = h.after.start;
    for (const run of h.runs) {
      for (let i = 0; i < run.count; i++) {
        if (run.op === "same") lines.push({ op: "same", text: beforeLines.get(a) ?? "", before: ++a, after: ++b });
        else if (run.op === "removed") lines.push({ op: "removed", text: beforeLines.get(a) ?? "", before: ++a });
        else lines.push({ op: "added", text: afterLines.get(b) ?? "", after: ++b });
      }
    }
    return {
      before: { start: h.before.start + 1, count: h.before.count },
      after: { start: h.after.start + 1, count: h.after.count },
      lines,
    };
  });
}

/** What the diff of one stream answers: the plan's figures and a page of hunks. */
export interface StreamDiff {
  changed: boolean;
  binary: boolean;
  approximate: boolean;
  lineEndingsChanged: boolean;
  summary: { added: number; removed: number };
  /** How many hunks there are in all; `hunks` holds the page asked for. */
  hunkCount: number;
  hunks: Hunk[];
  before: { bytes: number; lines: number };
  after: { bytes: number; lines: number };
}

export function streamDiff(plan: StreamPlan, hunks: Hunk[]): StreamDiff {
  const { ranges, ...figures } = plan;
  return { ...figures, hunkCount: ranges.length, hunks };
}

/** Index a whole output held in memory (the route indexes page by page instead). */
export function indexLines(bytes: Uint8Array): LineIndex {
  const indexer = new LineIndexer();
  indexer.push(bytes);
  return indexer.end();
}

// What a change's targets were before it ran (command.prestate), shown on the change in the transcript: one
// "before: …" line per target, so the technician sees what the change replaced without opening the record; and for a
// file whose content is known on both sides (the next change to it in this session read it first), a short line
// diff of before → after, computed by jsdiff (`diff`).

import { describePrestate, type Prestate } from "@caisey/core/before";
import { fromBase64 } from "@caisey/core/bytes";
import { type ChangeObject, diffLines } from "diff";
import { type CommandPrestate, clockTime, fullTime } from "../transcript.ts";

/** Lines of unchanged text kept around each change. */
const CONTEXT = 2;
/** Lines a diff shows at most; the rest is counted. */
const MAX_LINES = 30;
/** Past this many changed lines the diff is not worked out (a rewrite, not an edit). */
const MAX_EDIT = 2000;

/** The whole identity of a target, for the line's tooltip (the line itself stays short). */
function fullTarget(p: Prestate): string {
  if (p.kind === "registry") return `${p.target}\\${p.name === "" ? "(Default)" : p.name}`;
  if (p.kind === "file" && p.sha256) return `${p.target}\nsha256 ${p.sha256}${p.owner ? `\nowner ${p.owner}` : ""}`;
  return p.target;
}

const strict = new TextDecoder("utf-8", { fatal: true });

/** The content as text, or null when it is not text a line diff can show (invalid UTF-8, NUL bytes). */
function asText(base64: string): string | null {
  try {
    const text = strict.decode(fromBase64(base64));
    return text.includes("\u0000") ? null : text;
  } catch {
    return null;
  }
}

type DiffLine = { sign: " " | "-" | "+" | "…"; text: string };

/** Changed lines with a little context, "…" where unchanged runs are left out. */
function diffView(before: string, after: string): DiffLine[] | null {
  const parts = diffLines(before, after, { maxEditLength: MAX_EDIT });
  if (parts === undefined) return null;
  const lines: DiffLine[] = [];
  const split = (p: ChangeObject<string>) => p.value.replace(/\n$/, "").split("\n");
  for (const [i, p] of parts.entries()) {
    const text = split(p);
    if (p.added || p.removed) {
      for (const t of text) lines.push({ sign: p.added ? "+" : "-", text: t });
      continue;
    }
    const head = i === 0 ? [] : text.slice(0, CONTEXT);
    const tail = i === parts.length - 1 ? [] : text.slice(-CONTEXT);
    if (head.length + tail.length >= text.length) {
      for (const t of text) lines.push({ sign: " ", text: t });
    } else {
      for (const t of head) lines.push({ sign: " ", text: t });
      const left = text.length - head.length - tail.length;
      lines.push({ sign: "…", text: `${left} unchanged line${left === 1 ? "" : "s"}` });
      for (const t of tail) lines.push({ sign: " ", text: t });
    }
  }
  return lines;
}

function FileDiff({ before, after, ts }: { before: string; after: string; ts: string }) {
  const a = asText(before);
  const b = asText(after);
  const lines = a === null || b === null ? null : diffView(a, b);
  const shown = lines?.slice(0, MAX_LINES);
  return (
    <details class="before-diff" data-testid="prestate-diff" open>
      <summary title={`The file as the next change to it read it, at ${fullTime(ts)}`}>
        before → after (as the next change found it, {clockTime(ts)})
      </summary>
      {before === after ? (
        <div class="muted">unchanged</div>
      ) : shown === undefined ? (
        <div class="muted">
          {a === null || b === null ? "binary content: the bytes differ" : "too many changed lines to show"}
        </div>
      ) : (
        <pre>
          {shown.map((l, i) => (
            // A diff is worked out once per render and never reordered.
            <span
              key={i}
              class={`diff-${l.sign === "+" ? "add" : l.sign === "-" ? "del" : l.sign === "…" ? "gap" : "ctx"}`}
            >
              {l.sign === "…" ? `… ${l.text}` : `${l.sign} ${l.text}`}
              {"\n"}
            </span>
          ))}
          {(lines?.length ?? 0) > MAX_LINES && (
            <span class="diff-gap">… {(lines?.length ?? 0) - MAX_LINES} more lines</span>
          )}
        </pre>
      )}
    </details>
  );
}

/** "before:" quieter than what follows, so the value stands out and the line is not read as the command's output. */
function BeforeText({ line }: { line: string }) {
  const rest = line.startsWith("before: ") ? line.slice("before: ".length) : null;
  if (rest === null) return <>{line}</>;
  return (
    <>
      <span class="before-label">before: </span>
      {rest}
    </>
  );
}

export function BeforeLines({ prestate }: { prestate: CommandPrestate }) {
  return (
    <div class="before" data-testid="command-prestate" data-event="command.prestate" data-seq={prestate.seq}>
      {prestate.error !== undefined && (
        <div class="before-line missing" data-testid="prestate-error">
          before: not recorded ({prestate.error})
        </div>
      )}
      {prestate.probes.map((p, i) => {
        const after = prestate.after.get(i);
        const before = p.kind === "file" ? (p.exists ? p.data : "") : undefined;
        return (
          // One record per target, in the order the runtime read them; the list never changes once recorded.
          <div key={i}>
            <div
              class={`before-line${p.error === undefined ? "" : " missing"}`}
              data-testid="prestate-line"
              title={fullTarget(p)}
            >
              <BeforeText line={describePrestate(p)} />
            </div>
            {after && before !== undefined && <FileDiff before={before} after={after.data} ts={after.ts} />}
          </div>
        );
      })}
    </div>
  );
}

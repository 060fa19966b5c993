// Verification in the transcript: "Verify" on a finished command (now, or a re-check at a set time), the link from a
// verification to its baseline ("verifies #3"), the re-check lines, and "Compare": the before/after of the two, side
// by side, a page of hunks at a time (the page never holds either whole output), with the row/field view where the
// output is a table, a list or JSON.

import * as routes from "@caisey/core/routes";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage, type SessionEvent } from "../api.ts";
import { ACTIVE_STATES, type CommandView, fullTime } from "../transcript.ts";

type CommandDiff = routes.AnswerOf<typeof routes.commandDiff>;
type StreamDiff = CommandDiff["stderr"];
type DiffLine = StreamDiff["hunks"][number]["lines"][number];

/** What the viewer may do: staff who run commands verify; anyone who reads the session compares. */
export interface VerifyActions {
  /** Re-run now, or at `at` (RFC 3339); resolves to an error to show, or null. */
  verify: ((commandId: string, at?: string) => Promise<string | null>) | null;
  compare: (beforeId: string, afterId: string) => void;
  /** A command of this session by id (for "#3"). */
  command: (id: string) => CommandView | undefined;
}

/** "2 Dec 09:00" in the viewer's time zone: a re-check is often tomorrow, so the date is always there. */
export function recheckTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const date = d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
  const clock = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
  return `${date} ${clock}`;
}

/** Ran to an end: it has output (or none) to compare against. */
const ran = (cmd: CommandView) => !ACTIVE_STATES.has(cmd.state) && cmd.context !== undefined;

const ref = (cmd: CommandView | undefined, id: string) => (
  <a href={`#seq-${cmd?.seq ?? ""}`} data-testid="command-ref">
    #{cmd?.number ?? id}
  </a>
);

/** "verifies #3" on a verification's block, and "re-check" when it ran as a scheduled one. */
export function VerifiesBadge({ cmd, actions }: { cmd: CommandView; actions: VerifyActions }) {
  if (!cmd.verifies) return null;
  return (
    <span class="badge verifies" data-testid="verifies" title="Re-runs that command, verbatim, as its verification">
      {cmd.recheckAt ? `re-check (${recheckTime(cmd.recheckAt)}) · ` : ""}verifies{" "}
      {ref(actions.command(cmd.verifies), cmd.verifies)}
    </span>
  );
}

/** The buttons of a command's head: Verify (a menu: now, or at a time) and Compare with its pair. */
export function VerificationControls({ cmd, actions }: { cmd: CommandView; actions: VerifyActions }) {
  const [open, setOpen] = useState(false);
  if (!ran(cmd)) return null;
  const latest = cmd.verifiedBy.at(-1);
  const pair = cmd.verifies ? ([cmd.verifies, cmd.id] as const) : latest ? ([cmd.id, latest] as const) : null;
  const other = pair ? actions.command(pair[0] === cmd.id ? pair[1] : pair[0]) : undefined;
  return (
    <>
      {pair && other && ran(other) && (
        <button
          type="button"
          class="small"
          data-testid="compare"
          title="Before and after, side by side"
          onClick={() => actions.compare(pair[0], pair[1])}
        >
          Compare with #{other.number}
        </button>
      )}
      {actions.verify && (
        <span class="verify-menu">
          <button
            type="button"
            class="small"
            data-testid="verify"
            aria-expanded={open}
            title="Run this command again, verbatim, as its verification"
            onClick={() => setOpen(!open)}
          >
            Verify
          </button>
          {open && <VerifyForm cmd={cmd} verify={actions.verify} onDone={() => setOpen(false)} />}
        </span>
      )}
    </>
  );
}

/** The next full hour, as a datetime-local value in the viewer's time zone. */
function nextHour(): string {
  const d = new Date(Date.now() + 3600_000);
  d.setMinutes(0, 0, 0);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function VerifyForm({
  cmd,
  verify,
  onDone,
}: {
  cmd: CommandView;
  verify: NonNullable<VerifyActions["verify"]>;
  onDone: () => void;
}) {
  const [at, setAt] = useState(nextHour());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const go = async (when?: string) => {
    setBusy(true);
    const failed = await verify(cmd.id, when);
    setBusy(false);
    if (failed) setError(failed);
    else onDone();
  };
  const schedule = () => {
    const ms = Date.parse(at); // datetime-local: the viewer's own time zone
    if (Number.isNaN(ms)) return setError("Choose a date and time.");
    void go(new Date(ms).toISOString());
  };
  return (
    <div class="verify-form" data-testid="verify-form">
      <div class="muted">
        Run <code>{cmd.command.length > 60 ? `${cmd.command.slice(0, 60)}…` : cmd.command}</code> again, as #
        {cmd.number}'s verification:
      </div>
      <div class="row">
        <button type="button" class="primary small" data-testid="verify-now" disabled={busy} onClick={() => go()}>
          Run now
        </button>
        <span class="muted">or re-check at</span>
        <input
          type="datetime-local"
          data-testid="verify-at"
          value={at}
          onInput={(e) => setAt((e.target as HTMLInputElement).value)}
        />
        <button type="button" class="small" data-testid="verify-schedule" disabled={busy} onClick={schedule}>
          Schedule re-check
        </button>
      </div>
      {error && (
        <div class="error" data-testid="verify-error">
          {error}
        </div>
      )}
    </div>
  );
}

/** The body of a `check.scheduled` or `check.cancelled` line. */
export function checkLine(event: SessionEvent, actions: VerifyActions): ComponentChildren {
  const d = event.data ?? {};
  const at = typeof d.at === "string" ? d.at : "";
  const baselineId = typeof d.commandId === "string" ? d.commandId : "";
  const baseline = actions.command(baselineId);
  const checkId = typeof d.checkCommandId === "string" ? d.checkCommandId : "";
  const check = actions.command(checkId);
  const when = (
    <b data-testid="recheck-at" title={fullTime(at)}>
      {recheckTime(at)}
    </b>
  );
  if (event.type === "check.cancelled")
    return (
      <>
        Re-check of {ref(baseline, baselineId)} for {when} cancelled
        {typeof d.reason === "string" ? `: ${d.reason}` : ""}
      </>
    );
  return (
    <>
      Re-check of {ref(baseline, baselineId)} scheduled for {when}
      {check ? <> · ran as {ref(check, checkId)}</> : null}
    </>
  );
}

/** Removed and added lines next to each other, as a side-by-side view pairs them. */
function sideBySide(lines: DiffLine[]): [DiffLine | null, DiffLine | null][] {
  const rows: [DiffLine | null, DiffLine | null][] = [];
  let removed: DiffLine[] = [];
  let added: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) rows.push([removed[i] ?? null, added[i] ?? null]);
    removed = [];
    added = [];
  };
  for (const line of lines) {
    if (line.op === "removed") removed.push(line);
    else if (line.op === "added") added.push(line);
    else {
      flush();
      rows.push([line, line]);
    }
  }
  flush();
  return rows;
}

const PAGE = 20;

/** The before/after of two commands: summary, the row/field view, and the hunks side by side, a page at a time. */
export function CompareView({
  sessionId,
  beforeId,
  afterId,
  actions,
  onClose,
}: {
  sessionId: string;
  beforeId: string;
  afterId: string;
  actions: VerifyActions;
  onClose: () => void;
}) {
  const [hunk, setHunk] = useState(0);
  const [diff, setDiff] = useState<CommandDiff | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pane = useRef<HTMLDivElement>(null);
  // A new page of changes starts at its top.
  useEffect(() => {
    if (pane.current) pane.current.scrollTop = 0;
  }, [diff?.page.hunk]);
  useEffect(() => {
    let live = true;
    api(routes.commandDiff, {
      params: { id: sessionId, cid: beforeId },
      query: { against: afterId, hunk, hunks: PAGE },
    })
      .then((d) => live && setDiff(d))
      .catch((e: unknown) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [sessionId, beforeId, afterId, hunk]);
  const before = actions.command(diff?.before.commandId ?? beforeId);
  const after = actions.command(diff?.after.commandId ?? afterId);
  const pages = diff ? Math.max(diff.hunkCount, diff.stderr.hunkCount) : 0;
  return (
    <div class="compare-backdrop" data-testid="compare-view">
      <div class="compare" ref={pane}>
        <div class="compare-head">
          <h2>
            Before {ref(before, beforeId)} → after {ref(after, afterId)}
          </h2>
          <code class="compare-cmd">{before?.command}</code>
          <div class="spacer" />
          <button type="button" class="small" data-testid="compare-close" onClick={onClose}>
            Close
          </button>
        </div>
        {error && <div class="error">{error}</div>}
        {!diff && !error && <div class="muted">Comparing…</div>}
        {diff && (
          <>
            <div class="compare-summary" data-testid="compare-summary">
              {diff.differs ? <span class="badge changed">changed</span> : <span class="badge same">no change</span>}
              <span>
                exit <b class={diff.exitCode.before === 0 ? "ok" : "bad"}>{diff.exitCode.before ?? "—"}</b> →{" "}
                <b class={diff.exitCode.after === 0 ? "ok" : "bad"}>{diff.exitCode.after ?? "—"}</b>
              </span>
              <span data-testid="compare-counts">
                stdout <span class="added">+{diff.summary.added}</span>{" "}
                <span class="removed">−{diff.summary.removed}</span> lines
              </span>
              <span>
                stderr{" "}
                {diff.stderr.changed ? (
                  <>
                    <span class="added">+{diff.stderr.summary.added}</span>{" "}
                    <span class="removed">−{diff.stderr.summary.removed}</span>
                  </>
                ) : (
                  "unchanged"
                )}
              </span>
              {diff.approximate && (
                <span class="muted" title="The outputs differ too much to find every common line">
                  shown replaced as a whole
                </span>
              )}
              {diff.lineEndingsChanged && <span class="muted">only the line endings changed (\n ↔ \r\n)</span>}
              {pages > PAGE && (
                <span class="muted" data-testid="compare-showing">
                  showing changes {diff.page.hunk + 1}–{Math.min(diff.page.hunk + PAGE, pages)} of {pages} (pager below)
                </span>
              )}
            </div>
            {diff.view && <StructuredView view={diff.view} />}
            <StreamHunks label="stdout" stream={diff} />
            {diff.stderr.changed && <StreamHunks label="stderr" stream={diff.stderr} />}
            {pages > PAGE && (
              <div class="compare-pager" data-testid="compare-pager">
                <button
                  type="button"
                  class="small"
                  disabled={diff.page.hunk === 0}
                  onClick={() => setHunk(diff.page.hunk - PAGE)}
                >
                  ← Previous
                </button>
                <span>
                  changes {diff.page.hunk + 1}–{Math.min(diff.page.hunk + PAGE, pages)} of {pages}
                </span>
                <button
                  type="button"
                  class="small"
                  data-testid="compare-next"
                  disabled={diff.page.hunk + PAGE >= pages}
                  onClick={() => setHunk(diff.page.hunk + PAGE)}
                >
                  Next →
                </button>
              </div>
            )}
          </>
        )}
      </div>
    </div>
  );
}

function StructuredView({ view }: { view: NonNullable<CommandDiff["view"]> }) {
  if (view.kind === "table")
    return (
      <div class="compare-view" data-testid="compare-rows">
        <h3>By {view.keyColumn}</h3>
        {view.rows.length === 0 && <div class="muted">Every row reads the same.</div>}
        {view.rows.map((r) => (
          <div key={r.key} class={`row-change ${r.change}`} data-testid="row-change">
            <b>{r.key}</b>{" "}
            {r.change === "changed" ? (
              r.cells.map((c) => (
                <span key={c.column} class="cell-change">
                  {c.column}: <span class="removed">{c.before}</span> → <span class="added">{c.after}</span>
                </span>
              ))
            ) : (
              <span class={r.change === "added" ? "added" : "removed"}>{r.change === "added" ? "new" : "gone"}</span>
            )}
          </div>
        ))}
      </div>
    );
  return (
    <div class="compare-view" data-testid="compare-keys">
      <h3>{view.kind === "json" ? "JSON, key by key" : "Field by field"}</h3>
      {view.keys.map((k) => (
        <div key={k.key} class="row-change" data-testid="key-change">
          <b>{k.key}</b>: <span class="removed">{k.before ?? "(none)"}</span> →{" "}
          <span class="added">{k.after ?? "(none)"}</span>
        </div>
      ))}
    </div>
  );
}

const lines = (n: number) => `${n} ${n === 1 ? "line" : "lines"}`;

function StreamHunks({ label, stream }: { label: string; stream: StreamDiff }) {
  if (stream.binary)
    return (
      <div class="muted" data-testid="compare-binary">
        {label}: binary output, {stream.before.bytes} bytes before and {stream.after.bytes} after —{" "}
        {stream.changed ? "the bytes differ" : "identical"}.
      </div>
    );
  if (!stream.changed || stream.hunks.length === 0) return null;
  return (
    <table class="compare-hunks" data-testid={`compare-${label}`}>
      <colgroup>
        <col class="ln" />
        <col />
        <col class="ln" />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th colSpan={2}>
            {label} before ({lines(stream.before.lines)})
          </th>
          <th colSpan={2}>
            {label} after ({lines(stream.after.lines)})
          </th>
        </tr>
      </thead>
      {stream.hunks.map((h) => (
        <tbody key={`${h.before.start}:${h.after.start}`}>
          <tr class="hunk-head">
            <td colSpan={4}>
              @@ −{h.before.start},{h.before.count} +{h.after.start},{h.after.count} @@
            </td>
          </tr>
          {sideBySide(h.lines).map(([l, r], i) => (
            <tr key={i}>
              <td class="ln">{l?.before ?? ""}</td>
              <td class={`code ${l && l.op !== "same" ? "removed" : l ? "" : "empty"}`}>{l?.text ?? ""}</td>
              <td class="ln">{r?.after ?? ""}</td>
              <td class={`code ${r && r.op !== "same" ? "added" : r ? "" : "empty"}`}>{r?.text ?? ""}</td>
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}

// Evidence a third party reads: the session's SLA timeline, its exports (PDF, asciicast), share links, and the page a
// share link opens for someone with no account, which checks the record's hash chain in their own browser.

import { concatBytes, fromBase64 } from "@caisey/core/bytes";
import {
  type ActorNames,
  formatDuration,
  reportCommands,
  type SessionSeal,
  type SharedEvent,
  type SharedRecord,
  type SharedSession,
  sessionTimeline,
  type Timeline,
  verifySharedRecord,
} from "@caisey/core/evidence";
import type { RecordEvent } from "@caisey/core/record";
import type { ShareLink } from "@caisey/core/routes";
import * as routes from "@caisey/core/routes";
import type { SessionEvent } from "@caisey/core/views";
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, type Me, urlOf } from "../api.ts";
import { checkSeal } from "./seal.tsx";
import { CopyButton } from "./ui.tsx";

const EXPIRY_CHOICES = [
  { label: "1 day", seconds: 24 * 3600 },
  { label: "7 days", seconds: 7 * 24 * 3600 },
  { label: "30 days", seconds: 30 * 24 * 3600 },
  { label: "1 year", seconds: 365 * 24 * 3600 },
] as const;

const time = (ts: string) => `${ts.slice(0, 10)} ${ts.slice(11, 19)}`;

/** The page's names by person id, as the record's actors (`user:` and `contact:`). */
export function actorNames(names: Map<string, string>, me: Me): ActorNames {
  const out: Record<string, string> = {};
  for (const [id, name] of names) {
    out[`user:${id}`] = name;
    out[`contact:${id}`] = name;
  }
  out[`${me.user.role === "contact" ? "contact" : "user"}:${me.user.id}`] = me.user.name;
  return out;
}

/** The session header's evidence actions: the timeline, the exports, and share links. */
export function EvidenceActions({
  sessionId,
  me,
  timelineOpen,
  onTimeline,
  closed,
}: {
  sessionId: string;
  me: Me;
  timelineOpen: boolean;
  onTimeline: () => void;
  /** Only a closed session is sealed, and only a sealed one has an evidence bundle. */
  closed: boolean;
}) {
  const staff = me.user.role !== "contact";
  const exportUrl = (format: "pdf" | "asciicast" | "bundle", includeNotes = false) =>
    urlOf(routes.exportSession, {
      params: { id: sessionId },
      query: { format, ...(includeNotes ? { includeNotes: "1" } : {}) },
    });
  return (
    <span class="evidence-actions">
      <button
        type="button"
        class={`small${timelineOpen ? " active" : ""}`}
        data-testid="timeline-toggle"
        onClick={onTimeline}
      >
        Timeline
      </button>
      <details class="popover" data-testid="export-menu">
        <summary>Export</summary>
        <div class="popover-body">
          <a href={exportUrl("pdf")} download data-testid="export-pdf">
            Export PDF
          </a>
          {staff && (
            <a href={exportUrl("pdf", true)} download data-testid="export-pdf-notes">
              Export PDF with internal notes
            </a>
          )}
          <a href={exportUrl("asciicast")} download data-testid="export-asciicast">
            Download asciicast
          </a>
          {closed ? (
            <a href={exportUrl("bundle")} download data-testid="export-bundle">
              Evidence bundle (.zip)
            </a>
          ) : (
            <span
              class="muted"
              data-testid="export-bundle"
              title="The bundle holds the seal, made when the session closes"
            >
              Evidence bundle (.zip) — after the session is closed
            </span>
          )}
        </div>
      </details>
      <SharePanel sessionId={sessionId} staff={staff} />
    </span>
  );
}

function SharePanel({ sessionId, staff }: { sessionId: string; staff: boolean }) {
  const [open, setOpen] = useState(false);
  const [ttl, setTtl] = useState<number>(EXPIRY_CHOICES[1].seconds);
  const [includeOutput, setIncludeOutput] = useState(true);
  const [includeNotes, setIncludeNotes] = useState(false);
  const [created, setCreated] = useState<{ url: string; expiresAt: string } | null>(null);
  const [shares, setShares] = useState<ShareLink[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = async () => {
    try {
      setShares((await api(routes.listShares, { params: { id: sessionId } })).shares);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  useEffect(() => {
    if (open) void load();
  }, [open]);

  const create = async () => {
    setError(null);
    try {
      const answer = await api(routes.createShare, {
        params: { id: sessionId },
        body: { ttlSeconds: ttl, includeOutput, includeNotes: staff && includeNotes },
      });
      setCreated(answer);
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const revoke = async (id: string) => {
    try {
      await api(routes.revokeShare, { params: { id } });
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <details class="popover" open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary data-testid="share-toggle">Share…</summary>
      <div class="popover-body share-panel" data-testid="share-panel">
        <p class="muted">
          A read-only link to this session for someone without an account (an accountant, an auditor). It expires, and
          you can revoke it.
        </p>
        <label>
          Expires after{" "}
          <select value={ttl} onChange={(e) => setTtl(Number((e.currentTarget as HTMLSelectElement).value))}>
            {EXPIRY_CHOICES.map((c) => (
              <option key={c.seconds} value={c.seconds}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <Choice
          label="Include command output"
          testId="share-output"
          checked={includeOutput}
          onChange={setIncludeOutput}
        />
        {staff && (
          <Choice
            label="Include internal notes"
            testId="share-notes"
            checked={includeNotes}
            onChange={setIncludeNotes}
          />
        )}
        <button type="button" class="small primary" data-testid="share-create" onClick={() => void create()}>
          Create link
        </button>
        {error && <div class="error">{error}</div>}
        {created && (
          <div class="share-created">
            <input readOnly value={created.url} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={created.url} />
            <div class="muted">Shown once. Expires {time(created.expiresAt)} UTC.</div>
          </div>
        )}
        {shares.length > 0 && (
          <ul class="share-list" data-testid="share-list">
            {shares.map((s) => (
              <li key={s.id} data-testid="share-row">
                <span class="mono">{s.id.slice(0, 10)}</span>{" "}
                <span class="muted">
                  {s.includeOutput ? "output" : "no output"}
                  {s.includeNotes ? ", notes" : ""} · {s.revokedAt ? "revoked" : `expires ${time(s.expiresAt)}`}
                </span>
                {!s.revokedAt && (
                  <button type="button" class="small" onClick={() => void revoke(s.id)}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </div>
    </details>
  );
}

function Choice({
  label,
  testId,
  checked,
  onChange,
}: {
  label: string;
  testId: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
}) {
  return (
    <label>
      <input
        type="checkbox"
        checked={checked}
        data-testid={testId}
        onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)}
      />{" "}
      {label}
    </label>
  );
}

/** The SLA timeline of a record: the durations an SLA is judged by, then each moment in order. */
export function TimelineView({ timeline }: { timeline: Timeline }) {
  const d = timeline.durations;
  const span = (v: number | null, none: string) => (v === null ? none : formatDuration(v));
  return (
    <div class="sla-timeline" data-testid="timeline">
      <div class="sla-durations">
        <Duration label="First technician action" value={span(d.toFirstActionMs, "none yet")} />
        <Duration label="Waiting for the client" value={formatDuration(d.waitingForClientMs)} />
        <Duration label="Verified fix" value={span(d.toVerifiedFixMs, "no verdict yet")} />
        <Duration label="Open in total" value={span(d.openMs, "—")} />
      </div>
      <table class="sla-table">
        <tbody>
          {timeline.entries.map((e) => (
            <tr key={e.seq} class={`sla-${e.kind}${e.milestone ? " milestone" : ""}`} data-testid="timeline-entry">
              <td class="mono nowrap">{time(e.ts)} UTC</td>
              <td class="muted nowrap">{e.who}</td>
              <td>
                {e.text}
                {e.milestone && <span class="badge milestone-badge">{e.milestone}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Duration({ label, value }: { label: string; value: string }) {
  return (
    <div class="duration">
      <div class="muted">{label}</div>
      <div class="strong" data-testid="duration">
        {value}
      </div>
    </div>
  );
}

/** The session page's timeline panel, from the events the page holds. */
export function TimelinePanel({ events, names }: { events: readonly SessionEvent[]; names: ActorNames }) {
  const records = events.map((e) => (e.redacted ? { seq: e.seq, redacted: e.redacted } : (e as RecordEvent)));
  return (
    <div class="sla-panel card">
      <TimelineView timeline={sessionTimeline(records, names)} />
    </div>
  );
}

type ShareState =
  | { kind: "loading" }
  | { kind: "error"; message: string }
  | { kind: "ready"; session: SharedSession; events: SharedEvent[]; seal: SessionSeal | null; vkey: string | null };

type Check = { kind: "checking" } | { kind: "ok"; count: number } | { kind: "failed"; reason: string };

/** What a share link opens: read-only, no sign-in; the visitor's browser checks the record itself. */
export function SharePage({ token }: { token: string }) {
  const [state, setState] = useState<ShareState>({ kind: "loading" });
  const [check, setCheck] = useState<Check>({ kind: "checking" });

  useEffect(() => {
    document.title = "Caisey · Shared session";
    let alive = true;
    (async () => {
      try {
        const events: SharedEvent[] = [];
        let page: SharedRecord = await api(routes.readShare, { params: { token } });
        events.push(...page.events);
        while (page.next !== null) {
          page = await api(routes.readShare, { params: { token }, query: { after: page.next } });
          events.push(...page.events);
        }
        if (!alive) return;
        setState({ kind: "ready", session: page.session, events, seal: page.seal, vkey: page.vkey });
        const checked = await verifySharedRecord(crypto.subtle, page.session, events);
        if (alive)
          setCheck(
            checked.ok
              ? { kind: "ok", count: checked.count }
              : { kind: "failed", reason: `event ${checked.seq}: ${checked.reason}` },
          );
      } catch (e) {
        if (alive) setState({ kind: "error", message: errorMessage(e) });
      }
    })();
    return () => {
      alive = false;
    };
  }, [token]);

  if (state.kind === "loading") return <div class="splash">Loading the shared session…</div>;
  if (state.kind === "error")
    return (
      <div class="auth">
        <div class="card share-error" data-testid="share-error">
          <h1>This link cannot be opened</h1>
          <p>{state.message}</p>
        </div>
      </div>
    );
  const { session, events, seal, vkey } = state;
  const records = events.map((e) => e as RecordEvent | { seq: number; redacted: string });
  const timeline = sessionTimeline(records, session.names);
  return (
    <div class="share-page" data-testid="share-page">
      <header class="share-head">
        <div class="brand">caisey</div>
        <div>
          <div class="muted">{session.organization} · shared session record</div>
          <h1>
            {session.hostname} · {session.client}
          </h1>
          <div class="muted">
            Technician {session.technicians.join(", ")} · opened {time(session.openedAt)} UTC
            {session.closedAt ? ` · closed ${time(session.closedAt)} UTC` : ` · ${session.state}`} · link expires{" "}
            {time(session.expiresAt)} UTC
          </div>
        </div>
      </header>
      <section class="card verification" data-testid="share-verification" data-state={check.kind}>
        <h2>Is this the record as it was made?</h2>
        {check.kind === "checking" && <p>Checking the record's hash chain in your browser…</p>}
        {check.kind === "ok" && (
          <p class="good" data-testid="chain-ok">
            ✓ Hash chain verified in your browser: {check.count} events recompute to the record's head{" "}
            <span class="mono">{session.head.hash.slice(0, 16)}…</span>
            {!session.includeOutput || !session.includeNotes
              ? " (withheld lines count by their SHA-256, so they are part of the check)."
              : "."}
          </p>
        )}
        {check.kind === "failed" && (
          <p class="bad" data-testid="chain-failed">
            ✗ The record does not verify: {check.reason}
          </p>
        )}
        <SealCheck seal={seal} vkey={vkey} session={session} />
      </section>
      <section class="card">
        <h2>Timeline</h2>
        <TimelineView timeline={timeline} />
      </section>
      <section class="card">
        <h2>Commands</h2>
        <SharedCommands events={events} includeOutput={session.includeOutput} />
      </section>
    </div>
  );
}

/**
 * The seal, checked in the outsider's browser against the organization's log key the link serves with it: the seal's
 * and the checkpoint's signatures, the seal's place in the log, and that it names this record's head.
 */
function SealCheck({ seal, vkey, session }: { seal: SessionSeal | null; vkey: string | null; session: SharedSession }) {
  const [checked, setChecked] = useState<{ ok: true; closedAt: string } | { ok: false; reason: string } | null>(null);
  useEffect(() => {
    if (seal && vkey) void checkSeal(seal, vkey, session.id, session.head).then(setChecked);
  }, [seal, vkey, session.id, session.head.seq, session.head.hash]);
  if (!seal || !vkey)
    return (
      <p class="muted" data-testid="seal-status" data-state="absent">
        Not sealed yet: the organization has not sealed this session in its transparency log
        {session.state === "open" ? " (it is still open)" : ""}.
      </p>
    );
  if (checked === null)
    return (
      <p class="muted" data-testid="seal-status" data-state="checking">
        Checking the seal in this browser…
      </p>
    );
  return (
    <div data-testid="seal-status" data-state={checked.ok ? "verified" : "failed"}>
      <p class={checked.ok ? "good" : "bad"}>
        {checked.ok
          ? `✓ Sealed ${new Date(checked.closedAt).toLocaleString()} and checked in this browser: signed by the organization's log key, entry ${seal.leafIndex + 1} of ${seal.treeSize} in its log, and it names this record's last event (${session.head.seq}).`
          : `✗ The seal does not verify: ${checked.reason}`}
      </p>
      <p class="muted">
        The organization's log key, to check it yourself (ask the organization for their copy):{" "}
        <span class="mono" data-testid="share-vkey">
          {vkey}
        </span>
      </p>
    </div>
  );
}

function SharedCommands({ events, includeOutput }: { events: SharedEvent[]; includeOutput: boolean }) {
  const records = events.map((e) => e as RecordEvent | { seq: number; redacted: string });
  const output = new Map<string, Uint8Array[]>();
  for (const e of records) {
    if ("redacted" in e || e.type !== "command.output") continue;
    const data = e.data as { commandId: string; data: string };
    output.set(data.commandId, [...(output.get(data.commandId) ?? []), fromBase64(data.data)]);
  }
  const commands = reportCommands(records);
  if (commands.length === 0) return <p class="muted">No command was run.</p>;
  return (
    <div class="shared-commands">
      {commands.map((c) => (
        <div key={c.commandId} class="shared-command" data-testid="shared-command">
          <div class="mono strong">$ {c.command}</div>
          <div class="muted">
            {c.state === "finished" ? `exit code ${c.exitCode}` : c.state} · stdout {c.stdoutBytes} bytes, stderr{" "}
            {c.stderrBytes} bytes
          </div>
          {includeOutput ? (
            <pre class="output">{new TextDecoder().decode(concatBytes(...(output.get(c.commandId) ?? [])))}</pre>
          ) : (
            <div class="muted">Output withheld by the sender; its SHA-256 is in the record: {c.stdoutSha256}</div>
          )}
        </div>
      ))}
    </div>
  );
}

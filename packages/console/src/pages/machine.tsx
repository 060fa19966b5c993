// One machine's card: its facts, its sessions (newest first, older ones on demand) and the timeline of changes made
// on it across sessions.
import { useEffect, useState } from "preact/hooks";
import {
  abilities,
  api,
  errorMessage,
  type MachineCard,
  type MachineChange,
  type Me,
  type Person,
  type SessionSummary,
} from "../api.ts";
import { linkClick } from "../router.ts";
import { relativeTime } from "../transcript.ts";
import { ErrorBanner, When } from "./ui.tsx";

export function MachinePage({ machineId, me }: { machineId: string; me: Me }) {
  const can = abilities(me.user.role);
  const [card, setCard] = useState<MachineCard | null>(null);
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [names, setNames] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const base = `/api/v1/machines/${encodeURIComponent(machineId)}`;

  useEffect(() => {
    let alive = true;
    api<MachineCard>("GET", base)
      .then((answer) => {
        if (!alive) return;
        setCard(answer);
        setSessions(answer.sessions);
        setNext(answer.next);
        document.title = `Caisey · ${answer.machine.hostname}`;
      })
      .catch((err) => alive && setError(errorMessage(err)));
    if (can.staff)
      api<{ users: Person[] }>("GET", "/api/v1/users")
        .then((a) => alive && setNames(new Map(a.users.map((u) => [u.id, u.name]))))
        .catch(() => {
          // ids stay visible without names
        });
    return () => {
      alive = false;
    };
  }, [base, can.staff]);

  const loadOlder = async () => {
    if (!next) return;
    setLoadingMore(true);
    try {
      const answer = await api<MachineCard>("GET", `${base}?before=${encodeURIComponent(next)}`);
      setSessions((s) => [...s, ...answer.sessions.filter((x) => !s.some((y) => y.id === x.id))]);
      setNext(answer.next);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoadingMore(false);
    }
  };

  const technician = (id: string) =>
    id === me.user.id ? `${me.user.name} (you)` : (names.get(id) ?? (can.staff ? id : "support"));

  if (error && !card)
    return (
      <div class="page">
        <ErrorBanner message={`Could not load this machine: ${error}`} />
        <a href="/machines" onClick={linkClick}>
          Back to machines
        </a>
      </div>
    );
  if (!card) return <div class="page muted">Loading…</div>;
  const m = card.machine;

  return (
    <div class="page machine-page" data-testid="machine-page" data-machine-id={m.id}>
      <div class="page-head">
        <a href="/machines" onClick={linkClick} class="back" title="Back to machines">
          ←
        </a>
        <h1 class="mono" data-testid="machine-card-hostname">
          {m.hostname}
        </h1>
        <span
          class={`status ${m.revoked ? "revoked" : m.online ? "online" : "offline"}`}
          data-testid="machine-card-status"
        >
          <span class="dot" />
          {m.revoked ? "revoked" : m.online ? "online" : "offline"}
        </span>
      </div>
      {error && <ErrorBanner message={error} onDismiss={() => setError(null)} />}
      <section class="card facts" data-testid="machine-facts">
        <dl>
          <dt>Client</dt>
          <dd>{m.clientName ?? m.clientId}</dd>
          <dt>System</dt>
          <dd>
            {m.os}
            {m.osVersion ? ` ${m.osVersion}` : ""}
            {m.arch ? ` · ${m.arch}` : ""}
          </dd>
          <dt>Last user</dt>
          <dd data-testid="machine-last-user">{m.lastUser ?? <span class="muted">unknown</span>}</dd>
          <dt>Last seen</dt>
          <dd>
            {m.online ? "now" : relativeTime(m.lastSeenAt)}{" "}
            {m.lastSeenAt && (
              <span class="muted">
                (<When iso={m.lastSeenAt} />)
              </span>
            )}
          </dd>
          <dt>Enrolled</dt>
          <dd>
            <When iso={m.enrolledAt} />
          </dd>
          <dt>Runtime</dt>
          <dd class="mono">{m.runtimeVersion ?? "—"}</dd>
          <dt>Machine id</dt>
          <dd class="mono muted">{m.id}</dd>
        </dl>
      </section>

      <section data-testid="machine-sessions">
        <h2>Sessions</h2>
        <div class="card flush">
          <table class="grid">
            <thead>
              <tr>
                <th>Opened</th>
                <th>Technician</th>
                <th>Ticket</th>
                <th>State</th>
                <th>Commands</th>
                <th>Approvals</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {sessions.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted center">
                    No sessions on this machine yet.
                  </td>
                </tr>
              )}
              {sessions.map((s) => (
                <tr key={s.id} data-testid="machine-session-row" data-session-id={s.id}>
                  <td class="nowrap">
                    <When iso={s.openedAt} />
                  </td>
                  <td>{technician(s.technicianId)}</td>
                  <td>{s.ticket ? <span class="ticket">{s.ticket}</span> : <span class="muted">—</span>}</td>
                  <td>
                    <span class={`badge session-${s.state}`}>{s.state}</span>
                  </td>
                  <td>
                    {s.commandCount}
                    {s.failedCount > 0 && <span class="exit bad"> · {s.failedCount} failed</span>}
                  </td>
                  <td>{s.approvalCount ?? 0}</td>
                  <td class="right">
                    <a href={`/sessions/${encodeURIComponent(s.id)}`} onClick={linkClick} data-testid="session-link">
                      {s.state === "open" ? "Open" : "View record"}
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {next && (
          <button
            type="button"
            class="load-older"
            data-testid="load-older"
            disabled={loadingMore}
            onClick={() => void loadOlder()}
          >
            {loadingMore ? "Loading…" : "Load older sessions"}
          </button>
        )}
      </section>

      <section data-testid="machine-changes">
        <h2>Timeline of changes</h2>
        {card.changes.length === 0 ? (
          <p class="muted">No changes recorded on this machine. Commands that change it are listed here.</p>
        ) : (
          <ol class="timeline">
            {card.changes.map((c) => (
              <ChangeItem key={c.commandId} change={c} technician={c.requestedByName ?? technician(c.requestedBy)} />
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}

function ChangeItem({ change: c, technician }: { change: MachineChange; technician: string }) {
  const href = `/sessions/${encodeURIComponent(c.sessionId)}#cmd-${encodeURIComponent(c.commandId)}`;
  return (
    <li data-testid="machine-change" data-command-id={c.commandId}>
      <span class="time nowrap">
        <When iso={c.startedAt} />
      </span>
      <a href={href} onClick={linkClick} class="change-command">
        <code>{c.command}</code>
      </a>
      <span class="muted">
        {technician} · {c.shell}
      </span>
      <span class={`badge state state-${c.state}`}>{c.state.replace("_", " ")}</span>
      {typeof c.exitCode === "number" && (
        <span class={`exit ${c.exitCode === 0 ? "ok" : "bad"}`}>exit {c.exitCode}</span>
      )}
      {c.approvalId && <span class="badge approval-badge approval-granted">client approved</span>}
    </li>
  );
}

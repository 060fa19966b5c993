// Recent sessions, newest first: a way back into a session (after a browser crash, or for a contact to follow one).
import { useEffect, useState } from "preact/hooks";
import { abilities, api, errorMessage, type Machine, type Me, type Person, type SessionSummary } from "../api.ts";
import { linkClick } from "../router.ts";
import { ErrorBanner, When } from "./ui.tsx";

const LIMIT = 100;
const POLL_MS = 5000;

export function SessionsPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [machines, setMachines] = useState<Map<string, Machine>>(new Map());
  const [people, setPeople] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      try {
        const [s, m] = await Promise.all([
          api<{ sessions: SessionSummary[] }>("GET", `/api/v1/sessions?limit=${LIMIT}`),
          api<{ machines: Machine[] }>("GET", "/api/v1/machines"),
        ]);
        if (!alive) return;
        setSessions(s.sessions);
        setMachines(new Map(m.machines.map((x) => [x.id, x])));
        setError(null);
      } catch (err) {
        if (alive) setError(errorMessage(err));
      }
      if (alive) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    if (can.staff)
      api<{ users: Person[] }>("GET", "/api/v1/users")
        .then((a) => alive && setPeople(new Map(a.users.map((u) => [u.id, u.name]))))
        .catch(() => {
          // Technician ids stay visible without names.
        });
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, [can.staff]);

  const technician = (id: string) =>
    id === me.user.id ? `${me.user.name} (you)` : (people.get(id) ?? (can.staff ? id : "support"));

  return (
    <div class="page" data-testid="sessions-page">
      <div class="page-head">
        <h1>Sessions</h1>
        <span class="muted">
          {can.staff
            ? `The ${LIMIT} most recent sessions, newest first. Open one to pick it up where it was.`
            : "Sessions on your machines, newest first. Open one to follow it live and chat with the technician."}
        </span>
      </div>
      {error && <ErrorBanner message={`Could not load sessions: ${error}`} />}
      <div class="card flush">
        <table class="grid" data-testid="sessions-table">
          <thead>
            <tr>
              <th>Opened</th>
              <th>Machine</th>
              <th>Client</th>
              <th>Ticket</th>
              <th>State</th>
              <th>Commands</th>
              <th>Technician</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions === null && !error && (
              <tr>
                <td colSpan={8} class="muted center">
                  Loading…
                </td>
              </tr>
            )}
            {sessions?.length === 0 && (
              <tr>
                <td colSpan={8} class="muted center" data-testid="no-sessions">
                  No sessions yet.
                </td>
              </tr>
            )}
            {sessions?.map((s) => {
              const m = machines.get(s.machineId);
              const href = `/sessions/${encodeURIComponent(s.id)}`;
              return (
                <tr key={s.id} data-testid="session-row" data-session-id={s.id} data-state={s.state}>
                  <td class="nowrap">
                    <When iso={s.openedAt} />
                  </td>
                  <td class="mono strong">{m?.hostname ?? <span class="muted">{s.machineId}</span>}</td>
                  <td>{m?.clientName ?? ""}</td>
                  <td>{s.ticket ? <span class="ticket">{s.ticket}</span> : <span class="muted">—</span>}</td>
                  <td>
                    <span class={`badge session-${s.state}`}>{s.state}</span>
                  </td>
                  <td>
                    {s.commandCount}
                    {s.failedCount > 0 && <span class="exit bad"> · {s.failedCount} failed</span>}
                  </td>
                  <td>{technician(s.technicianId)}</td>
                  <td class="right">
                    <a href={href} onClick={linkClick} data-testid="session-link">
                      {s.state === "open" ? "Open" : "View record"}
                    </a>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}

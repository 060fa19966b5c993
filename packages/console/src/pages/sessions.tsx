// Recent sessions, newest first: a way back into a session (after a browser crash, or for a contact to follow one).
// Above them, for whoever runs commands, the open sessions assigned to them (opened by them or handed to them).
import { SESSION_STATES, type SessionState as SessionStateName } from "@caisey/core/review";
import * as routes from "@caisey/core/routes";
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { abilities, api, type Machine, type Me, type SessionSummary } from "../api.ts";
import { assignedToMe, personLabel, usePeopleNames, usePolling } from "../hooks.ts";
import {
  DataTable,
  ErrorBanner,
  SESSION_STATE_LABEL,
  Select,
  SessionCommands,
  SessionLink,
  SessionState,
  SessionTicket,
  When,
} from "./ui.tsx";

const LIMIT = 100;
const POLL_MS = 5000;

export function SessionsPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [assigned, setAssigned] = useState<SessionSummary[] | null>(null);
  const [machines, setMachines] = useState<Map<string, Machine>>(new Map());
  // Technician ids stay visible without names.
  const people = usePeopleNames(can.staff);
  const [error, setError] = useState<string | null>(null);
  // "" = every state; a dispatcher picks "waiting for review" to see what waits on them.
  const [state, setState] = useState<"" | SessionStateName>("");

  usePolling(
    () =>
      Promise.all([
        api(routes.listSessions, { query: { limit: LIMIT, ...(state ? { state } : {}) } }),
        api(routes.listMachines),
        can.runCommands ? assignedToMe(me) : null,
      ]),
    {
      everyMs: POLL_MS,
      onData: ([s, m, mine]) => {
        setSessions(s.sessions);
        setMachines(new Map(m.machines.map((x) => [x.id, x])));
        setAssigned(mine?.sessions ?? null);
        setError(null);
      },
      onError: setError,
    },
    [state],
  );

  const technician = personLabel(me, people, can.staff);
  const table = (props: {
    testId: string;
    rows: SessionSummary[] | null;
    empty: ComponentChildren;
    emptyTestId: string;
    rowTestId: string;
  }) => (
    <div class="card flush">
      <DataTable
        testId={props.testId}
        columns={["Opened", "Machine", "Client", "Ticket", "State", "Commands", "Technician", ""]}
        loading={props.rows === null && !error}
        empty={props.rows?.length === 0 && props.empty}
        emptyTestId={props.emptyTestId}
      >
        {props.rows?.map((s) => {
          const m = machines.get(s.machineId);
          return (
            <tr key={s.id} data-testid={props.rowTestId} data-session-id={s.id} data-state={s.state}>
              <td class="nowrap">
                <When iso={s.openedAt} />
              </td>
              <td class="mono strong">{m?.hostname ?? <span class="muted">{s.machineId}</span>}</td>
              <td>{m?.clientName ?? ""}</td>
              <SessionTicket session={s} />
              <SessionState session={s} />
              <SessionCommands session={s} />
              <td>{technician(s.technicianId)}</td>
              <SessionLink session={s} />
            </tr>
          );
        })}
      </DataTable>
    </div>
  );

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
      {can.runCommands && (
        <section class="assigned-to-me" data-testid="assigned-to-me">
          <h2>
            Assigned to me{assigned?.length ? ` (${assigned.length})` : ""}{" "}
            <span class="muted small">open sessions you hold: only you run commands in them</span>
          </h2>
          {table({
            testId: "assigned-table",
            rows: assigned,
            empty: "No open session is assigned to you.",
            emptyTestId: "none-assigned",
            rowTestId: "assigned-row",
          })}
        </section>
      )}
      {can.runCommands && <h2>All sessions</h2>}
      <div class="search-filters" data-testid="sessions-filters">
        <label class="inline-field" for="sessions-state-filter">
          <span class="label">State</span>
          <Select
            id="sessions-state-filter"
            testId="sessions-state"
            value={state}
            onValue={(value) => {
              setSessions(null);
              setState(value as "" | SessionStateName);
            }}
            any="Any"
            options={SESSION_STATES.map((value) => ({ value, label: SESSION_STATE_LABEL[value] ?? value }))}
          />
        </label>
      </div>
      {table({
        testId: "sessions-table",
        rows: sessions,
        empty: state ? `No ${SESSION_STATE_LABEL[state]} sessions.` : "No sessions yet.",
        emptyTestId: "no-sessions",
        rowTestId: "session-row",
      })}
    </div>
  );
}

// One machine's card: its facts, its sessions (newest first, older ones on demand) and the timeline of changes made
// on it across sessions.
import * as routes from "@caisey/core/routes";
import { useRef, useState } from "preact/hooks";
import {
  abilities,
  api,
  errorMessage,
  type MachineCard,
  type MachineChange,
  type Me,
  type SessionSummary,
} from "../api.ts";
import { personLabel, usePeopleNames, usePolling } from "../hooks.ts";
import { linkClick } from "../router.ts";
import { relativeTime } from "../transcript.ts";
import { RuntimeHealthRows } from "./machine-health.tsx";
import { type ChangeRef, RollBackButton, RollbackDialog, RollbackLinkTo } from "./rollback.tsx";
import {
  ActionButton,
  DataTable,
  ErrorBanner,
  LoadFailed,
  MachineStatus,
  SessionCommands,
  SessionLink,
  SessionState,
  SessionTicket,
  When,
} from "./ui.tsx";

/** How often the card asks again (the machine list asks every second, the sessions list every five). */
const POLL_MS = 2000;

export function MachinePage({ machineId, me }: { machineId: string; me: Me }) {
  const can = abilities(me.user.role);
  const [card, setCard] = useState<MachineCard | null>(null);
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  // Ids stay visible without names.
  const names = usePeopleNames(can.staff);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [rollingBack, setRollingBack] = useState<ChangeRef | null>(null);
  // The machine whose older pages are shown: a poll then keeps them and their `next`.
  const olderLoaded = useRef<string | null>(null);

  // Polled, so the card follows the machine while a technician watches it (back online after a reboot, a session
  // opened or closed by a colleague, a change just recorded). Each poll replaces the newest page; older pages the
  // technician asked for stay below it.
  usePolling(
    () => api(routes.machineCard, { params: { id: machineId } }),
    {
      everyMs: POLL_MS,
      onData: (answer) => {
        setCard(answer);
        // Sessions that moved past the newest page since it was first shown stay listed below it, once.
        const fresh = new Set(answer.sessions.map((s) => s.id));
        if (olderLoaded.current === machineId)
          setSessions((shown) => [...answer.sessions, ...shown.filter((s) => !fresh.has(s.id))]);
        else {
          setSessions(answer.sessions);
          setNext(answer.next);
        }
        setError(null);
        document.title = `Caisey · ${answer.machine.hostname}`;
      },
      onError: setError,
    },
    [machineId],
  );

  const loadOlder = async () => {
    if (!next) return;
    setLoadingMore(true);
    try {
      const answer = await api(routes.machineCard, { params: { id: machineId }, query: { before: next } });
      olderLoaded.current = machineId;
      setSessions((s) => [...s, ...answer.sessions.filter((x) => !s.some((y) => y.id === x.id))]);
      setNext(answer.next);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoadingMore(false);
    }
  };

  const technician = personLabel(me, names, can.staff);

  if (error && !card) return <LoadFailed message={`Could not load this machine: ${error}`} />;
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
        <MachineStatus machine={m} testId="machine-card-status" />
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
          <RuntimeHealthRows machine={m} now={Date.now()} />
          <dt>Machine id</dt>
          <dd class="mono muted">{m.id}</dd>
        </dl>
      </section>

      <section data-testid="machine-sessions">
        <h2>Sessions</h2>
        <div class="card flush">
          <DataTable
            columns={["Opened", "Technician", "Ticket", "State", "Commands", "Approvals", ""]}
            empty={sessions.length === 0 && "No sessions on this machine yet."}
          >
            {sessions.map((s) => (
              <tr key={s.id} data-testid="machine-session-row" data-session-id={s.id} data-state={s.state}>
                <td class="nowrap">
                  <When iso={s.openedAt} />
                </td>
                <td>{technician(s.technicianId)}</td>
                <SessionTicket session={s} />
                <SessionState session={s} />
                <SessionCommands session={s} />
                <td>{s.approvalCount ?? 0}</td>
                <SessionLink session={s} />
              </tr>
            ))}
          </DataTable>
        </div>
        {next && (
          <ActionButton
            class="load-older"
            testId="load-older"
            disabled={loadingMore}
            busy={loadingMore}
            busyLabel="Loading…"
            label="Load older sessions"
            onClick={() => void loadOlder()}
          />
        )}
      </section>

      <section data-testid="machine-changes">
        <h2>Timeline of changes</h2>
        {card.changes.length === 0 ? (
          <p class="muted">No changes recorded on this machine. Commands that change it are listed here.</p>
        ) : (
          <ol class="timeline">
            {card.changes.map((c) => (
              <ChangeItem
                key={c.commandId}
                change={c}
                technician={c.requestedByName ?? technician(c.requestedBy)}
                onRollBack={can.runCommands ? setRollingBack : null}
                commandOf={(id) => card.changes.find((other) => other.commandId === id)?.command}
              />
            ))}
          </ol>
        )}
      </section>
      {rollingBack && <RollbackDialog change={rollingBack} onClose={() => setRollingBack(null)} />}
    </div>
  );
}

const ENDED = new Set(["finished", "timed_out", "interrupted", "cancelled", "failed"]);

function ChangeItem({
  change: c,
  technician,
  onRollBack,
  commandOf,
}: {
  change: MachineChange;
  technician: string;
  onRollBack: ((change: ChangeRef) => void) | null;
  /** The text of another change on this timeline (the two ends of a rollback are on the same machine). */
  commandOf: (commandId: string) => string | undefined;
}) {
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
      {c.rollbackOf && <RollbackLinkTo label="undoes" to={c.rollbackOf} command={commandOf(c.rollbackOf.commandId)} />}
      {c.rollback && (
        <RollbackLinkTo
          label="rolled back by"
          to={c.rollback}
          state={c.rollback.state}
          command={commandOf(c.rollback.commandId)}
        />
      )}
      {onRollBack && ENDED.has(c.state) && <RollBackButton change={c} onOpen={onRollBack} />}
    </li>
  );
}

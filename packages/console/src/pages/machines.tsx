// Home page: the tenant's machines (polled every second) and the "Enroll a machine" panel.
import * as routes from "@caisey/core/routes";
import { useEffect, useState } from "preact/hooks";
import { abilities, api, type Client, errorMessage, type Machine, type Me } from "../api.ts";
import { useAction, usePolling, useSubmit } from "../hooks.ts";
import { linkClick, navigate } from "../router.ts";
import { relativeTime } from "../transcript.ts";
import { InstallCommands } from "./install-commands.tsx";
import { BacklogMarker } from "./machine-health.tsx";
import {
  ActionBanners,
  ActionButton,
  CopyButton,
  DataTable,
  ErrorBanner,
  Field,
  FormError,
  InlineInput,
  MachineStatus,
  Select,
  SubmitButton,
  TextField,
  ToggleButton,
} from "./ui.tsx";

const POLL_MS = 1000;

export function MachinesPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [machines, setMachines] = useState<Machine[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const action = useAction();
  const [ticket, setTicket] = useState("");
  const [opening, setOpening] = useState<string | null>(null);
  const [enrollOpen, setEnrollOpen] = useState(false);
  const [now, setNow] = useState(Date.now());
  const [clients, setClients] = useState<Client[] | null>(null);
  const [moving, setMoving] = useState<string | null>(null);
  const [pollTick, setPollTick] = useState(0);

  // Owners move machines between clients: they need the client list.
  useEffect(() => {
    if (!can.manageMachines) return;
    api(routes.listClients)
      .then((answer) => setClients(answer.clients))
      .catch((error) => action.setError(`Could not load clients: ${errorMessage(error)}`));
  }, [can.manageMachines]);

  usePolling(
    () => api(routes.listMachines),
    {
      everyMs: POLL_MS,
      onData: (answer) => {
        setMachines(answer.machines);
        setLoadError(null);
        setNow(Date.now());
      },
      onError: (message) => {
        setLoadError(message);
        setNow(Date.now());
      },
    },
    [pollTick],
  );

  // Open the enroll panel by default while there is nothing to look at.
  useEffect(() => {
    if (can.enroll && machines && machines.length === 0) setEnrollOpen(true);
  }, [machines?.length === 0]);

  const repoll = () => setPollTick((t) => t + 1);

  const revoke = (machine: Machine) =>
    action.run(machine.id, {
      confirm:
        `Revoke ${machine.hostname}?\n\nIts runtime is disconnected now and refused from then on; no new session can be opened on it. ` +
        "Its sessions and records stay. To support this machine again, enroll it anew.",
      work: () => api(routes.revokeMachine, { params: { id: machine.id } }),
      done: `${machine.hostname} was revoked; its runtime can no longer connect.`,
      failed: `Could not revoke ${machine.hostname}`,
      after: repoll,
    });

  const move = (machine: Machine, clientId: string) =>
    action.run(machine.id, {
      work: async () => {
        await api(routes.moveMachine, { params: { id: machine.id }, body: { clientId } });
        setMoving(null);
      },
      done: `${machine.hostname} now belongs to ${clients?.find((c) => c.id === clientId)?.name ?? clientId}.`,
      failed: `Could not move ${machine.hostname}`,
      after: repoll,
    });

  const openSession = async (machine: Machine) => {
    action.setError(null);
    setOpening(machine.id);
    try {
      const body: { machineId: string; ticket?: string } = { machineId: machine.id };
      if (ticket.trim()) body.ticket = ticket.trim();
      const { id } = await api(routes.openSession, { body });
      navigate(`/sessions/${encodeURIComponent(id)}`);
    } catch (error) {
      action.setError(`Could not open a session on ${machine.hostname}: ${errorMessage(error)}`);
    } finally {
      setOpening(null);
    }
  };

  const online = machines?.filter((m) => m.online).length ?? 0;

  return (
    <div class="page">
      <div class="page-head">
        <h1>Machines</h1>
        {machines && (
          <span class="muted" data-testid="machine-count">
            {machines.length} enrolled · {online} online
          </span>
        )}
        <div class="spacer" />
        {can.runCommands && (
          <InlineInput
            label="Ticket for new sessions"
            testId="session-ticket"
            placeholder="e.g. T-1042 (optional)"
            maxLength={200}
            value={ticket}
            onValue={setTicket}
          />
        )}
        {can.enroll && (
          <ToggleButton
            open={enrollOpen}
            onToggle={setEnrollOpen}
            label="Enroll a machine"
            openLabel="Hide enrollment"
            testId="enroll-toggle"
          />
        )}
      </div>

      {!can.staff && (
        <p class="muted" data-testid="contact-hint">
          Your machines that {me.organization.name} supports. Sessions its technicians open on them are listed under{" "}
          <a href="/sessions" onClick={linkClick}>
            Sessions
          </a>
          , where you can follow them and chat with the technician.
        </p>
      )}

      {can.enroll && enrollOpen && <EnrollPanel canCreateClient={can.manageClients} />}

      <ActionBanners action={action} />
      {loadError && <ErrorBanner message={`Could not load machines: ${loadError}`} />}

      <div class="card flush machine-list">
        <DataTable
          testId="machines-table"
          columns={["Hostname", "Client", "OS", "Status", "Last seen", "Runtime", ""]}
          loading={machines === null && !loadError}
          empty={
            machines?.length === 0 &&
            (can.enroll
              ? "No machines yet. Enroll one with the panel above."
              : can.staff
                ? "No machines yet. An owner or technician enrolls them."
                : "No machines of yours are enrolled yet.")
          }
          emptyTestId="no-machines"
        >
          {machines?.map((m) => (
            <tr
              key={m.id}
              class={m.revoked ? "revoked" : ""}
              data-testid="machine-row"
              data-machine-id={m.id}
              data-hostname={m.hostname}
              data-revoked={m.revoked ? "true" : "false"}
            >
              <td class="mono strong" data-testid="machine-hostname">
                <a
                  href={`/machines/${encodeURIComponent(m.id)}`}
                  onClick={linkClick}
                  data-testid="machine-link"
                  title="Machine card: facts, sessions and the timeline of changes"
                >
                  {m.hostname}
                </a>
              </td>
              <td data-testid="machine-client">{m.clientName ?? <span class="mono muted">{m.clientId}</span>}</td>
              <td>
                {m.os}
                {m.osVersion ? <span class="muted"> {m.osVersion}</span> : null}
                {m.arch ? <span class="muted"> · {m.arch}</span> : null}
              </td>
              <td>
                <MachineStatus machine={m} testId="machine-status" withOnline />
              </td>
              <td title={m.lastSeenAt ?? ""}>{m.online ? "now" : relativeTime(m.lastSeenAt, now)}</td>
              <td class="mono muted">
                {m.runtimeVersion ?? ""} <BacklogMarker machine={m} now={now} />
              </td>
              <td class="right actions">
                {can.manageMachines && !m.revoked && moving === m.id && (
                  <MoveForm
                    machine={m}
                    clients={clients ?? []}
                    busy={action.busy === m.id}
                    onMove={(clientId) => void move(m, clientId)}
                    onCancel={() => setMoving(null)}
                  />
                )}
                {can.manageMachines && !m.revoked && moving !== m.id && (
                  <>
                    <ActionButton
                      class="small"
                      testId="move-machine"
                      disabled={action.busy !== null || clients === null}
                      label="Move to client…"
                      onClick={() => setMoving(m.id)}
                    />
                    <ActionButton
                      class="danger small"
                      testId="revoke-machine"
                      disabled={action.busy !== null}
                      label="Revoke"
                      onClick={() => void revoke(m)}
                    />
                  </>
                )}
                {can.runCommands && !m.revoked && (
                  <ActionButton
                    class="primary small"
                    testId="open-session"
                    disabled={opening !== null}
                    busy={opening === m.id}
                    busyLabel="Opening…"
                    label="Open session"
                    onClick={() => void openSession(m)}
                    title={m.online ? "" : "The machine is offline; commands queue until it reconnects."}
                  />
                )}
                {m.revoked && (
                  <span class="muted small" title="Its runtime is refused; enroll the machine again to support it.">
                    identity revoked
                  </span>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      </div>
    </div>
  );
}

function MoveForm({
  machine,
  clients,
  busy,
  onMove,
  onCancel,
}: {
  machine: Machine;
  clients: Client[];
  busy: boolean;
  onMove: (clientId: string) => void;
  onCancel: () => void;
}) {
  const others = clients.filter((c) => c.id !== machine.clientId);
  const [target, setTarget] = useState(others[0]?.id ?? "");
  if (others.length === 0)
    return (
      <span class="inline-form">
        <span class="muted small">No other client to move it to.</span>
        <button type="button" class="small" onClick={onCancel}>
          Cancel
        </button>
      </span>
    );
  return (
    <form
      class="inline-form"
      data-testid="move-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (target) onMove(target);
      }}
    >
      <Select
        testId="move-client"
        aria-label={`Client to move ${machine.hostname} to`}
        value={target}
        onValue={setTarget}
        options={clientChoices(others)}
      />
      <button type="submit" class="primary small" data-testid="move-confirm" disabled={busy || !target}>
        {busy ? "Moving…" : "Move"}
      </button>
      <button type="button" class="small" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}

const NEW_CLIENT = "__new__";

function clientChoices(clients: Client[]) {
  return clients.map((c) => ({ value: c.id, label: c.name }));
}

function EnrollPanel({ canCreateClient }: { canCreateClient: boolean }) {
  const [clients, setClients] = useState<Client[] | null>(null);
  const [clientId, setClientId] = useState<string>("");
  const [newClientName, setNewClientName] = useState("");
  const [dataDir, setDataDir] = useState(".caisey-runtime");
  const [token, setToken] = useState<{ token: string; expiresAt: string; clientName: string } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const loadClients = async (select?: string) => {
    try {
      const answer = await api(routes.listClients);
      setClients(answer.clients);
      if (select) setClientId(select);
      else if (!clientId) setClientId(answer.clients[0]?.id ?? (canCreateClient ? NEW_CLIENT : ""));
    } catch (err) {
      setLoadError(`Could not load clients: ${errorMessage(err)}`);
      setClients([]);
      setClientId(canCreateClient ? NEW_CLIENT : "");
    }
  };

  // Load once when the panel opens.
  useEffect(() => {
    void loadClients();
  }, []);

  const {
    busy,
    error: createError,
    submit: createToken,
  } = useSubmit(async () => {
    setLoadError(null);
    let id = clientId;
    let clientName = clients?.find((c) => c.id === id)?.name ?? "";
    if (!id) throw new Error("Pick the client the machine belongs to.");
    if (id === NEW_CLIENT) {
      const name = newClientName.trim();
      if (!name) throw new Error("Name the new client first.");
      id = (await api(routes.addClient, { body: { name } })).id;
      clientName = name;
      setNewClientName("");
      await loadClients(id);
    }
    const answer = await api(routes.createEnrollment, { body: { clientId: id } });
    setToken({ ...answer, clientName });
  });
  const error = createError ?? loadError;

  const dir = quoteArg(dataDir.trim() || ".caisey-runtime");
  const command = token
    ? `CAISEY_ENROLL_TOKEN=${token.token} npm run runtime -- enroll --server ${location.origin} --data-dir ${dir}\nnpm run runtime -- run --data-dir ${dir}`
    : "";

  return (
    <section class="card enroll" data-testid="enroll-panel">
      <h2>Enroll a machine</h2>
      <p class="muted">
        Pick the client the machine belongs to and create a one-time enrollment token. Then run the command for the
        endpoint's platform below. The runtime connects out to this server; it never listens.
      </p>
      <form class="enroll-form" onSubmit={createToken}>
        <Field id="enroll-client" label="Client">
          <Select
            id="enroll-client"
            testId="enroll-client"
            value={clientId}
            disabled={clients === null}
            onValue={setClientId}
            options={clientChoices(clients ?? [])}
          >
            {canCreateClient && <option value={NEW_CLIENT}>+ New client…</option>}
          </Select>
        </Field>
        {!canCreateClient && clients?.length === 0 && (
          <p class="muted small" data-testid="enroll-no-clients">
            There are no clients yet; an owner adds them on the Clients page.
          </p>
        )}
        {clientId === NEW_CLIENT && (
          <TextField
            id="enroll-new-client"
            testId="enroll-new-client"
            label="New client name"
            placeholder="Acme Dental"
            maxLength={200}
            value={newClientName}
            onValue={setNewClientName}
          />
        )}
        <TextField
          id="enroll-data-dir"
          testId="enroll-data-dir"
          label="Data directory (checkout)"
          class="mono"
          value={dataDir}
          onValue={setDataDir}
        />
        <SubmitButton
          busy={busy}
          disabled={clients === null || !clientId}
          label={clientId === NEW_CLIENT ? "Create client and token" : "Create token"}
          busyLabel="Creating…"
          testId="enroll-create"
        />
      </form>
      <FormError message={error} testId="enroll-error" />
      {token && (
        <div class="enroll-result" data-testid="enroll-result">
          <div class="kv">
            <span class="muted">Token for {token.clientName || "client"}</span>
            <code data-testid="enroll-token">{token.token}</code>
            <span class="muted">expires {new Date(token.expiresAt).toLocaleString()}</span>
          </div>
          <InstallCommands token={token.token} />
          <h3>From a checkout of the Caisey repository</h3>
          <div class="cmd-box">
            <pre data-testid="enroll-command">{command}</pre>
            <CopyButton key={command} text={command} />
          </div>
          <p class="muted small">
            The token travels in an environment variable, so it stays out of npm's log and the process list. The machine
            appears in the table below, online, as soon as the runtime connects.
          </p>
        </div>
      )}
    </section>
  );
}

/** Quote a shell argument only when it needs it (works for POSIX shells and PowerShell alike for simple paths). */
function quoteArg(value: string): string {
  return /^[A-Za-z0-9_./:~\\-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, "\\$1")}"`;
}

// Home page: the tenant's machines (polled every second) and the "Enroll a machine" panel.
import { useEffect, useState } from "preact/hooks";
import { abilities, api, type Client, errorMessage, type Machine, type Me } from "../api.ts";
import { linkClick, navigate } from "../router.ts";
import { relativeTime } from "../transcript.ts";
import { ErrorBanner, Field, Notice } from "./ui.tsx";

const POLL_MS = 1000;

export function MachinesPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [machines, setMachines] = useState<Machine[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [ticket, setTicket] = useState("");
  const [opening, setOpening] = useState<string | null>(null);
  const [enrollOpen, setEnrollOpen] = useState(false);
  const [now, setNow] = useState(Date.now());
  const [notice, setNotice] = useState<string | null>(null);
  const [clients, setClients] = useState<Client[] | null>(null);
  const [moving, setMoving] = useState<string | null>(null);
  const [busyRow, setBusyRow] = useState<string | null>(null);
  const [pollTick, setPollTick] = useState(0);

  // Owners move machines between clients: they need the client list.
  useEffect(() => {
    if (!can.manageMachines) return;
    api<{ clients: Client[] }>("GET", "/api/v1/clients")
      .then((answer) => setClients(answer.clients))
      .catch((error) => setActionError(`Could not load clients: ${errorMessage(error)}`));
  }, [can.manageMachines]);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      try {
        const answer = await api<{ machines: Machine[] }>("GET", "/api/v1/machines");
        if (!alive) return;
        setMachines(answer.machines);
        setLoadError(null);
      } catch (error) {
        if (alive) setLoadError(errorMessage(error));
      }
      if (!alive) return;
      setNow(Date.now());
      timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, [pollTick]);

  // Open the enroll panel by default while there is nothing to look at.
  useEffect(() => {
    if (can.enroll && machines && machines.length === 0) setEnrollOpen(true);
  }, [machines?.length === 0]);

  const revoke = async (machine: Machine) => {
    const ok = window.confirm(
      `Revoke ${machine.hostname}?\n\nIts runtime is disconnected now and refused from then on; no new session can be opened on it. ` +
        "Its sessions and records stay. To support this machine again, enroll it anew.",
    );
    if (!ok) return;
    setActionError(null);
    setBusyRow(machine.id);
    try {
      await api("POST", `/api/v1/machines/${encodeURIComponent(machine.id)}/revoke`);
      setNotice(`${machine.hostname} was revoked; its runtime can no longer connect.`);
      setPollTick((t) => t + 1);
    } catch (error) {
      setActionError(`Could not revoke ${machine.hostname}: ${errorMessage(error)}`);
    } finally {
      setBusyRow(null);
    }
  };

  const move = async (machine: Machine, clientId: string) => {
    setActionError(null);
    setBusyRow(machine.id);
    try {
      await api("POST", `/api/v1/machines/${encodeURIComponent(machine.id)}/move`, { clientId });
      const to = clients?.find((c) => c.id === clientId)?.name ?? clientId;
      setNotice(`${machine.hostname} now belongs to ${to}.`);
      setMoving(null);
      setPollTick((t) => t + 1);
    } catch (error) {
      setActionError(`Could not move ${machine.hostname}: ${errorMessage(error)}`);
    } finally {
      setBusyRow(null);
    }
  };

  const openSession = async (machine: Machine) => {
    setActionError(null);
    setOpening(machine.id);
    try {
      const body: { machineId: string; ticket?: string } = { machineId: machine.id };
      if (ticket.trim()) body.ticket = ticket.trim();
      const { id } = await api<{ id: string }>("POST", "/api/v1/sessions", body);
      navigate(`/sessions/${encodeURIComponent(id)}`);
    } catch (error) {
      setActionError(`Could not open a session on ${machine.hostname}: ${errorMessage(error)}`);
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
          <label class="inline-field">
            <span class="label">Ticket for new sessions</span>
            <input
              data-testid="session-ticket"
              placeholder="e.g. T-1042 (optional)"
              maxLength={200}
              value={ticket}
              onInput={(e) => setTicket(e.currentTarget.value)}
            />
          </label>
        )}
        {can.enroll && (
          <button
            type="button"
            class={enrollOpen ? "" : "primary"}
            data-testid="enroll-toggle"
            onClick={() => setEnrollOpen(!enrollOpen)}
          >
            {enrollOpen ? "Hide enrollment" : "Enroll a machine"}
          </button>
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

      <Notice message={notice} onDismiss={() => setNotice(null)} />
      <ErrorBanner message={actionError} onDismiss={() => setActionError(null)} />
      {loadError && <ErrorBanner message={`Could not load machines: ${loadError}`} />}

      <div class="card flush">
        <table class="grid" data-testid="machines-table">
          <thead>
            <tr>
              <th>Hostname</th>
              <th>Client</th>
              <th>OS</th>
              <th>Status</th>
              <th>Last seen</th>
              <th>Runtime</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {machines === null && !loadError && (
              <tr>
                <td colSpan={7} class="muted center">
                  Loading…
                </td>
              </tr>
            )}
            {machines?.length === 0 && (
              <tr>
                <td colSpan={7} class="muted center" data-testid="no-machines">
                  {can.enroll
                    ? "No machines yet. Enroll one with the panel above."
                    : can.staff
                      ? "No machines yet. An owner or technician enrolls them."
                      : "No machines of yours are enrolled yet."}
                </td>
              </tr>
            )}
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
                  <span
                    class={`status ${m.revoked ? "revoked" : m.online ? "online" : "offline"}`}
                    data-testid="machine-status"
                    data-online={m.online ? "true" : "false"}
                  >
                    <span class="dot" />
                    {m.revoked ? "revoked" : m.online ? "online" : "offline"}
                  </span>
                </td>
                <td title={m.lastSeenAt ?? ""}>{m.online ? "now" : relativeTime(m.lastSeenAt, now)}</td>
                <td class="mono muted">{m.runtimeVersion ?? ""}</td>
                <td class="right actions">
                  {can.manageMachines && !m.revoked && moving === m.id && (
                    <MoveForm
                      machine={m}
                      clients={clients ?? []}
                      busy={busyRow === m.id}
                      onMove={(clientId) => void move(m, clientId)}
                      onCancel={() => setMoving(null)}
                    />
                  )}
                  {can.manageMachines && !m.revoked && moving !== m.id && (
                    <>
                      <button
                        type="button"
                        class="small"
                        data-testid="move-machine"
                        disabled={busyRow !== null || clients === null}
                        onClick={() => setMoving(m.id)}
                      >
                        Move to client…
                      </button>
                      <button
                        type="button"
                        class="danger small"
                        data-testid="revoke-machine"
                        disabled={busyRow !== null}
                        onClick={() => void revoke(m)}
                      >
                        Revoke
                      </button>
                    </>
                  )}
                  {can.runCommands && !m.revoked && (
                    <button
                      type="button"
                      class="primary small"
                      data-testid="open-session"
                      disabled={opening !== null}
                      onClick={() => void openSession(m)}
                      title={m.online ? "" : "The machine is offline; commands queue until it reconnects."}
                    >
                      {opening === m.id ? "Opening…" : "Open session"}
                    </button>
                  )}
                  {m.revoked && (
                    <span class="muted small" title="Its runtime is refused; enroll the machine again to support it.">
                      identity revoked
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
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
      <select
        data-testid="move-client"
        aria-label={`Client to move ${machine.hostname} to`}
        value={target}
        onChange={(e) => setTarget(e.currentTarget.value)}
      >
        {others.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name}
          </option>
        ))}
      </select>
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

function EnrollPanel({ canCreateClient }: { canCreateClient: boolean }) {
  const [clients, setClients] = useState<Client[] | null>(null);
  const [clientId, setClientId] = useState<string>("");
  const [newClientName, setNewClientName] = useState("");
  const [dataDir, setDataDir] = useState(".caisey-runtime");
  const [token, setToken] = useState<{ token: string; expiresAt: string; clientName: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  const loadClients = async (select?: string) => {
    try {
      const answer = await api<{ clients: Client[] }>("GET", "/api/v1/clients");
      setClients(answer.clients);
      if (select) setClientId(select);
      else if (!clientId) setClientId(answer.clients[0]?.id ?? (canCreateClient ? NEW_CLIENT : ""));
    } catch (err) {
      setError(`Could not load clients: ${errorMessage(err)}`);
      setClients([]);
      setClientId(canCreateClient ? NEW_CLIENT : "");
    }
  };

  // Load once when the panel opens.
  useEffect(() => {
    void loadClients();
  }, []);

  const createToken = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      let id = clientId;
      let clientName = clients?.find((c) => c.id === id)?.name ?? "";
      if (!id) throw new Error("Pick the client the machine belongs to.");
      if (id === NEW_CLIENT) {
        const name = newClientName.trim();
        if (!name) throw new Error("Name the new client first.");
        id = (await api<{ id: string }>("POST", "/api/v1/clients", { name })).id;
        clientName = name;
        setNewClientName("");
        await loadClients(id);
      }
      const answer = await api<{ token: string; expiresAt: string }>("POST", "/api/v1/enrollments", {
        clientId: id,
      });
      setToken({ ...answer, clientName });
      setCopied(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const dir = quoteArg(dataDir.trim() || ".caisey-runtime");
  const command = token
    ? `npm run runtime -- enroll --server ${location.origin} --token ${token.token} --data-dir ${dir}\nnpm run runtime -- run --data-dir ${dir}`
    : "";

  return (
    <section class="card enroll" data-testid="enroll-panel">
      <h2>Enroll a machine</h2>
      <p class="muted">
        Pick the client the machine belongs to and create a one-time enrollment token. Then run the commands below on
        the endpoint, from a checkout of the Caisey repository. The runtime connects out to this server; it never
        listens.
      </p>
      <form class="enroll-form" onSubmit={createToken}>
        <Field id="enroll-client" label="Client">
          <select
            id="enroll-client"
            data-testid="enroll-client"
            value={clientId}
            disabled={clients === null}
            onChange={(e) => setClientId(e.currentTarget.value)}
          >
            {clients?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
            {canCreateClient && <option value={NEW_CLIENT}>+ New client…</option>}
          </select>
        </Field>
        {!canCreateClient && clients?.length === 0 && (
          <p class="muted small" data-testid="enroll-no-clients">
            There are no clients yet; an owner adds them on the Clients page.
          </p>
        )}
        {clientId === NEW_CLIENT && (
          <Field id="enroll-new-client" label="New client name">
            <input
              id="enroll-new-client"
              data-testid="enroll-new-client"
              placeholder="Acme Dental"
              maxLength={200}
              value={newClientName}
              onInput={(e) => setNewClientName(e.currentTarget.value)}
            />
          </Field>
        )}
        <Field id="enroll-data-dir" label="Data directory on the endpoint">
          <input
            id="enroll-data-dir"
            data-testid="enroll-data-dir"
            class="mono"
            value={dataDir}
            onInput={(e) => setDataDir(e.currentTarget.value)}
          />
        </Field>
        <button
          type="submit"
          class="primary"
          disabled={busy || clients === null || !clientId}
          data-testid="enroll-create"
        >
          {busy ? "Creating…" : clientId === NEW_CLIENT ? "Create client and token" : "Create token"}
        </button>
      </form>
      {error && (
        <div class="error" role="alert" data-testid="enroll-error">
          {error}
        </div>
      )}
      {token && (
        <div class="enroll-result" data-testid="enroll-result">
          <div class="kv">
            <span class="muted">Token for {token.clientName || "client"}</span>
            <code data-testid="enroll-token">{token.token}</code>
            <span class="muted">expires {new Date(token.expiresAt).toLocaleString()}</span>
          </div>
          <div class="cmd-box">
            <pre data-testid="enroll-command">{command}</pre>
            <button
              type="button"
              class="small"
              onClick={async () => {
                try {
                  await navigator.clipboard.writeText(command);
                  setCopied(true);
                } catch {
                  setCopied(false);
                }
              }}
            >
              {copied ? "Copied" : "Copy"}
            </button>
          </div>
          <p class="muted small">The machine appears in the table below, online, as soon as the runtime connects.</p>
        </div>
      )}
    </section>
  );
}

/** Quote a shell argument only when it needs it (works for POSIX shells and PowerShell alike for simple paths). */
function quoteArg(value: string): string {
  return /^[A-Za-z0-9_./:~\\-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, "\\$1")}"`;
}

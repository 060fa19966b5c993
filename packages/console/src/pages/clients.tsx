// Clients (staff): the MSP's clients with their approval policy and contacts (owners edit), and the enrollment
// tokens that attach machines to them (owners and technicians).
import { useEffect, useState } from "preact/hooks";
import {
  APPROVAL_POLICIES,
  type ApprovalPolicy,
  abilities,
  api,
  type Client,
  type Enrollment,
  errorMessage,
  type Machine,
  type Me,
  type Person,
} from "../api.ts";
import { ErrorBanner, Field, Notice, When } from "./ui.tsx";

function policyInfo(value: string | undefined) {
  return APPROVAL_POLICIES.find((p) => p.value === value);
}

export function ClientsPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [clients, setClients] = useState<Client[] | null>(null);
  const [machines, setMachines] = useState<Machine[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [enrollVersion, setEnrollVersion] = useState(0);

  const load = async () => {
    try {
      const [c, m] = await Promise.all([
        api<{ clients: Client[] }>("GET", "/api/v1/clients"),
        api<{ machines: Machine[] }>("GET", "/api/v1/machines"),
      ]);
      setClients(c.clients);
      setMachines(m.machines);
      setLoadError(null);
    } catch (error) {
      setLoadError(errorMessage(error));
    }
  };

  useEffect(() => {
    void load();
  }, []);

  return (
    <div class="page" data-testid="clients-page">
      <div class="page-head">
        <h1>Clients</h1>
        {clients && (
          <span class="muted" data-testid="client-count">
            {clients.length} {clients.length === 1 ? "client" : "clients"}
          </span>
        )}
        <div class="spacer" />
        {can.manageClients && (
          <button
            type="button"
            class={adding ? "" : "primary"}
            data-testid="client-add-toggle"
            onClick={() => setAdding(!adding)}
          >
            {adding ? "Hide" : "Add a client"}
          </button>
        )}
      </div>

      {adding && (
        <AddClient
          onAdded={async (name) => {
            setNotice(`${name} was added. Add its contacts below, then enroll its machines.`);
            setAdding(false);
            await load();
            setEnrollVersion((v) => v + 1);
          }}
        />
      )}

      <Notice message={notice} onDismiss={() => setNotice(null)} />
      {loadError && <ErrorBanner message={`Could not load clients: ${loadError}`} />}

      {clients === null && !loadError && <p class="muted">Loading…</p>}
      {clients?.length === 0 && (
        <p class="muted" data-testid="no-clients">
          No clients yet.{" "}
          {can.manageClients ? "Add the first one above." : "An owner adds them; ask yours to add the client first."}
        </p>
      )}
      <div class="client-list">
        {clients?.map((c) => (
          <ClientCard
            key={c.id}
            client={c}
            machineCount={machines.filter((m) => m.clientId === c.id && !m.revoked).length}
            me={me}
            onChanged={load}
          />
        ))}
      </div>

      {can.enroll && clients && <Enrollments key={enrollVersion} clients={clients} />}
    </div>
  );
}

function PolicyPicker({
  id,
  testId,
  value,
  disabled,
  onChange,
}: {
  id: string;
  testId: string;
  value: string;
  disabled?: boolean;
  onChange: (value: ApprovalPolicy) => void;
}) {
  return (
    <select
      id={id}
      data-testid={testId}
      value={value}
      disabled={disabled}
      onChange={(e) => onChange(e.currentTarget.value as ApprovalPolicy)}
    >
      {APPROVAL_POLICIES.map((p) => (
        <option key={p.value} value={p.value} title={p.explain}>
          {p.value} — {p.label}
        </option>
      ))}
    </select>
  );
}

function AddClient({ onAdded }: { onAdded: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [policy, setPolicy] = useState<ApprovalPolicy>("changes");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await api("POST", "/api/v1/clients", { name: name.trim(), approvalPolicy: policy });
      const added = name.trim();
      setName("");
      await onAdded(added);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" data-testid="client-add">
      <h2>Add a client</h2>
      <form class="row-form" onSubmit={submit}>
        <Field id="client-add-name" label="Name">
          <input
            id="client-add-name"
            data-testid="client-add-name"
            required
            maxLength={200}
            placeholder="Acme Dental"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field id="client-add-policy" label="Approval policy">
          <PolicyPicker id="client-add-policy" testId="client-add-policy" value={policy} onChange={setPolicy} />
        </Field>
        <button type="submit" class="primary" disabled={busy} data-testid="client-add-submit">
          {busy ? "Adding…" : "Add client"}
        </button>
      </form>
      <p class="muted small" data-testid="client-add-policy-explain">
        {policyInfo(policy)?.explain}
      </p>
      {error && (
        <div class="error" role="alert" data-testid="client-add-error">
          {error}
        </div>
      )}
    </section>
  );
}

function ClientCard({
  client,
  machineCount,
  me,
  onChanged,
}: {
  client: Client;
  machineCount: number;
  me: Me;
  onChanged: () => Promise<void>;
}) {
  const can = abilities(me.user.role);
  const [contacts, setContacts] = useState<Person[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [newName, setNewName] = useState(client.name);
  const [busy, setBusy] = useState(false);
  const [addingContact, setAddingContact] = useState(false);
  const policy = policyInfo(client.approvalPolicy);

  const loadContacts = async () => {
    try {
      const answer = await api<{ contacts: Person[] }>(
        "GET",
        `/api/v1/clients/${encodeURIComponent(client.id)}/contacts`,
      );
      setContacts(answer.contacts);
    } catch (err) {
      setError(`Could not load contacts: ${errorMessage(err)}`);
      setContacts([]);
    }
  };

  useEffect(() => {
    void loadContacts();
  }, [client.id]);

  const update = async (change: { name?: string; approvalPolicy?: ApprovalPolicy }, done: string) => {
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      await api("POST", `/api/v1/clients/${encodeURIComponent(client.id)}`, change);
      setNotice(done);
      setRenaming(false);
    } catch (err) {
      setError(`Could not change ${client.name}: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
      await onChanged();
    }
  };

  const setContactDisabled = async (person: Person, disabled: boolean) => {
    if (
      disabled &&
      !window.confirm(`Disable ${person.name}? They are signed out at once and cannot sign in until enabled again.`)
    )
      return;
    setError(null);
    setNotice(null);
    try {
      await api("POST", `/api/v1/users/${encodeURIComponent(person.id)}`, { disabled });
      setNotice(`${person.name} is ${disabled ? "disabled" : "enabled again"}.`);
    } catch (err) {
      setError(`Could not change ${person.name}: ${errorMessage(err)}`);
    }
    await loadContacts();
  };

  return (
    <section
      class="card client-card"
      data-testid="client-card"
      data-client-id={client.id}
      data-client-name={client.name}
    >
      <div class="client-head">
        {renaming ? (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              const name = newName.trim();
              if (name && name !== client.name) void update({ name }, `Renamed to ${name}.`);
              else setRenaming(false);
            }}
          >
            <input
              data-testid="client-rename-input"
              aria-label="New name"
              maxLength={200}
              value={newName}
              onInput={(e) => setNewName(e.currentTarget.value)}
            />
            <button type="submit" class="primary small" disabled={busy} data-testid="client-rename-save">
              Save
            </button>
            <button type="button" class="small" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <h2 data-testid="client-name">{client.name}</h2>
        )}
        {can.manageClients && !renaming && (
          <button
            type="button"
            class="ghost small"
            data-testid="client-rename"
            onClick={() => {
              setNewName(client.name);
              setRenaming(true);
            }}
          >
            Rename
          </button>
        )}
        <span class="muted">
          {machineCount} {machineCount === 1 ? "machine" : "machines"}
        </span>
        <div class="spacer" />
        <div class="inline-field">
          <label class="label" for={`policy-${client.id}`}>
            Approval policy
          </label>
          {can.manageClients ? (
            <PolicyPicker
              id={`policy-${client.id}`}
              testId="client-policy"
              value={client.approvalPolicy ?? "changes"}
              disabled={busy}
              onChange={(approvalPolicy) =>
                void update(
                  { approvalPolicy },
                  `${client.name}'s approval policy is now "${approvalPolicy}": ${policyInfo(approvalPolicy)?.explain ?? ""}`,
                )
              }
            />
          ) : (
            <span class="badge" id={`policy-${client.id}`} data-testid="client-policy">
              {client.approvalPolicy ?? "—"}
            </span>
          )}
        </div>
      </div>
      <p class="muted small policy-explain" data-testid="client-policy-explain">
        {policy ? policy.explain : ""}
      </p>

      <Notice message={notice} onDismiss={() => setNotice(null)} />
      <ErrorBanner message={error} onDismiss={() => setError(null)} />

      <div class="contacts">
        <div class="contacts-head">
          <h3>Contacts</h3>
          <span class="muted small">
            A contact signs in to see this client's machines and sessions and to chat; they never run commands.
          </span>
          <div class="spacer" />
          {can.manageClients && (
            <button
              type="button"
              class="small"
              data-testid="contact-add-toggle"
              onClick={() => setAddingContact(!addingContact)}
            >
              {addingContact ? "Hide" : "Add a contact"}
            </button>
          )}
        </div>
        {addingContact && (
          <AddContact
            client={client}
            onAdded={async (name) => {
              setNotice(`${name} was added as a contact of ${client.name} and can sign in now.`);
              setAddingContact(false);
              await loadContacts();
            }}
          />
        )}
        {contacts === null && <p class="muted small">Loading contacts…</p>}
        {contacts?.length === 0 && (
          <p class="muted small" data-testid="no-contacts">
            No contacts yet.
          </p>
        )}
        {contacts && contacts.length > 0 && (
          <table class="grid compact" data-testid="contacts-table">
            <tbody>
              {contacts.map((p) => (
                <tr key={p.id} data-testid="contact-row" data-email={p.email} class={p.disabled ? "disabled" : ""}>
                  <td class="strong">{p.name}</td>
                  <td class="mono">{p.email}</td>
                  <td>
                    <span class={`badge ${p.disabled ? "bad" : "good"}`} data-testid="contact-status">
                      {p.disabled ? "disabled" : "active"}
                    </span>
                  </td>
                  <td class="right">
                    {can.manageClients && (
                      <button
                        type="button"
                        class={p.disabled ? "small" : "danger small"}
                        data-testid="contact-toggle-disabled"
                        onClick={() => void setContactDisabled(p, !p.disabled)}
                      >
                        {p.disabled ? "Enable" : "Disable"}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}

function AddContact({ client, onAdded }: { client: Client; onAdded: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (password.length < 10) {
      setError("The first password must be at least 10 characters.");
      return;
    }
    setBusy(true);
    try {
      await api("POST", `/api/v1/clients/${encodeURIComponent(client.id)}/contacts`, {
        name: name.trim(),
        email: email.trim(),
        password,
      });
      const added = name.trim();
      setName("");
      setEmail("");
      setPassword("");
      await onAdded(added);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const idp = `contact-${client.id}`;
  return (
    <form class="row-form contact-add" data-testid="contact-add" onSubmit={submit}>
      <Field id={`${idp}-name`} label="Name">
        <input
          id={`${idp}-name`}
          data-testid="contact-add-name"
          required
          maxLength={200}
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </Field>
      <Field id={`${idp}-email`} label="Email">
        <input
          id={`${idp}-email`}
          data-testid="contact-add-email"
          type="email"
          required
          autoComplete="off"
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
      </Field>
      <Field id={`${idp}-password`} label="First password" hint="10+ characters.">
        <input
          id={`${idp}-password`}
          data-testid="contact-add-password"
          type="password"
          required
          autoComplete="new-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </Field>
      <button type="submit" class="primary" disabled={busy} data-testid="contact-add-submit">
        {busy ? "Adding…" : "Add contact"}
      </button>
      {error && (
        <div class="error wide-error" role="alert" data-testid="contact-add-error">
          {error}
        </div>
      )}
    </form>
  );
}

function enrollmentStatus(e: Enrollment, now: number): { label: string; live: boolean } {
  if (e.revokedAt) return { label: "revoked", live: false };
  if (Date.parse(e.expiresAt) <= now) return { label: "expired", live: false };
  if (e.usesLeft <= 0) return { label: "used up", live: false };
  return { label: "active", live: true };
}

function Enrollments({ clients }: { clients: Client[] }) {
  const [enrollments, setEnrollments] = useState<Enrollment[] | null>(null);
  const [people, setPeople] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = async () => {
    try {
      const answer = await api<{ enrollments: Enrollment[] }>("GET", "/api/v1/enrollments");
      setEnrollments(answer.enrollments);
    } catch (err) {
      setError(`Could not load enrollment tokens: ${errorMessage(err)}`);
    }
  };

  useEffect(() => {
    void load();
    api<{ users: Person[] }>("GET", "/api/v1/users")
      .then((a) => setPeople(new Map(a.users.map((u) => [u.id, u.name]))))
      .catch(() => {
        // Names are a nicety; ids still show.
      });
  }, []);

  const revoke = async (e: Enrollment) => {
    setError(null);
    setBusy(e.id);
    try {
      await api("POST", `/api/v1/enrollments/${encodeURIComponent(e.id)}/revoke`);
    } catch (err) {
      setError(`Could not revoke the token: ${errorMessage(err)}`);
    } finally {
      setBusy(null);
      await load();
    }
  };

  const now = Date.now();
  const clientName = (id: string) => clients.find((c) => c.id === id)?.name ?? id;

  return (
    <section class="card flush enrollments" data-testid="enrollments">
      <div class="card-head">
        <h2>Enrollment tokens</h2>
        <span class="muted small">
          Created from Machines → Enroll a machine. Revoke a token that leaked or is no longer needed; machines already
          enrolled with it stay.
        </span>
      </div>
      <ErrorBanner message={error} onDismiss={() => setError(null)} />
      <table class="grid" data-testid="enrollments-table">
        <thead>
          <tr>
            <th>Client</th>
            <th>Created</th>
            <th>By</th>
            <th>Uses left</th>
            <th>Expires</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {enrollments === null && !error && (
            <tr>
              <td colSpan={7} class="muted center">
                Loading…
              </td>
            </tr>
          )}
          {enrollments?.length === 0 && (
            <tr>
              <td colSpan={7} class="muted center">
                No enrollment tokens yet.
              </td>
            </tr>
          )}
          {enrollments?.map((e) => {
            const status = enrollmentStatus(e, now);
            return (
              <tr key={e.id} data-testid="enrollment-row" data-enrollment-id={e.id} data-status={status.label}>
                <td class="strong">{clientName(e.clientId)}</td>
                <td>
                  <When iso={e.createdAt} />
                </td>
                <td>{people.get(e.createdBy) ?? <span class="mono muted">{e.createdBy}</span>}</td>
                <td data-testid="enrollment-uses">{e.usesLeft}</td>
                <td>
                  <When iso={e.expiresAt} />
                </td>
                <td>
                  <span class={`badge ${status.live ? "good" : "bad"}`} data-testid="enrollment-status">
                    {status.label}
                  </span>
                  {e.revokedAt && (
                    <span class="muted small">
                      {" "}
                      <When iso={e.revokedAt} />
                    </span>
                  )}
                </td>
                <td class="right">
                  {status.live && (
                    <button
                      type="button"
                      class="danger small"
                      data-testid="enrollment-revoke"
                      disabled={busy !== null}
                      onClick={() => void revoke(e)}
                    >
                      {busy === e.id ? "Revoking…" : "Revoke"}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

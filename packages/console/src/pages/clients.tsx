// Clients (staff): the MSP's clients with their approval policy and contacts (owners edit), and the enrollment
// tokens that attach machines to them (owners and technicians).
import * as routes from "@caisey/core/routes";
import { useEffect, useState } from "preact/hooks";
import {
  APPROVAL_POLICIES,
  type ApprovalPolicy,
  abilities,
  api,
  type Client,
  type Enrollment,
  errorMessage,
  type Me,
  type Person,
} from "../api.ts";
import { useAction, usePeopleNames, useResource, useSubmit } from "../hooks.ts";
import {
  ActionBanners,
  ActionButton,
  Badge,
  DataTable,
  DisableToggle,
  ErrorBanner,
  Field,
  FormCard,
  FormError,
  Notice,
  PersonStatus,
  Select,
  SubmitButton,
  TextField,
  ToggleButton,
  When,
} from "./ui.tsx";

function policyInfo(value: string | undefined) {
  return APPROVAL_POLICIES.find((p) => p.value === value);
}

export function ClientsPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const {
    data,
    error: loadError,
    reload: load,
  } = useResource(async () => {
    const [c, m] = await Promise.all([api(routes.listClients), api(routes.listMachines)]);
    return { clients: c.clients, machines: m.machines };
  });
  const clients = data?.clients ?? null;
  const machines = data?.machines ?? [];
  const [notice, setNotice] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [enrollVersion, setEnrollVersion] = useState(0);

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
          <ToggleButton open={adding} onToggle={setAdding} label="Add a client" testId="client-add-toggle" />
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

const POLICY_CHOICES = APPROVAL_POLICIES.map((p) => ({
  value: p.value,
  label: `${p.value} — ${p.label}`,
  title: p.explain,
}));

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
    <Select
      id={id}
      testId={testId}
      value={value}
      disabled={disabled}
      onValue={(v) => onChange(v as ApprovalPolicy)}
      options={POLICY_CHOICES}
    />
  );
}

function AddClient({ onAdded }: { onAdded: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [policy, setPolicy] = useState<ApprovalPolicy>("changes");
  const { busy, error, submit } = useSubmit(async () => {
    await api(routes.addClient, { body: { name: name.trim(), approvalPolicy: policy } });
    const added = name.trim();
    setName("");
    await onAdded(added);
  });

  return (
    <FormCard
      testId="client-add"
      title="Add a client"
      onSubmit={submit}
      busy={busy}
      label="Add client"
      busyLabel="Adding…"
      submitTestId="client-add-submit"
      error={error}
      errorTestId="client-add-error"
      after={
        <p class="muted small" data-testid="client-add-policy-explain">
          {policyInfo(policy)?.explain}
        </p>
      }
    >
      <TextField
        id="client-add-name"
        testId="client-add-name"
        label="Name"
        required
        maxLength={200}
        placeholder="Acme Dental"
        value={name}
        onValue={setName}
      />
      <Field id="client-add-policy" label="Approval policy">
        <PolicyPicker id="client-add-policy" testId="client-add-policy" value={policy} onChange={setPolicy} />
      </Field>
    </FormCard>
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
  const action = useAction();
  const [renaming, setRenaming] = useState(false);
  const [newName, setNewName] = useState(client.name);
  const [addingContact, setAddingContact] = useState(false);
  const policy = policyInfo(client.approvalPolicy);
  const busy = action.busy === client.id;

  const loadContacts = async () => {
    try {
      const answer = await api(routes.listContacts, { params: { id: client.id } });
      setContacts(answer.contacts);
    } catch (err) {
      action.setError(`Could not load contacts: ${errorMessage(err)}`);
      setContacts([]);
    }
  };

  useEffect(() => {
    void loadContacts();
  }, [client.id]);

  const update = (change: { name?: string; approvalPolicy?: ApprovalPolicy }, done: string) =>
    action.run(client.id, {
      work: async () => {
        await api(routes.updateClient, { params: { id: client.id }, body: change });
        setRenaming(false);
      },
      done,
      failed: `Could not change ${client.name}`,
      after: onChanged,
    });

  const setContactDisabled = (person: Person, disabled: boolean) =>
    action.run(person.id, {
      confirm: disabled
        ? `Disable ${person.name}? They are signed out at once and cannot sign in until enabled again.`
        : undefined,
      work: () => api(routes.updateUser, { params: { id: person.id }, body: { disabled } }),
      done: `${person.name} is ${disabled ? "disabled" : "enabled again"}.`,
      failed: `Could not change ${person.name}`,
      after: loadContacts,
    });

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

      <ActionBanners action={action} />

      <div class="contacts">
        <div class="contacts-head">
          <h3>Contacts</h3>
          <span class="muted small">
            A contact signs in to see this client's machines and sessions and to chat; they never run commands.
          </span>
          <div class="spacer" />
          {can.manageClients && (
            <ToggleButton
              open={addingContact}
              onToggle={setAddingContact}
              label="Add a contact"
              testId="contact-add-toggle"
              class="small"
            />
          )}
        </div>
        {addingContact && (
          <AddContact
            client={client}
            onAdded={async (name) => {
              action.setNotice(`${name} was added as a contact of ${client.name} and can sign in now.`);
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
                    <PersonStatus disabled={p.disabled} testId="contact-status" />
                  </td>
                  <td class="right">
                    {can.manageClients && (
                      <DisableToggle
                        disabled={p.disabled}
                        testId="contact-toggle-disabled"
                        onToggle={() => void setContactDisabled(p, !p.disabled)}
                      />
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
  const { busy, error, submit } = useSubmit(async () => {
    if (password.length < 10) throw new Error("The first password must be at least 10 characters.");
    await api(routes.addContact, {
      params: { id: client.id },
      body: { name: name.trim(), email: email.trim(), password },
    });
    const added = name.trim();
    setName("");
    setEmail("");
    setPassword("");
    await onAdded(added);
  });

  const idp = `contact-${client.id}`;
  return (
    <form class="row-form contact-add" data-testid="contact-add" onSubmit={submit}>
      <TextField
        id={`${idp}-name`}
        testId="contact-add-name"
        label="Name"
        required
        maxLength={200}
        value={name}
        onValue={setName}
      />
      <TextField
        id={`${idp}-email`}
        testId="contact-add-email"
        label="Email"
        type="email"
        required
        autoComplete="off"
        value={email}
        onValue={setEmail}
      />
      <TextField
        id={`${idp}-password`}
        testId="contact-add-password"
        label="First password"
        hint="10+ characters."
        type="password"
        required
        autoComplete="new-password"
        value={password}
        onValue={setPassword}
      />
      <SubmitButton busy={busy} label="Add contact" busyLabel="Adding…" testId="contact-add-submit" />
      <FormError message={error} testId="contact-add-error" class="error wide-error" />
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
  const people = usePeopleNames();
  const action = useAction();

  const load = async () => {
    try {
      const answer = await api(routes.listEnrollments);
      setEnrollments(answer.enrollments);
    } catch (err) {
      action.setError(`Could not load enrollment tokens: ${errorMessage(err)}`);
    }
  };

  useEffect(() => {
    void load();
  }, []);

  const revoke = (e: Enrollment) =>
    action.run(e.id, {
      work: () => api(routes.revokeEnrollment, { params: { id: e.id } }),
      failed: "Could not revoke the token",
      after: load,
    });

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
      <ErrorBanner message={action.error} onDismiss={() => action.setError(null)} />
      <DataTable
        testId="enrollments-table"
        columns={["Client", "Created", "By", "Uses left", "Expires", "Status", ""]}
        loading={enrollments === null && !action.error}
        empty={enrollments?.length === 0 && "No enrollment tokens yet."}
      >
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
                <Badge good={status.live} testId="enrollment-status">
                  {status.label}
                </Badge>
                {e.revokedAt && (
                  <span class="muted small">
                    {" "}
                    <When iso={e.revokedAt} />
                  </span>
                )}
              </td>
              <td class="right">
                {status.live && (
                  <ActionButton
                    class="danger small"
                    testId="enrollment-revoke"
                    disabled={action.busy !== null}
                    busy={action.busy === e.id}
                    busyLabel="Revoking…"
                    label="Revoke"
                    onClick={() => void revoke(e)}
                  />
                )}
              </td>
            </tr>
          );
        })}
      </DataTable>
    </section>
  );
}

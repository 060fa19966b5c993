// People (owner): the MSP's staff — add someone, change a role, disable or enable an account.
import * as routes from "@caisey/core/routes";
import { useState } from "preact/hooks";
import { api, type Me, type Person, type StaffRole } from "../api.ts";
import { useAction, useResource, useSubmit } from "../hooks.ts";
import {
  ActionBanners,
  DataTable,
  DisableToggle,
  ErrorBanner,
  Field,
  FormCard,
  PersonStatus,
  RoleSelect,
  TextField,
  ToggleButton,
  When,
} from "./ui.tsx";

const ROLE_HELP: Record<string, string> = {
  owner: "everything, including people, policy and keys",
  dispatcher: "sees every session, reviews and closes them; runs no commands",
  technician: "opens sessions and runs commands",
};

export function PeoplePage({ me, onSelfChanged }: { me: Me; onSelfChanged: () => Promise<void> }) {
  const { data: people, error: loadError, reload: load } = useResource(async () => (await api(routes.listUsers)).users);
  const action = useAction();
  const [adding, setAdding] = useState(false);

  const update = (person: Person, change: { role?: StaffRole; disabled?: boolean }, done: string, confirm?: string) =>
    action.run(person.id, {
      confirm,
      work: async () => {
        await api(routes.updateUser, { params: { id: person.id }, body: change });
        if (person.id === me.user.id) await onSelfChanged();
      },
      done,
      failed: `Could not change ${person.name}`,
      // Reload either way, so a refused change shows the person as they still are.
      after: load,
    });

  const setDisabled = (person: Person, disabled: boolean) =>
    void update(
      person,
      { disabled },
      `${person.name} is ${disabled ? "disabled" : "enabled again"}.`,
      disabled
        ? `Disable ${person.name}? They are signed out everywhere at once, their API tokens stop working, and they cannot sign in until enabled again.`
        : undefined,
    );

  return (
    <div class="page" data-testid="people-page">
      <div class="page-head">
        <h1>People</h1>
        {people && (
          <span class="muted" data-testid="people-count">
            {people.length} staff · {people.filter((p) => !p.disabled).length} active
          </span>
        )}
        <div class="spacer" />
        <ToggleButton open={adding} onToggle={setAdding} label="Add a person" testId="person-add-toggle" />
      </div>
      <p class="muted page-intro">
        Staff of your MSP. Roles: <b>owner</b> — {ROLE_HELP.owner}; <b>dispatcher</b> — {ROLE_HELP.dispatcher};{" "}
        <b>technician</b> — {ROLE_HELP.technician}. A client's own people are contacts, added on the Clients page.
      </p>

      {adding && (
        <AddPerson
          onAdded={async (name) => {
            action.setNotice(`${name} was added and can sign in now.`);
            setAdding(false);
            await load();
          }}
        />
      )}

      <ActionBanners action={action} />
      {loadError && <ErrorBanner message={`Could not load people: ${loadError}`} />}

      <div class="card flush">
        <DataTable
          testId="people-table"
          columns={["Name", "Email", "Role", "Status", "Added", ""]}
          loading={people === null && !loadError}
        >
          {people?.map((p) => (
            <tr
              key={p.id}
              class={p.disabled ? "disabled" : ""}
              data-testid="person-row"
              data-person-id={p.id}
              data-email={p.email}
            >
              <td class="strong" data-testid="person-name">
                {p.name}
                {p.id === me.user.id && <span class="muted"> (you)</span>}
              </td>
              <td class="mono">{p.email}</td>
              <td>
                <RoleSelect
                  testId="person-role"
                  aria-label={`Role of ${p.name}`}
                  value={p.role}
                  disabled={action.busy !== null}
                  title={ROLE_HELP[p.role] ?? ""}
                  onRole={(role) =>
                    void update(p, { role }, `${p.name} is now ${role === "owner" ? "an" : "a"} ${role}.`)
                  }
                />
              </td>
              <td>
                <PersonStatus disabled={p.disabled} testId="person-status" flag />
              </td>
              <td class="muted">
                <When iso={p.createdAt} />
              </td>
              <td class="right">
                <DisableToggle
                  disabled={p.disabled}
                  testId="person-toggle-disabled"
                  busy={action.busy === p.id}
                  locked={action.busy !== null}
                  onToggle={() => setDisabled(p, !p.disabled)}
                />
              </td>
            </tr>
          ))}
        </DataTable>
      </div>
    </div>
  );
}

function AddPerson({ onAdded }: { onAdded: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<StaffRole>("technician");
  const [password, setPassword] = useState("");
  const { busy, error, submit } = useSubmit(async () => {
    if (password.length < 10) throw new Error("The first password must be at least 10 characters.");
    await api(routes.addUser, { body: { name: name.trim(), email: email.trim(), role, password } });
    const added = name.trim();
    setName("");
    setEmail("");
    setPassword("");
    await onAdded(added);
  });

  return (
    <FormCard
      testId="person-add"
      title="Add a person"
      onSubmit={submit}
      busy={busy}
      label="Add person"
      busyLabel="Adding…"
      submitTestId="person-add-submit"
      error={error}
      errorTestId="person-add-error"
      after={
        <p class="muted small">
          {ROLE_HELP[role] ? `${role === "owner" ? "An" : "A"} ${role}: ${ROLE_HELP[role]}.` : ""}
        </p>
      }
    >
      <TextField
        id="person-name"
        testId="person-add-name"
        label="Name"
        required
        maxLength={200}
        value={name}
        onValue={setName}
      />
      <TextField
        id="person-email"
        testId="person-add-email"
        label="Email"
        type="email"
        required
        autoComplete="off"
        value={email}
        onValue={setEmail}
      />
      <Field id="person-role" label="Role">
        <RoleSelect id="person-role" testId="person-add-role" value={role} onRole={setRole} />
      </Field>
      <TextField
        id="person-password"
        testId="person-add-password"
        label="First password"
        hint="10+ characters; tell them to change it."
        type="password"
        required
        autoComplete="new-password"
        value={password}
        onValue={setPassword}
      />
    </FormCard>
  );
}

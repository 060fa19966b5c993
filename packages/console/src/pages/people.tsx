// People (owner): the MSP's staff — add someone, change a role, disable or enable an account.
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, type Me, type Person, type Role, STAFF_ROLES } from "../api.ts";
import { ErrorBanner, Field, Notice, When } from "./ui.tsx";

const ROLE_HELP: Record<string, string> = {
  owner: "everything, including people, policy and keys",
  dispatcher: "sees every session, reviews and closes them; runs no commands",
  technician: "opens sessions and runs commands",
};

export function PeoplePage({ me, onSelfChanged }: { me: Me; onSelfChanged: () => Promise<void> }) {
  const [people, setPeople] = useState<Person[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);

  const load = async () => {
    try {
      const answer = await api<{ users: Person[] }>("GET", "/api/v1/users");
      setPeople(answer.users);
      setLoadError(null);
    } catch (error) {
      setLoadError(errorMessage(error));
    }
  };

  useEffect(() => {
    void load();
  }, []);

  const update = async (person: Person, change: { role?: Role; disabled?: boolean }, done: string) => {
    setActionError(null);
    setNotice(null);
    setBusy(person.id);
    try {
      await api("POST", `/api/v1/users/${encodeURIComponent(person.id)}`, change);
      setNotice(done);
      if (person.id === me.user.id) await onSelfChanged();
    } catch (error) {
      setActionError(`Could not change ${person.name}: ${errorMessage(error)}`);
    } finally {
      setBusy(null);
      // Reload either way, so a refused change shows the person as they still are.
      await load();
    }
  };

  const setDisabled = (person: Person, disabled: boolean) => {
    if (
      disabled &&
      !window.confirm(
        `Disable ${person.name}? They are signed out everywhere at once, their API tokens stop working, and they cannot sign in until enabled again.`,
      )
    )
      return;
    void update(person, { disabled }, `${person.name} is ${disabled ? "disabled" : "enabled again"}.`);
  };

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
        <button
          type="button"
          class={adding ? "" : "primary"}
          data-testid="person-add-toggle"
          onClick={() => setAdding(!adding)}
        >
          {adding ? "Hide" : "Add a person"}
        </button>
      </div>
      <p class="muted page-intro">
        Staff of your MSP. Roles: <b>owner</b> — {ROLE_HELP.owner}; <b>dispatcher</b> — {ROLE_HELP.dispatcher};{" "}
        <b>technician</b> — {ROLE_HELP.technician}. A client's own people are contacts, added on the Clients page.
      </p>

      {adding && (
        <AddPerson
          onAdded={async (name) => {
            setNotice(`${name} was added and can sign in now.`);
            setAdding(false);
            await load();
          }}
        />
      )}

      <Notice message={notice} onDismiss={() => setNotice(null)} />
      <ErrorBanner message={actionError} onDismiss={() => setActionError(null)} />
      {loadError && <ErrorBanner message={`Could not load people: ${loadError}`} />}

      <div class="card flush">
        <table class="grid" data-testid="people-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Email</th>
              <th>Role</th>
              <th>Status</th>
              <th>Added</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {people === null && !loadError && (
              <tr>
                <td colSpan={6} class="muted center">
                  Loading…
                </td>
              </tr>
            )}
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
                  <select
                    data-testid="person-role"
                    aria-label={`Role of ${p.name}`}
                    value={p.role}
                    disabled={busy !== null}
                    title={ROLE_HELP[p.role] ?? ""}
                    onChange={(e) => {
                      const role = e.currentTarget.value as Role;
                      void update(p, { role }, `${p.name} is now ${role === "owner" ? "an" : "a"} ${role}.`);
                    }}
                  >
                    {STAFF_ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <span
                    class={`badge ${p.disabled ? "bad" : "good"}`}
                    data-testid="person-status"
                    data-disabled={p.disabled ? "true" : "false"}
                  >
                    {p.disabled ? "disabled" : "active"}
                  </span>
                </td>
                <td class="muted">
                  <When iso={p.createdAt} />
                </td>
                <td class="right">
                  <button
                    type="button"
                    class={p.disabled ? "small" : "danger small"}
                    data-testid="person-toggle-disabled"
                    disabled={busy !== null}
                    onClick={() => setDisabled(p, !p.disabled)}
                  >
                    {busy === p.id ? "Saving…" : p.disabled ? "Enable" : "Disable"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function AddPerson({ onAdded }: { onAdded: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("technician");
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
      await api("POST", "/api/v1/users", { name: name.trim(), email: email.trim(), role, password });
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

  return (
    <section class="card" data-testid="person-add">
      <h2>Add a person</h2>
      <form class="row-form" onSubmit={submit}>
        <Field id="person-name" label="Name">
          <input
            id="person-name"
            data-testid="person-add-name"
            required
            maxLength={200}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field id="person-email" label="Email">
          <input
            id="person-email"
            data-testid="person-add-email"
            type="email"
            required
            autoComplete="off"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field id="person-role" label="Role">
          <select
            id="person-role"
            data-testid="person-add-role"
            value={role}
            onChange={(e) => setRole(e.currentTarget.value as Role)}
          >
            {STAFF_ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Field>
        <Field id="person-password" label="First password" hint="10+ characters; tell them to change it.">
          <input
            id="person-password"
            data-testid="person-add-password"
            type="password"
            required
            autoComplete="new-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="primary" disabled={busy} data-testid="person-add-submit">
          {busy ? "Adding…" : "Add person"}
        </button>
      </form>
      <p class="muted small">
        {ROLE_HELP[role] ? `${role === "owner" ? "An" : "A"} ${role}: ${ROLE_HELP[role]}.` : ""}
      </p>
      {error && (
        <div class="error" role="alert" data-testid="person-add-error">
          {error}
        </div>
      )}
    </section>
  );
}

// API tokens (staff): keys for scripts and the CLI. A new token's secret is shown once; the list never has it.
import { useEffect, useState } from "preact/hooks";
import { type ApiToken, abilities, api, errorMessage, type Me, type Person, type Role, STAFF_ROLES } from "../api.ts";
import { CopyButton, ErrorBanner, Field, Notice, When } from "./ui.tsx";

const LIFETIMES: { label: string; seconds: number }[] = [
  { label: "1 day", seconds: 24 * 3600 },
  { label: "7 days", seconds: 7 * 24 * 3600 },
  { label: "30 days", seconds: 30 * 24 * 3600 },
  { label: "90 days", seconds: 90 * 24 * 3600 },
  { label: "1 year", seconds: 365 * 24 * 3600 },
];

interface Issued {
  id: string;
  token: string;
  role: Role;
  expiresAt: string;
  name: string;
}

function tokenStatus(t: ApiToken, now: number): string {
  if (t.revokedAt) return "revoked";
  if (Date.parse(t.expiresAt) <= now) return "expired";
  return "active";
}

export function TokensPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [names, setNames] = useState<Map<string, string>>(new Map());
  const [loadError, setLoadError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [showSignIns, setShowSignIns] = useState(false);

  const load = async () => {
    try {
      const answer = await api<{ tokens: ApiToken[] }>("GET", "/api/v1/tokens");
      setTokens(answer.tokens);
      setLoadError(null);
    } catch (error) {
      setLoadError(errorMessage(error));
    }
  };

  useEffect(() => {
    void load();
    api<{ users: Person[] }>("GET", "/api/v1/users")
      .then((a) => setNames(new Map(a.users.map((u) => [u.id, u.name]))))
      .catch(() => {
        // Without names the person column shows ids.
      });
  }, []);

  const revoke = async (t: ApiToken) => {
    const label = t.name ? `"${t.name}"` : "this sign-in";
    if (
      !window.confirm(
        `Revoke ${label}? Anything using it is refused from now on.${t.kind === "console" ? " If it is this browser's sign-in, you are signed out." : ""}`,
      )
    )
      return;
    setActionError(null);
    setNotice(null);
    setBusy(t.id);
    try {
      await api("POST", `/api/v1/tokens/${encodeURIComponent(t.id)}/revoke`);
      setNotice(`${t.name ? `"${t.name}"` : "The sign-in"} was revoked.`);
      if (issued?.id === t.id) setIssued(null);
    } catch (error) {
      setActionError(`Could not revoke ${label}: ${errorMessage(error)}`);
    } finally {
      setBusy(null);
      await load();
    }
  };

  const now = Date.now();
  const visible = (tokens ?? []).filter((t) => showSignIns || t.kind !== "console");
  const hiddenSignIns = (tokens ?? []).filter((t) => t.kind === "console").length;
  const personName = (id: string) => (id === me.user.id ? `${me.user.name} (you)` : (names.get(id) ?? id));

  return (
    <div class="page" data-testid="tokens-page">
      <div class="page-head">
        <h1>API tokens</h1>
        <span class="muted">
          {can.owner ? "Everyone's tokens in the organization." : "Your tokens."} A token acts with its role, never more
          than its person's current role.
        </span>
      </div>

      <CreateToken
        me={me}
        onIssued={async (t) => {
          setIssued(t);
          setNotice(null);
          await load();
        }}
      />

      {issued && (
        <section class="card issued" data-testid="token-issued" role="status">
          <h2>Token "{issued.name}" created</h2>
          <p class="warn" data-testid="token-warning">
            Copy it now: this is the only time it is shown. Caisey stores only its hash and cannot show it again.
          </p>
          <div class="cmd-box">
            <pre data-testid="token-secret">{issued.token}</pre>
            <CopyButton text={issued.token} testId="token-copy" />
          </div>
          <p class="muted small">
            Role {issued.role}, expires <When iso={issued.expiresAt} />. Use it as{" "}
            <code>Authorization: Bearer &lt;token&gt;</code>.
          </p>
          <button type="button" class="small" data-testid="token-issued-done" onClick={() => setIssued(null)}>
            I have copied it
          </button>
        </section>
      )}

      <Notice message={notice} onDismiss={() => setNotice(null)} />
      <ErrorBanner message={actionError} onDismiss={() => setActionError(null)} />
      {loadError && <ErrorBanner message={`Could not load tokens: ${loadError}`} />}

      <div class="card flush">
        <div class="card-head">
          <h2>Tokens</h2>
          <div class="spacer" />
          {hiddenSignIns > 0 && (
            <label class="inline-field small">
              <input
                type="checkbox"
                data-testid="tokens-show-signins"
                checked={showSignIns}
                onChange={(e) => setShowSignIns(e.currentTarget.checked)}
              />
              <span>Show browser sign-ins ({hiddenSignIns})</span>
            </label>
          )}
        </div>
        <table class="grid" data-testid="tokens-table">
          <thead>
            <tr>
              <th>Name</th>
              {can.owner && <th>Person</th>}
              <th>Role</th>
              <th>Created</th>
              <th>Expires</th>
              <th>Last used</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens === null && !loadError && (
              <tr>
                <td colSpan={8} class="muted center">
                  Loading…
                </td>
              </tr>
            )}
            {tokens !== null && visible.length === 0 && (
              <tr>
                <td colSpan={8} class="muted center" data-testid="no-tokens">
                  No API tokens yet.
                </td>
              </tr>
            )}
            {visible.map((t) => {
              const status = tokenStatus(t, now);
              return (
                <tr key={t.id} data-testid="token-row" data-token-id={t.id} data-status={status}>
                  <td class="strong" data-testid="token-name">
                    {t.kind === "console" ? <span class="muted">browser sign-in</span> : (t.name ?? "")}
                  </td>
                  {can.owner && <td>{personName(t.userId)}</td>}
                  <td>{t.role}</td>
                  <td>
                    <When iso={t.createdAt} />
                  </td>
                  <td>
                    <When iso={t.expiresAt} />
                  </td>
                  <td>
                    <When iso={t.lastUsedAt} empty="never" />
                  </td>
                  <td>
                    <span class={`badge ${status === "active" ? "good" : "bad"}`} data-testid="token-status">
                      {status}
                    </span>
                  </td>
                  <td class="right">
                    {status === "active" && (
                      <button
                        type="button"
                        class="danger small"
                        data-testid="token-revoke"
                        disabled={busy !== null}
                        onClick={() => void revoke(t)}
                      >
                        {busy === t.id ? "Revoking…" : "Revoke"}
                      </button>
                    )}
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

function CreateToken({ me, onIssued }: { me: Me; onIssued: (t: Issued) => Promise<void> }) {
  const isOwner = me.user.role === "owner";
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(me.user.role);
  const [ttl, setTtl] = useState(90 * 24 * 3600);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body: { name: string; role?: Role; ttlSeconds: number } = { name: name.trim(), ttlSeconds: ttl };
      if (isOwner) body.role = role;
      const answer = await api<{ id: string; token: string; role: Role; expiresAt: string }>(
        "POST",
        "/api/v1/tokens",
        body,
      );
      const created = name.trim();
      setName("");
      await onIssued({ ...answer, name: created });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" data-testid="token-create">
      <h2>Create a token</h2>
      <form class="row-form" onSubmit={submit}>
        <Field id="token-name" label="Name">
          <input
            id="token-name"
            data-testid="token-create-name"
            required
            maxLength={200}
            placeholder="e.g. RMM integration"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field id="token-role" label="Role">
          {isOwner ? (
            <select
              id="token-role"
              data-testid="token-create-role"
              value={role}
              onChange={(e) => setRole(e.currentTarget.value as Role)}
            >
              {STAFF_ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          ) : (
            <input id="token-role" value={me.user.role} disabled title="A token carries at most your own role." />
          )}
        </Field>
        <Field id="token-ttl" label="Expires after">
          <select
            id="token-ttl"
            data-testid="token-create-ttl"
            value={String(ttl)}
            onChange={(e) => setTtl(Number(e.currentTarget.value))}
          >
            {LIFETIMES.map((l) => (
              <option key={l.seconds} value={String(l.seconds)}>
                {l.label}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" class="primary" disabled={busy} data-testid="token-create-submit">
          {busy ? "Creating…" : "Create token"}
        </button>
      </form>
      {error && (
        <div class="error" role="alert" data-testid="token-create-error">
          {error}
        </div>
      )}
    </section>
  );
}

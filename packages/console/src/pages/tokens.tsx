// API tokens (staff): keys for scripts and the CLI. A new token's secret is shown once; the list never has it.
import * as routes from "@caisey/core/routes";
import { useState } from "preact/hooks";
import { type ApiToken, abilities, api, type Me, type Role } from "../api.ts";
import { personLabel, useAction, usePeopleNames, useResource, useSubmit } from "../hooks.ts";
import {
  ActionBanners,
  ActionButton,
  Badge,
  CopyButton,
  DataTable,
  ErrorBanner,
  Field,
  FormCard,
  RoleSelect,
  Select,
  TextField,
  When,
} from "./ui.tsx";

const LIFETIMES = [
  { label: "1 day", value: String(24 * 3600) },
  { label: "7 days", value: String(7 * 24 * 3600) },
  { label: "30 days", value: String(30 * 24 * 3600) },
  { label: "90 days", value: String(90 * 24 * 3600) },
  { label: "1 year", value: String(365 * 24 * 3600) },
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
  const {
    data: tokens,
    error: loadError,
    reload: load,
  } = useResource(async () => (await api(routes.listTokens)).tokens);
  // Without names the person column shows ids.
  const names = usePeopleNames();
  const action = useAction();
  const [issued, setIssued] = useState<Issued | null>(null);
  const [showSignIns, setShowSignIns] = useState(false);

  const revoke = (t: ApiToken) => {
    const label = t.name ? `"${t.name}"` : "this sign-in";
    return action.run(t.id, {
      confirm: `Revoke ${label}? Anything using it is refused from now on.${t.kind === "console" ? " If it is this browser's sign-in, you are signed out." : ""}`,
      work: async () => {
        await api(routes.revokeToken, { params: { id: t.id } });
        if (issued?.id === t.id) setIssued(null);
      },
      done: `${t.name ? `"${t.name}"` : "The sign-in"} was revoked.`,
      failed: `Could not revoke ${label}`,
      after: load,
    });
  };

  const now = Date.now();
  const visible = (tokens ?? []).filter((t) => showSignIns || t.kind !== "console");
  const hiddenSignIns = (tokens ?? []).filter((t) => t.kind === "console").length;
  const personName = personLabel(me, names, true);

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
          action.setNotice(null);
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

      <ActionBanners action={action} />
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
        <DataTable
          testId="tokens-table"
          columns={["Name", can.owner && "Person", "Role", "Created", "Expires", "Last used", "Status", ""]}
          loading={tokens === null && !loadError}
          empty={tokens !== null && visible.length === 0 && "No API tokens yet."}
          emptyTestId="no-tokens"
        >
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
                  <Badge good={status === "active"} testId="token-status">
                    {status}
                  </Badge>
                </td>
                <td class="right">
                  {status === "active" && (
                    <ActionButton
                      class="danger small"
                      testId="token-revoke"
                      disabled={action.busy !== null}
                      busy={action.busy === t.id}
                      busyLabel="Revoking…"
                      label="Revoke"
                      onClick={() => void revoke(t)}
                    />
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      </div>
    </div>
  );
}

function CreateToken({ me, onIssued }: { me: Me; onIssued: (t: Issued) => Promise<void> }) {
  const isOwner = me.user.role === "owner";
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(me.user.role);
  const [ttl, setTtl] = useState(90 * 24 * 3600);
  const { busy, error, submit } = useSubmit(async () => {
    const body: { name: string; role?: Role; ttlSeconds: number } = { name: name.trim(), ttlSeconds: ttl };
    if (isOwner) body.role = role;
    const answer = await api(routes.createToken, { body });
    const created = name.trim();
    setName("");
    await onIssued({ ...answer, name: created });
  });

  return (
    <FormCard
      testId="token-create"
      title="Create a token"
      onSubmit={submit}
      busy={busy}
      label="Create token"
      busyLabel="Creating…"
      submitTestId="token-create-submit"
      error={error}
      errorTestId="token-create-error"
    >
      <TextField
        id="token-name"
        testId="token-create-name"
        label="Name"
        required
        maxLength={200}
        placeholder="e.g. RMM integration"
        value={name}
        onValue={setName}
      />
      <Field id="token-role" label="Role">
        {isOwner ? (
          <RoleSelect id="token-role" testId="token-create-role" value={role} onRole={setRole} />
        ) : (
          <input id="token-role" value={me.user.role} disabled title="A token carries at most your own role." />
        )}
      </Field>
      <Field id="token-ttl" label="Expires after">
        <Select
          id="token-ttl"
          testId="token-create-ttl"
          value={String(ttl)}
          onValue={(v) => setTtl(Number(v))}
          options={LIFETIMES}
        />
      </Field>
    </FormCard>
  );
}

// Audit log (owner): who did what, newest first, with "Load older" paging through the append-only log.
import * as routes from "@caisey/core/routes";
import { useEffect, useState } from "preact/hooks";
import { type AuditEntry, api, errorMessage, type Me } from "../api.ts";
import { ActionButton, DataTable, ErrorBanner, When } from "./ui.tsx";

const PAGE = 100;

/** Names for the ids the log mentions: people (staff and contacts), clients, machines. */
type Names = Map<string, string>;

async function loadNames(): Promise<Names> {
  const names: Names = new Map();
  const [users, clients, machines] = await Promise.allSettled([
    api(routes.listUsers),
    api(routes.listClients),
    api(routes.listMachines),
  ]);
  if (users.status === "fulfilled") for (const u of users.value.users) names.set(u.id, u.name);
  if (machines.status === "fulfilled") for (const m of machines.value.machines) names.set(m.id, m.hostname);
  if (clients.status === "fulfilled") {
    for (const c of clients.value.clients) names.set(c.id, c.name);
    // Contacts act too (chat, sign-in); their names come per client.
    const contacts = await Promise.allSettled(
      clients.value.clients.slice(0, 100).map((c) => api(routes.listContacts, { params: { id: c.id } })),
    );
    for (const r of contacts) if (r.status === "fulfilled") for (const p of r.value.contacts) names.set(p.id, p.name);
  }
  return names;
}

function actorText(actor: string, names: Names): { text: string; title: string } {
  const [kind, id] = actor.includes(":") ? (actor.split(":", 2) as [string, string]) : [actor, ""];
  const name = id ? names.get(id) : undefined;
  if (kind === "system") return { text: "system", title: actor };
  const what = kind === "contact" ? " (contact)" : kind === "machine" ? " (machine)" : "";
  return { text: name ? `${name}${what}` : actor, title: actor };
}

function valueText(value: unknown, names: Names): string {
  if (typeof value === "string") {
    const text = names.get(value) ?? value;
    return /[\s"=]/.test(text) || text.length === 0 ? JSON.stringify(text) : text;
  }
  return JSON.stringify(value);
}

function detailText(detail: Record<string, unknown>, names: Names): string {
  return Object.entries(detail ?? {})
    .map(([k, v]) => `${k}=${valueText(v, names)}`)
    .join(" ");
}

export function AuditPage(_props: { me: Me }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [names, setNames] = useState<Names>(new Map());

  const loadPage = async (before: number | null) => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api(routes.auditLog, { query: { limit: PAGE, before: before ?? undefined } });
      setEntries((old) => (before === null ? answer.entries : [...old, ...answer.entries]));
      setNext(answer.next);
      setLoaded(true);
    } catch (err) {
      setError(`Could not load the audit log: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void loadPage(null);
    loadNames()
      .then(setNames)
      .catch(() => {
        // Ids stay visible without names.
      });
  }, []);

  return (
    <div class="page" data-testid="audit-page">
      <div class="page-head">
        <h1>Audit log</h1>
        <span class="muted">
          Every change to people, keys, clients, machines and sign-ins, newest first. The log is append-only.
        </span>
        <div class="spacer" />
        <ActionButton
          class="small"
          testId="audit-refresh"
          disabled={busy}
          label="Refresh"
          onClick={() => void loadPage(null)}
        />
      </div>
      <ErrorBanner message={error} onDismiss={() => setError(null)} />
      <div class="card flush">
        <DataTable
          testId="audit-table"
          class="grid audit"
          columns={["Time", "Actor", "Action", "Target", "Detail", "Address"]}
          loading={!loaded && !error}
          empty={loaded && entries.length === 0 && "Nothing logged yet."}
        >
          {entries.map((e) => {
            const actor = actorText(e.actor, names);
            const target = e.target ? (names.get(e.target) ?? e.target) : "";
            return (
              <tr key={e.id} data-testid="audit-row" data-action={e.action} data-audit-id={e.id}>
                <td class="nowrap">
                  <When iso={e.at} />
                </td>
                <td title={actor.title} data-testid="audit-actor">
                  {actor.text}
                </td>
                <td class="mono strong" data-testid="audit-action">
                  {e.action}
                </td>
                <td title={e.target ?? ""} class={target === e.target ? "mono muted" : ""} data-testid="audit-target">
                  {target}
                </td>
                <td class="mono detail" data-testid="audit-detail">
                  {detailText(e.detail, names)}
                </td>
                <td class="mono muted">{e.address ?? ""}</td>
              </tr>
            );
          })}
        </DataTable>
      </div>
      {next !== null && (
        <ActionButton
          testId="audit-older"
          disabled={busy}
          busy={busy}
          busyLabel="Loading…"
          label="Load older"
          onClick={() => void loadPage(next)}
        />
      )}
    </div>
  );
}

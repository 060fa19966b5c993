// Audit log (owner): who did what, newest first, with "Load older" paging through the append-only log. Filters
// (actor, action, date range) are applied by the server, so they reach the whole log, not only the loaded pages.
import * as routes from "@caisey/core/routes";
import { useEffect, useRef, useState } from "preact/hooks";
import { type AuditEntry, api, errorMessage, type Me } from "../api.ts";
import { ActionButton, type Choice, DataTable, DateRange, ErrorBanner, Select, When } from "./ui.tsx";

const PAGE = 100;

/** Names for the ids the log mentions: people (staff and contacts), clients, machines. */
type Names = Map<string, string>;

/** The names, and who may appear as an actor (`user:`, `contact:`, `machine:` ids, and `system`). */
interface Directory {
  names: Names;
  actors: Choice[];
}

async function loadDirectory(): Promise<Directory> {
  const names: Names = new Map();
  const actors: Choice[] = [];
  const [users, clients, machines] = await Promise.allSettled([
    api(routes.listUsers),
    api(routes.listClients),
    api(routes.listMachines),
  ]);
  if (users.status === "fulfilled")
    for (const u of users.value.users) {
      names.set(u.id, u.name);
      actors.push({ value: `user:${u.id}`, label: u.name });
    }
  if (clients.status === "fulfilled") {
    for (const c of clients.value.clients) names.set(c.id, c.name);
    // Contacts act too (chat, sign-in); their names come per client.
    const contacts = await Promise.allSettled(
      clients.value.clients.slice(0, 100).map((c) => api(routes.listContacts, { params: { id: c.id } })),
    );
    for (const r of contacts)
      if (r.status === "fulfilled")
        for (const p of r.value.contacts) {
          names.set(p.id, p.name);
          actors.push({ value: `contact:${p.id}`, label: `${p.name} (contact)` });
        }
  }
  if (machines.status === "fulfilled")
    for (const m of machines.value.machines) {
      names.set(m.id, m.hostname);
      actors.push({ value: `machine:${m.id}`, label: `${m.hostname} (machine)` });
    }
  actors.push({ value: "system", label: "system" });
  return { names, actors };
}

function actorText(actor: string, names: Names): { text: string; title: string } {
  const [kind, id] = actor.includes(":") ? (actor.split(":", 2) as [string, string]) : [actor, ""];
  const name = id ? names.get(id) : undefined;
  if (kind === "system") return { text: "system", title: actor };
  const what = kind === "contact" ? " (contact)" : kind === "machine" ? " (machine)" : "";
  return { text: name ? `${name}${what}` : actor, title: actor };
}

function quoted(text: string): string {
  return /[\s"=]/.test(text) || text.length === 0 ? JSON.stringify(text) : text;
}

/**
 * The detail as `key=value` pairs, with names for the ids it mentions. An id's name never sits under the id's key:
 * `contactId=usr_…` reads `contact=Carla Contact`, the id kept on hover.
 */
function detailText(detail: Record<string, unknown>, names: Names): { text: string; title: string } {
  const pairs = Object.entries(detail ?? {}).map(([key, value]) => {
    const raw = `${key}=${typeof value === "string" ? quoted(value) : JSON.stringify(value)}`;
    const name = typeof value === "string" ? names.get(value) : undefined;
    if (name === undefined) return { shown: raw, raw };
    const named = key.endsWith("Id") && key.length > 2 ? key.slice(0, -2) : key;
    return { shown: `${named}=${quoted(name)}`, raw };
  });
  return { text: pairs.map((p) => p.shown).join(" "), title: pairs.map((p) => p.raw).join(" ") };
}

/** The server's filters, as the query takes them ("" is no filter). Dates are whole days (YYYY-MM-DD, UTC). */
interface Filters {
  actor: string;
  action: string;
  from: string;
  to: string;
}
const NO_FILTERS: Filters = { actor: "", action: "", from: "", to: "" };

export function AuditPage(_props: { me: Me }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [directory, setDirectory] = useState<Directory>({ names: new Map(), actors: [] });
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  /** Actions seen in any page so far: the action filter's suggestions. */
  const [actions, setActions] = useState<string[]>([]);
  const { names } = directory;

  // Filters change faster than answers come: only the answer to the latest request is shown.
  const latest = useRef(0);
  const loadPage = async (before: number | null) => {
    const request = ++latest.current;
    setBusy(true);
    setError(null);
    try {
      const { actor, action, from, to } = filters;
      const answer = await api(routes.auditLog, {
        query: {
          limit: PAGE,
          before: before ?? undefined,
          actor: actor || undefined,
          action: action || undefined,
          from: from || undefined,
          to: to || undefined,
        },
      });
      if (request !== latest.current) return;
      setEntries((old) => (before === null ? answer.entries : [...old, ...answer.entries]));
      setNext(answer.next);
      setActions((old) => [...new Set([...old, ...answer.entries.map((e) => e.action)])].sort());
      setLoaded(true);
    } catch (err) {
      if (request === latest.current) setError(`Could not load the audit log: ${errorMessage(err)}`);
    } finally {
      if (request === latest.current) setBusy(false);
    }
  };

  useEffect(() => {
    void loadPage(null);
  }, [filters]);

  useEffect(() => {
    loadDirectory()
      .then(setDirectory)
      .catch(() => {
        // Ids stay visible without names.
      });
  }, []);

  // An unchanged filter keeps the same object, so Enter followed by the field's change event asks only once.
  const set = (change: Partial<Filters>) =>
    setFilters((old) =>
      Object.entries(change).every(([k, v]) => old[k as keyof Filters] === v) ? old : { ...old, ...change },
    );
  const filtered = Object.values(filters).some((v) => v !== "");

  return (
    <div class="page" data-testid="audit-page">
      <div class="page-head">
        <h1>Audit log</h1>
        <span class="muted">
          Every change to people, keys, clients, machines, settings and sign-ins, newest first. The log is append-only.
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
      <div class="search-filters" data-testid="audit-filters">
        <label class="inline-field" for="audit-actor-filter">
          <span class="label">Actor</span>
          <Select
            id="audit-actor-filter"
            testId="audit-actor-filter"
            value={filters.actor}
            onValue={(actor) => set({ actor })}
            any="Anyone"
            options={directory.actors}
          />
        </label>
        <label class="inline-field">
          <span class="label">Action</span>
          <input
            data-testid="audit-action-filter"
            list="audit-actions"
            placeholder="any, e.g. person.added"
            maxLength={64}
            value={filters.action}
            // Applied when the field is left or Enter is pressed, not on every keystroke — and at once when the field
            // holds a whole known action (a suggestion picked, or typed out): with the suggestions list open,
            // Chromium's Enter only closes the list, and the page never hears of it.
            onInput={(e) => {
              const action = e.currentTarget.value.trim();
              if (actions.includes(action)) set({ action });
            }}
            onChange={(e) => set({ action: e.currentTarget.value.trim() })}
            onKeyDown={(e) => {
              if (e.key === "Enter") set({ action: e.currentTarget.value.trim() });
            }}
          />
          <datalist id="audit-actions">
            {actions.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <DateRange testIdPrefix="audit" from={filters.from} to={filters.to} onValue={set} />
        {filtered && (
          <button type="button" class="ghost small" data-testid="audit-clear" onClick={() => setFilters(NO_FILTERS)}>
            Clear filters
          </button>
        )}
      </div>
      <ErrorBanner message={error} onDismiss={() => setError(null)} />
      <div class="card flush">
        <DataTable
          testId="audit-table"
          class="grid audit"
          columns={["Time", "Actor", "Action", "Target", "Detail", "Address"]}
          loading={!loaded && !error}
          empty={
            loaded && entries.length === 0 && (filtered ? "Nothing matches these filters." : "Nothing logged yet.")
          }
        >
          {entries.map((e) => {
            const actor = actorText(e.actor, names);
            const target = e.target ? (names.get(e.target) ?? e.target) : "";
            const detail = detailText(e.detail as Record<string, unknown>, names);
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
                <td class="mono detail" data-testid="audit-detail" title={detail.title}>
                  {detail.text}
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

// Search every session record the viewer may read: commands, their output, chat and notes. Searches as you type;
// filters and the query live in the address bar, so Back from a result returns to the same search.
import * as routes from "@caisey/core/routes";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { abilities, api, type Client, errorMessage, type Machine, type Me, type SearchResult } from "../api.ts";
import { usePeople } from "../hooks.ts";
import { navigate } from "../router.ts";
import { type ChangeRef, RollBackButton, RollbackDialog } from "./rollback.tsx";
import { ActionButton, type Choice, DateRange, ErrorBanner, Select, When } from "./ui.tsx";

/** A command ended (it may have changed something): a hit on it offers "Roll back…". */
const ENDED = new Set(["finished", "timed_out", "interrupted", "cancelled"]);

const DEBOUNCE_MS = 200;
const PAGE = 25;

interface Filters {
  q: string;
  clientId: string;
  machineId: string;
  technicianId: string;
  kind: string;
  from: string;
  to: string;
  exit: string;
  approval: string;
  order: "newest" | "best";
}

const EMPTY: Filters = {
  q: "",
  clientId: "",
  machineId: "",
  technicianId: "",
  kind: "",
  from: "",
  to: "",
  exit: "",
  approval: "",
  order: "newest",
};

function fromLocation(): Filters {
  const params = new URLSearchParams(location.search);
  const f = { ...EMPTY };
  for (const key of Object.keys(EMPTY) as (keyof Filters)[]) {
    const v = params.get(key);
    if (v !== null) (f as Record<string, string>)[key] = v;
  }
  if (f.order !== "best") f.order = "newest";
  return f;
}

function toParams(f: Filters): URLSearchParams {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v && !(k === "order" && v === "newest")) params.set(k, v);
  return params;
}

const KIND_LABELS: Record<string, string> = { command: "command", output: "output", chat: "chat", note: "note" };

const KIND_CHOICES: Choice[] = [
  { value: "command", label: "Commands" },
  { value: "output", label: "Output" },
  { value: "chat", label: "Chat" },
  { value: "note", label: "Notes" },
];

const APPROVAL_CHOICES: Choice[] = [
  { value: "pending", label: "Awaiting approval" },
  { value: "granted", label: "Approved" },
  { value: "declined", label: "Declined" },
  { value: "expired", label: "Approval expired" },
  { value: "none", label: "No approval needed" },
];

/** Snippet text with its highlight ranges as <mark> elements (text nodes only: never HTML). */
export function Highlighted({ text, ranges }: { text: string; ranges: [number, number][] }) {
  const parts: ComponentChildren[] = [];
  let at = 0;
  const sorted = [...ranges].filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  for (const [start, end] of sorted) {
    const s = Math.max(at, Math.min(start, text.length));
    const e = Math.max(s, Math.min(end, text.length));
    if (s > at) parts.push(text.slice(at, s));
    if (e > s) parts.push(<mark key={s}>{text.slice(s, e)}</mark>);
    at = e;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}

export function SearchPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const [filters, setFilters] = useState<Filters>(fromLocation);
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [machines, setMachines] = useState<Machine[]>([]);
  const [clients, setClients] = useState<Client[]>([]);
  const people = usePeople(can.staff);
  const [again, setAgain] = useState(0);
  const [rollingBack, setRollingBack] = useState<ChangeRef | null>(null);
  const request = useRef(0);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    inputRef.current?.focus();
    api(routes.listMachines)
      .then((a) => setMachines(a.machines))
      .catch(() => {});
    if (can.staff) {
      api(routes.listClients)
        .then((a) => setClients(a.clients))
        .catch(() => {});
    }
  }, [can.staff]);

  const fetchPage = (f: Filters, cursor: string | null) => {
    const params = toParams(f);
    params.set("limit", String(PAGE));
    if (f.order === "newest") params.set("order", "newest");
    if (cursor) params.set("cursor", cursor);
    return api(routes.searchRecords, { query: Object.fromEntries(params) });
  };

  // Search as you type (debounced); a slower answer to an older query is dropped.
  useEffect(() => {
    const search = toParams(filters).toString();
    history.replaceState(null, "", `/search${search ? `?${search}` : ""}`);
    const id = ++request.current;
    const timer = setTimeout(async () => {
      setBusy(true);
      try {
        const answer = await fetchPage(filters, null);
        if (id !== request.current) return;
        setResults(answer.results);
        setNext(answer.next);
        setError(null);
      } catch (err) {
        if (id !== request.current) return;
        setError(errorMessage(err));
        setResults([]);
        setNext(null);
      } finally {
        if (id === request.current) setBusy(false);
      }
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [filters, again]);

  const loadMore = async () => {
    if (!next) return;
    const id = request.current;
    setBusy(true);
    try {
      const answer = await fetchPage(filters, next);
      if (id !== request.current) return;
      setResults((r) => [...(r ?? []), ...answer.results]);
      setNext(answer.next);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));
  const names = new Map(people.map((p) => [p.id, p.name]));
  names.set(me.user.id, me.user.name);
  const technician = (id: string | null) => (id ? (names.get(id) ?? (can.staff ? id : "support")) : "");
  const filtered = Object.entries(filters).some(([k, v]) => k !== "q" && k !== "order" && v);

  return (
    <div class="page search-page" data-testid="search-page">
      <div class="page-head">
        <h1>Search</h1>
        <span class="muted">Commands, their output, chat and notes across every session you can see.</span>
      </div>
      <form
        class="search-bar"
        onSubmit={(e) => {
          e.preventDefault();
          setAgain((n) => n + 1);
        }}
      >
        <input
          ref={inputRef}
          type="search"
          data-testid="search-input"
          class="search-input"
          placeholder='Words, "an exact phrase", or a prefix*'
          maxLength={500}
          value={filters.q}
          onInput={(e) => set({ q: e.currentTarget.value })}
          aria-label="Search"
        />
        <fieldset class="toggle" aria-label="Order">
          {(["newest", "best"] as const).map((o) => (
            <button
              key={o}
              type="button"
              class={filters.order === o ? "small active" : "small"}
              data-testid={`search-order-${o}`}
              aria-pressed={filters.order === o}
              onClick={() => set({ order: o })}
            >
              {o === "newest" ? "Newest" : "Best match"}
            </button>
          ))}
        </fieldset>
        {busy && <span class="muted small">searching…</span>}
      </form>
      <div class="search-filters" data-testid="search-filters">
        {can.staff && (
          <Select
            testId="search-client"
            aria-label="Client"
            value={filters.clientId}
            onValue={(clientId) => set({ clientId })}
            any="All clients"
            options={clients.map((c) => ({ value: c.id, label: c.name }))}
          />
        )}
        <Select
          testId="search-machine"
          aria-label="Machine"
          value={filters.machineId}
          onValue={(machineId) => set({ machineId })}
          any="All machines"
          options={machines
            .filter((m) => !filters.clientId || m.clientId === filters.clientId)
            .map((m) => ({ value: m.id, label: `${m.hostname}${m.clientName ? ` (${m.clientName})` : ""}` }))}
        />
        {can.staff && (
          <Select
            testId="search-technician"
            aria-label="Technician"
            value={filters.technicianId}
            onValue={(technicianId) => set({ technicianId })}
            any="All technicians"
            options={people.filter((p) => p.role !== "contact").map((p) => ({ value: p.id, label: p.name }))}
          />
        )}
        <Select
          testId="search-kind"
          aria-label="Kind"
          value={filters.kind}
          onValue={(kind) => set({ kind })}
          any="Everything"
          options={KIND_CHOICES}
        />
        <DateRange testIdPrefix="search" from={filters.from} to={filters.to} onValue={set} />
        <label class="check">
          <input
            type="checkbox"
            data-testid="search-nonzero"
            checked={filters.exit === "nonzero"}
            onChange={(e) => set({ exit: e.currentTarget.checked ? "nonzero" : "" })}
          />
          Failed (non-zero exit)
        </label>
        <Select
          testId="search-approval"
          aria-label="Approval"
          value={filters.approval}
          onValue={(approval) => set({ approval })}
          any="Any approval"
          options={APPROVAL_CHOICES}
        />
        {filtered && (
          <button
            type="button"
            class="ghost small"
            data-testid="search-clear"
            onClick={() => setFilters({ ...EMPTY, q: filters.q, order: filters.order })}
          >
            Clear filters
          </button>
        )}
      </div>
      {error && <ErrorBanner message={error} />}
      <div class="search-results" data-testid="search-results">
        {results?.length === 0 && !error && (
          <p class="muted" data-testid="search-empty">
            {filters.q.trim() ? "Nothing matches. Try fewer words or a prefix like instal*." : "No records yet."}
          </p>
        )}
        {results?.map((r) => {
          const href = `/sessions/${encodeURIComponent(r.sessionId)}#seq-${r.seq}`;
          return (
            <a
              key={`${r.sessionId}:${r.seq}:${r.offset ?? 0}`}
              class={`search-result kind-${r.kind}`}
              href={href}
              data-testid="search-result"
              data-session-id={r.sessionId}
              data-seq={r.seq}
              onClick={(e) => {
                if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
                e.preventDefault();
                navigate(href);
              }}
            >
              <div class="result-head">
                <span class={`tag kind-${r.kind}`}>
                  {KIND_LABELS[r.kind] ?? r.kind}
                  {r.stream === "stderr" ? " · stderr" : ""}
                </span>
                <span class="mono strong">{r.hostname}</span>
                <span class="muted">
                  <When iso={r.ts} />
                </span>
                {r.technicianId && <span class="muted">{technician(r.technicianId)}</span>}
                {typeof r.exitCode === "number" && (
                  <span class={`exit ${r.exitCode === 0 ? "ok" : "bad"}`}>exit {r.exitCode}</span>
                )}
                {can.runCommands && r.kind === "command" && r.change && r.commandId && ENDED.has(r.state ?? "") && (
                  <RollBackButton change={{ sessionId: r.sessionId, commandId: r.commandId }} onOpen={setRollingBack} />
                )}
                {r.approval && r.approval !== "none" && (
                  <span class={`badge approval-badge approval-${r.approval}`}>
                    {r.approval === "pending"
                      ? "awaiting approval"
                      : r.approval === "granted"
                        ? "approved"
                        : r.approval}
                  </span>
                )}
              </div>
              <pre class="snippet" data-testid="search-snippet">
                <Highlighted text={r.snippet} ranges={r.highlights} />
              </pre>
            </a>
          );
        })}
        {next && (
          <ActionButton
            testId="search-more"
            disabled={busy}
            busy={busy}
            busyLabel="Loading…"
            label="Load more"
            onClick={() => void loadMore()}
          />
        )}
      </div>
      {rollingBack && <RollbackDialog change={rollingBack} onClose={() => setRollingBack(null)} />}
    </div>
  );
}

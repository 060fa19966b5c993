// Hooks shared by the console's pages: forms with a busy state, row actions with a notice, loading and polling.
import * as routes from "@caisey/core/routes";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, CHANGED, errorMessage, type Me, type Person } from "./api.ts";

/**
 * A form's submit: prevents the page load, clears the last error, keeps `busy` while `work` runs and shows what it
 * threw. Validation throws too: `throw new Error("…")` shows the text as it is.
 */
export function useSubmit(work: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await work();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, submit };
}

export interface ActionRun {
  /** Asked with window.confirm first; the action does nothing when declined. */
  confirm?: string;
  work: () => Promise<unknown>;
  /** The notice once `work` succeeded. */
  done?: string;
  /** What could not be done ("Could not revoke x"); the reason follows after a colon. */
  failed: string;
  /** Runs whether it worked or not, e.g. a reload, so a refused change shows things as they still are. */
  after?: () => unknown;
}

/** Actions on a row of a list: one at a time (`busy` is the row's key), a notice or an error banner after. */
export function useAction() {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const run = async (key: string, { confirm, work, done, failed, after }: ActionRun): Promise<void> => {
    if (confirm !== undefined && !window.confirm(confirm)) return;
    setError(null);
    setNotice(null);
    setBusy(key);
    try {
      await work();
      if (done !== undefined) setNotice(done);
    } catch (err) {
      setError(`${failed}: ${errorMessage(err)}`);
    } finally {
      setBusy(null);
      await after?.();
    }
  };
  return { busy, error, setError, notice, setNotice, run };
}

export type Action = ReturnType<typeof useAction>;

/** Loads once on mount; `reload` again after a change. Keeps the last data when a reload fails. */
export function useResource<T>(load: () => Promise<T>) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = async () => {
    try {
      setData(await load());
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  useEffect(() => {
    void reload();
  }, []);
  return { data, error, reload };
}

/**
 * Calls `load` now and again `everyMs` after each answer, until unmounted or `inputs` change. `onData` and `onError`
 * (with the readable message) are called only while still mounted.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  { everyMs, onData, onError }: { everyMs: number; onData: (data: T) => void; onError: (message: string) => void },
  inputs: readonly unknown[],
) {
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      try {
        const data = await load();
        if (!alive) return;
        onData(data);
      } catch (err) {
        if (alive) onError(errorMessage(err));
      }
      if (alive) timer = setTimeout(poll, everyMs);
    };
    void poll();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, inputs);
}

/** The organization's people (empty until loaded, or when `enabled` is false or the load fails: ids still show). */
export function usePeople(enabled = true): Person[] {
  const [people, setPeople] = useState<Person[]>([]);
  useEffect(() => {
    if (!enabled) return;
    let alive = true;
    api(routes.listUsers)
      .then((answer) => alive && setPeople(answer.users))
      .catch(() => {
        // Names are a nicety; ids still show.
      });
    return () => {
      alive = false;
    };
  }, [enabled]);
  return people;
}

/** People's names by id. */
export function usePeopleNames(enabled = true): Map<string, string> {
  const people = usePeople(enabled);
  return useMemo(() => new Map(people.map((p) => [p.id, p.name])), [people]);
}

/** "Name (you)" for the viewer, the name when known, else the id for staff and "support" for a client's contact. */
export function personLabel(me: Me, names: Map<string, string>, staff: boolean) {
  return (id: string) => (id === me.user.id ? `${me.user.name} (you)` : (names.get(id) ?? (staff ? id : "support")));
}

/** A ref that focuses its element once mounted. */
export function useAutofocus<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}

/** How often the nav's counts look again, besides on every page change. */
const WAITING_POLL_MS = 10_000;

/** The open sessions a person holds: their "Assigned to me" (only the session's technician runs its commands). */
export function assignedToMe(me: Me) {
  return api(routes.listSessions, { query: { technicianId: me.user.id, state: "open", limit: 200 } });
}

/**
 * What waits for this person, for the nav: a contact's pending approvals, a technician's (or owner's) open sessions
 * assigned to them. Looked at again on every page change, after each change made from this console, and every 10 s
 * (what colleagues and contacts did); null while unknown or for a dispatcher.
 */
export function useWaiting(
  me: Me,
  path: string,
): { approvals: number | null; assigned: number | null; reviews: number | null } {
  const [waiting, setWaiting] = useState<{ approvals: number | null; assigned: number | null; reviews: number | null }>(
    { approvals: null, assigned: null, reviews: null },
  );
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    const changed = () => setChanges((n) => n + 1);
    window.addEventListener(CHANGED, changed);
    return () => window.removeEventListener(CHANGED, changed);
  }, []);
  const role = me.user.role;
  usePolling(
    async () => {
      if (role === "contact")
        return {
          approvals: (await api(routes.listApprovals, { query: { state: "pending" } })).approvals.length,
          assigned: null,
          reviews: null,
        };
      const [assigned, reviews] = await Promise.all([
        role === "dispatcher" ? null : assignedToMe(me).then((a) => a.sessions.length),
        role === "technician" ? null : api(routes.listReviews).then((r) => r.reviews.length),
      ]);
      return { approvals: null, assigned, reviews };
    },
    {
      everyMs: WAITING_POLL_MS,
      onData: setWaiting,
      // A count is a hint: the pages themselves say when something cannot be loaded.
      onError: () => {},
    },
    [me.user.id, role, path, changes],
  );
  return waiting;
}

/** Whether a machine's runtime is connected now, and since when it was last seen (unknown until the first answer). */
export interface MachinePresence {
  online: boolean;
  lastSeenAt: string | null;
}

/** How often an open session asks the Fleet for its machine's presence (the Fleet learns a disconnect at once). */
const PRESENCE_POLL_MS = 5_000;

/**
 * The machine's presence, asked of the Fleet (the machine card, which a client's contact may read too) while `enabled`.
 * Polled: the Session object does not know whether its machine is connected, and a lost answer is simply asked again.
 */
export function useMachinePresence(machineId: string | undefined, enabled: boolean): MachinePresence | null {
  const [presence, setPresence] = useState<MachinePresence | null>(null);
  usePolling(
    async () =>
      machineId && enabled
        ? (await api(routes.machineCard, { params: { id: machineId }, query: { limit: 1 } })).machine
        : null,
    {
      everyMs: PRESENCE_POLL_MS,
      onData: (machine) => {
        if (machine) setPresence({ online: machine.online, lastSeenAt: machine.lastSeenAt });
      },
      onError: () => {
        // Unknown for now: the header keeps what it last knew, and the next poll asks again.
      },
    },
    [machineId, enabled],
  );
  return presence;
}

// "Roll back…": undo a recorded change as a new, approved, linked step (issue 12). The dialog shows what Caisey
// recorded before the change ran, the reverse it proposes (editable: what the technician types is classified and
// described again as they type, with core's own functions) and the exact sentence the client's contact will approve.
import { classifyCommand } from "@caisey/core/commands";
import { type RollbackLink, rollbackApprovalSummary, rollbackSummary } from "@caisey/core/rollbacks";
import type { ReverseView } from "@caisey/core/routes";
import * as routes from "@caisey/core/routes";
import type { Shell } from "@caisey/core/shells";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorMessage } from "../api.ts";
import { linkClick, navigate } from "../router.ts";
import { ErrorBanner, When } from "./ui.tsx";

/** A change to roll back: its session and command. */
export interface ChangeRef {
  sessionId: string;
  commandId: string;
}

/** The button that opens the dialog; `onOpen` lets a page keep the dialog outside a link it sits in. */
export function RollBackButton({ change, onOpen }: { change: ChangeRef; onOpen: (change: ChangeRef) => void }) {
  return (
    <button
      type="button"
      class="small"
      data-testid="roll-back"
      title="Undo this change on the machine, with the client's approval"
      onClick={(e) => {
        e.preventDefault();
        e.stopPropagation();
        onOpen(change);
      }}
    >
      Roll back…
    </button>
  );
}

/** "rolled back by …" / "undoes …": a link to the other command of a rollback. */
export function RollbackLinkTo({
  label,
  to,
  state,
  command,
}: {
  label: "undoes" | "rolled back by";
  to: ChangeRef;
  state?: string;
  /** The other command's text, where the page has it; else its id. */
  command?: string;
}) {
  const href = `/sessions/${encodeURIComponent(to.sessionId)}#cmd-${encodeURIComponent(to.commandId)}`;
  return (
    <span class="rollback-link" data-testid={label === "undoes" ? "undoes" : "rolled-back-by"}>
      {label}{" "}
      <a href={href} onClick={linkClick} class="mono" title={to.commandId}>
        {command ?? to.commandId.slice(0, 12)}
      </a>
      {state && <span class={`badge state state-${state}`}>{state.replace("_", " ")}</span>}
    </span>
  );
}

/** One record of what was there before, in the technician's words. */
function before(p: ReverseView["prestate"][number]): string {
  if ("error" in p && p.error) return `${p.target}: could not be read (${p.error})`;
  if (!p.exists)
    return p.kind === "registry" ? `${p.name} under ${p.target}: did not exist` : `${p.target}: did not exist`;
  if (p.kind === "registry") return `${p.name} under ${p.target} = ${p.value ?? ""} (${p.type ?? "?"})`;
  if (p.kind === "service") return `service ${p.target}: starts ${p.startType ?? "?"}, was ${p.state ?? "?"}`;
  const size = p.bytes === undefined ? "" : `${p.bytes} bytes`;
  const restorable = p.data !== undefined ? ", content kept" : p.directory ? ", a folder" : ", content not kept";
  return `${p.target}: ${size}${p.mode ? `, mode ${p.mode}` : ""}${p.sha256 ? `, sha256 ${p.sha256.slice(0, 12)}…` : ""}${restorable}`;
}

export function RollbackDialog({ change, onClose }: { change: ChangeRef; onClose: () => void }) {
  const [view, setView] = useState<ReverseView | null>(null);
  const [command, setCommand] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [standing, setStanding] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let alive = true;
    api(routes.commandReverse, { params: { id: change.sessionId, cid: change.commandId } })
      .then((answer) => {
        if (!alive) return;
        setView(answer);
        setCommand(answer.reverse?.command ?? "");
      })
      .catch((err) => alive && setError(errorMessage(err)));
    return () => {
      alive = false;
    };
  }, [change.sessionId, change.commandId]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  const shell: Shell | null = view ? (view.reverse?.shell ?? view.change.shell) : null;
  const text = command.trim();
  const edited = view?.reverse ? command !== view.reverse.command : text !== "";
  const kind = shell && text ? classifyCommand(shell, command).kind : null;
  const asked =
    view && shell && text && view.change.startedAt
      ? rollbackApprovalSummary(
          { startedAt: view.change.startedAt, technicianName: view.change.requestedByName },
          rollbackSummary(shell, command, view.reverse),
        )
      : null;

  const request = async (force: boolean) => {
    if (!view || !shell) return;
    setBusy(true);
    setError(null);
    try {
      const sameAsProposed = view.reverse && !edited;
      const answer = await api(routes.requestRollback, {
        body: {
          sessionId: change.sessionId,
          commandId: change.commandId,
          ...(sameAsProposed ? {} : { command, shell }),
          ...(reason.trim() ? { reason: reason.trim() } : {}),
          ...(force ? { force } : {}),
        },
      });
      onClose();
      navigate(`/sessions/${encodeURIComponent(answer.sessionId)}`);
    } catch (err) {
      setStanding(err instanceof ApiError && err.code === "already_rolled_back");
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="modal-backdrop">
      <div
        class="modal card rollback-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="rollback-title"
        data-testid="rollback-dialog"
      >
        <h2 id="rollback-title">Roll back a change</h2>
        {!view && !error && <p class="muted">Loading what was recorded…</p>}
        {view && (
          <>
            <section>
              <h3>The change</h3>
              <div class="exact-command">
                <pre class="mono" data-testid="rollback-original">
                  {view.change.command}
                </pre>
              </div>
              <p class="muted">
                {view.change.requestedByName} · {view.change.shell} · <When iso={view.change.startedAt} />
              </p>
            </section>
            {view.refusal ? (
              <p class="error-text" data-testid="rollback-refusal">
                {view.refusal.message[0]?.toUpperCase()}
                {view.refusal.message.slice(1)}.
              </p>
            ) : (
              <>
                <section>
                  <h3>Before the change</h3>
                  {view.prestate.length === 0 ? (
                    <p class="muted" data-testid="rollback-prestate-none">
                      Caisey recorded nothing before this change ran.
                    </p>
                  ) : (
                    <ul class="rollback-prestate" data-testid="rollback-prestate">
                      {view.prestate.map((p) => (
                        <li key={`${p.kind}:${p.target}:${"name" in p ? p.name : ""}`} class="mono">
                          {before(p)}
                        </li>
                      ))}
                    </ul>
                  )}
                </section>
                <section>
                  <h3>{view.reverse ? "The reverse Caisey proposes" : "No reverse proposed"}</h3>
                  {view.reverse ? (
                    <p class="muted" data-testid="rollback-basis">
                      {view.reason} (
                      {view.reverse.basis === "prestate" ? "from the recorded state" : "from the command"}
                      ). You may edit it.
                    </p>
                  ) : (
                    <p class="warn-text" data-testid="rollback-no-reverse">
                      {view.reason}. Write the command that undoes it; it is still linked to this change.
                    </p>
                  )}
                  <label class="field">
                    <span>
                      Command ({shell}){edited && view.reverse ? " — edited" : ""}
                      {kind && <span class={`badge kind-${kind}`}>{kind}</span>}
                    </span>
                    <textarea
                      class="mono"
                      rows={Math.min(8, Math.max(2, command.split("\n").length))}
                      value={command}
                      spellcheck={false}
                      data-testid="rollback-command"
                      onInput={(e) => setCommand((e.target as HTMLTextAreaElement).value)}
                    />
                  </label>
                  <label class="field">
                    <span>Why (the contact reads it)</span>
                    <input
                      value={reason}
                      data-testid="rollback-reason"
                      placeholder="The accounting app no longer starts since this change"
                      onInput={(e) => setReason((e.target as HTMLInputElement).value)}
                    />
                  </label>
                </section>
                <section>
                  <h3>The client's contact will be asked</h3>
                  {asked ? (
                    <blockquote class="rollback-approval" data-testid="rollback-approval">
                      {asked}
                    </blockquote>
                  ) : (
                    <p class="muted">Write a command to see what the contact will be asked.</p>
                  )}
                  <p class="muted">A rollback always waits for the client's approval. It runs in a new session.</p>
                </section>
              </>
            )}
          </>
        )}
        <ErrorBanner message={error} onDismiss={() => setError(null)} />
        <div class="modal-actions">
          <button type="button" onClick={onClose} data-testid="rollback-cancel">
            Cancel
          </button>
          {standing && (
            <button
              type="button"
              class="danger"
              disabled={busy}
              data-testid="rollback-force"
              onClick={() => void request(true)}
            >
              Roll back again anyway
            </button>
          )}
          {view && !view.refusal && (
            <button
              type="button"
              class="primary"
              disabled={busy || !text}
              data-testid="rollback-request"
              onClick={() => void request(false)}
            >
              {busy ? "Requesting…" : "Request rollback"}
            </button>
          )}
        </div>
      </div>
    </div>
  );
}

/** The rollback that undid a change, with its command text for the link. */
export interface RolledBackBy extends RollbackLink {
  command: string | undefined;
}

const NO_ROLLBACKS: ReadonlyMap<string, RolledBackBy> = new Map();

/**
 * The changes of one session that a rollback undid, by command id, for the transcript's "rolled back by …". The
 * source is the machine card's timeline (a rollback runs on the change's machine, in a session of its own, so the
 * change's record never hears of it): its latest 100 changes, the same the card shows.
 */
export function useRolledBackBy(machineId: string | undefined, sessionId: string): ReadonlyMap<string, RolledBackBy> {
  const [links, setLinks] = useState(NO_ROLLBACKS);
  useEffect(() => {
    if (!machineId) return;
    let alive = true;
    api(routes.machineCard, { params: { id: machineId } })
      .then(({ changes }) => {
        if (!alive) return;
        const commandOf = new Map(changes.map((c) => [c.commandId, c.command]));
        const map = new Map<string, RolledBackBy>();
        for (const c of changes)
          if (c.sessionId === sessionId && c.rollback)
            map.set(c.commandId, { ...c.rollback, command: commandOf.get(c.rollback.commandId) });
        setLinks(map);
      })
      // Without the card the transcript still stands; only the links are missing.
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [machineId, sessionId]);
  return links;
}

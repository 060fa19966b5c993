// The client portal: a contact's pending approvals (live) and recent decisions, and the one-time approval link page
// (usable without signing in). Plain language first — every change the command makes and the technician's reason —
// then the exact command, shown as it will run.
import * as routes from "@caisey/core/routes";
import { useEffect, useState } from "preact/hooks";
import { ApiError, type Approval, abilities, api, type ChangeLine, errorMessage, type Me } from "../api.ts";
import { usePolling } from "../hooks.ts";
import { linkClick } from "../router.ts";
import { clockTime } from "../transcript.ts";
import { ActionButton, ErrorBanner, FormError, Notice, When } from "./ui.tsx";

const POLL_MS = 2000;

/** "14:52" in the viewer's time zone, with the date when it is not today. */
export function shortTime(iso: string | null | undefined): string {
  return iso ? clockTime(iso, Date.now(), "minutes") : "";
}

/** "12 min 5 s left", "45 s left", or "expired". */
export function timeLeft(iso: string | null | undefined, now: number): string {
  if (!iso) return "";
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return "";
  if (ms <= 0) return "expired";
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s left`;
  return `${Math.floor(m / 60)} h ${m % 60} min left`;
}

/** Ticks every second while mounted: for countdowns. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** A decision error a person understands: who else decided, expiry, a used link. */
export function decisionError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 409 && error.code === "approval_decided")
      return `This request was already decided or has run out of time (${error.message}).`;
    if (error.status === 409 && error.code === "approval_mismatch")
      return "The technician's command changed since approval was asked, so it cannot be approved. Ask them to send it again.";
    if (error.status === 410 && error.code === "link_used")
      return "This link was already used. Each approval link works once.";
    if (error.status === 410 && error.code === "link_expired")
      return "This link has expired. Ask your technician to send a new one.";
    if (error.status === 404) return "This approval link is not valid. Check that you copied the whole address.";
  }
  return errorMessage(error);
}

const STATE_LABELS: Record<string, string> = {
  pending: "awaiting approval",
  granted: "approved",
  declined: "declined",
  expired: "expired",
};

export function approvalLabel(state: string): string {
  return STATE_LABELS[state] ?? state;
}

/** The decision part of a pending approval: optional comment, Approve and Decline. */
export function DecisionForm({
  onDecide,
  compact = false,
}: {
  onDecide: (decision: "approve" | "decline", comment: string) => Promise<string | null>;
  compact?: boolean;
}) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<"approve" | "decline" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const decide = async (decision: "approve" | "decline") => {
    setBusy(decision);
    setError(null);
    const failure = await onDecide(decision, comment.trim());
    setBusy(null);
    if (failure) setError(failure);
    else setComment("");
  };
  return (
    <div class={`decision ${compact ? "compact" : ""}`} data-testid="decision-form">
      <textarea
        data-testid="decision-comment"
        rows={compact ? 1 : 2}
        maxLength={1000}
        placeholder="Comment for the technician (optional)"
        value={comment}
        onInput={(e) => setComment(e.currentTarget.value)}
      />
      <div class="decision-buttons">
        <ActionButton
          class="primary approve"
          testId="approve"
          disabled={busy !== null}
          busy={busy === "approve"}
          busyLabel="Approving…"
          label="Approve"
          onClick={() => void decide("approve")}
        />
        <ActionButton
          class="danger"
          testId="decline"
          disabled={busy !== null}
          busy={busy === "decline"}
          busyLabel="Declining…"
          label="Decline"
          onClick={() => void decide("decline")}
        />
      </div>
      <FormError message={error} testId="decision-error" class="error decision-error" />
    </div>
  );
}

/** One approval request as the client's contact sees it. */
export function ApprovalCard({
  approval,
  now,
  onDecide,
  sessionLink = true,
}: {
  approval: Approval;
  now: number;
  onDecide: ((decision: "approve" | "decline", comment: string) => Promise<string | null>) | null;
  sessionLink?: boolean;
}) {
  const pending = approval.state === "pending" && Date.parse(approval.expiresAt ?? "") > now;
  return (
    <article
      class={`card approval-card approval-${approval.state}`}
      data-testid="approval-card"
      data-approval-id={approval.id}
      data-state={approval.state}
    >
      <p class="approval-summary" data-testid="approval-summary">
        {headline(approval)}
      </p>
      <ApprovalChanges changes={approval.changes ?? []} />
      <p class="approval-reason" data-testid="approval-reason">
        <span class="label">Why: </span>
        {approval.reason ? (
          <span class="reason-text">{approval.reason}</span>
        ) : (
          <span class="muted">{approval.requestedByName ?? "The technician"} gave no reason.</span>
        )}
      </p>
      <div class="approval-facts">
        <span>
          Asked by <b data-testid="approval-technician">{approval.requestedByName ?? "your technician"}</b>
        </span>
        <span>
          on{" "}
          <b class="mono" data-testid="approval-machine">
            {approval.hostname ?? approval.machineId}
          </b>
        </span>
        {approval.clientName && <span class="muted">{approval.clientName}</span>}
        {approval.requestedAt && (
          <span class="muted">
            <When iso={approval.requestedAt} />
          </span>
        )}
        {pending ? (
          <span class="countdown" data-testid="approval-countdown" title={approval.expiresAt ?? ""}>
            expires {shortTime(approval.expiresAt)} · {timeLeft(approval.expiresAt, now)}
          </span>
        ) : (
          <span class={`badge approval-badge approval-${approval.state}`} data-testid="approval-state">
            {approvalLabel(approval.state === "pending" ? "expired" : approval.state)}
          </span>
        )}
      </div>
      <div class="exact-command" data-testid="approval-details">
        <div class="label">
          The exact command, as it will run{approval.shell ? ` (${SHELL_NAMES[approval.shell] ?? approval.shell})` : ""}
          :
        </div>
        <pre class="mono" data-testid="approval-command">
          {approval.command}
        </pre>
      </div>
      {approval.state !== "pending" && approval.decidedAt && (
        <p class="decided" data-testid="approval-decided">
          {approval.state === "granted" ? "Approved" : approval.state === "declined" ? "Declined" : "Closed"}
          {approval.decidedByName ? ` by ${approval.decidedByName}` : ""} · <When iso={approval.decidedAt} />
          {approval.comment ? <span class="comment"> — “{approval.comment}”</span> : null}
        </p>
      )}
      {pending && onDecide && <DecisionForm onDecide={onDecide} />}
      {sessionLink && (
        <a
          class="small"
          href={`/sessions/${encodeURIComponent(approval.sessionId)}`}
          onClick={linkClick}
          data-testid="approval-session"
        >
          Follow the session
        </a>
      )}
    </article>
  );
}

const SHELL_NAMES: Record<string, string> = {
  powershell: "Windows PowerShell",
  pwsh: "PowerShell",
  cmd: "Command Prompt",
  bash: "bash",
  sh: "sh",
};

/**
 * The card's first line: the summary, or, when the list below names several changes, their count (the summary would
 * only repeat the list).
 */
function headline(a: Approval): string {
  const changes = a.changes ?? [];
  if (changes.length < 2) return a.summary || "Run a command on your machine";
  const named = changes.filter((c) => c.kind === "change").length;
  const unknown = changes.length - named;
  const on = `on ${a.hostname ?? "your machine"}`;
  const cannot = `${unknown === 1 ? "one part" : `${unknown} parts`} Caisey cannot read`;
  if (named === 0) return `Run ${cannot} ${on}`;
  const make = `Make ${named === 1 ? "one change" : `${named} changes`} ${on}`;
  return unknown === 0 ? make : `${make}, and run ${cannot}`;
}

/** What approving allows, change by change; the parts Caisey cannot read stand out. */
export function ApprovalChanges({ changes }: { changes: ChangeLine[] }) {
  if (changes.length === 0)
    return (
      <p class="approval-changes none" data-testid="approval-changes" data-count="0">
        Caisey found nothing this command changes: it only looks at the machine.
      </p>
    );
  return (
    <div class="approval-changes" data-testid="approval-changes" data-count={changes.length}>
      <div class="label">
        {changes.length === 1 ? "What will change" : `What will change, in order (${changes.length})`}
      </div>
      <ul>
        {changes.map((c, i) => (
          <li key={i} class={`change-line ${c.kind}`} data-testid="approval-change" data-kind={c.kind}>
            {c.kind === "unknown" && (
              <span class="change-warn" aria-hidden="true">
                ?
              </span>
            )}
            {c.text}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ApprovalsPage({ me }: { me: Me }) {
  const can = abilities(me.user.role);
  const contact = me.user.role === "contact";
  const [pending, setPending] = useState<Approval[] | null>(null);
  const [decided, setDecided] = useState<Approval[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const now = useNow();

  usePolling(
    () =>
      Promise.all([
        api(routes.listApprovals, { query: { state: "pending" } }),
        api(routes.listApprovals, { query: { state: "granted", limit: 20 } }),
        api(routes.listApprovals, { query: { state: "declined", limit: 20 } }),
      ]),
    {
      everyMs: POLL_MS,
      onData: ([p, g, d]) => {
        setPending(p.approvals);
        setDecided(
          [...g.approvals, ...d.approvals]
            .sort((a, b) => (b.decidedAt ?? "").localeCompare(a.decidedAt ?? ""))
            .slice(0, 20),
        );
        setError(null);
      },
      onError: setError,
    },
    [tick],
  );

  const decide =
    (approval: Approval) =>
    async (decision: "approve" | "decline", comment: string): Promise<string | null> => {
      try {
        await api(routes.decideApproval, {
          params: { id: approval.id },
          body: { decision, ...(comment ? { comment } : {}) },
        });
        setNotice(
          decision === "approve"
            ? `Approved. ${approval.requestedByName ?? "The technician"}'s command runs on ${approval.hostname ?? "your machine"} now.`
            : "Declined. The command will not run; the technician sees your answer.",
        );
        setTick((t) => t + 1);
        return null;
      } catch (err) {
        setTick((t) => t + 1);
        return decisionError(err);
      }
    };

  const visible = pending?.filter((a) => Date.parse(a.expiresAt ?? "") > now) ?? null;

  return (
    <div class="page approvals-page" data-testid="approvals-page">
      <div class="page-head">
        <h1>Approvals</h1>
        <span class="muted">
          {contact
            ? `${me.organization.name} asks before it changes anything on your machines. Approve or decline each request here.`
            : "Requests waiting for a client's approval. Only the client's contacts decide; send them a link from the session."}
        </span>
      </div>
      <Notice message={notice} onDismiss={() => setNotice(null)} />
      {error && <ErrorBanner message={`Could not load approvals: ${error}`} />}
      <section data-testid="pending-approvals">
        <h2>Waiting for you{visible && visible.length > 0 ? ` (${visible.length})` : ""}</h2>
        {visible === null && !error && <p class="muted">Loading…</p>}
        {visible?.length === 0 && (
          <p class="muted empty-approvals" data-testid="no-pending">
            Nothing is waiting for approval right now. This page updates by itself.
          </p>
        )}
        <div class="approval-list">
          {visible?.map((a) => (
            <ApprovalCard key={a.id} approval={a} now={now} onDecide={contact ? decide(a) : null} />
          ))}
        </div>
      </section>
      <section data-testid="recent-decisions">
        <h2>Recent decisions</h2>
        {decided.length === 0 && <p class="muted">No decisions yet.</p>}
        <ul class="decision-list">
          {decided.map((a) => (
            <li key={a.id} data-testid="recent-decision" data-approval-id={a.id} data-state={a.state}>
              <span class={`badge approval-badge approval-${a.state}`}>{approvalLabel(a.state)}</span>
              <span class="strong">{a.summary}</span>
              <span class="muted">
                {a.hostname} · {a.requestedByName ?? ""} · {a.decidedByName ? `${a.decidedByName}, ` : ""}
                <When iso={a.decidedAt} />
              </span>
              {a.comment && <span class="comment">“{a.comment}”</span>}
              {can.staff || contact ? (
                <a href={`/sessions/${encodeURIComponent(a.sessionId)}`} onClick={linkClick}>
                  session
                </a>
              ) : null}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

type LinkState =
  | { kind: "loading" }
  | { kind: "ready"; approval: Approval; contact: { id: string; name: string } }
  | { kind: "done"; decision: "approve" | "decline"; approval: Approval }
  | { kind: "error"; message: string };

/** /approve/<token>: one approval, one contact, once — no sign-in. */
export function ApprovalLinkPage({ token }: { token: string }) {
  const [state, setState] = useState<LinkState>({ kind: "loading" });
  const now = useNow();

  useEffect(() => {
    document.title = "Caisey · Approval";
    let alive = true;
    api(routes.readApprovalLink, { params: { token } })
      .then((answer) => alive && setState({ kind: "ready", ...answer }))
      .catch((error) => alive && setState({ kind: "error", message: decisionError(error) }));
    return () => {
      alive = false;
    };
  }, [token]);

  const decide = async (decision: "approve" | "decline", comment: string): Promise<string | null> => {
    if (state.kind !== "ready") return null;
    try {
      await api(routes.decideByLink, { params: { token }, body: { decision, ...(comment ? { comment } : {}) } });
      setState({ kind: "done", decision, approval: state.approval });
      return null;
    } catch (error) {
      return decisionError(error);
    }
  };

  return (
    <div class="auth approval-link" data-testid="approval-link-page">
      <div class="approval-link-inner">
        <div class="brand big">caisey</div>
        {state.kind === "loading" && <p class="muted">Loading the request…</p>}
        {state.kind === "error" && (
          <div class="card" data-testid="approval-link-error">
            <h1>This link cannot be used</h1>
            <p>{state.message}</p>
          </div>
        )}
        {state.kind === "ready" && (
          <>
            <h1>
              Hello {state.contact.name}, {state.approval.requestedByName ?? "your technician"} asks for your approval
            </h1>
            {state.approval.state !== "pending" && (
              <p class="notice banner" data-testid="approval-link-closed">
                This request is {approvalLabel(state.approval.state)}; there is nothing left to decide.
              </p>
            )}
            <ApprovalCard approval={state.approval} now={now} onDecide={decide} sessionLink={false} />
          </>
        )}
        {state.kind === "done" && (
          <div class="card" data-testid="approval-link-done" data-decision={state.decision}>
            <h1>{state.decision === "approve" ? "Thank you — approved" : "Thank you — declined"}</h1>
            <p>
              {state.decision === "approve"
                ? `${state.approval.requestedByName ?? "The technician"} can now run it on ${state.approval.hostname ?? "your machine"}.`
                : "The command will not run. The technician sees your answer."}
            </p>
            <p class="muted">{state.approval.summary}</p>
            <p class="muted small">You can close this page. The link cannot be used again.</p>
          </div>
        )}
      </div>
    </div>
  );
}

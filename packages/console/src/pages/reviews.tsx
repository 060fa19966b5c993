// The dispatcher's review gate: sessions a technician sent for review, each with its before/after pairs first (the
// opening lines of both outputs side by side), the verdicts and notes, and Accept / Return with a comment. Owners set
// the close policy here too: it is what sends sessions to this page.
import * as routes from "@caisey/core/routes";
import type { PendingReview, VerdictCommand, VerdictView } from "@caisey/core/views";
import { useState } from "preact/hooks";
import { api, errorMessage, type Me } from "../api.ts";
import { usePolling, useResource } from "../hooks.ts";
import { linkClick } from "../router.ts";
import { ErrorBanner, Notice, When } from "./ui.tsx";

const POLL_MS = 5000;

export const VERDICT_LABELS: Record<VerdictView["verdict"], string> = {
  fixed: "fixed",
  not_fixed: "not fixed",
  unverifiable: "cannot verify",
};

const POLICIES = [
  { value: "none", label: "Close at will", explain: "A technician closes a session whenever they are done." },
  { value: "verdict", label: "Verdict required", explain: "Closing needs a verdict on a before/after pair." },
  {
    value: "review",
    label: "Dispatcher review",
    explain: "Closing needs a verdict, then sends the session here; it closes once a dispatcher or owner accepts it.",
  },
] as const;

export function ReviewsPage({ me }: { me: Me }) {
  const [reviews, setReviews] = useState<PendingReview[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [changes, setChanges] = useState(0);
  usePolling(
    () => api(routes.listReviews),
    {
      everyMs: POLL_MS,
      onData: (answer) => {
        setReviews(answer.reviews);
        setError(null);
      },
      onError: setError,
    },
    [changes],
  );

  const decided = (review: PendingReview, state: string) => {
    setNotice(
      `${review.ticket ? `Ticket ${review.ticket}` : "The session"} on ${review.hostname ?? review.machineId} ${
        state === "closed" ? "is accepted and closed." : `went back to ${review.technicianName ?? "its technician"}.`
      }`,
    );
    setChanges((n) => n + 1);
  };

  return (
    <div class="page" data-testid="reviews-page">
      <div class="page-head">
        <h1>Reviews</h1>
        <span class="muted">
          Sessions waiting for your review, the longest waiting first: compare before and after, then accept or return.
        </span>
      </div>
      {me.user.role === "owner" && <ClosePolicyCard />}
      <Notice message={notice} onDismiss={() => setNotice(null)} />
      {error && <ErrorBanner message={`Could not load the reviews: ${error}`} />}
      {reviews === null && !error && <p class="muted">Loading…</p>}
      {reviews?.length === 0 && (
        <div class="card muted" data-testid="no-reviews">
          Nothing waits for review.
        </div>
      )}
      {reviews?.map((r) => (
        <ReviewCard key={r.sessionId} review={r} onDecided={(state) => decided(r, state)} />
      ))}
    </div>
  );
}

function ReviewCard({ review: r, onDecided }: { review: PendingReview; onDecided: (state: string) => void }) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<"accept" | "return" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const decide = async (decision: "accept" | "return") => {
    setError(null);
    setBusy(decision);
    try {
      const trimmed = comment.trim();
      const body = trimmed ? { decision, comment: trimmed } : { decision };
      const answer = await api(routes.reviewSession, { params: { id: r.sessionId }, body });
      onDecided(answer.state);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };
  const pairs = r.verdicts.filter((v) => v.verify !== null);
  const singles = r.verdicts.filter((v) => v.verify === null);
  return (
    <section class="card review" data-testid="review" data-session-id={r.sessionId}>
      <div class="review-head">
        <h2>
          {r.ticket ? <span class="ticket">{r.ticket}</span> : <span class="muted">no ticket</span>}{" "}
          <span class="mono">{r.hostname ?? r.machineId}</span> · {r.clientName ?? r.clientId}
        </h2>
        <span class="muted">
          {r.technicianName ?? r.technicianId} sent it <When iso={r.requestedAt} />
          {r.returns > 0 ? ` · returned ${r.returns}× before` : ""}
        </span>
        <div class="spacer" />
        <a href={`/sessions/${encodeURIComponent(r.sessionId)}`} onClick={linkClick} data-testid="review-open">
          Open the session
        </a>
      </div>
      {pairs.map((v) => (
        <VerdictBlock key={v.seq} verdict={v} />
      ))}
      {singles.map((v) => (
        <VerdictBlock key={v.seq} verdict={v} />
      ))}
      {r.verdicts.length === 0 && <p class="muted">No verdict recorded.</p>}
      <div class="review-actions">
        <textarea
          class="grow"
          rows={2}
          placeholder="Comment for the technician (what to check again when you return it)"
          value={comment}
          onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)}
          data-testid="review-comment"
        />
        <button
          type="button"
          class="primary"
          disabled={busy !== null}
          onClick={() => void decide("accept")}
          data-testid="review-accept"
        >
          {busy === "accept" ? "Accepting…" : "Accept and close"}
        </button>
        <button
          type="button"
          disabled={busy !== null || comment.trim().length === 0}
          title={comment.trim() ? undefined : "Say what is missing: the technician reads it"}
          onClick={() => void decide("return")}
          data-testid="review-return"
        >
          {busy === "return" ? "Returning…" : "Return to technician"}
        </button>
      </div>
      {error && (
        <div class="error" role="alert" data-testid="review-error">
          {error}
        </div>
      )}
    </section>
  );
}

function VerdictBlock({ verdict: v }: { verdict: VerdictView }) {
  return (
    <div class="verdict" data-testid="review-verdict" data-verdict={v.verdict}>
      <div class="verdict-line">
        <span class={`badge verdict-${v.verdict}`}>{VERDICT_LABELS[v.verdict]}</span>{" "}
        {v.note ? <span class="msg">{v.note}</span> : <span class="muted">no note</span>}
      </div>
      <div class={v.verify ? "pair" : "pair single"}>
        <CommandGlance label="Before" command={v.baseline} testId="pair-before" />
        {v.verify && <CommandGlance label="After" command={v.verify} testId="pair-after" />}
      </div>
    </div>
  );
}

function CommandGlance({
  label,
  command: c,
  testId,
}: {
  label: string;
  command: VerdictCommand | null;
  testId: string;
}) {
  if (!c) return <div class="glance muted">{label}: the command is not in the record</div>;
  return (
    <div class="glance" data-testid={testId}>
      <div class="glance-head">
        <b>{label}</b> <code>{c.command}</code>{" "}
        <span class={c.exitCode === 0 ? "exit ok" : "exit bad"}>exit {c.exitCode ?? "—"}</span>{" "}
        <When iso={c.finishedAt} />
      </div>
      <pre class="output" data-testid={`${testId}-output`}>
        {c.firstLines || "(no output)"}
        {c.truncated ? "\n…" : ""}
      </pre>
    </div>
  );
}

/** The owner's close policy and callback window (GET/PUT /api/v1/settings). */
function ClosePolicyCard() {
  const settings = useResource(() => api(routes.organizationSettings));
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const change = async (body: { closePolicy?: "none" | "verdict" | "review"; callbackDays?: number }) => {
    setError(null);
    setSaved(null);
    try {
      await api(routes.changeSettings, { body });
      await settings.reload();
      setSaved("Saved.");
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const s = settings.data;
  return (
    <section class="card" data-testid="close-policy">
      <h2>Closing sessions</h2>
      {s && (
        <div class="policy-form">
          {POLICIES.map((p) => (
            <label key={p.value} class="radio">
              <input
                type="radio"
                name="close-policy"
                value={p.value}
                checked={s.closePolicy === p.value}
                onChange={() => void change({ closePolicy: p.value })}
                data-testid={`close-policy-${p.value}`}
              />{" "}
              <b>{p.label}</b> <span class="muted">{p.explain}</span>
            </label>
          ))}
          <label class="radio">
            A session opened on the same machine within{" "}
            <input
              type="number"
              min={1}
              max={90}
              value={s.callbackDays}
              class="narrow"
              data-testid="callback-days"
              onChange={(e) => void change({ callbackDays: Number((e.target as HTMLInputElement).value) })}
            />{" "}
            days of a close counts as a callback.
          </label>
        </div>
      )}
      {(error ?? settings.error) && (
        <div class="error" role="alert">
          {error ?? settings.error}
        </div>
      )}
      {saved && <span class="muted">{saved}</span>}
    </section>
  );
}

// On the session page: the technician's verdict on a before/after pair (fixed / not fixed / cannot verify, with a
// note), and the notice a returned session shows its technician.
import * as routes from "@caisey/core/routes";
import { useRef, useState } from "preact/hooks";
import { api, errorMessage } from "../api.ts";
import type { CommandView } from "../transcript.ts";

const CHOICES = [
  { value: "fixed", label: "Fixed" },
  { value: "not_fixed", label: "Not fixed" },
  { value: "unverifiable", label: "Cannot verify" },
] as const;

/** As the transcript numbers it ("#3"), so the choice matches what the technician reads above. */
const short = (c: CommandView) => `#${c.number} ${c.command.length > 60 ? `${c.command.slice(0, 57)}…` : c.command}`;

/**
 * Choose the baseline and its re-run (preselected from the last verification, `verifies`, when there is one; else the
 * technician picks two finished commands), then the verdict. "Cannot verify" needs its note.
 */
export function VerdictForm({ sessionId, commands }: { sessionId: string; commands: CommandView[] }) {
  const finished = commands.filter((c) => c.state === "finished");
  const lastVerify = [...finished].reverse().find((c) => c.verifies && finished.some((b) => b.id === c.verifies));
  const [open, setOpen] = useState(false);
  const [baseline, setBaseline] = useState<string>("");
  const [verify, setVerify] = useState<string>("");
  const [verdict, setVerdict] = useState<"fixed" | "not_fixed" | "unverifiable">("fixed");
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const noteRef = useRef<HTMLTextAreaElement>(null);
  if (finished.length === 0) return null;
  const start = () => {
    const before = lastVerify?.verifies ?? finished[0]?.id ?? "";
    setBaseline(before);
    setVerify(lastVerify?.id ?? finished.filter((c) => c.id !== before).at(-1)?.id ?? "");
    setError(null);
    setSaved(null);
    setOpen(true);
  };
  if (!open)
    return (
      <div class="verdict-form" data-testid="verdict-bar">
        <button type="button" class="small" onClick={start} data-testid="verdict-open">
          Record a verdict
        </button>
        <span class="muted small">Compare a diagnostic before the fix with the same one after it.</span>
        {saved && <span class="muted small">{saved}</span>}
      </div>
    );
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (verdict === "unverifiable" && note.trim() === "") {
      setError("Say what you checked, and why closing is still right, when the fix cannot be verified.");
      noteRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      await api(routes.recordVerdict, {
        params: { id: sessionId },
        body: {
          baselineCommandId: baseline,
          ...(verify ? { verifyCommandId: verify } : {}),
          verdict,
          note: note.trim(),
        },
      });
      setOpen(false);
      setNote("");
      setSaved("Verdict recorded.");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card verdict-form" onSubmit={(e) => void submit(e)} data-testid="verdict-form">
      <label>
        Before{" "}
        <select
          value={baseline}
          onChange={(e) => setBaseline((e.target as HTMLSelectElement).value)}
          data-testid="verdict-baseline"
        >
          {finished.map((c) => (
            <option key={c.id} value={c.id}>
              {short(c)}
            </option>
          ))}
        </select>
      </label>
      <label>
        After{" "}
        <select
          value={verify}
          onChange={(e) => setVerify((e.target as HTMLSelectElement).value)}
          data-testid="verdict-verify"
        >
          <option value="">(no re-run)</option>
          {finished
            .filter((c) => c.id !== baseline)
            .map((c) => (
              <option key={c.id} value={c.id}>
                {short(c)}
              </option>
            ))}
        </select>
      </label>
      {CHOICES.map((c) => (
        <label key={c.value} class="radio">
          <input
            type="radio"
            name="verdict"
            value={c.value}
            checked={verdict === c.value}
            onChange={() => setVerdict(c.value)}
            data-testid={`verdict-${c.value}`}
          />{" "}
          {c.label}
        </label>
      ))}
      <textarea
        ref={noteRef}
        class="grow"
        rows={2}
        value={note}
        aria-invalid={error !== null && verdict === "unverifiable" && note.trim() === ""}
        onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
        placeholder={
          verdict === "unverifiable"
            ? "What did you check, what could not be verified, and why is closing still right?"
            : "Note for the reviewer (what changed between before and after)"
        }
        data-testid="verdict-note"
      />
      <button type="submit" class="primary small" disabled={busy || !baseline} data-testid="verdict-submit">
        {busy ? "Recording…" : "Record verdict"}
      </button>
      <button type="button" class="small ghost" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error && (
        <div class="error" role="alert" data-testid="verdict-error">
          {error}
        </div>
      )}
    </form>
  );
}

/**
 * A session a reviewer sent back: who, and what they asked for in their own words (quoted as written, whatever its
 * punctuation), until it is sent for review again.
 */
export function ReturnedNotice({ comment, by }: { comment: string | null; by: string }) {
  return (
    <div class="card review-notice" role="status" data-testid="review-returned">
      <b data-testid="review-returned-by">Returned by {by}</b>
      {comment ? (
        <blockquote data-testid="review-returned-comment">{comment}</blockquote>
      ) : (
        <span class="muted"> with no comment.</span>
      )}
      <div class="muted">Check again, record a verdict, then send it for review.</div>
    </div>
  );
}

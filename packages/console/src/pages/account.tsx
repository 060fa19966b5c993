// The signed-in person's account: change the password (every other sign-in and token is signed out).
import { useState } from "preact/hooks";
import { api, errorMessage, type Me } from "../api.ts";
import { ErrorBanner, Field, Notice } from "./ui.tsx";

export function AccountPage({ me }: { me: Me }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    if (next.length < 10) return setError("The new password must be at least 10 characters.");
    if (next !== repeat) return setError("The two new passwords differ.");
    if (next === current) return setError("The new password is the same as the current one.");
    setBusy(true);
    try {
      await api("POST", "/api/v1/auth/password", { currentPassword: current, newPassword: next });
      setCurrent("");
      setNext("");
      setRepeat("");
      setDone(
        "Password changed. Every other browser signed in as you, and every API token you issued, was signed out; this browser stays signed in.",
      );
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page" data-testid="account-page">
      <div class="page-head">
        <h1>Account</h1>
        <span class="muted">
          {me.user.name} · <span class="mono">{me.user.email}</span> · {me.user.role}
        </span>
      </div>
      <section class="card narrow">
        <h2>Change password</h2>
        <form onSubmit={submit} data-testid="password-form">
          <Field id="password-current" label="Current password">
            <input
              id="password-current"
              data-testid="password-current"
              type="password"
              required
              autoComplete="current-password"
              value={current}
              onInput={(e) => setCurrent(e.currentTarget.value)}
            />
          </Field>
          <Field id="password-new" label="New password" hint="At least 10 characters.">
            <input
              id="password-new"
              data-testid="password-new"
              type="password"
              required
              autoComplete="new-password"
              value={next}
              onInput={(e) => setNext(e.currentTarget.value)}
            />
          </Field>
          <Field id="password-repeat" label="New password, again">
            <input
              id="password-repeat"
              data-testid="password-repeat"
              type="password"
              required
              autoComplete="new-password"
              value={repeat}
              onInput={(e) => setRepeat(e.currentTarget.value)}
            />
          </Field>
          <ErrorBanner message={error} />
          <Notice message={done} />
          <button type="submit" class="primary" disabled={busy} data-testid="password-submit">
            {busy ? "Changing…" : "Change password"}
          </button>
        </form>
        <p class="muted small">
          Changing your password signs out every other browser and revokes your API tokens. To do that without a new
          password, use “Sign out everywhere” in the account menu.
        </p>
      </section>
    </div>
  );
}

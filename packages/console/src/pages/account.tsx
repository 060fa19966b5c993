// The signed-in person's account: change the password (every other sign-in and token is signed out).
import * as routes from "@caisey/core/routes";
import { useState } from "preact/hooks";
import { api, type Me } from "../api.ts";
import { useSubmit } from "../hooks.ts";
import { ErrorBanner, Notice, SubmitButton, TextField } from "./ui.tsx";

export function AccountPage({ me }: { me: Me }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, submit } = useSubmit(async () => {
    setDone(null);
    if (next.length < 10) throw new Error("The new password must be at least 10 characters.");
    if (next !== repeat) throw new Error("The two new passwords differ.");
    if (next === current) throw new Error("The new password is the same as the current one.");
    await api(routes.changePassword, { body: { currentPassword: current, newPassword: next } });
    setCurrent("");
    setNext("");
    setRepeat("");
    setDone(
      "Password changed. Every other browser signed in as you, and every API token you issued, was signed out; this browser stays signed in.",
    );
  });

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
          <TextField
            id="password-current"
            testId="password-current"
            label="Current password"
            type="password"
            required
            autoComplete="current-password"
            value={current}
            onValue={setCurrent}
          />
          <TextField
            id="password-new"
            testId="password-new"
            label="New password"
            hint="At least 10 characters."
            type="password"
            required
            autoComplete="new-password"
            value={next}
            onValue={setNext}
          />
          <TextField
            id="password-repeat"
            testId="password-repeat"
            label="New password, again"
            type="password"
            required
            autoComplete="new-password"
            value={repeat}
            onValue={setRepeat}
          />
          <ErrorBanner message={error} />
          <Notice message={done} />
          <SubmitButton busy={busy} label="Change password" busyLabel="Changing…" testId="password-submit" />
        </form>
        <p class="muted small">
          Changing your password signs out every other browser and revokes your API tokens. To do that without a new
          password, use “Sign out everywhere” in the account menu.
        </p>
      </section>
    </div>
  );
}

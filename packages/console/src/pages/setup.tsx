// First run: create the organization and its owner.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage } from "../api.ts";
import { Field } from "./ui.tsx";

export function SetupPage({ onDone }: { onDone: () => Promise<void> }) {
  const [organization, setOrganization] = useState("");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const firstRef = useRef<HTMLInputElement>(null);
  useEffect(() => firstRef.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (password.length < 10) {
      setError("Password must be at least 10 characters.");
      return;
    }
    setBusy(true);
    try {
      await api("POST", "/api/v1/setup", { organization, name, email, password });
      await onDone();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="auth">
      <form class="card auth-card" onSubmit={submit} data-testid="setup-form">
        <div class="brand big">caisey</div>
        <h1>Set up your organization</h1>
        <p class="muted">This creates your MSP's workspace and you as its owner.</p>
        <Field id="setup-organization" label="Organization">
          <input
            id="setup-organization"
            data-testid="setup-organization"
            name="organization"
            required
            maxLength={200}
            value={organization}
            onInput={(e) => setOrganization(e.currentTarget.value)}
            ref={firstRef}
          />
        </Field>
        <Field id="setup-name" label="Your name">
          <input
            id="setup-name"
            data-testid="setup-name"
            name="name"
            required
            maxLength={200}
            autoComplete="name"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field id="setup-email" label="Email">
          <input
            id="setup-email"
            data-testid="setup-email"
            name="email"
            type="email"
            required
            autoComplete="username"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field id="setup-password" label="Password" hint="At least 10 characters.">
          <input
            id="setup-password"
            data-testid="setup-password"
            name="password"
            type="password"
            required
            autoComplete="new-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        {error && (
          <div class="error" role="alert" data-testid="form-error">
            {error}
          </div>
        )}
        <button type="submit" class="primary wide" disabled={busy} data-testid="setup-submit">
          {busy ? "Creating…" : "Create organization"}
        </button>
      </form>
    </div>
  );
}

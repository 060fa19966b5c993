import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage } from "../api.ts";
import { Field } from "./ui.tsx";

export function LoginPage({ onDone }: { onDone: () => Promise<void> }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const firstRef = useRef<HTMLInputElement>(null);
  useEffect(() => firstRef.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await api("POST", "/api/v1/auth/login", { email, password });
      await onDone();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="auth">
      <form class="card auth-card" onSubmit={submit} data-testid="login-form">
        <div class="brand big">caisey</div>
        <h1>Sign in</h1>
        <Field id="login-email" label="Email">
          <input
            id="login-email"
            data-testid="login-email"
            name="email"
            type="email"
            required
            autoComplete="username"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            ref={firstRef}
          />
        </Field>
        <Field id="login-password" label="Password">
          <input
            id="login-password"
            data-testid="login-password"
            name="password"
            type="password"
            required
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        {error && (
          <div class="error" role="alert" data-testid="form-error">
            {error}
          </div>
        )}
        <button type="submit" class="primary wide" disabled={busy} data-testid="login-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}

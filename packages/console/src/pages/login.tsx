import * as routes from "@caisey/core/routes";
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { useAutofocus, useSubmit } from "../hooks.ts";
import { AuthForm, TextField } from "./ui.tsx";

export function LoginPage({ onDone }: { onDone: () => Promise<void> }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const firstRef = useAutofocus<HTMLInputElement>();
  const { busy, error, submit } = useSubmit(async () => {
    await api(routes.signIn, { body: { email, password } });
    await onDone();
  });

  return (
    <AuthForm
      testId="login-form"
      title="Sign in"
      onSubmit={submit}
      error={error}
      busy={busy}
      label="Sign in"
      busyLabel="Signing in…"
      submitTestId="login-submit"
    >
      <TextField
        id="login-email"
        testId="login-email"
        label="Email"
        name="email"
        type="email"
        required
        autoComplete="username"
        value={email}
        onValue={setEmail}
        inputRef={firstRef}
      />
      <TextField
        id="login-password"
        testId="login-password"
        label="Password"
        name="password"
        type="password"
        required
        autoComplete="current-password"
        value={password}
        onValue={setPassword}
      />
    </AuthForm>
  );
}

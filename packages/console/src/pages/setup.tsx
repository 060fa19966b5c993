// First run: create the organization and its owner.
import * as routes from "@caisey/core/routes";
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { useAutofocus, useSubmit } from "../hooks.ts";
import { AuthForm, TextField } from "./ui.tsx";

export function SetupPage({ onDone }: { onDone: () => Promise<void> }) {
  const [organization, setOrganization] = useState("");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const firstRef = useAutofocus<HTMLInputElement>();
  const { busy, error, submit } = useSubmit(async () => {
    if (password.length < 10) throw new Error("Password must be at least 10 characters.");
    await api(routes.setUp, { body: { organization, name, email, password } });
    await onDone();
  });

  return (
    <AuthForm
      testId="setup-form"
      title="Set up your organization"
      intro="This creates your MSP's workspace and you as its owner."
      onSubmit={submit}
      error={error}
      busy={busy}
      label="Create organization"
      busyLabel="Creating…"
      submitTestId="setup-submit"
    >
      <TextField
        id="setup-organization"
        testId="setup-organization"
        label="Organization"
        name="organization"
        required
        maxLength={200}
        value={organization}
        onValue={setOrganization}
        inputRef={firstRef}
      />
      <TextField
        id="setup-name"
        testId="setup-name"
        label="Your name"
        name="name"
        required
        maxLength={200}
        autoComplete="name"
        value={name}
        onValue={setName}
      />
      <TextField
        id="setup-email"
        testId="setup-email"
        label="Email"
        name="email"
        type="email"
        required
        autoComplete="username"
        value={email}
        onValue={setEmail}
      />
      <TextField
        id="setup-password"
        testId="setup-password"
        label="Password"
        hint="At least 10 characters."
        name="password"
        type="password"
        required
        autoComplete="new-password"
        value={password}
        onValue={setPassword}
      />
    </AuthForm>
  );
}

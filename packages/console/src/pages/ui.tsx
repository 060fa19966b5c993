// Small pieces every page builds with: labelled fields, submit buttons with a busy state, banners, tables, badges.
import type { ComponentChildren, Ref } from "preact";
import { useState } from "preact/hooks";
import { type SessionSummary, STAFF_ROLES, type StaffRole } from "../api.ts";
import type { Action } from "../hooks.ts";
import { linkClick } from "../router.ts";

/** A labelled form control; `id` must be the id of the control passed as children. */
export function Field({
  id,
  label,
  hint,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="field">
      <label class="label" for={id}>
        {label}
      </label>
      {children}
      {hint && <span class="hint">{hint}</span>}
    </div>
  );
}

/** The input attributes the console's text fields use. */
interface InputProps {
  name?: string;
  type?: "text" | "email" | "password";
  required?: boolean;
  maxLength?: number;
  autoComplete?: string;
  placeholder?: string;
  class?: string;
}

/** A labelled text input (any `type`), bound to `value`. */
export function TextField({
  id,
  label,
  hint,
  testId,
  value,
  onValue,
  inputRef,
  type,
  ...input
}: InputProps & {
  id: string;
  label: string;
  hint?: string;
  testId: string;
  value: string;
  onValue: (value: string) => void;
  inputRef?: Ref<HTMLInputElement>;
}) {
  return (
    <Field id={id} label={label} hint={hint}>
      <input
        id={id}
        data-testid={testId}
        // One input of any of these types; Preact's types want the type known to pick its attributes.
        type={type as "text" | undefined}
        {...input}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
        ref={inputRef}
      />
    </Field>
  );
}

/** An input with its label in line (a small filter or option), bound to `value`. */
export function InlineInput({
  label,
  testId,
  value,
  onValue,
  type,
  placeholder,
  maxLength,
}: {
  label: string;
  testId: string;
  value: string;
  onValue: (value: string) => void;
  type?: "date";
  placeholder?: string;
  maxLength?: number;
}) {
  return (
    <label class="inline-field">
      <span class="label">{label}</span>
      <input
        // A date or a plain text input (no type); Preact's types want one type known to pick its attributes.
        type={type as "text" | undefined}
        data-testid={testId}
        placeholder={placeholder}
        maxLength={maxLength}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
    </label>
  );
}

/** A filter's date range, whole days (YYYY-MM-DD): "From" and "To" (the `to` day included). */
export function DateRange({
  testIdPrefix,
  from,
  to,
  onValue,
}: {
  testIdPrefix: string;
  from: string;
  to: string;
  onValue: (change: { from?: string; to?: string }) => void;
}) {
  return (
    <>
      <InlineInput
        label="From"
        type="date"
        testId={`${testIdPrefix}-from`}
        value={from}
        onValue={(value) => onValue({ from: value })}
      />
      <InlineInput
        label="To"
        type="date"
        testId={`${testIdPrefix}-to`}
        value={to}
        onValue={(value) => onValue({ to: value })}
      />
    </>
  );
}

export interface Choice {
  value: string;
  label: ComponentChildren;
  title?: string;
}

/** The select attributes the console's pickers use. */
interface SelectProps {
  id?: string;
  disabled?: boolean;
  title?: string;
  "aria-label"?: string;
}

/** A select of `options`, after an "any" option with the empty value when `any` is given; `children` go last. */
export function Select({
  testId,
  value,
  onValue,
  options,
  any,
  children,
  ...select
}: SelectProps & {
  testId: string;
  value: string;
  onValue: (value: string) => void;
  options: Choice[];
  any?: string;
  children?: ComponentChildren;
}) {
  return (
    <select data-testid={testId} {...select} value={value} onChange={(e) => onValue(e.currentTarget.value)}>
      {any !== undefined && <option value="">{any}</option>}
      {options.map((o) => (
        <option key={o.value} value={o.value} title={o.title}>
          {o.label}
        </option>
      ))}
      {children}
    </select>
  );
}

const ROLE_CHOICES: Choice[] = STAFF_ROLES.map((r) => ({ value: r, label: r }));

/** A staff role. */
export function RoleSelect({
  onRole,
  ...select
}: SelectProps & { testId: string; value: string; onRole: (role: StaffRole) => void }) {
  return <Select {...select} options={ROLE_CHOICES} onValue={(v) => onRole(v as StaffRole)} />;
}

/** A form's submit button: `busyLabel` while it works. */
export function SubmitButton({
  busy,
  label,
  busyLabel,
  testId,
  class: cls = "primary",
  disabled = false,
}: {
  busy: boolean;
  label: ComponentChildren;
  busyLabel: string;
  testId: string;
  class?: string;
  disabled?: boolean;
}) {
  return (
    <button type="submit" class={cls} disabled={busy || disabled} data-testid={testId}>
      {busy ? busyLabel : label}
    </button>
  );
}

/** A button that acts on a row or a page: `busyLabel` while this very action runs. */
export function ActionButton({
  label,
  busy = false,
  busyLabel,
  testId,
  class: cls,
  disabled = false,
  title,
  onClick,
}: {
  label: ComponentChildren;
  busy?: boolean;
  busyLabel?: string;
  testId?: string;
  class?: string;
  disabled?: boolean;
  title?: string;
  onClick: () => void;
}) {
  return (
    <button type="button" class={cls} data-testid={testId} disabled={disabled} title={title} onClick={onClick}>
      {busy && busyLabel ? busyLabel : label}
    </button>
  );
}

/** Shows or hides a panel ("Add a person" / "Hide"); a primary button while the panel is closed, unless `class`. */
export function ToggleButton({
  open,
  onToggle,
  label,
  openLabel = "Hide",
  testId,
  class: cls,
}: {
  open: boolean;
  onToggle: (open: boolean) => void;
  label: string;
  openLabel?: string;
  testId: string;
  class?: string;
}) {
  return (
    <button type="button" class={cls ?? (open ? "" : "primary")} data-testid={testId} onClick={() => onToggle(!open)}>
      {open ? openLabel : label}
    </button>
  );
}

/** A form's own error, under it. */
export function FormError({
  message,
  testId,
  class: cls = "error",
}: {
  message: string | null;
  testId: string;
  class?: string;
}) {
  if (!message) return null;
  return (
    <div class={cls} role="alert" data-testid={testId}>
      {message}
    </div>
  );
}

/** A card with a one-line form ("Add a client"), its explanation and its error. */
export function FormCard({
  testId,
  title,
  onSubmit,
  busy,
  label,
  busyLabel,
  submitTestId,
  error,
  errorTestId,
  after,
  children,
}: {
  testId: string;
  title: string;
  onSubmit: (event: Event) => void;
  busy: boolean;
  label: string;
  busyLabel: string;
  submitTestId: string;
  error: string | null;
  errorTestId: string;
  after?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="card" data-testid={testId}>
      <h2>{title}</h2>
      <form class="row-form" onSubmit={onSubmit}>
        {children}
        <SubmitButton busy={busy} label={label} busyLabel={busyLabel} testId={submitTestId} />
      </form>
      {after}
      <FormError message={error} testId={errorTestId} />
    </section>
  );
}

/** The signed-out pages' centered card (sign in, first setup). */
export function AuthForm({
  testId,
  title,
  intro,
  onSubmit,
  error,
  busy,
  label,
  busyLabel,
  submitTestId,
  children,
}: {
  testId: string;
  title: string;
  intro?: string;
  onSubmit: (event: Event) => void;
  error: string | null;
  busy: boolean;
  label: string;
  busyLabel: string;
  submitTestId: string;
  children: ComponentChildren;
}) {
  return (
    <div class="auth">
      <form class="card auth-card" onSubmit={onSubmit} data-testid={testId}>
        <div class="brand big">caisey</div>
        <h1>{title}</h1>
        {intro && <p class="muted">{intro}</p>}
        {children}
        <FormError message={error} testId="form-error" />
        <SubmitButton busy={busy} label={label} busyLabel={busyLabel} testId={submitTestId} class="primary wide" />
      </form>
    </div>
  );
}

function Banner({
  kind,
  message,
  onDismiss,
}: {
  kind: "error" | "notice";
  message: string | null;
  onDismiss?: () => void;
}) {
  if (!message) return null;
  return (
    <div class={`${kind} banner`} role={kind === "error" ? "alert" : "status"} data-testid={kind}>
      <span>{message}</span>
      {onDismiss && (
        <button type="button" class="ghost small" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export function ErrorBanner({ message, onDismiss }: { message: string | null; onDismiss?: () => void }) {
  return <Banner kind="error" message={message} onDismiss={onDismiss} />;
}

export function Notice({ message, onDismiss }: { message: string | null; onDismiss?: () => void }) {
  return <Banner kind="notice" message={message} onDismiss={onDismiss} />;
}

/** A row action's notice and error, each dismissable. */
export function ActionBanners({ action }: { action: Action }) {
  return (
    <>
      <Notice message={action.notice} onDismiss={() => action.setNotice(null)} />
      <ErrorBanner message={action.error} onDismiss={() => action.setError(null)} />
    </>
  );
}

/** A page that could not load: why, and the way back to the machines. */
export function LoadFailed({ message }: { message: string }) {
  return (
    <div class="page">
      <ErrorBanner message={message} />
      <a href="/machines" onClick={linkClick}>
        Back to machines
      </a>
    </div>
  );
}

/** A table row of its own: a loading or empty message across all columns. */
export function TableNote({
  colSpan,
  testId,
  children,
}: {
  colSpan: number;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    <tr>
      <td colSpan={colSpan} class="muted center" data-testid={testId}>
        {children}
      </td>
    </tr>
  );
}

/**
 * A grid table with its column heads (false leaves a column out, "" is a head without a title), "Loading…" while
 * `loading` and the `empty` message when there is one, then the rows.
 */
export function DataTable({
  testId,
  class: cls = "grid",
  columns,
  loading = false,
  empty,
  emptyTestId,
  children,
}: {
  testId?: string;
  class?: string;
  columns: (string | false)[];
  loading?: boolean;
  empty?: ComponentChildren;
  emptyTestId?: string;
  children: ComponentChildren;
}) {
  const heads = columns.filter((c): c is string => c !== false);
  return (
    <table class={cls} data-testid={testId}>
      <thead>
        <tr>
          {heads.map((c, i) => (
            <th key={i}>{c || null}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {loading && <TableNote colSpan={heads.length}>Loading…</TableNote>}
        {empty ? (
          <TableNote colSpan={heads.length} testId={emptyTestId}>
            {empty}
          </TableNote>
        ) : null}
        {children}
      </tbody>
    </table>
  );
}

/** A good (green) or bad (red) badge. */
export function Badge({
  good,
  testId,
  children,
  ...data
}: {
  good: boolean;
  testId?: string;
  children: ComponentChildren;
  [data: `data-${string}`]: string;
}) {
  return (
    <span class={`badge ${good ? "good" : "bad"}`} data-testid={testId} {...data}>
      {children}
    </span>
  );
}

/** Active or disabled, for a person or a contact. */
export function PersonStatus({
  disabled,
  testId,
  flag = false,
}: {
  disabled: boolean;
  testId: string;
  flag?: boolean;
}) {
  const data = flag ? { "data-disabled": disabled ? "true" : "false" } : {};
  return (
    <Badge good={!disabled} testId={testId} {...data}>
      {disabled ? "disabled" : "active"}
    </Badge>
  );
}

/** Disable an active account, enable a disabled one. */
export function DisableToggle({
  disabled,
  testId,
  busy = false,
  locked = false,
  onToggle,
}: {
  disabled: boolean;
  testId: string;
  busy?: boolean;
  locked?: boolean;
  onToggle: () => void;
}) {
  return (
    <ActionButton
      class={disabled ? "small" : "danger small"}
      testId={testId}
      disabled={locked}
      busy={busy}
      busyLabel="Saving…"
      label={disabled ? "Enable" : "Disable"}
      onClick={onToggle}
    />
  );
}

/** A machine's dot and word: online, offline or revoked. */
export function MachineStatus({
  machine: m,
  testId,
  withOnline = false,
}: {
  machine: { revoked?: boolean; online: boolean };
  testId: string;
  withOnline?: boolean;
}) {
  const status = m.revoked ? "revoked" : m.online ? "online" : "offline";
  const data = withOnline ? { "data-online": m.online ? "true" : "false" } : {};
  return (
    <span class={`status ${status}`} data-testid={testId} {...data}>
      <span class="dot" />
      {status}
    </span>
  );
}

/** The cells every list of sessions shows: ticket, state and commands (with the failed ones). */
export function SessionTicket({ session: s }: { session: SessionSummary }) {
  return <td>{s.ticket ? <span class="ticket">{s.ticket}</span> : <span class="muted">—</span>}</td>;
}

/** A session's state in the words the lists show (the API's `review_pending` reads "waiting for review"). */
export const SESSION_STATE_LABEL: Readonly<Record<string, string>> = {
  open: "open",
  review_pending: "waiting for review",
  closed: "closed",
};

export function SessionState({ session: s }: { session: SessionSummary }) {
  return (
    <td>
      <span class={`badge session-${s.state}`} data-testid="session-state">
        {SESSION_STATE_LABEL[s.state] ?? s.state}
      </span>
      {s.state === "open" && s.returns > 0 && (
        <span
          class="badge session-returned"
          data-testid="session-returned"
          title="A reviewer sent it back: open it to read what they asked for"
        >
          returned
        </span>
      )}
    </td>
  );
}

export function SessionCommands({ session: s }: { session: SessionSummary }) {
  return (
    <td>
      {s.commandCount}
      {s.failedCount > 0 && <span class="exit bad"> · {s.failedCount} failed</span>}
    </td>
  );
}

export function SessionLink({ session: s }: { session: SessionSummary }) {
  return (
    <td class="right">
      <a href={`/sessions/${encodeURIComponent(s.id)}`} onClick={linkClick} data-testid="session-link">
        {s.state === "open" ? "Open" : "View record"}
      </a>
    </td>
  );
}

/** Date and time in the viewer's locale, with the exact ISO time on hover. */
export function When({ iso, empty = "—" }: { iso: string | null | undefined; empty?: string }) {
  if (!iso) return <span class="muted">{empty}</span>;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return <span>{iso}</span>;
  return (
    <span title={date.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" })}>
      {date.toLocaleString()}
    </span>
  );
}

export function CopyButton({ text, testId }: { text: string; testId?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <button
      type="button"
      class="small"
      data-testid={testId}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setState("copied");
        } catch {
          setState("failed");
        }
      }}
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed — select it" : "Copy"}
    </button>
  );
}

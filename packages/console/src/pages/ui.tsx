import type { ComponentChildren } from "preact";

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

export function ErrorBanner({ message, onDismiss }: { message: string | null; onDismiss?: () => void }) {
  if (!message) return null;
  return (
    <div class="error banner" role="alert" data-testid="error">
      <span>{message}</span>
      {onDismiss && (
        <button type="button" class="ghost small" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

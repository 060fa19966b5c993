// Environment snapshots go into the record, so secrets must not. A variable is redacted when its name says it
// holds a secret, or when its value looks like a credential whatever its name.

export const REDACTED = "[redacted]";

const SECRET_NAME =
  /(pass(word|wd|phrase)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth|cookie|session[-_]?id|signature|salt|^pwd_|_pwd$|connection[-_]?string|dsn$)/i;

const SECRET_VALUE = [
  /^(gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}/, // GitHub tokens
  /^(xox[abprs]-)/, // Slack tokens
  /^AKIA[0-9A-Z]{16}$/, // AWS access key id
  /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, // JWT
  /^sk-[A-Za-z0-9_-]{20,}$/, // API secret keys of several vendors
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, // URL with embedded password
];

/** Names whose values are never secret even though the name matches (e.g. the working directory). */
const NOT_SECRET_NAME = /^(PWD|OLDPWD|XAUTHORITY|SSH_AUTH_SOCK|GPG_AGENT_INFO)$/;

export function isSecretLooking(name: string, value: string): boolean {
  if (NOT_SECRET_NAME.test(name)) return false;
  if (SECRET_NAME.test(name)) return true;
  return SECRET_VALUE.some((pattern) => pattern.test(value));
}

/** A sorted copy of the environment with secret-looking values replaced by "[redacted]". */
export function redactEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined) continue;
    out[name] = isSecretLooking(name, value) ? REDACTED : value;
  }
  return out;
}

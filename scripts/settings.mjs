// What `npm start` hands the Worker as settings: the operator's variables, the client-address header to believe
// (none unless the operator names one: there is no edge in front), and the key secret, generated into the data dir on
// first start. A setting that would leave the deployment weak stops the start with a message saying what to do.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The same floor as the Worker's (packages/server/src/auth.ts, key-wrap.ts). */
export const SECRET_MIN_LENGTH = 32;

/** The data dir's key secret: created once, readable by its owner only (0600), never printed. */
export function keySecretFile(data) {
  const file = join(data, "key-secret");
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new Error(`${file} is readable by others (mode ${mode.toString(8)}): run chmod 600 '${file}'`);
  return readFileSync(file, "utf8").trim();
}

/**
 * The Worker's variables for `npm start`, from the environment and the data dir; throws when a setting is refused.
 * `publicUrl` is the console's address when CAISEY_PUBLIC_URL does not say otherwise (links in webhook messages).
 */
export function workerSettings(env, data, publicUrl) {
  const vars = { CAISEY_TRUSTED_ADDRESS_HEADER: env.CAISEY_TRUSTED_ADDRESS_HEADER ?? "" };
  if (env.CAISEY_PUBLIC_URL || publicUrl) vars.CAISEY_PUBLIC_URL = env.CAISEY_PUBLIC_URL || publicUrl;
  for (const name of ["CAISEY_OPERATOR_TOKEN", "CAISEY_INDEX_DELAY_MS", "CAISEY_KEY_SECRET_PREVIOUS"]) {
    if (env[name]) vars[name] = env[name];
  }
  const operator = vars.CAISEY_OPERATOR_TOKEN;
  if (operator !== undefined && operator.length < SECRET_MIN_LENGTH)
    throw new Error(
      `CAISEY_OPERATOR_TOKEN is ${operator.length} characters; it must be ${SECRET_MIN_LENGTH} or more (for example: openssl rand -base64 32)`,
    );
  vars.CAISEY_KEY_SECRET = env.CAISEY_KEY_SECRET || keySecretFile(data);
  if (vars.CAISEY_KEY_SECRET.length < SECRET_MIN_LENGTH)
    throw new Error(`CAISEY_KEY_SECRET must be ${SECRET_MIN_LENGTH} or more characters`);
  return vars;
}

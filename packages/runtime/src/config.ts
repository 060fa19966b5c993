// The enrollment on disk: DIR/runtime.json (0600, in a 0700 directory). Holds the machine's private key and the
// tenant's signing key pinned at enrollment (the only key whose dispatches the runtime runs).

import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { BUILD } from "./build-info.ts";
import { isSigningKey } from "./signing.ts";

export const RUNTIME_VERSION = BUILD.version;
export const CONFIG_FILE = "runtime.json";

export const RuntimeConfig = z.object({
  server: z.string().url(),
  machineId: z.string().regex(/^mch_[a-z2-7]{20}$/),
  tenantId: z.string().regex(/^ten_[a-z2-7]{20}$/),
  privateKey: z.string().includes("-----BEGIN PRIVATE KEY-----"),
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  /** The tenant's raw Ed25519 public key (base64url), pinned at enrollment: dispatches must be signed by it. */
  signingKey: z.string().refine(isSigningKey, "must be a base64url Ed25519 public key (32 bytes)"),
  enrolledAt: z.string(),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;

export function configPath(dataDir: string): string {
  return path.join(dataDir, CONFIG_FILE);
}

export async function readConfig(dataDir: string): Promise<RuntimeConfig> {
  const file = configPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(`not enrolled: ${file} does not exist (run \`enroll\` first)`);
    }
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
  if (typeof value === "object" && value !== null && !("signingKey" in value)) {
    // Enrolled by a runtime from before dispatches were signed: it cannot tell the tenant's commands from anyone's.
    throw new Error(
      `${file} has no signing key (it was enrolled by an older runtime), so this runtime cannot verify that commands come from your organization and will not run any. Enroll again: CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll --server URL --data-dir ${dataDir} --force`,
    );
  }
  const parsed = RuntimeConfig.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file} is invalid: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.trim());
  }
  return parsed.data;
}

export async function hasConfig(dataDir: string): Promise<boolean> {
  try {
    await readFile(configPath(dataDir));
    return true;
  } catch {
    return false;
  }
}

/** Write atomically (temp file + rename) with owner-only permissions. */
export async function writeConfig(dataDir: string, config: RuntimeConfig): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = configPath(dataDir);
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await chmod(temp, 0o600); // in case the umask or filesystem widened it
  await rename(temp, file);
}

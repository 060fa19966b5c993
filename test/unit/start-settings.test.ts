// What `npm start` hands the Worker (scripts/settings.mjs): a short operator token stops the start, the key secret is
// generated once into the data dir readable by its owner only, and no client address header is believed unless the
// operator names one.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script, without types
import { keySecretFile, workerSettings } from "../../scripts/settings.mjs";

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "caisey-settings-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("npm start's settings", () => {
  it("refuses an operator token shorter than 32 characters, saying so", () => {
    expect(() => workerSettings({ CAISEY_OPERATOR_TOKEN: "x".repeat(31) }, dataDir())).toThrow(
      "CAISEY_OPERATOR_TOKEN is 31 characters; it must be 32 or more (for example: openssl rand -base64 32)",
    );
    expect(workerSettings({ CAISEY_OPERATOR_TOKEN: "x".repeat(32) }, dataDir()).CAISEY_OPERATOR_TOKEN).toBe(
      "x".repeat(32),
    );
  });

  it("generates the key secret into the data dir once, mode 0600, and keeps it across starts", () => {
    const data = dataDir();
    const first = workerSettings({}, data).CAISEY_KEY_SECRET;
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(data, "key-secret")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(data, "key-secret"), "utf8")).toBe(`${first}\n`);
    expect(workerSettings({}, data).CAISEY_KEY_SECRET).toBe(first);
    // The environment's secret (a service manager's) wins; the previous one passes through for a rotation.
    const rotating = workerSettings({ CAISEY_KEY_SECRET: "n".repeat(40), CAISEY_KEY_SECRET_PREVIOUS: first }, data);
    expect([rotating.CAISEY_KEY_SECRET, rotating.CAISEY_KEY_SECRET_PREVIOUS]).toEqual(["n".repeat(40), first]);
    expect(() => workerSettings({ CAISEY_KEY_SECRET: "short" }, data)).toThrow(
      "CAISEY_KEY_SECRET must be 32 or more characters",
    );
  });

  it("refuses a key secret file others can read", () => {
    const data = dataDir();
    keySecretFile(data);
    chmodSync(join(data, "key-secret"), 0o644);
    expect(() => keySecretFile(data)).toThrow(`${join(data, "key-secret")} is readable by others (mode 644)`);
  });

  it("believes no client address header unless the operator names the one their proxy sets", () => {
    expect(workerSettings({}, dataDir()).CAISEY_TRUSTED_ADDRESS_HEADER).toBe("");
    // the console's address in webhook links: what `npm start` listens on, unless the operator names another
    expect(workerSettings({}, dataDir(), "http://127.0.0.1:8787").CAISEY_PUBLIC_URL).toBe("http://127.0.0.1:8787");
    expect(
      workerSettings({ CAISEY_PUBLIC_URL: "https://support.example" }, dataDir(), "http://127.0.0.1:8787")
        .CAISEY_PUBLIC_URL,
    ).toBe("https://support.example");
    expect(
      workerSettings({ CAISEY_TRUSTED_ADDRESS_HEADER: "x-real-ip" }, dataDir()).CAISEY_TRUSTED_ADDRESS_HEADER,
    ).toBe("x-real-ip");
  });
});

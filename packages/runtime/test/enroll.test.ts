import { execFile } from "node:child_process";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RuntimeEnrollBody } from "@caisey/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readConfig, writeConfig } from "../src/config.ts";
import { enroll, generateIdentity, normalizeServer } from "../src/enroll.ts";
import { FACTS, MACHINE, TENANT } from "./fixtures.ts";
import { testTenant } from "./tenant.ts";

const SIGNING_KEY = testTenant().signingKey;

let dir: string;
let server: Server | undefined;
const requests: { url: string; method: string; body: unknown }[] = [];

async function serve(status: number, answer: unknown): Promise<string> {
  const http = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => {
      requests.push({ url: req.url ?? "", method: req.method ?? "", body: JSON.parse(text) });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(typeof answer === "string" ? answer : JSON.stringify(answer));
    });
  });
  server = http;
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), "caisey-enroll-")), "data");
  requests.length = 0;
});
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await rm(path.dirname(dir), { recursive: true, force: true });
});

describe("generateIdentity", () => {
  it("makes an Ed25519 pair: PKCS#8 PEM private key, raw 32-byte public key as base64url", () => {
    const identity = generateIdentity();
    expect(identity.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(identity.publicKey, "base64url").length).toBe(32);
    expect(identity.privateKeyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    const privateKey = createPrivateKey(identity.privateKeyPem);
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: identity.publicKey }, format: "jwk" });
    expect(verify(null, Buffer.from("m"), publicKey, sign(null, Buffer.from("m"), privateKey))).toBe(true);
  });
});

describe("normalizeServer", () => {
  it("accepts http(s) base URLs only", () => {
    expect(normalizeServer("http://127.0.0.1:8787/")).toBe("http://127.0.0.1:8787");
    expect(normalizeServer("https://c.example.com/base/")).toBe("https://c.example.com/base");
    expect(() => normalizeServer("ws://x")).toThrow("server URL must be http(s): ws://x");
    expect(() => normalizeServer("nope")).toThrow("invalid server URL: nope");
  });
});

describe("enroll", () => {
  it("posts token, public key and facts, then stores the identity owner-only", async () => {
    const url = await serve(201, { machineId: MACHINE, tenantId: TENANT, signingKey: SIGNING_KEY });
    const result = await enroll({ server: `${url}/`, token: "enr-token", dataDir: dir, facts: FACTS });
    expect(result.ok).toBe(true);
    expect(requests.length).toBe(1);
    const request = requests[0];
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/api/v1/runtime/enroll");
    const body = RuntimeEnrollBody.parse(request?.body);
    expect(body).toEqual({ token: "enr-token", publicKey: body.publicKey, facts: FACTS });

    const config = await readConfig(dir);
    expect(config).toEqual({
      server: url,
      machineId: MACHINE,
      tenantId: TENANT,
      privateKey: config.privateKey,
      publicKey: body.publicKey,
      signingKey: SIGNING_KEY,
      enrolledAt: config.enrolledAt,
    });
    expect(JSON.parse(await readFile(path.join(dir, "runtime.json"), "utf8")).signingKey).toBe(SIGNING_KEY);
    expect(createPublicKey(createPrivateKey(config.privateKey)).export({ format: "jwk" }).x).toBe(body.publicKey);
    expect((await stat(path.join(dir, "runtime.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);

    // A second enrollment into the same directory is refused unless forced.
    const again = await enroll({ server: url, token: "enr-token", dataDir: dir, facts: FACTS });
    expect(again).toEqual({
      ok: false,
      message: `${dir} already holds an enrollment; use --force to replace it (the old machine identity is lost)`,
    });
    expect(requests.length).toBe(1);
    const forced = await enroll({ server: url, token: "enr-token", dataDir: dir, facts: FACTS, force: true });
    expect(forced.ok).toBe(true);
    expect((await readConfig(dir)).publicKey).not.toBe(body.publicKey);
  });

  it("reports the server's error message", async () => {
    const url = await serve(401, { error: { code: "bad_token", message: "enrollment token is invalid or used up" } });
    expect(await enroll({ server: url, token: "t", dataDir: dir, facts: FACTS })).toEqual({
      ok: false,
      message: "enrollment token is invalid or used up",
    });
    await expect(readFile(path.join(dir, "runtime.json"))).rejects.toThrow("ENOENT");
  });

  it("refuses an answer without a usable signing key, and saves nothing", async () => {
    const raw = Buffer.from(SIGNING_KEY, "base64url");
    for (const signingKey of [
      undefined,
      null,
      "",
      SIGNING_KEY.slice(0, 42),
      raw.toString("base64"), // standard base64, padded
      Buffer.concat([raw, Buffer.from([0])]).toString("base64url"), // 33 bytes
      { kty: "OKP", crv: "Ed25519", x: SIGNING_KEY },
    ]) {
      const url = await serve(201, { machineId: MACHINE, tenantId: TENANT, signingKey });
      expect(await enroll({ server: url, token: "t", dataDir: dir, facts: FACTS })).toEqual({
        ok: false,
        message: "the server did not provide a signing key",
      });
      await expect(readFile(path.join(dir, "runtime.json"))).rejects.toThrow("ENOENT");
      await new Promise((resolve) => server?.close(resolve));
      server = undefined;
    }
  });

  it("reports an answer that is not the contract", async () => {
    const url = await serve(502, "<html>bad gateway</html>");
    expect(await enroll({ server: url, token: "t", dataDir: dir, facts: FACTS })).toEqual({
      ok: false,
      message: "server answered 502 Bad Gateway",
    });
  });
});

/** A second server (the first one is still listening) that answers an enrollment without a signing key. */
async function serve201WithoutKey(): Promise<string> {
  const http = createServer((_req, res) => {
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ machineId: MACHINE, tenantId: TENANT }));
  });
  extraServers.push(http);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}
const extraServers: Server[] = [];

/** The test's own environment, without a token a developer may have exported. */
function withoutToken(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const { CAISEY_ENROLL_TOKEN: _, ...rest } = env;
  return rest;
}
afterEach(async () => {
  for (const s of extraServers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

describe("the CLI (from source)", () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
  const run = (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ["--experimental-strip-types", "--no-warnings", path.join(root, "packages/runtime/src/cli.ts"), ...args],
        { cwd: root, env: { ...withoutToken(process.env), ...options.env } },
        (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
      );
      child.stdin?.end(options.stdin ?? "");
    });

  it("enrolls, refuses to enroll twice, and reports errors with exit codes", async () => {
    const url = await serve(201, { machineId: MACHINE, tenantId: TENANT, signingKey: SIGNING_KEY });
    const ok = await run(["enroll", "--server", url, "--data-dir", dir], { env: { CAISEY_ENROLL_TOKEN: "t" } });
    expect(ok).toEqual({ code: 0, stdout: `Enrolled as machine ${MACHINE}\n`, stderr: "" });
    const twice = await run(["enroll", "--server", url, "--data-dir", dir], { env: { CAISEY_ENROLL_TOKEN: "t" } });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toBe(
      `enroll failed: ${dir} already holds an enrollment; use --force to replace it (the old machine identity is lost)\n`,
    );
    const usage = await run(["enroll", "--server", url]);
    expect(usage.code).toBe(2);
    expect(
      usage.stderr.startsWith(
        "caisey-runtime: missing the enrollment token: set CAISEY_ENROLL_TOKEN or give --token -\n\nUsage: CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll",
      ),
    ).toBe(true);
    const unsigned = await serve201WithoutKey();
    const refused = await run(["enroll", "--server", unsigned, "--data-dir", `${dir}-2`], {
      env: { CAISEY_ENROLL_TOKEN: "t" },
    });
    expect(refused).toEqual({
      code: 1,
      stdout: "",
      stderr: "enroll failed: the server did not provide a signing key\n",
    });
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout.startsWith("caisey-runtime 0.1.0")).toBe(true);
  });

  it("takes the token from CAISEY_ENROLL_TOKEN, from standard input with --token -, or (with a warning) from --token", async () => {
    const url = await serve(201, { machineId: MACHINE, tenantId: TENANT, signingKey: SIGNING_KEY });
    const enrolled = { code: 0, stdout: `Enrolled as machine ${MACHINE}\n`, stderr: "" };
    expect(
      await run(["enroll", "--server", url, "--data-dir", dir], { env: { CAISEY_ENROLL_TOKEN: "cse_env" } }),
    ).toEqual(enrolled);
    expect(
      await run(["enroll", "--server", url, "--token", "-", "--data-dir", dir, "--force"], { stdin: "cse_stdin\n" }),
    ).toEqual(enrolled);
    const argument = await run(["enroll", "--server", url, "--token", "cse_arg", "--data-dir", dir, "--force"]);
    expect(argument).toEqual({
      ...enrolled,
      stderr:
        "warning: a token given with --token is visible in the process list, shell history and npm's log line; use CAISEY_ENROLL_TOKEN=… or --token - instead\n",
    });
    expect(requests.map((r) => (r.body as { token: string }).token)).toEqual(["cse_env", "cse_stdin", "cse_arg"]);

    const empty = await run(["enroll", "--server", url, "--token", "-", "--data-dir", dir, "--force"], { stdin: "" });
    expect(empty).toEqual({
      code: 2,
      stdout: "",
      stderr: "caisey-runtime: no enrollment token on standard input (or set CAISEY_ENROLL_TOKEN)\n",
    });
    expect(requests).toHaveLength(3); // nothing was sent
  });

  it("refuses to run on an enrollment without the tenant's signing key, telling the user to enroll again", async () => {
    const identity = generateIdentity();
    const old = {
      server: "http://127.0.0.1:9",
      machineId: MACHINE,
      tenantId: TENANT,
      privateKey: identity.privateKeyPem,
      publicKey: identity.publicKey,
      enrolledAt: new Date().toISOString(),
    };
    await writeConfig(dir, old as Parameters<typeof writeConfig>[1]); // as an older runtime wrote it
    const file = path.join(dir, "runtime.json");
    const message = `${file} has no signing key (it was enrolled by an older runtime), so this runtime cannot verify that commands come from your organization and will not run any. Enroll again: CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll --server URL --data-dir ${dir} --force`;
    await expect(readConfig(dir)).rejects.toThrow(message);
    const result = await run(["run", "--data-dir", dir]);
    expect(result).toEqual({ code: 1, stdout: "", stderr: `caisey-runtime: ${message}\n` });

    // A signing key that is not one is refused as invalid.
    await writeConfig(dir, { ...old, signingKey: "x".repeat(42) });
    const bad = await run(["run", "--data-dir", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      `caisey-runtime: ${file} is invalid: signingKey must be a base64url Ed25519 public key (32 bytes)\n`,
    );
  });
});

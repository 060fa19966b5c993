// Updating itself: the server announces the build it serves (GET /downloads/release.json); a runtime older than that
// downloads its own platform's file into its data dir, checks its size, SHA-256 and the release key's Ed25519 signature
// before the file is ever made executable, and only then puts it in its own place (a rename) and restarts: through the
// service manager (exit UPDATE_EXIT_CODE, which systemd, launchd and the Windows recovery actions restart), or by
// starting itself again when it runs in the foreground. The outbox journal stays in the data dir, so whatever the old
// process had journalled and not yet delivered is delivered by the new one. A build that fails a check is deleted,
// never run, and recorded: the runtime's log (so `status` shows it as the last error) and the server's audit log.

import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { RELEASE_MANIFEST, type ReleaseFile, ReleaseManifest, releaseMessage, updateOffer } from "@caisey/core";
import type { RuntimeBuild } from "./build-info.ts";

/** The exit code that means "I replaced my own program: start me again" (EX_TEMPFAIL; every service unit restarts it). */
export const UPDATE_EXIT_CODE = 75;

/** How often a running runtime asks the server for a newer build (besides at each connect). */
export const UPDATE_CHECK_SECONDS = 3600;

/** The name of this runtime's own file in a release: its platform's executable, or the portable bundle. Pure. */
export function ownReleaseFile(build: RuntimeBuild, platform: NodeJS.Platform, arch: string): string {
  if (build.form === "portable") return "caisey-runtime.mjs";
  const os = platform === "win32" ? "win" : platform;
  return `caisey-runtime-${os}-${arch}${platform === "win32" ? ".exe" : ""}`;
}

/**
 * Whether a service manager restarts this process when it exits (else it starts itself again). systemd gives every
 * process it starts INVOCATION_ID, launchd names the job in XPC_SERVICE_NAME, a Windows service runs as LocalSystem
 * (its profile is the system profile); any other supervisor says so with CAISEY_RUNTIME_SUPERVISED=1. Pure.
 */
export function underServiceManager(platform: NodeJS.Platform, env: Record<string, string | undefined>): boolean {
  if (env.CAISEY_RUNTIME_SUPERVISED === "1") return true;
  if (platform === "win32") return (env.USERPROFILE ?? "").toLowerCase().includes("\\system32\\config\\systemprofile");
  if (platform === "darwin") return env.XPC_SERVICE_NAME === "com.caisey.runtime";
  return (env.INVOCATION_ID ?? "") !== "";
}

/** The release key's raw Ed25519 public key (base64url, as built in) as a key object. */
export function releaseKeyObject(raw: string): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw }, format: "jwk" });
}

/**
 * Why a downloaded build must not run, or null when its size, SHA-256 and signature all hold for `version`. The
 * signature is checked over the hash the file actually has, so a file and a manifest changed together still fail.
 */
export function refusal(
  size: number,
  sha256: string,
  file: ReleaseFile,
  version: string,
  key: KeyObject,
): string | null {
  if (size !== file.size) return `its size is ${size} bytes, the release says ${file.size}`;
  if (sha256 !== file.sha256) return `its SHA-256 ${sha256} is not the ${file.sha256} the release names`;
  const message = Buffer.from(releaseMessage(file.name, version, sha256));
  if (!verify(null, message, key, Buffer.from(file.signature, "base64"))) {
    return "its signature is not by this runtime's release key";
  }
  return null;
}

export interface UpdaterOptions {
  server: string;
  dataDir: string;
  build: RuntimeBuild;
  /** This program's file: what an update replaces. */
  program: string;
  platform: NodeJS.Platform;
  arch: string;
  log: (line: string) => void;
  /** Told once per refused build, to record it on the server. */
  onRefused: (version: string, reason: string) => void;
  /** Commands running or queued: an update waits until there are none rather than interrupt a technician's command. */
  busy: () => boolean;
}

/** The outcome of one check: nothing to do, a build refused, or the program replaced (restart now). */
export type UpdateCheck = "current" | "refused" | "replaced" | "failed";

export class Updater {
  readonly #options: UpdaterOptions;
  readonly #key: KeyObject;
  readonly #file: string;
  /** Builds already refused (version, hash, signature): not fetched again until the server offers another. */
  readonly #refused = new Set<string>();
  #checking: Promise<UpdateCheck> | null = null;
  /** Set once the program is replaced: this process is on its way out and checks no more. */
  #replaced = false;
  #said = "";

  constructor(options: UpdaterOptions, releaseKey: string) {
    this.#options = options;
    this.#key = releaseKeyObject(releaseKey);
    this.#file = ownReleaseFile(options.build, options.platform, options.arch);
  }

  /** One check at a time; a check asked for while one runs shares it. */
  check(): Promise<UpdateCheck> {
    if (this.#replaced) return Promise.resolve("replaced");
    if (!this.#checking) {
      this.#checking = this.#check().finally(() => {
        this.#checking = null;
      });
    }
    return this.#checking;
  }

  /** Log a line once until another one is said (a check every hour should not repeat itself). */
  #sayOnce(line: string): void {
    if (line === this.#said) return;
    this.#said = line;
    this.#options.log(line);
  }

  async #check(): Promise<UpdateCheck> {
    const { server, build, log } = this.#options;
    const url = new URL(`downloads/${RELEASE_MANIFEST}`, server.endsWith("/") ? server : `${server}/`);
    let manifest: ReleaseManifest;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      if (res.status === 404) {
        this.#sayOnce("update check: the server offers no runtime release");
        return "current";
      }
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      const parsed = ReleaseManifest.safeParse(await res.json());
      if (!parsed.success) throw new Error(`${url} is not a release manifest`);
      manifest = parsed.data;
    } catch (error) {
      this.#sayOnce(`update check failed: ${(error as Error).message}`);
      return "failed";
    }
    const offer = updateOffer(manifest, build.version, this.#file);
    if (offer.kind === "current") {
      this.#sayOnce(`update check: ${build.version} is current (the server offers ${offer.version})`);
      return "current";
    }
    if (offer.kind === "no_file") {
      this.#sayOnce(`update check: the server's release ${offer.version} has no ${this.#file}`);
      return "current";
    }
    const { file, version } = offer;
    const id = `${version} ${file.sha256} ${file.signature}`;
    if (this.#refused.has(id)) return "refused";
    const dir = path.join(this.#options.dataDir, "update");
    const download = path.join(dir, `${file.name}.download`);
    let reason: string | null;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      log(`update: downloading ${file.name} ${version} (${file.size} bytes)`);
      const got = await this.#download(new URL(file.name, url), download, file.size);
      reason = refusal(got.size, got.sha256, file, version, this.#key);
    } catch (error) {
      await rm(download, { force: true });
      log(`update to ${version} failed: ${(error as Error).message}`);
      return "failed";
    }
    if (reason !== null) {
      await rm(download, { force: true });
      this.#refused.add(id);
      log(`update to ${version} refused: ${reason}; the download was deleted, never run`);
      this.#options.onRefused(version, reason);
      return "refused";
    }
    while (this.#options.busy()) await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      await this.#replace(download, file);
    } catch (error) {
      log(`update to ${version} failed: cannot replace ${this.#options.program}: ${(error as Error).message}`);
      return "failed";
    } finally {
      await rm(download, { force: true });
    }
    this.#replaced = true;
    log(`updated ${this.#options.program} from ${build.version} to ${version}: restarting`);
    return "replaced";
  }

  /** Stream the file to `to` (owner-only, not executable), at most `limit` bytes, hashing as it goes. */
  async #download(url: URL, to: string, limit: number): Promise<{ size: number; sha256: string }> {
    const res = await fetch(url, { signal: AbortSignal.timeout(15 * 60_000) });
    if (!res.ok || !res.body) throw new Error(`${url} answered ${res.status}`);
    const hash = createHash("sha256");
    const out = createWriteStream(to, { mode: 0o600 });
    let size = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        // Past the size the release names it is refused anyway; stop reading what would only fill the disk.
        if (size > limit) break;
        hash.update(chunk);
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
      }
    } finally {
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    }
    return { size, sha256: hash.digest("hex") };
  }

  /**
   * Put the checked build in the program's place: copied beside it (the data dir may be on another file system), its
   * hash checked again there, given the program's mode, then renamed over it, so the program is at every moment the
   * old build or the new one. Windows cannot replace a running .exe but can rename it: the old one is moved aside
   * first and removed at the next start (removeReplaced).
   */
  async #replace(download: string, file: ReleaseFile): Promise<void> {
    const { program, platform } = this.#options;
    const staged = `${program}.update`;
    await copyFile(download, staged);
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(staged)) hash.update(chunk as Buffer);
    if (hash.digest("hex") !== file.sha256) {
      await rm(staged, { force: true });
      throw new Error(`the copy beside it does not have the checked SHA-256`);
    }
    await chmod(staged, (await stat(program)).mode & 0o777);
    if (platform === "win32") await rename(program, `${program}.old`);
    await rename(staged, program);
  }
}

/** The build an earlier update moved aside (Windows), once the new one runs. */
export async function removeReplaced(program: string): Promise<void> {
  await rm(`${program}.old`, { force: true });
}

// The ssh baseline's own sshd: Debian's openssh-server (installed when missing, without starting the system service),
// run on a free loopback port with throwaway host and client keys in a temp dir, so `ssh localhost cat FILE` is
// measured on every machine the bench runs on, whatever its ssh setup. Killed when done, also on failure.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { freePort } = await import("../test/helpers.ts");

const SSHD = "/usr/sbin/sshd";
const POLICY_RC = "/usr/sbin/policy-rc.d";

/** Install openssh-server when sshd is missing. Resolves to null when sshd is there, else why it is not. */
function ensureSshd() {
  if (existsSync(SSHD)) return null;
  if (process.getuid?.() !== 0) return `${SSHD} is missing and installing openssh-server needs root`;
  console.log("ssh baseline: installing Debian's openssh-server (apt-get; the system service is not started)");
  // Debian's maintainer scripts start the service unless policy-rc.d answers 101 ("action forbidden").
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) writeFileSync(POLICY_RC, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const install = () =>
      spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "openssh-server"], {
        env,
        encoding: "utf8",
        timeout: 300_000,
      });
    let result = install();
    if (result.status !== 0) {
      // Stale package lists are the usual reason; refreshed once.
      spawnSync("apt-get", ["update"], { env, stdio: "ignore", timeout: 300_000 });
      result = install();
    }
    if (result.status !== 0 || !existsSync(SSHD)) {
      const why = (result.error?.message ?? result.stderr ?? "").trim().split("\n").pop();
      return `apt-get install openssh-server failed: ${why || `exit ${result.status}`}`;
    }
    return null;
  } finally {
    if (ownPolicy) unlinkSync(POLICY_RC);
  }
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function keygen(file) {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.error?.message ?? r.stderr}`);
}

/**
 * A running sshd of the bench's own: `{ sshArgs, pid, stop }`, where `ssh ...sshArgs COMMAND` runs COMMAND through it; or
 * `{ unavailable: why }`. `stop()` must be awaited (it is idempotent); a process exit kills the sshd too.
 */
export async function startSshd() {
  const missing = ensureSshd();
  if (missing) return { unavailable: missing };
  const dir = mkdtempSync(join(tmpdir(), "caisey-bench-sshd-"));
  let child = null;
  const kill = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  /** Resolves once the sshd has exited and its temp dir is gone. */
  const stop = async () => {
    process.off("exit", kill);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      kill();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", kill);
  try {
    keygen(join(dir, "host_ed25519"));
    keygen(join(dir, "client_ed25519"));
    writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_ed25519.pub")));
    const port = await freePort();
    writeFileSync(
      join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${join(dir, "host_ed25519")}`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "StrictModes no",
        `PidFile ${join(dir, "sshd.pid")}`,
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "",
      ].join("\n"),
    );
    // Root's sshd insists on its privilege-separation directory, which only the system service creates.
    if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    let log = "";
    child = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (d) => {
      log += d;
    });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`sshd exited: ${log.trim()}`);
      if (Date.now() > deadline) throw new Error(`sshd did not listen within 10 s: ${log.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sshArgs = [
      ...["-p", String(port), "-i", join(dir, "client_ed25519")],
      ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes"],
      ...["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "127.0.0.1"],
    ];
    const probe = spawnSync("ssh", [...sshArgs, "true"], { encoding: "utf8", timeout: 20_000 });
    if (probe.status !== 0) throw new Error(`ssh to the bench's sshd failed: ${(probe.stderr ?? "").trim()}`);
    return { sshArgs, pid: child.pid, stop };
  } catch (error) {
    await stop();
    return { unavailable: error.message };
  }
}

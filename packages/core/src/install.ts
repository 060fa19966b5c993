// How an MSP puts the runtime on a client's machine, in one place for the runtime (`--help`, `install`), the console's
// enrollment panel and the README: the data dir on each platform and the one-liners an RMM runs. Pure.

/** Where the runtime keeps its identity and journal on each platform (the service's; `--data-dir` overrides it). */
export const DEFAULT_DATA_DIR = {
  linux: "/var/lib/caisey-runtime",
  macos: "/Library/Application Support/Caisey/runtime",
  /** Under %ProgramData% (`C:\ProgramData` unless Windows says otherwise). */
  windows: "Caisey\\runtime",
} as const;

/** The files `npm run package:runtime` builds, as served at /downloads/ (macOS runs the portable bundle). */
export const RUNTIME_FILES = {
  linux: "caisey-runtime-linux-x64",
  windows: "caisey-runtime-win-x64.exe",
  macos: "caisey-runtime.mjs",
} as const;

export type InstallPlatform = keyof typeof RUNTIME_FILES;

/** `<sha256>  <name>` lines (sha256sum's format) → name → sha256. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([0-9a-f]{64}) [ *](\S+)$/.exec(line.trim());
    if (match) sums.set(match[2] as string, match[1] as string);
  }
  return sums;
}

/**
 * The command an RMM runs as root (SYSTEM on Windows) to install the runtime as a service: download the file from the
 * server, refuse it unless its SHA-256 is the build's, then `install` with the token in the environment. Nothing is
 * piped into a shell.
 */
export function installCommand(platform: InstallPlatform, server: string, token: string, sha256: string): string {
  const url = `${server}/downloads/${RUNTIME_FILES[platform]}`;
  const install = `install --server ${server}`;
  switch (platform) {
    case "linux":
      return `curl -fsSLo /tmp/caisey-runtime ${url} && echo "${sha256}  /tmp/caisey-runtime" | sha256sum -c - && chmod 755 /tmp/caisey-runtime && CAISEY_ENROLL_TOKEN=${token} /tmp/caisey-runtime ${install}`;
    case "macos":
      return `curl -fsSLo /tmp/caisey-runtime.mjs ${url} && echo "${sha256}  /tmp/caisey-runtime.mjs" | shasum -a 256 -c - && CAISEY_ENROLL_TOKEN=${token} node /tmp/caisey-runtime.mjs ${install}`;
    case "windows":
      return `$f = "$env:TEMP\\caisey-runtime.exe"; Invoke-WebRequest -UseBasicParsing -Uri ${url} -OutFile $f; if ((Get-FileHash -Algorithm SHA256 $f).Hash -ne "${sha256.toUpperCase()}") { throw "caisey-runtime.exe: wrong SHA-256" }; $env:CAISEY_ENROLL_TOKEN = "${token}"; & $f ${install}`;
  }
}

// The enrollment panel's one-liners: what an MSP pastes into its RMM to install the runtime as a service on Linux,
// Windows and macOS, each beside the SHA-256 of the build the server serves (the command refuses any other file).

import { DEFAULT_DATA_DIR, type InstallPlatform, installCommand, parseSha256Sums, RUNTIME_FILES } from "@caisey/core";
import { useEffect, useState } from "preact/hooks";
import { CopyButton } from "./ui.tsx";

const PLATFORMS: { platform: InstallPlatform; name: string; runs: string; dataDir: string }[] = [
  { platform: "linux", name: "Linux (x64)", runs: "as root", dataDir: DEFAULT_DATA_DIR.linux },
  {
    platform: "windows",
    name: "Windows (PowerShell)",
    runs: "as SYSTEM or an administrator",
    dataDir: `%ProgramData%\\${DEFAULT_DATA_DIR.windows}`,
  },
  { platform: "macos", name: "macOS (Node 20 or later)", runs: "as root", dataDir: DEFAULT_DATA_DIR.macos },
];

/** The build's SHA256SUMS as the server serves it; null while loading, an empty map when nothing is built. */
function useBuildSums(): Map<string, string> | null {
  const [sums, setSums] = useState<Map<string, string> | null>(null);
  useEffect(() => {
    fetch("/downloads/SHA256SUMS")
      .then((res) => (res.ok ? res.text() : ""))
      .then(
        (text) => setSums(parseSha256Sums(text)),
        () => setSums(new Map()),
      );
  }, []);
  return sums;
}

export function InstallCommands({ token }: { token: string }) {
  const sums = useBuildSums();
  if (sums === null) return null;
  return (
    <div class="install-commands" data-testid="install-commands">
      <h3>Install as a service</h3>
      <p class="muted small">
        Paste one line into your RMM. It downloads the runtime from this server, checks its SHA-256, enrolls the machine
        and installs the runtime as a service that starts at boot and restarts if it stops. Nothing else is needed on
        the machine.
      </p>
      {PLATFORMS.map(({ platform, name, runs, dataDir }) => {
        const file = RUNTIME_FILES[platform];
        const sha256 = sums.get(file);
        const command = sha256 ? installCommand(platform, location.origin, token, sha256) : "";
        return (
          <div class="install-platform" key={platform} data-testid={`install-${platform}`}>
            <div class="kv">
              <strong>{name}</strong>
              <span class="muted small">runs {runs}; data in</span>
              <code>{dataDir}</code>
            </div>
            {sha256 ? (
              <>
                <div class="cmd-box">
                  <pre data-testid={`install-${platform}-command`}>{command}</pre>
                  <CopyButton key={command} text={command} />
                </div>
                <div class="kv small">
                  <span class="muted">{file} SHA-256</span>
                  <code class="sha" data-testid={`install-${platform}-sha256`}>
                    {sha256}
                  </code>
                </div>
              </>
            ) : (
              <p class="muted small" data-testid={`install-${platform}-missing`}>
                {file} is not built on this server: run <code>npm run package:runtime</code> where the server runs.
              </p>
            )}
          </div>
        );
      })}
    </div>
  );
}

// The one-liners an RMM runs and the build's checksums they rest on (install.ts).
import { describe, expect, it } from "vitest";
import { installCommand, parseSha256Sums } from "../src/install.ts";

const SHA = "9e2fa1e66b96a43c32a3817cbdc9939552f348c7a94e1e3f024379ceed17d786";

describe("install commands", () => {
  it("reads sha256sum's format, text or binary mode, and skips anything else", () => {
    const sums = parseSha256Sums(`${SHA}  caisey-runtime-linux-x64\n${SHA} *caisey-runtime.mjs\nnot a line\n`);
    expect([...sums]).toEqual([
      ["caisey-runtime-linux-x64", SHA],
      ["caisey-runtime.mjs", SHA],
    ]);
  });

  it("checks the download's SHA-256 before running it, on each platform, with the token in the environment", () => {
    const server = "https://caisey.northwind.test";
    expect(installCommand("windows", server, "cse_t", SHA)).toBe(
      `$f = "$env:TEMP\\caisey-runtime.exe"; Invoke-WebRequest -UseBasicParsing -Uri https://caisey.northwind.test/downloads/caisey-runtime-win-x64.exe -OutFile $f; if ((Get-FileHash -Algorithm SHA256 $f).Hash -ne "${SHA.toUpperCase()}") { throw "caisey-runtime.exe: wrong SHA-256" }; $env:CAISEY_ENROLL_TOKEN = "cse_t"; & $f install --server https://caisey.northwind.test`,
    );
    expect(installCommand("macos", server, "cse_t", SHA)).toBe(
      `curl -fsSLo /tmp/caisey-runtime.mjs https://caisey.northwind.test/downloads/caisey-runtime.mjs && echo "${SHA}  /tmp/caisey-runtime.mjs" | shasum -a 256 -c - && CAISEY_ENROLL_TOKEN=cse_t node /tmp/caisey-runtime.mjs install --server https://caisey.northwind.test`,
    );
  });
});

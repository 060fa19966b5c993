// The enrollment panel gives the one-liners an MSP pastes into its RMM, each beside the SHA-256 of the build this
// server serves at /downloads/, with the token just made; a platform whose file is not built says how to build it.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { installCommand, parseSha256Sums, RUNTIME_FILES } from "@caisey/core";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRuntime, RUNTIME_DIST } from "../../scripts/package-runtime.mjs";
import { OWNER } from "../helpers.ts";
import { useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOT = "/tmp/shots/install/enroll-panel.png";

describe("the enrollment panel's install commands", () => {
  const org = useOrganization({ clients: [{ name: "Contoso Dental" }] });
  const chromium = useChromium();

  // The linux-x64 file and the portable bundle, reused when already built.
  beforeAll(() => packageRuntime(["linux-x64"]), 300_000);

  it("shows Linux, Windows and macOS one-liners with the token and the served build's SHA-256", async () => {
    const page = await chromium.page({ width: 1360, height: 1200 });
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    // No machine is enrolled yet, so the panel is open.
    await page.getByTestId("enroll-panel").waitFor({ timeout: 10_000 });
    await page.getByTestId("enroll-client").selectOption({ label: "Contoso Dental" });
    await page.getByTestId("enroll-create").click();
    await page.getByTestId("install-commands").waitFor({ timeout: 10_000 });
    const token = ((await page.getByTestId("enroll-token").textContent()) ?? "").trim();
    const sums = parseSha256Sums(readFileSync(join(RUNTIME_DIST, "SHA256SUMS"), "utf8"));

    for (const platform of ["linux", "macos", "windows"] as const) {
      const sha256 = sums.get(RUNTIME_FILES[platform]);
      if (sha256 === undefined) {
        // Only a file this checkout did not build (the test builds linux-x64 and the bundle) may be missing.
        expect(platform).toBe("windows");
        expect(await page.getByTestId(`install-${platform}-missing`).textContent()).toContain(
          "npm run package:runtime",
        );
        continue;
      }
      expect(await page.getByTestId(`install-${platform}-sha256`).textContent()).toBe(sha256);
      expect(await page.getByTestId(`install-${platform}-command`).textContent()).toBe(
        installCommand(platform, org.server.url, token, sha256),
      );
    }
    expect(await page.getByTestId("install-linux-command").textContent()).toBe(
      `curl -fsSLo /tmp/caisey-runtime ${org.server.url}/downloads/caisey-runtime-linux-x64 && echo "${sums.get("caisey-runtime-linux-x64")}  /tmp/caisey-runtime" | sha256sum -c - && chmod 755 /tmp/caisey-runtime && CAISEY_ENROLL_TOKEN=${token} /tmp/caisey-runtime install --server ${org.server.url}`,
    );
    await page.getByTestId("enroll-panel").screenshot({ path: SHOT });
  });
});

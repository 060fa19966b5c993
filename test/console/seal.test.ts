// A closed session's seal on the session page, checked in the browser against the organization's published log key:
// verified for the real record, refused when the key served is not the log's.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OWNER } from "../helpers.ts";
import { runToEnd, useOrganization, waitOnline } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/seal";
const CLIENT = "Woodgrove Dental";

describe("the seal of a closed session", () => {
  const org = useOrganization({ clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }] });
  const chromium = useChromium();
  let page: Page;
  let sessionId: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    page = await chromium.page({ width: 1360, height: 860 });
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    await waitOnline(org.owner, org.machine(CLIENT).machineId);
    sessionId = (await org.owner.json<{ id: string }>("/api/v1/sessions", { machineId: org.machine(CLIENT).machineId }))
      .id;
    await runToEnd(org.owner, sessionId, "echo spooler running");
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, {
      text: "Spooler is running — please try printing.",
    });
  });

  it("is checked in the browser once the technician closes the session: signed, in the log, the record's own head", async () => {
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByTestId("close-session").click();
    const seal = page.getByTestId("seal");
    await expect.poll(() => seal.getAttribute("data-state"), { timeout: 20_000 }).toBe("verified");
    const { head } = (await org.owner.json(`/api/v1/sessions/${sessionId}`)).session;
    const proof = await org.owner.json(`/api/v1/sessions/${sessionId}/seal`);
    expect(await page.getByTestId("seal-summary").textContent()).toContain(
      `entry ${proof.leafIndex + 1} of ${proof.treeSize} in its log, and it matches this record to the last event (${head.seq})`,
    );
    await page.locator(".seal-details summary").click();
    expect(await page.getByTestId("seal-vkey").textContent()).toContain((await org.owner.json("/api/v1/log/key")).vkey);
    await page.screenshot({ path: `${SHOTS}/sealed-session.png` });
  });

  it("is refused, saying why, when the key served is not the one that signed it", async () => {
    await page.route("**/api/v1/log/key", (route) =>
      route.fulfill({
        contentType: "application/json",
        body: JSON.stringify({
          origin: "elsewhere.example/log",
          keyName: "elsewhere.example/log",
          publicKey: "",
          vkey: "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        }),
      }),
    );
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    const seal = page.getByTestId("seal");
    await expect.poll(() => seal.getAttribute("data-state"), { timeout: 20_000 }).toBe("failed");
    expect(await page.getByTestId("seal-failure").textContent()).toBe("seal: the note is not signed by PeterNeumann");
    await page.screenshot({ path: `${SHOTS}/seal-refused.png` });
    await page.unroute("**/api/v1/log/key");
  });
});

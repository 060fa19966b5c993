// Evidence in the console: the session page's SLA timeline and share link, and the page the link opens for an
// outsider (no sign-in), which recomputes the record's hash chain in their browser and says so, and says a tampered
// record does not verify.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OWNER } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/exports";
const CLIENT = "Woodgrove Dental";
const CHAT = "Ça marche — l'imprimante fonctionne !";
const NOTE = "Internal: driver is flaky, replace next visit";

describe("evidence in the console", () => {
  const org = useOrganization({ clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }] });
  const chromium = useChromium();
  let page: Page;
  let sessionId: string;
  let shareUrl: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sessionId = (
      await org.owner.json<{ id: string }>("/api/v1/sessions", {
        machineId: org.machine(CLIENT).machineId,
        ticket: "T-4471",
      })
    ).id;
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: "The spooler is stuck; restarting it." });
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "printf 'Spooler: Running\\n'",
      shell: "bash",
    });
    await waitCommand(org.owner, sessionId, commandId);
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: CHAT });
    await org.owner.json(`/api/v1/sessions/${sessionId}/notes`, { text: NOTE });
    page = await chromium.page({ width: 1360, height: 860 });
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
  });

  it("shows the session's timeline with its first technician action and durations", async () => {
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    await page.locator('[data-testid="event-line"][data-type="session.opened"]').waitFor({ timeout: 20_000 });
    await page.getByTestId("timeline-toggle").click();
    const entries = page.getByTestId("timeline-entry");
    await expect.poll(() => entries.count()).toBeGreaterThanOrEqual(7);
    const texts = await entries.allInnerTexts();
    expect(texts[0]).toContain("Session opened on");
    expect(texts[1]).toContain("The spooler is stuck; restarting it.");
    expect(texts[1]).toContain("First technician action");
    expect(texts.some((t) => t.includes("printf 'Spooler: Running\\n' finished with exit code 0"))).toBe(true);
    expect(texts.some((t) => t.includes(CHAT))).toBe(true);
    expect(texts.some((t) => t.includes(NOTE))).toBe(true);
    await page.screenshot({ path: `${SHOTS}/session-timeline.png` });
  });

  it("makes a share link from the session page", async () => {
    await page.getByTestId("share-toggle").click();
    await page.getByTestId("share-create").click();
    const url = page.getByTestId("share-url");
    await url.waitFor();
    shareUrl = await url.inputValue();
    expect(shareUrl).toMatch(new RegExp(`^${org.server.url}/share/css_ten_[a-z2-7]{20}_[A-Za-z0-9_-]{43}$`));
    await expect.poll(() => page.getByTestId("share-row").count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/share-panel.png` });
  });

  it("opens the link for an outsider, with no sign-in, and verifies the record in their browser", async () => {
    const outsider = await chromium.page({ width: 1100, height: 1000 });
    await outsider.goto(shareUrl);
    await outsider.getByTestId("chain-ok").waitFor({ timeout: 20_000 });
    const verification = await outsider.getByTestId("share-verification").innerText();
    expect(verification).toMatch(/Hash chain verified in your browser: \d+ events recompute to the record's head/);
    expect(await outsider.getByTestId("seal-status").getAttribute("data-state")).toBe("absent");
    const body = await outsider.locator("body").innerText();
    expect(body).toContain(CHAT);
    expect(body).toContain("Spooler: Running");
    expect(body).not.toContain(NOTE);
    await outsider.screenshot({ path: `${SHOTS}/share-page.png`, fullPage: true });
  });

  it("tells the outsider when the record they were served does not verify", async () => {
    const outsider = await chromium.page({ width: 1100, height: 900 });
    await outsider.route("**/api/v1/shares/**", async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: (await response.text()).replace(CHAT, "Still broken at 4 PM") });
    });
    await outsider.goto(shareUrl);
    await outsider.getByTestId("chain-failed").waitFor({ timeout: 20_000 });
    expect(await outsider.getByTestId("chain-failed").innerText()).toContain("The record does not verify");
    await outsider.screenshot({ path: `${SHOTS}/share-page-tampered.png` });
  });

  it("answers a revoked link with a plain page", async () => {
    const { shares } = await org.owner.json(`/api/v1/sessions/${sessionId}/shares`);
    expect((await org.owner.post(`/api/v1/shares/${shares[0].id}/revoke`, {})).status).toBe(204);
    const outsider = await chromium.page({ width: 900, height: 600 });
    await outsider.goto(shareUrl);
    await outsider.getByTestId("share-error").waitFor({ timeout: 20_000 });
    expect(await outsider.getByTestId("share-error").innerText()).toMatch(/this share link was revoked/i);
    await outsider.screenshot({ path: `${SHOTS}/share-page-revoked.png` });
  });
});

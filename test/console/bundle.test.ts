// The evidence bundle in the console: Export offers "Evidence bundle (.zip)" once the session is closed (and sealed),
// says why not before, and the download is the bundle the offline verifier accepts. The share page checks the seal in
// the outsider's browser.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OWNER } from "../helpers.ts";
import { useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/verifier";
const CLIENT = "Woodgrove Dental";
const STANDALONE = join(import.meta.dirname, "../../packages/cli/standalone/verify-caisey.mjs");

describe("the evidence bundle in the console", () => {
  const org = useOrganization({ clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }] });
  const chromium = useChromium();
  let page: Page;
  let sessionId: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sessionId = (await org.owner.json<{ id: string }>("/api/v1/sessions", { machineId: org.machine(CLIENT).machineId }))
      .id;
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: "Restarting the print spooler." });
    page = await chromium.page({ width: 1360, height: 860 });
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
  });

  async function openExportMenu() {
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    await page.locator('[data-testid="event-line"][data-type="session.opened"]').waitFor({ timeout: 20_000 });
    await page.getByTestId("export-menu").locator("summary").click();
    return page.getByTestId("export-bundle");
  }

  it("says the bundle comes once the session is closed", async () => {
    const item = await openExportMenu();
    expect(await item.innerText()).toBe("Evidence bundle (.zip) — after the session is closed");
    expect(await item.getAttribute("href")).toBeNull();
    await page.screenshot({ path: `${SHOTS}/export-menu-open-session.png` });
  });

  it("downloads the sealed bundle, which the standalone verifier accepts", async () => {
    await org.owner.json(`/api/v1/sessions/${sessionId}/close`, {});
    const item = await openExportMenu();
    expect(await item.innerText()).toBe("Evidence bundle (.zip)");
    await page.screenshot({ path: `${SHOTS}/export-menu-closed-session.png` });
    const [download] = await Promise.all([page.waitForEvent("download"), item.click()]);
    expect(download.suggestedFilename()).toBe(`caisey-${sessionId}.zip`);
    const path = join(SHOTS, "bundle.zip");
    await download.saveAs(path);
    const { vkey } = await org.owner.json<{ vkey: string }>("/api/v1/log/key");
    const verified = spawnSync(process.execPath, [STANDALONE, path, "--key", vkey], { encoding: "utf8" });
    expect(verified.status, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/^verified/m);
  });

  it("lets an outsider's browser check the seal on the share page, against the key the link serves", async () => {
    const { url } = await org.owner.json<{ url: string }>(`/api/v1/sessions/${sessionId}/shares`, {});
    const outsider = await chromium.page({ width: 1100, height: 900 });
    await outsider.goto(url);
    const status = outsider.locator('[data-testid="seal-status"][data-state="verified"]');
    await status.waitFor({ timeout: 20_000 });
    expect(await status.innerText()).toContain("checked in this browser: signed by the organization's log key");
    const { vkey } = await org.owner.json<{ vkey: string }>("/api/v1/log/key");
    expect(await outsider.getByTestId("share-vkey").innerText()).toBe(vkey);
    await outsider.screenshot({ path: `${SHOTS}/share-page-sealed.png`, fullPage: true });
  });
});

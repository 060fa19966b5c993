// Verify before you close, in the browser: a dispatcher reviews a session sent for review, with its before/after pair
// side by side, and accepts it; the Figures page draws its charts. Screenshots in /tmp/shots/review.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { runToEnd, useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/review";
const CLIENT = "Woodgrove Dental";
const TECH = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const DISPATCHER = { name: "Dana Dispatch", email: "dana@northwind.test", password: "dana's long password" };

describe("the review gate in the console", () => {
  const org = useOrganization({
    technicians: [TECH],
    clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }],
  });
  const chromium = useChromium();
  let page: Page;
  let sessionId: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await org.owner.json("/api/v1/users", { ...DISPATCHER, role: "dispatcher" });
    const put = await fetch(`${org.server.url}/api/v1/settings`, {
      method: "PUT",
      headers: { authorization: `Bearer ${org.owner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ closePolicy: "review" }),
    });
    expect(put.status).toBe(200);
    const theo = await org.login(TECH.email);
    sessionId = (
      await theo.json<{ id: string }>("/api/v1/sessions", {
        machineId: org.machine(CLIENT).machineId,
        ticket: "PSA-2291",
      })
    ).id;
    const before = await runToEnd(theo, sessionId, "printf 'Name       Status\\nFrontDesk  Error\\n'");
    const after = await runToEnd(theo, sessionId, "printf 'Name       Status\\nFrontDesk  OK\\n'");
    await theo.json(`/api/v1/sessions/${sessionId}/verdicts`, {
      baselineCommandId: before.id,
      verifyCommandId: after.id,
      verdict: "fixed",
      note: "Spooler restarted; the printer reports OK",
    });
    expect(await theo.json(`/api/v1/sessions/${sessionId}/close`, {})).toMatchObject({ state: "review_pending" });
    page = await chromium.page({ width: 1360, height: 900 });
    await signIn(page, org.server.url, DISPATCHER.email, DISPATCHER.password);
  });

  it("shows the dispatcher the pending session with its before/after pair, and Accept closes it", async () => {
    await expect.poll(() => page.getByTestId("nav-reviews").getAttribute("data-count"), { timeout: 15_000 }).toBe("1");
    await page.getByTestId("nav-reviews").click();
    const review = page.locator(`[data-testid="review"][data-session-id="${sessionId}"]`);
    await review.waitFor({ timeout: 10_000 });
    expect(await review.locator(".ticket").textContent()).toBe("PSA-2291");
    expect(await review.getByTestId("pair-before-output").textContent()).toBe("Name       Status\nFrontDesk  Error");
    expect(await review.getByTestId("pair-after-output").textContent()).toBe("Name       Status\nFrontDesk  OK");
    expect(await review.getByTestId("review-verdict").getAttribute("data-verdict")).toBe("fixed");
    expect(await review.textContent()).toContain("Spooler restarted; the printer reports OK");
    expect(await review.textContent()).toContain("Theo Technician");
    await page.screenshot({ path: `${SHOTS}/reviews.png`, fullPage: true });

    await review.getByTestId("review-accept").click();
    await page.getByTestId("no-reviews").waitFor({ timeout: 10_000 });
    const { session } = await org.owner.json(`/api/v1/sessions/${sessionId}`);
    expect(session.state).toBe("closed");
    const { events } = await org.owner.json(`/api/v1/sessions/${sessionId}/events`);
    expect(events.slice(-2).map((e: any) => [e.type, e.data])).toEqual([
      ["session.reviewed", { decision: "accept", comment: null }],
      ["session.closed", { review: "accepted" }],
    ]);
  });

  it("draws the figures as charts, with each figure defined", async () => {
    await page.getByTestId("nav-figures").click();
    await page.getByTestId("chart-sessions").locator("canvas").waitFor({ timeout: 10_000 });
    expect(await page.locator(".chart canvas").count()).toBe(3);
    const row = page.getByTestId("figures-row");
    await row.first().waitFor();
    expect(await row.first().locator("td").first().textContent()).toBe("Theo Technician");
    expect(await row.first().locator("td").nth(2).textContent()).toBe("1"); // closed
    expect(await page.getByTestId("figure-definitions").textContent()).toContain(
      "Callback rate: callbacks divided by closed sessions.",
    );
    // The canvas is drawn: some pixel of the sessions chart is not transparent.
    const drawn = await page
      .getByTestId("chart-sessions")
      .locator("canvas")
      .evaluate((c: HTMLCanvasElement) => {
        const data = (c.getContext("2d") as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if ((data[i] as number) > 0) return true;
        return false;
      });
    expect(drawn).toBe(true);
    await page.screenshot({ path: `${SHOTS}/figures.png`, fullPage: true });
    await page.getByTestId("figures-week").click();
    await expect.poll(() => row.first().locator("td").first().textContent()).toMatch(/^Week of \d{4}-\d{2}-\d{2}$/);
  });
});

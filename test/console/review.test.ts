// Verify before you close, in the browser: a dispatcher reviews a session sent for review, with its before/after pair
// side by side, and accepts it; the Figures page draws its charts. Screenshots in /tmp/shots/review. Then the
// technician's side: a verdict recorded from the transcript ("cannot verify" refuses an empty note, in words), the
// session sent for review and returned with a comment, which the technician reads on the session page and sees marked
// in the sessions list. Screenshots in /tmp/shots/review-e2e.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { type Api, fetchRecord, tempDir } from "../helpers.ts";
import { runToEnd, useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/review";
const TECHNICIAN_SHOTS = "/tmp/shots/review-e2e";
const CLIENT = "Woodgrove Dental";
const TECH = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const DISPATCHER = { name: "Dana Dispatch", email: "dana@northwind.test", password: "dana's long password" };
const COMMENT = "The front desk still cannot print: print a test page before you send it again.";

describe("the review gate in the console", () => {
  const org = useOrganization({
    technicians: [TECH],
    dispatchers: [DISPATCHER],
    clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }],
    settings: { closePolicy: "review" },
  });
  const chromium = useChromium();
  let page: Page;
  let sessionId: string;

  /** Theo, signed in through the API, and a session he opened on the client's machine for this ticket. */
  async function ticketSession(ticket: string): Promise<{ theo: Api; sessionId: string }> {
    const theo = await org.login(TECH.email);
    const { id } = await theo.json<{ id: string }>("/api/v1/sessions", {
      machineId: org.machine(CLIENT).machineId,
      ticket,
    });
    return { theo, sessionId: id };
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const opened = await ticketSession("PSA-2291");
    const theo = opened.theo;
    sessionId = opened.sessionId;
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

  it("lists the session as waiting for review, and narrows the sessions list to that state", async () => {
    await page.getByTestId("nav-sessions").click();
    const row = page.locator(`[data-testid="session-row"][data-session-id="${sessionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId("session-state").textContent()).toBe("waiting for review");
    await page.getByTestId("sessions-state").selectOption({ label: "waiting for review" });
    await expect
      .poll(async () =>
        page.getByTestId("session-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state"))),
      )
      .toEqual(["review_pending"]);
    await page.screenshot({ path: `${SHOTS}/sessions-waiting-for-review.png`, fullPage: true });
    await page.getByTestId("sessions-state").selectOption({ label: "closed" });
    await page.getByTestId("no-sessions").waitFor({ timeout: 10_000 });
    expect(await page.getByTestId("no-sessions").textContent()).toBe("No closed sessions.");
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

  describe("the technician's side: a verdict, and a returned session", () => {
    let theo: Page;
    let dana: Page;
    let sessionId: string;
    let before: string;
    let after: string;
    let printers: string;

    beforeAll(async () => {
      mkdirSync(TECHNICIAN_SHOTS, { recursive: true });
      const opened = await ticketSession("PSA-3307");
      const api = opened.theo;
      sessionId = opened.sessionId;
      // Get-Printer's table, read from a file the test changes: the baseline, the fix, the verification.
      const dir = tempDir("printers");
      org.removeLater(dir);
      printers = join(dir, "printers.txt");
      writeFileSync(printers, "Name       Status\nFrontDesk  Error\n");
      before = (await runToEnd(api, sessionId, `cat ${printers}`)).id;
      writeFileSync(printers, "Name       Status\nFrontDesk  OK\n");
      const { commandId } = await api.json(`/api/v1/sessions/${sessionId}/commands/${before}/verify`, {});
      after = commandId;
      theo = await chromium.page({ width: 1360, height: 860 });
      await signIn(theo, org.server.url, TECH.email, TECH.password);
      dana = page;
    });

    it("records a verdict from the transcript; 'cannot verify' asks for its note first", async () => {
      await theo.goto(`${org.server.url}/sessions/${sessionId}`);
      await theo.locator(`[data-command-id="${after}"][data-state="finished"]`).waitFor({ timeout: 20_000 });
      await theo.getByTestId("verdict-open").click();
      const form = theo.getByTestId("verdict-form");
      await form.waitFor();
      // The pair is the last verification and the command it verifies.
      expect(await form.getByTestId("verdict-baseline").inputValue()).toBe(before);
      expect(await form.getByTestId("verdict-verify").inputValue()).toBe(after);
      // Named as the transcript numbers them.
      expect(await form.getByTestId("verdict-baseline").locator("option:checked").textContent()).toBe(
        `#1 cat ${printers}`,
      );
      expect(await form.getByTestId("verdict-verify").locator("option:checked").textContent()).toBe(
        `#2 cat ${printers}`,
      );
      await theo.screenshot({ path: `${TECHNICIAN_SHOTS}/verdict-form.png` });

      await form.getByTestId("verdict-unverifiable").check();
      await form.getByTestId("verdict-submit").click();
      expect(await form.getByTestId("verdict-error").textContent()).toBe(
        "Say what you checked, and why closing is still right, when the fix cannot be verified.",
      );
      // The cursor is in the note, which is marked as what needs fixing.
      expect(await theo.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("verdict-note");
      expect(await form.getByTestId("verdict-note").getAttribute("aria-invalid")).toBe("true");
      await theo.screenshot({ path: `${TECHNICIAN_SHOTS}/verdict-empty-note.png` });
      const { events: none } = await fetchRecord(org.owner, sessionId);
      expect(none.filter((e) => e.type === "verification.recorded")).toEqual([]);

      await form.getByTestId("verdict-fixed").check();
      await form.getByTestId("verdict-note").fill("Spooler restarted; Get-Printer says OK");
      await form.getByTestId("verdict-submit").click();
      await form.waitFor({ state: "detached" });
      expect(await theo.getByTestId("verdict-bar").textContent()).toContain("Verdict recorded.");
      const line = theo.locator('[data-testid="event-line"][data-type="verification.recorded"]');
      await line.waitFor({ timeout: 10_000 });
      expect(await line.locator(".body").textContent()).toBe(
        "fixed verdict on #1 → #2: Spooler restarted; Get-Printer says OK",
      );
      const { events } = await fetchRecord(org.owner, sessionId);
      expect(events.filter((e) => e.type === "verification.recorded").map((e) => e.data)).toEqual([
        {
          baselineCommandId: before,
          verifyCommandId: after,
          verdict: "fixed",
          note: "Spooler restarted; Get-Printer says OK",
        },
      ]);
    });

    it("sends the session for review; the dispatcher returns it with a comment, and the technician reads it", async () => {
      theo.once("dialog", (dialog) => void dialog.accept());
      await theo.getByTestId("close-session").click();
      await theo.getByTestId("review-pending").waitFor({ timeout: 10_000 });

      await dana.goto(`${org.server.url}/reviews`);
      const review = dana.locator(`[data-testid="review"][data-session-id="${sessionId}"]`);
      await review.waitFor({ timeout: 15_000 });
      expect(await review.locator(".ticket").textContent()).toBe("PSA-3307");
      expect(await review.getByTestId("pair-before-output").textContent()).toBe("Name       Status\nFrontDesk  Error");
      expect(await review.getByTestId("pair-after-output").textContent()).toBe("Name       Status\nFrontDesk  OK");
      await dana.screenshot({ path: `${TECHNICIAN_SHOTS}/review-page.png`, fullPage: true });
      await review.getByTestId("review-comment").fill(COMMENT);
      await review.getByTestId("review-return").click();
      await dana.getByTestId("no-reviews").waitFor({ timeout: 10_000 });

      // The technician's open page turns back to open and says who returned it and why.
      const notice = theo.getByTestId("review-returned");
      await notice.waitFor({ timeout: 15_000 });
      expect(await theo.getByTestId("session-state").textContent()).toBe("open");
      expect(await notice.getByTestId("review-returned-by").textContent()).toBe(`Returned by ${DISPATCHER.name}`);
      expect(await notice.getByTestId("review-returned-comment").textContent()).toBe(COMMENT);
      await theo.screenshot({ path: `${TECHNICIAN_SHOTS}/returned-notice.png` });

      // The sessions list marks it as returned, so it is not lost among the open ones.
      await theo.goto(`${org.server.url}/sessions`);
      const row = theo.locator(`[data-testid="assigned-row"][data-session-id="${sessionId}"]`);
      await row.waitFor({ timeout: 10_000 });
      expect(await row.getByTestId("session-returned").textContent()).toBe("returned");
      await theo.screenshot({ path: `${TECHNICIAN_SHOTS}/sessions-returned.png` });
    });
  });
});

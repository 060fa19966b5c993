// The technician's side of the review gate, in the browser: a verdict recorded from the transcript ("cannot verify"
// refuses an empty note, in words), the session sent for review, and — once the dispatcher returns it with a comment
// from the Reviews page — the comment on the technician's session page and the session marked in the sessions list.
// Screenshots in /tmp/shots/review-e2e.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { fetchRecord, tempDir } from "../helpers.ts";
import { runToEnd, useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/review-e2e";
const CLIENT = "Woodgrove Dental";
const TECH = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const DISPATCHER = { name: "Dana Dispatch", email: "dana@northwind.test", password: "dana's long password" };
const COMMENT = "The front desk still cannot print: print a test page before you send it again.";

describe("the technician's verdict and a returned session", () => {
  const org = useOrganization({
    technicians: [TECH],
    clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }],
  });
  const chromium = useChromium();
  let theo: Page;
  let dana: Page;
  let sessionId: string;
  let before: string;
  let after: string;
  let printers: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await org.owner.json("/api/v1/users", { ...DISPATCHER, role: "dispatcher" });
    const put = await fetch(`${org.server.url}/api/v1/settings`, {
      method: "PUT",
      headers: { authorization: `Bearer ${org.owner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ closePolicy: "review" }),
    });
    expect(put.status).toBe(200);
    const api = await org.login(TECH.email);
    sessionId = (
      await api.json<{ id: string }>("/api/v1/sessions", {
        machineId: org.machine(CLIENT).machineId,
        ticket: "PSA-3307",
      })
    ).id;
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
    dana = await chromium.page({ width: 1360, height: 900 });
    await signIn(dana, org.server.url, DISPATCHER.email, DISPATCHER.password);
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
    expect(await form.getByTestId("verdict-verify").locator("option:checked").textContent()).toBe(`#2 cat ${printers}`);
    await theo.screenshot({ path: `${SHOTS}/verdict-form.png` });

    await form.getByTestId("verdict-unverifiable").check();
    await form.getByTestId("verdict-submit").click();
    expect(await form.getByTestId("verdict-error").textContent()).toBe(
      "Say what you checked, and why closing is still right, when the fix cannot be verified.",
    );
    // The cursor is in the note, which is marked as what needs fixing.
    expect(await theo.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("verdict-note");
    expect(await form.getByTestId("verdict-note").getAttribute("aria-invalid")).toBe("true");
    await theo.screenshot({ path: `${SHOTS}/verdict-empty-note.png` });
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
    await dana.screenshot({ path: `${SHOTS}/review-page.png`, fullPage: true });
    await review.getByTestId("review-comment").fill(COMMENT);
    await review.getByTestId("review-return").click();
    await dana.getByTestId("no-reviews").waitFor({ timeout: 10_000 });

    // The technician's open page turns back to open and says who returned it and why.
    const notice = theo.getByTestId("review-returned");
    await notice.waitFor({ timeout: 15_000 });
    expect(await theo.getByTestId("session-state").textContent()).toBe("open");
    expect(await notice.getByTestId("review-returned-by").textContent()).toBe(`Returned by ${DISPATCHER.name}`);
    expect(await notice.getByTestId("review-returned-comment").textContent()).toBe(COMMENT);
    await theo.screenshot({ path: `${SHOTS}/returned-notice.png` });

    // The sessions list marks it as returned, so it is not lost among the open ones.
    await theo.goto(`${org.server.url}/sessions`);
    const row = theo.locator(`[data-testid="assigned-row"][data-session-id="${sessionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId("session-returned").textContent()).toBe("returned");
    await theo.screenshot({ path: `${SHOTS}/sessions-returned.png` });
  });
});

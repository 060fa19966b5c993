import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers.ts";
import { expectHeldForApproval, useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const APPROVALS_SHOT = "/tmp/console-approvals.png";
const SESSION_SHOT = "/tmp/console-approval-session.png";
const SEARCH_SHOT = "/tmp/console-search.png";
const LINK_SHOT = "/tmp/console-approval-link.png";
const ASSIGNED_SHOT = "/tmp/console-assigned-to-me.png";
const WAITING_SHOT = "/tmp/console-approvals-waiting.png";
const TAKE_OVER_SHOT = "/tmp/console-take-over.png";
const PORTAL_REASON_SHOT = "/tmp/console-approvals-reason.png";
const MACHINE_CARD_SHOT = "/tmp/console-machine-card.png";

const TECH = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const TECH2 = { name: "Bea Backup", email: "bea@northwind.test", password: "bea's long password" };
const CONTACT = { name: "Carla Contact", email: "carla@contoso.test", password: "carla's long password" };
const OUTPUT_WORD = "marker42written";

describe("client approvals in the console", () => {
  // The org.owner, through the API: the client's policy, its contact, two technicians, and an enrolled machine.
  const org = useOrganization({
    technicians: [TECH, TECH2],
    clients: [{ name: "Contoso Dental", approvalPolicy: "changes", contacts: [CONTACT], machine: true }],
  });
  const chromium = useChromium();
  let tech: Page;
  let contact: Page;
  let machineId = "";
  let sessionId = "";
  let commandId = "";
  const work = tempDir("approvals");
  const marker = join(work, "approved-marker");
  const linkMarker = join(work, "link-marker");

  beforeAll(async () => {
    org.removeLater(work);
    machineId = org.runtime.machineId;
    tech = await chromium.page({ width: 1360, height: 860 });
    contact = await chromium.page({ width: 1280, height: 900 });
  });

  it("holds a change until the contact approves it in the portal, then runs it", async () => {
    await signIn(tech, org.server.url, TECH.email, TECH.password, /\/machines$/);
    const row = tech.locator(`[data-testid="machine-row"][data-machine-id="${machineId}"]`);
    await row.getByTestId("open-session").click();
    await tech.waitForURL(/\/sessions\/ses_/, { timeout: 10_000 });
    sessionId = /\/sessions\/(ses_[a-z2-7]+)/.exec(tech.url())?.[1] ?? "";
    expect(sessionId).not.toBe("");
    await expect
      .poll(() => tech.getByTestId("connection").getAttribute("data-status"), { timeout: 10_000 })
      .toBe("live");
    expect(await tech.getByTestId("session-technician").textContent()).toContain(TECH.name);

    // A change: the client's policy holds it for approval; nothing runs.
    await tech.getByTestId("command-input").fill(`touch ${marker} && echo marker$((40+2))written`);
    await tech.getByTestId("command-input").press("Enter");
    const block = tech.getByTestId("command-block").first();
    await expect
      .poll(() => block.getByTestId("command-state").textContent(), { timeout: 10_000 })
      .toBe("awaiting approval");
    commandId = (await block.getAttribute("data-command-id")) ?? "";
    expect(await block.getAttribute("data-classification")).toBe("change");
    const panel = block.getByTestId("approval-panel");
    expect(await panel.getByTestId("approval-state").textContent()).toBe("awaiting approval");
    expect(await panel.getByTestId("approval-wait").textContent()).toMatch(
      /^Waiting for the client's approval — expires \d\d:\d\d$/,
    );
    expect(await panel.getByTestId("approval-summary").textContent()).toContain("Create or update the file");
    // the technician sees the same change lines the contact is asked about
    expect(await panel.getByTestId("approval-change").allTextContents()).toEqual([
      `Create or update the file ${marker}`,
    ]);
    await expectHeldForApproval(org.owner, sessionId, commandId);
    expect(existsSync(marker)).toBe(false);

    // The contact lands on Approvals and sees it in plain language; the nav counts what waits for them.
    await signIn(contact, org.server.url, CONTACT.email, CONTACT.password, /\/approvals$/);
    await expect.poll(() => contact.getByTestId("nav-approvals").textContent()).toBe("Approvals (1)");
    await contact.screenshot({ path: WAITING_SHOT });
    const card = contact.locator(`[data-testid="approval-card"]`).first();
    await card.waitFor({ timeout: 10_000 });
    expect(await card.getByTestId("approval-summary").textContent()).toContain("Create or update the file");
    expect(await card.getByTestId("approval-technician").textContent()).toBe(TECH.name);
    expect(await card.getByTestId("approval-countdown").textContent()).toMatch(/expires \d\d:\d\d · \d+ min/);
    // every change, named (the echo only shows a message: not a change), and that no reason was given
    expect(await card.getByTestId("approval-change").allTextContents()).toEqual([
      `Create or update the file ${marker}`,
    ]);
    expect(await card.getByTestId("approval-reason").textContent()).toBe(`Why: ${TECH.name} gave no reason.`);
    // the exact command is on the card as it will run, nothing to click open
    expect(await card.locator("details").count()).toBe(0);
    expect(await card.getByTestId("approval-command").isVisible()).toBe(true);
    expect(await card.getByTestId("approval-command").textContent()).toBe(
      `touch ${marker} && echo marker$((40+2))written`,
    );
    await contact.screenshot({ path: APPROVALS_SHOT, fullPage: true });
    await card.getByTestId("decision-comment").fill("Go ahead");
    await card.getByTestId("approve").click();
    await contact.getByTestId("notice").waitFor({ timeout: 10_000 });
    await contact.getByTestId("no-pending").waitFor({ timeout: 10_000 });
    const decided = contact.locator('[data-testid="recent-decision"][data-state="granted"]');
    await decided.waitFor({ timeout: 10_000 });
    expect(await decided.textContent()).toContain("Go ahead");
    await expect.poll(() => contact.getByTestId("nav-approvals").textContent()).toBe("Approvals");

    // The technician's transcript: approved (by whom, with the comment), then run to exit 0; the file exists.
    await expect.poll(() => panel.getByTestId("approval-state").textContent(), { timeout: 10_000 }).toBe("approved");
    const decision = panel.getByTestId("approval-decision");
    expect(await decision.textContent()).toContain(`Approved by ${CONTACT.name}`);
    expect(await decision.textContent()).toContain("the portal");
    expect(await decision.textContent()).toContain("Go ahead");
    await expect.poll(() => block.getByTestId("command-state").textContent(), { timeout: 30_000 }).toBe("finished");
    expect(await block.getByTestId("exit-code").textContent()).toBe("exit 0");
    expect(await block.getByTestId("command-output").textContent()).toBe(`${OUTPUT_WORD}\n`);
    expect(existsSync(marker)).toBe(true);
  });

  it("lets the contact chat from the session page, in record order, and shows who is watching", async () => {
    await contact.goto(`${org.server.url}/sessions/${sessionId}`);
    await expect
      .poll(() => contact.getByTestId("connection").getAttribute("data-status"), { timeout: 10_000 })
      .toBe("live");
    await contact.getByTestId("command-input").fill("Thanks, all good here.");
    await contact.getByTestId("command-input").press("Enter");
    const chat = tech.locator('[data-testid="event-line"][data-type="chat.message"]', { hasText: "all good here" });
    await chat.waitFor({ timeout: 10_000 });
    expect(await chat.locator(".actor").textContent()).toBe(CONTACT.name);

    // Presence: the technician sees the contact watching, and a quiet line for it.
    await expect
      .poll(() => tech.getByTestId("watcher").allTextContents(), { timeout: 10_000 })
      .toEqual(expect.arrayContaining([`${TECH.name} (you)`, CONTACT.name]));
    expect(
      await tech
        .locator('[data-testid="event-line"][data-type="participant.joined"]', { hasText: CONTACT.name })
        .count(),
    ).toBeGreaterThan(0);

    // The contact's page shows the pieces in record order: request → approval → start → output → finish → chat.
    await contact.locator('[data-testid="event-line"][data-type="chat.message"]').waitFor({ timeout: 10_000 });
    const order = await contact.evaluate(() =>
      Array.from(document.querySelectorAll("[data-testid=transcript] [data-event]")).map((el) => ({
        type: el.getAttribute("data-event") ?? "",
        seq: Number(el.getAttribute("data-seq")),
      })),
    );
    const seqs = order.map((o) => o.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const wanted = [
      "command.requested",
      "approval.requested",
      "approval.granted",
      "command.started",
      "command.output",
      "command.finished",
      "chat.message",
    ];
    expect(order.map((o) => o.type).filter((t) => wanted.includes(t))).toEqual(wanted);
    // No decision buttons once decided.
    expect(await contact.getByTestId("approve").count()).toBe(0);
  });

  it("sends a one-time approval link that works without signing in, once", async () => {
    // The technician gives a reason (the field is there before approval is asked for: the client's policy may hold any
    // change), asks for approval explicitly, and sends a link.
    await tech.getByTestId("approval-reason").fill("make room for the update");
    await tech.getByTestId("require-approval").check();
    const linkCommand = `touch ${linkMarker}; echo 'DisableRestart=1' >> ${linkMarker}.conf; cp ${linkMarker}.conf ${linkMarker}.bak`;
    const linkChanges = [
      `Create or update the file ${linkMarker}`,
      `Add a line to the file ${linkMarker}.conf`,
      `Copy ${linkMarker}.conf to ${linkMarker}.bak`,
    ];
    await tech.getByTestId("command-input").fill(linkCommand);
    await tech.getByTestId("command-input").press("Enter");
    const block = tech.getByTestId("command-block").nth(1);
    await expect
      .poll(() => block.getByTestId("command-state").textContent(), { timeout: 10_000 })
      .toBe("awaiting approval");
    expect(await block.getByTestId("command-reason").textContent()).toContain("make room for the update");
    await expect.poll(() => tech.getByTestId("require-approval").isChecked()).toBe(false);
    await block.getByTestId("approval-link-open").click();
    await expect
      .poll(() => block.getByTestId("approval-link-contact").locator("option").allTextContents(), { timeout: 10_000 })
      .toEqual([`${CONTACT.name} (${CONTACT.email})`]);
    await block.getByTestId("approval-link-create").click();
    const url = ((await block.getByTestId("approval-link-url").textContent()) ?? "").trim();
    expect(url).toMatch(new RegExp(`^${org.server.url}/approve/csa_`));

    // The contact's portal shows it too: each change, the technician's reason, the exact command without a click.
    await contact.goto(`${org.server.url}/approvals`);
    const waiting = contact.locator('[data-testid="approval-card"][data-state="pending"]');
    await waiting.waitFor({ timeout: 10_000 });
    expect(await waiting.getByTestId("approval-change").allTextContents()).toEqual(linkChanges);
    expect(await waiting.getByTestId("approval-reason").textContent()).toBe("Why: make room for the update");
    expect(await waiting.getByTestId("approval-command").isVisible()).toBe(true);
    expect(await waiting.getByTestId("approval-command").textContent()).toBe(linkCommand);
    await contact.screenshot({ path: PORTAL_REASON_SHOT, fullPage: true });

    // Someone with the link and no session at all.
    const page = await chromium.page({ width: 1000, height: 800 });
    try {
      await page.goto(url);
      const card = page.getByTestId("approval-card");
      await card.waitFor({ timeout: 10_000 });
      expect(page.url()).toBe(url);
      expect(await page.getByTestId("approval-link-page").textContent()).toContain(`Hello ${CONTACT.name}`);
      // several changes: the headline counts them, the list names them (the summary would only repeat the list)
      const host = await card.getByTestId("approval-machine").textContent();
      expect(await card.getByTestId("approval-summary").textContent()).toBe(`Make 3 changes on ${host}`);
      expect(await card.getByTestId("approval-change").allTextContents()).toEqual(linkChanges);
      expect(await card.getByTestId("approval-reason").textContent()).toBe("Why: make room for the update");
      expect(await card.getByTestId("approval-command").isVisible()).toBe(true);
      expect(await card.getByTestId("approval-command").textContent()).toBe(linkCommand);
      await page.screenshot({ path: LINK_SHOT, fullPage: true });
      await card.getByTestId("decision-comment").fill("From my phone: ok");
      await card.getByTestId("approve").click();
      await page.getByTestId("approval-link-done").waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("approval-link-done").textContent()).toContain("approved");

      // The technician sees it approved through the link; the command runs.
      const panel = block.getByTestId("approval-panel");
      await expect.poll(() => panel.getByTestId("approval-state").textContent(), { timeout: 10_000 }).toBe("approved");
      expect(await panel.getByTestId("approval-decision").textContent()).toContain("one-time link");
      await expect.poll(() => block.getByTestId("command-state").textContent(), { timeout: 30_000 }).toBe("finished");
      expect(existsSync(linkMarker)).toBe(true);

      // The link is spent.
      await page.goto(url);
      await page.getByTestId("approval-link-error").waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("approval-link-error").textContent()).toContain("already used");
      await page.goto(`${org.server.url}/approve/csa_not-a-real-token`);
      await page.getByTestId("approval-link-error").waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("approval-link-error").textContent()).toContain("not valid");
    } finally {
      await page.context().close();
    }
  });

  it("finds the output on /search and opens the session at that event", async () => {
    await tech.getByTestId("nav-search").click();
    await tech.getByTestId("search-page").waitFor();
    await tech.getByTestId("search-input").fill(OUTPUT_WORD);
    const result = tech.getByTestId("search-result").first();
    // The index is fed right after the record; ask again until it has caught up.
    await expect
      .poll(
        async () => {
          if ((await tech.getByTestId("search-result").count()) === 0)
            await tech.getByTestId("search-input").press("Enter");
          return tech.getByTestId("search-result").count();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBeGreaterThan(0);
    expect(await result.locator("mark").first().textContent()).toBe(OUTPUT_WORD);
    expect(await result.getAttribute("data-session-id")).toBe(sessionId);
    await tech.screenshot({ path: SEARCH_SHOT });
    await result.click();
    await tech.waitForURL(new RegExp(`/sessions/${sessionId}#seq-\\d+$`), { timeout: 10_000 });
    const target = tech.locator(`[data-testid="command-block"][data-command-id="${commandId}"]`);
    await expect.poll(() => target.getAttribute("data-flash"), { timeout: 5_000, interval: 50 }).toBe("true");
    // Back returns to the same search.
    await tech.goBack();
    await tech.getByTestId("search-page").waitFor();
    expect(await tech.getByTestId("search-input").inputValue()).toBe(OUTPUT_WORD);
  });

  it("shows the machine card with its session and timeline of changes", async () => {
    await tech.getByTestId("nav-machines").click();
    await tech
      .locator(`[data-testid="machine-row"][data-machine-id="${machineId}"]`)
      .getByTestId("machine-link")
      .click();
    await tech.waitForURL(new RegExp(`/machines/${machineId}$`));
    await tech.getByTestId("machine-facts").waitFor({ timeout: 10_000 });
    const sessionRow = tech.locator(`[data-testid="machine-session-row"][data-session-id="${sessionId}"]`);
    await sessionRow.waitFor({ timeout: 10_000 });
    expect(await sessionRow.textContent()).toContain(`${TECH.name} (you)`);
    await expect
      .poll(async () => (await tech.getByTestId("machine-change").allTextContents()).join("\n"), { timeout: 10_000 })
      .toContain(`touch ${marker}`);

    // The card follows the machine while it is open: a colleague's session opened and closed since shows up, closed,
    // without a reload.
    const { id: colleagues } = await org.owner.json<{ id: string }>("/api/v1/sessions", { machineId });
    await org.owner.json(`/api/v1/sessions/${colleagues}/close`, {});
    const newRow = tech.locator(`[data-testid="machine-session-row"][data-session-id="${colleagues}"]`);
    await expect.poll(() => newRow.getAttribute("data-state"), { timeout: 10_000 }).toBe("closed");
    expect(await tech.getByTestId("machine-session-row").first().getAttribute("data-session-id")).toBe(colleagues);
    await tech.screenshot({ path: MACHINE_CARD_SHOT, fullPage: true });
  });

  it("hands the session to a colleague: a clear line and the new technician in the header", async () => {
    await tech.goto(`${org.server.url}/sessions/${sessionId}`);
    await expect
      .poll(() => tech.getByTestId("connection").getAttribute("data-status"), { timeout: 10_000 })
      .toBe("live");
    await tech.getByTestId("assign-open").click();
    await tech.getByTestId("assign-to").selectOption({ label: `${TECH2.name} (technician)` });
    await tech.getByTestId("assign-note").fill("Please finish the update tonight");
    await tech.getByTestId("assign-submit").click();
    const line = tech.locator('[data-testid="event-line"][data-type="session.assigned"]');
    await line.waitFor({ timeout: 10_000 });
    // who handed it over stands in the actor column, once
    expect([await line.locator(".actor").textContent(), await line.locator(".body").textContent()]).toEqual([
      TECH.name,
      `handed this session to ${TECH2.name}: Please finish the update tonight`,
    ]);
    await expect.poll(() => tech.getByTestId("session-technician").textContent()).toContain(TECH2.name);
    await tech.screenshot({ path: SESSION_SHOT });
  });

  it("tells the new technician (Assigned to me, and a count in the nav); another takes the session over", async () => {
    const bea = await chromium.page({ width: 1360, height: 860 });
    await signIn(bea, org.server.url, TECH2.email, TECH2.password, /\/machines$/);
    await expect.poll(() => bea.getByTestId("nav-sessions").textContent()).toBe("Sessions (1)");
    await bea.getByTestId("nav-sessions").click();
    const row = bea.locator(`[data-testid="assigned-row"][data-session-id="${sessionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await bea.getByTestId("assigned-row").count()).toBe(1);
    expect(await row.textContent()).toContain(`${TECH2.name} (you)`);
    await bea.screenshot({ path: ASSIGNED_SHOT, fullPage: true });

    // Theo no longer holds the session: his command is refused, naming Bea; "Take over" hands it back to him.
    await tech.getByTestId("take-over").waitFor({ timeout: 10_000 });
    expect(await tech.getByTestId("take-over").textContent()).toBe("Take over");
    expect(await tech.getByTestId("held-by").textContent()).toBe(
      `${TECH2.name} holds this session: only they run commands here. Take over (at the top) to run them yourself.`,
    );
    await tech.getByTestId("command-input").fill("uptime");
    await tech.getByTestId("command-input").press("Enter");
    await expect
      .poll(() => tech.getByTestId("error").textContent(), { timeout: 10_000 })
      .toContain(`${TECH2.name} holds this session: only the session's technician runs commands here.`);
    await tech.screenshot({ path: TAKE_OVER_SHOT });
    await tech.getByTestId("take-over").click();
    const line = tech.locator('[data-testid="event-line"][data-type="session.assigned"]').last();
    await expect
      .poll(() => line.locator(".body").textContent(), { timeout: 10_000 })
      .toBe(`took this session over from ${TECH2.name}`);
    expect(await line.locator(".actor").textContent()).toBe(TECH.name);
    await expect.poll(() => tech.getByTestId("session-technician").textContent()).toContain(TECH.name);
    expect(await tech.getByTestId("take-over").count()).toBe(0);
    expect(await tech.getByTestId("held-by").count()).toBe(0);
    await bea.reload();
    await bea.getByTestId("none-assigned").waitFor({ timeout: 10_000 });
    expect(await bea.getByTestId("nav-sessions").textContent()).toBe("Sessions");
  });
});

// The session page as a technician meets it: the header tells whether the machine's runtime is there, what is typed
// while the page loads is kept, and presence lines fold into one quiet line. Also the audit log's filters.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OWNER } from "../helpers.ts";
import { useOrganization, waitOnline } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/sessionpage";
const CLIENT = "Woodgrove Dental";
const TECH = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const CONTACT = { name: "Carla Contact", email: "carla@woodgrove.test", password: "carla's long password" };

describe("the session page", () => {
  const org = useOrganization({
    technicians: [TECH],
    clients: [{ name: CLIENT, approvalPolicy: "never", machine: true, contacts: [CONTACT] }],
  });
  const chromium = useChromium();
  let page: Page;
  let sessionId: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    page = await chromium.page({ width: 1360, height: 800 });
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    sessionId = (
      await org.owner.json<{ id: string }>("/api/v1/sessions", {
        machineId: org.machine(CLIENT).machineId,
        ticket: "T-1042",
      })
    ).id;
  });

  it("keeps what the technician typed while the session was still loading", async () => {
    // The session's summary (which names the machine and its OS) is held until the text is typed, so the typing
    // happens before the page has loaded, every time.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(`**/api/v1/sessions/${sessionId}`, async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${org.server.url}/sessions/${sessionId}`, { waitUntil: "commit" });
    const input = page.getByTestId("command-input");
    await input.pressSequentially("uptime && df -h /", { timeout: 10_000 });
    release();
    // Loaded: the header names the machine, and the transcript shows the record's first event.
    await expect.poll(() => page.getByTestId("session-ticket").textContent(), { timeout: 10_000 }).toBe("T-1042");
    await page.locator('[data-testid="event-line"][data-type="session.opened"]').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.getByTestId("shell-select").inputValue()).toBe("bash");
    expect(await input.inputValue()).toBe("uptime && df -h /");
    await page.unroute(`**/api/v1/sessions/${sessionId}`);
    await input.fill("");
  });

  it("says the machine is offline (and since when) while its runtime is gone, and live once it is back", async () => {
    const connection = page.getByTestId("connection");
    await expect.poll(() => connection.textContent(), { timeout: 15_000 }).toBe("live");
    expect(await connection.getAttribute("data-machine")).toBe("online");
    await page.screenshot({ path: `${SHOTS}/header-live.png` });

    const machine = org.machine(CLIENT);
    await machine.proc.stop();
    await expect.poll(() => connection.getAttribute("data-machine"), { timeout: 20_000 }).toBe("offline");
    // Today's time carries no date: "machine offline since 14:02; commands will queue".
    expect(await connection.textContent()).toMatch(/^machine offline since \d\d:\d\d; commands will queue$/);
    expect(await connection.getAttribute("class")).toContain("conn-offline");
    await page.screenshot({ path: `${SHOTS}/header-offline.png` });

    machine.proc = org.start(machine);
    await waitOnline(org.owner, machine.machineId);
    await expect.poll(() => connection.textContent(), { timeout: 20_000 }).toBe("live");
    expect(await connection.getAttribute("data-machine")).toBe("online");
  });

  it("folds watchers coming and going into one quiet line that opens to show each", async () => {
    // Theo, then the client's contact, open the session and leave it again: four presence events after the owner's.
    for (const person of [TECH, CONTACT]) {
      const other = await chromium.page({ width: 1200, height: 700 });
      await signIn(other, org.server.url, person.email, person.password);
      await other.goto(`${org.server.url}/sessions/${sessionId}`);
      await page.locator('[data-testid="watcher"]', { hasText: person.name }).waitFor({ timeout: 10_000 });
      await other.context().close();
      await page
        .locator('[data-testid="event-line"][data-type="participant.left"]', { hasText: person.name })
        .waitFor({ state: "attached", timeout: 10_000 });
    }
    const fold = page.getByTestId("presence-fold");
    expect(await fold.count()).toBe(1);
    expect(await fold.getAttribute("data-count")).toBe("5");
    expect(await fold.locator("summary").textContent()).toMatch(/^\d\d:\d\d:\d\d3 people joined or left — show$/);
    const lines = fold.getByTestId("event-line");
    expect(await lines.evaluateAll((els) => els.map((el) => el.getAttribute("data-type")))).toEqual([
      "participant.joined",
      "participant.joined",
      "participant.left",
      "participant.joined",
      "participant.left",
    ]);
    expect(await lines.first().isVisible()).toBe(false);
    await page.screenshot({ path: `${SHOTS}/presence-folded.png` });

    await fold.locator("summary").click();
    await expect.poll(() => lines.nth(3).isVisible()).toBe(true);
    expect(await lines.nth(3).textContent()).toMatch(/Carla Contactstarted watching$/);
    await page.screenshot({ path: `${SHOTS}/presence-open.png` });
  });

  it("filters the audit log by actor, action and date, and names a contact under a name key, not an id key", async () => {
    // An approval link for the contact: its audit entry mentions the contact by id.
    const { approvalId } = await org.owner.json<{ approvalId: string }>(`/api/v1/sessions/${sessionId}/commands`, {
      command: "systemctl restart spooler",
      requireApproval: true,
    });
    const contactId = org.personId[CONTACT.email] as string;
    await org.owner.json(`/api/v1/approvals/${approvalId}/link`, { contactId });

    await page.getByTestId("nav-audit").click();
    await page.getByTestId("audit-table").waitFor();
    const rows = page.getByTestId("audit-row");
    const link = page.locator('[data-testid="audit-row"][data-action="approval_link.issued"]');
    await expect
      .poll(() => link.getByTestId("audit-detail").textContent(), { timeout: 10_000 })
      .toMatch(/^contact="Carla Contact" expiresAt=\S+$/);
    expect(await link.getByTestId("audit-detail").getAttribute("title")).toMatch(
      new RegExp(`^contactId=${contactId} expiresAt=`),
    );
    const all = await rows.count();

    // Actor: only Theo's doings (his sign-in).
    await page.getByTestId("audit-actor-filter").selectOption(`user:${org.personId[TECH.email]}`);
    await expect
      .poll(() => page.getByTestId("audit-action").allTextContents(), { timeout: 10_000 })
      .toEqual(["sign_in.succeeded"]);
    expect(await page.getByTestId("audit-actor").allTextContents()).toEqual([TECH.name]);

    // Action, with the actor cleared: the three people added (owner, Theo, the contact).
    await page.getByTestId("audit-actor-filter").selectOption("");
    // The filtered page is asked for, and answered, before the table is read (on a loaded machine it can take a while).
    // A whole known action applies as it is typed, with no Enter: the suggestions list, open by then, would swallow it.
    const filteredPage = page.waitForResponse((r) => /\/api\/v1\/audit\?.*action=person\.added/.test(r.url()));
    await page.getByTestId("audit-action-filter").fill("person.added");
    expect((await filteredPage).status()).toBe(200);
    await expect
      .poll(() => page.getByTestId("audit-action").allTextContents())
      .toEqual(["person.added", "person.added", "person.added"]);
    expect(await page.getByTestId("audit-target").allTextContents()).toEqual([CONTACT.name, TECH.name, OWNER.name]);

    // Dates: everything happened today (UTC); nothing from tomorrow on.
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await page.getByTestId("audit-from").fill(today);
    await page.getByTestId("audit-to").fill(today);
    await expect.poll(() => page.getByTestId("audit-action").count()).toBe(3);
    await page.screenshot({ path: `${SHOTS}/audit-filtered.png` });
    await page.getByTestId("audit-from").fill(tomorrow);
    await page.getByTestId("audit-to").fill("");
    await expect.poll(() => page.getByTestId("audit-table").textContent()).toContain("Nothing matches these filters.");

    await page.getByTestId("audit-clear").click();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(all);
  });

  it("shows that a session closed itself for lack of activity, and after how long", async () => {
    const setIdle = (idleCloseSeconds: number) => org.owner.put("/api/v1/settings", { idleCloseSeconds });
    expect((await setIdle(1)).status).toBe(200);
    const { id } = await org.owner.json<{ id: string }>("/api/v1/sessions", {
      machineId: org.machine(CLIENT).machineId,
    });
    await page.goto(`${org.server.url}/sessions/${id}`);
    const closed = page.locator('[data-testid="event-line"][data-type="session.closed"]');
    await expect
      .poll(() => closed.locator(".body").textContent(), { timeout: 20_000 })
      .toBe("Session closed itself after 1 s without activity");
    expect(await closed.locator(".actor").textContent()).toBe("system");
    expect(await page.getByTestId("session-state").textContent()).toBe("closed");
    expect(await page.getByTestId("connection").textContent()).toBe("ended");
    expect(await page.getByTestId("command-input").isDisabled()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/session-closed-idle.png` });
    expect((await setIdle(86_400)).status).toBe(200);
  });
});

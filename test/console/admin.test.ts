import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OWNER } from "../helpers.ts";
import { useOrganization, waitOnline } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const PEOPLE_SHOT = "/tmp/console-people.png";
const CONTACT_SHOT = "/tmp/console-contact-session.png";

const TECH = { name: "Theo Technician", email: "theo@northwind.test", password: "theo's long password" };
const CLIENT = "Fabrikam Legal";
const CONTACT = { name: "Carla Contact", email: "carla@fabrikam.test", password: "carla's long password" };
const TOKEN_NAME = "Nightly export";

describe("console administration and the contact's view", () => {
  const org = useOrganization();
  const chromium = useChromium();
  let page: Page;

  beforeAll(async () => {
    page = await chromium.page({ width: 1360, height: 860 });
  });

  it("lets the owner add a technician, a client with a contact, an API token, and shows it all in the audit log", async () => {
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    for (const nav of ["machines", "sessions", "people", "clients", "tokens", "audit"])
      expect(await page.getByTestId(`nav-${nav}`).count(), nav).toBe(1);

    // People: add a technician.
    await page.getByTestId("nav-people").click();
    await page.getByTestId("people-table").waitFor();
    await page.getByTestId("person-add-toggle").click();
    await page.getByTestId("person-add-name").fill(TECH.name);
    await page.getByTestId("person-add-email").fill(TECH.email);
    await page.getByTestId("person-add-role").selectOption("technician");
    await page.getByTestId("person-add-password").fill(TECH.password);
    await page.getByTestId("person-add-submit").click();
    const techRow = page.locator(`[data-testid="person-row"][data-email="${TECH.email}"]`);
    await techRow.waitFor({ timeout: 10_000 });
    expect(await techRow.getByTestId("person-name").textContent()).toBe(TECH.name);
    expect(await techRow.getByTestId("person-role").inputValue()).toBe("technician");
    expect(await techRow.getByTestId("person-status").textContent()).toBe("active");

    // The last owner cannot demote themselves: the 409 is shown readably and the select snaps back.
    const selfRow = page.locator(`[data-testid="person-row"][data-email="${OWNER.email}"]`);
    await selfRow.getByTestId("person-role").selectOption("technician");
    await expect
      .poll(() => page.getByTestId("error").textContent(), { timeout: 10_000 })
      .toContain("at least one active owner");
    await expect.poll(() => selfRow.getByTestId("person-role").inputValue()).toBe("owner");
    await page.screenshot({ path: PEOPLE_SHOT });

    // Clients: add one with its approval policy, then a contact for it.
    await page.getByTestId("nav-clients").click();
    await page.getByTestId("clients-page").waitFor();
    await page.getByTestId("client-add-toggle").click();
    await page.getByTestId("client-add-name").fill(CLIENT);
    await page.getByTestId("client-add-policy").selectOption("always");
    expect(await page.getByTestId("client-add-policy-explain").textContent()).toContain("Every command waits");
    await page.getByTestId("client-add-submit").click();
    const card = page.locator(`[data-testid="client-card"][data-client-name="${CLIENT}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.getByTestId("client-policy").inputValue()).toBe("always");
    await card.getByTestId("contact-add-toggle").click();
    await card.getByTestId("contact-add-name").fill(CONTACT.name);
    await card.getByTestId("contact-add-email").fill(CONTACT.email);
    await card.getByTestId("contact-add-password").fill(CONTACT.password);
    await card.getByTestId("contact-add-submit").click();
    await card.locator(`[data-testid="contact-row"][data-email="${CONTACT.email}"]`).waitFor({ timeout: 10_000 });

    // API tokens: the secret is shown once, with a warning; after a reload only the name is left.
    await page.getByTestId("nav-tokens").click();
    await page.getByTestId("tokens-page").waitFor();
    await page.getByTestId("token-create-name").fill(TOKEN_NAME);
    await page.getByTestId("token-create-role").selectOption("technician");
    await page.getByTestId("token-create-submit").click();
    await page.getByTestId("token-issued").waitFor({ timeout: 10_000 });
    const secret = ((await page.getByTestId("token-secret").textContent()) ?? "").trim();
    expect(secret).toMatch(/^cst_/);
    expect(await page.getByTestId("token-warning").textContent()).toContain("only time it is shown");
    expect(await page.getByTestId("token-copy").count()).toBe(1);
    // The token works: it acts as a technician.
    const viaToken = await fetch(`${org.server.url}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect(((await viaToken.json()) as { user: { role: string } }).user.role).toBe("technician");

    await page.reload();
    const tokenRow = page.locator('[data-testid="token-row"]', { hasText: TOKEN_NAME });
    await tokenRow.waitFor({ timeout: 10_000 });
    expect(await page.getByTestId("token-issued").count()).toBe(0);
    expect(await tokenRow.getByTestId("token-status").textContent()).toBe("active");
    expect(await page.content()).not.toContain(secret);

    // Audit log: those actions, by the owner's name.
    await page.getByTestId("nav-audit").click();
    await page.getByTestId("audit-table").waitFor();
    const actions = () => page.getByTestId("audit-action").allTextContents();
    await expect.poll(actions, { timeout: 10_000 }).toEqual(expect.arrayContaining(["person.added", "client.added"]));
    expect(await actions()).toEqual(expect.arrayContaining(["token.issued", "sign_in.succeeded"]));
    const issuedRow = page.locator('[data-testid="audit-row"][data-action="token.issued"]');
    await expect.poll(() => issuedRow.getByTestId("audit-actor").textContent()).toBe(OWNER.name);
    expect(await issuedRow.getByTestId("audit-detail").textContent()).toContain(`name="${TOKEN_NAME}"`);
    const addedTech = page.locator('[data-testid="audit-row"][data-action="person.added"]', { hasText: TECH.email });
    await expect.poll(() => addedTech.getByTestId("audit-target").textContent()).toBe(TECH.name);
  });

  it("shows a contact only their client's machine and a read-only session where they can chat", async () => {
    // Two runtimes on this host (so the same hostname) for two clients; the contact's is then moved to their client
    // through the console, by the org.owner.
    const { clients } = await org.owner.json<{ clients: { id: string; name: string }[] }>("/api/v1/clients");
    const contactClient = clients.find((c) => c.name === CLIENT);
    expect(contactClient).toBeTruthy();
    const mine = await org.enroll("Staging client");
    await org.enroll("Contoso Dental"); // another client's machine, which the contact must not see
    org.start(mine);
    await waitOnline(org.owner, mine.machineId);

    await page.getByTestId("nav-machines").click();
    const mineRow = page.locator(`[data-testid="machine-row"][data-machine-id="${mine.machineId}"]`);
    await mineRow.getByTestId("move-machine").click();
    await mineRow.getByTestId("move-client").selectOption({ label: CLIENT });
    await mineRow.getByTestId("move-confirm").click();
    await expect.poll(() => mineRow.getByTestId("machine-client").textContent(), { timeout: 10_000 }).toBe(CLIENT);

    // The owner opens a session on it (via the API), says hello, and starts a command that keeps running a while.
    const { id: sessionId } = await org.owner.json<{ id: string }>("/api/v1/sessions", {
      machineId: mine.machineId,
      ticket: "T-77",
    });
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, {
      text: "Hello Carla, I'm looking at your PC now.",
    });
    await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: "echo checking-disk; sleep 6; echo done",
      shell: "sh",
    });

    // The contact, in a browser of their own.
    const cpage = await chromium.page({ width: 1360, height: 860 });
    try {
      await signIn(cpage, org.server.url, CONTACT.email, CONTACT.password);
      await cpage.waitForURL(/\/approvals$/);
      await expect.poll(() => cpage.getByTestId("whoami").textContent()).toContain("contact");
      await cpage.getByTestId("nav-machines").click();
      const rows = cpage.getByTestId("machine-row");
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
      expect(await rows.first().getAttribute("data-machine-id")).toBe(mine.machineId);
      expect(await rows.first().getByTestId("machine-client").textContent()).toBe(CLIENT);
      expect(await cpage.getByTestId("open-session").count()).toBe(0);
      expect(await cpage.getByTestId("enroll-toggle").count()).toBe(0);
      expect(await cpage.getByTestId("enroll-panel").count()).toBe(0);
      for (const nav of ["people", "clients", "tokens", "audit"])
        expect(await cpage.getByTestId(`nav-${nav}`).count(), nav).toBe(0);

      // Their sessions list has the one session; it opens read-only.
      await cpage.getByTestId("nav-sessions").click();
      const sessionRow = cpage.locator(`[data-testid="session-row"][data-session-id="${sessionId}"]`);
      await sessionRow.waitFor({ timeout: 10_000 });
      expect(await cpage.getByTestId("session-row").count()).toBe(1);
      await cpage.screenshot({ path: "/tmp/console-contact-sessions.png", fullPage: true });
      await sessionRow.getByTestId("session-link").click();
      await cpage.waitForURL(new RegExp(`/sessions/${sessionId}$`));
      await expect
        .poll(() => cpage.getByTestId("connection").getAttribute("data-status"), { timeout: 10_000 })
        .toBe("live");
      expect(await cpage.getByTestId("session-ticket").textContent()).toBe("T-77");

      // The client approves every command: the contact decides right in the transcript, then it runs.
      const block = cpage.getByTestId("command-block").first();
      await expect
        .poll(() => block.getByTestId("command-state").textContent(), { timeout: 10_000 })
        .toBe("awaiting approval");
      await block.getByTestId("decision-comment").fill("ok");
      await block.getByTestId("approve").click();
      await expect.poll(() => block.getByTestId("approval-state").textContent(), { timeout: 10_000 }).toBe("approved");

      // The transcript is live as for staff: the technician's greeting and command output arrive.
      await expect
        .poll(() => block.getByTestId("command-output").textContent(), { timeout: 30_000 })
        .toContain("checking-disk");
      expect(await cpage.getByTestId("event-line").filter({ hasText: "Hello Carla" }).count()).toBe(1);

      // Only chat: no mode select, no shell select, no cancel, no close.
      expect(await cpage.getByTestId("bar-mode-label").textContent()).toBe("Chat");
      expect(await cpage.getByTestId("bar-mode").count()).toBe(0);
      expect(await cpage.getByTestId("shell-select").count()).toBe(0);
      expect(await cpage.getByTestId("close-session").count()).toBe(0);
      expect(await cpage.getByTestId("cancel-command").count()).toBe(0);

      // A chat message from the contact shows in the transcript under their name, and is in the record.
      await cpage.getByTestId("command-input").fill("Thanks! Go ahead.");
      await cpage.getByTestId("command-input").press("Enter");
      const chat = cpage.locator('[data-testid="event-line"][data-type="chat.message"]', { hasText: "Go ahead" });
      await chat.waitFor({ timeout: 10_000 });
      expect(await chat.locator(".actor").textContent()).toBe(CONTACT.name);
      // The input clears when the POST answers, which may be just after the socket delivered the line.
      await expect.poll(() => cpage.getByTestId("command-input").inputValue(), { timeout: 10_000 }).toBe("");
      const { events } = await org.owner.json<{ events: { type: string; actor: string; data: { text?: string } }[] }>(
        `/api/v1/sessions/${sessionId}/events?after=0`,
      );
      const recorded = events.find((e) => e.type === "chat.message" && e.data.text === "Thanks! Go ahead.");
      expect(recorded?.actor).toMatch(/^contact:usr_/);

      await expect.poll(() => block.getByTestId("command-state").textContent(), { timeout: 30_000 }).toBe("finished");
      await cpage.screenshot({ path: CONTACT_SHOT });

      // Staff pages are not theirs.
      await cpage.goto(`${org.server.url}/people`);
      await cpage.getByTestId("not-allowed").waitFor({ timeout: 10_000 });
    } finally {
      await cpage.context().close();
    }
  });
});

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

describe("the session page", () => {
  const org = useOrganization({ clients: [{ name: CLIENT, approvalPolicy: "never", machine: true }] });
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
});

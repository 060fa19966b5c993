// The machine card shows the runtime's version, its outbox backlog and its last error; the machine list marks a
// connected machine whose output has waited more than two minutes. Screenshots in /tmp/shots/health/.

import { describe, expect, it, vi } from "vitest";
import { holdBacklog, machineHealth } from "../held-backlog.ts";
import { OWNER } from "../helpers.ts";
import { useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/health";

describe("runtime health in the console", () => {
  const org = useOrganization();
  const chromium = useChromium();

  it("the card shows a held backlog, the list marks it once old, and the card shows none once drained", async () => {
    const held = await holdBacklog(org, "Contoso Dental", 1_000_000);
    const { machineId } = held.runtime;
    try {
      const backlog = await machineHealth(org, machineId);
      const page = await chromium.page({ width: 1280, height: 720 });
      await signIn(page, org.server.url, OWNER.email, OWNER.password);
      await page.goto(`${org.server.url}/machines/${machineId}`);
      const runtime = page.getByTestId("machine-runtime");
      await expect
        .poll(() => runtime.textContent())
        .toMatch(
          new RegExp(
            `^\\d+\\.\\d+\\.\\d+ · backlog: ${backlog.backlogFrames} frames, 976\\.6 KiB, oldest (just now|\\d+ s ago)$`,
          ),
        );
      expect(await page.getByTestId("machine-last-error").textContent()).toBe("none");
      await page.getByTestId("machine-facts").screenshot({ path: `${SHOTS}/card-backlog.png` });

      // Three minutes on, the list marks the machine (its runtime is connected and the output still waits).
      await page.clock.setFixedTime(Date.parse(backlog.oldestAt) + 3 * 60_000);
      await page.goto(`${org.server.url}/machines`);
      const row = page.locator(`[data-testid=machine-row][data-machine-id=${machineId}]`);
      await expect.poll(() => row.getByTestId("machine-backlog-old").textContent()).toBe("⚠ output waiting 3 min");
      await page.getByTestId("machines-table").screenshot({ path: `${SHOTS}/list-backlog-old.png` });

      held.release();
      await vi.waitFor(async () => expect(await machineHealth(org, machineId)).toMatchObject({ backlogFrames: 0 }), {
        timeout: 20_000,
        interval: 100,
      });
      await expect.poll(() => row.getByTestId("machine-backlog-old").count()).toBe(0);
      await page.goto(`${org.server.url}/machines/${machineId}`);
      await expect.poll(() => runtime.textContent()).toMatch(/^\d+\.\d+\.\d+ · backlog: none$/);
      await page.getByTestId("machine-facts").screenshot({ path: `${SHOTS}/card-none.png` });
    } finally {
      await held.stop();
    }
  });
});

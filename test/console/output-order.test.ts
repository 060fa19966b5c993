// A command's stdout and stderr in one view, in the order the runtime read them, with a toggle to look at one stream.

import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { BACKUP_SCRIPT } from "../../packages/runtime/test/fixtures.ts";
import { OWNER } from "../helpers.ts";
import { useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

describe("a command's output in the transcript", () => {
  const org = useOrganization({ clients: [{ name: "Contoso Dental", approvalPolicy: "never", machine: true }] });
  const chromium = useChromium();
  let page: Page;

  beforeAll(async () => {
    page = await chromium.page({ width: 1280, height: 800 });
  });

  it("shows stdout and stderr interleaved as produced, stderr marked, and filters to one stream", async () => {
    const { id: sessionId } = await org.owner.json<{ id: string }>("/api/v1/sessions", {
      machineId: org.runtime.machineId,
    });
    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    await expect.poll(() => page.getByTestId("connection").getAttribute("data-status")).toBe("live");
    await page.getByTestId("command-input").fill(BACKUP_SCRIPT.command);
    await page.getByTestId("command-input").press("Enter");

    const block = page.getByTestId("command-block").nth(0);
    await expect.poll(() => block.getByTestId("command-state").textContent()).toBe("finished");
    const output = block.getByTestId("command-output");
    const runs = () =>
      output.locator(":scope > span").evaluateAll((spans) => spans.map((s) => [s.className, s.textContent]));
    // One view, by seq: the warning sits between the two stdout lines, and stderr is marked as such.
    expect(await runs()).toEqual(BACKUP_SCRIPT.lines);
    expect(await output.textContent()).toBe("backup: starting\nwarning: 91% full\nbackup: done\n");
    expect(await output.locator(".stderr").evaluate((s) => getComputedStyle(s).color)).not.toBe(
      await output
        .locator(".stdout")
        .first()
        .evaluate((s) => getComputedStyle(s).color),
    );

    // The toggle: stderr alone, stdout alone, then both again.
    expect(await block.getByTestId("stream-filter-all").getAttribute("aria-pressed")).toBe("true");
    await block.getByTestId("stream-filter-stderr").click();
    await expect.poll(() => output.textContent()).toBe("warning: 91% full\n");
    expect(await runs()).toEqual([["stderr", "warning: 91% full\n"]]);
    expect(await block.getByTestId("stream-filter-stderr").getAttribute("aria-pressed")).toBe("true");
    await block.getByTestId("stream-filter-stdout").click();
    await expect.poll(() => output.textContent()).toBe("backup: starting\nbackup: done\n");
    await block.getByTestId("stream-filter-all").click();
    await expect.poll(() => output.textContent()).toBe("backup: starting\nwarning: 91% full\nbackup: done\n");

    // The downloads stay per stream, byte-exact.
    for (const [stream, text] of [
      ["stdout", "backup: starting\nbackup: done\n"],
      ["stderr", "warning: 91% full\n"],
    ] as const) {
      const href = (await block.getByTestId(`download-${stream}`).getAttribute("href")) ?? "";
      expect(href).toContain(`stream=${stream}`);
      const res = await page.request.get(`${org.server.url}${href}`);
      expect(await res.text()).toBe(text);
    }
  });
});

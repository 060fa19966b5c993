import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_KEPT_CHARS } from "../../packages/console/src/transcript.ts";
import { OWNER, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const HUGE = "head -c 60000000 /dev/urandom | base64 -w 76";

describe("console with a huge output", () => {
  const org = useOrganization({ clients: [{ name: "Contoso Dental", approvalPolicy: "never", machine: true }] });
  const chromium = useChromium();
  let page: Page;

  beforeAll(async () => {
    page = await chromium.page({ width: 1280, height: 800 });
  });

  it("stays usable while ~80 MB streams, caps the text in the page and downloads the full output byte-exact", async () => {
    const enrolled = org.runtime;
    const { id: sessionId } = await org.owner.json<{ id: string }>("/api/v1/sessions", {
      machineId: enrolled.machineId,
    });

    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    await expect
      .poll(() => page.getByTestId("connection").getAttribute("data-status"), { timeout: 20_000 })
      .toBe("live");

    const send = async (command: string) => {
      await page.getByTestId("command-input").fill(command);
      await page.getByTestId("command-input").press("Enter");
    };

    // Start the huge one and wait until it is well past the page's cap (the older text is already dropped). It then
    // waits for a gate file, so it is certainly still running when the second command is sent, however loaded the
    // machine is.
    const gate = join(tempDir("gate"), "go");
    const FIRST = `${HUGE}; while [ ! -e '${gate}' ]; do sleep 0.1; done`;
    await send(FIRST);
    const first = page.getByTestId("command-block").nth(0);
    await expect.poll(() => first.getByTestId("command-text").textContent(), { timeout: 20_000 }).toBe(FIRST);
    await first.getByTestId("output-hidden").waitFor({ timeout: 60_000 });
    expect(await first.getByTestId("command-state").textContent()).not.toBe("queued");
    // The transcript is virtualized: blocks off screen are skipped by the browser and keep a placeholder height.
    expect(await first.evaluate((el) => getComputedStyle(el).contentVisibility)).toBe("auto");

    // While it streams, the command bar still works: the second command is sent and queued behind the first.
    await send("echo still-responsive");
    const second = page.getByTestId("command-block").nth(1);
    await expect
      .poll(() => second.getByTestId("command-text").textContent(), { timeout: 30_000 })
      .toBe("echo still-responsive");
    expect(await page.getByTestId("command-input").inputValue()).toBe("");

    // The page never holds more than the cap of the first command's text, while it streams and after.
    const keptChars = async () => ((await first.getByTestId("command-output").textContent()) ?? "").length;
    expect(await keptChars()).toBeLessThanOrEqual(MAX_KEPT_CHARS);
    writeFileSync(gate, "");

    // Once the first finishes, the second runs and shows its output.
    await expect.poll(() => first.getByTestId("command-state").textContent(), { timeout: 100_000 }).toBe("finished");
    expect(await first.getByTestId("exit-code").textContent()).toBe("exit 0");
    await expect.poll(() => second.getByTestId("command-state").textContent(), { timeout: 30_000 }).toBe("finished");
    expect(await second.getByTestId("command-output").textContent()).toBe("still-responsive\n");
    expect(await keptChars()).toBeLessThanOrEqual(MAX_KEPT_CHARS);
    expect(await keptChars()).toBeGreaterThan(0);

    // The second command was requested while the first was still running: its record event comes before the
    // first's command.finished (record order, not timing).
    const secondSeq = Number((await second.getAttribute("id"))?.replace(/^seq-/, ""));
    const firstFinishedSeq = Number(
      await first.locator('.cmd-foot[data-event="command.finished"]').getAttribute("data-seq"),
    );
    expect(secondSeq).toBeGreaterThan(0);
    expect(secondSeq).toBeLessThan(firstFinishedSeq);

    // The full stdout behind the page's link: exactly the bytes and digest the API reports.
    const firstId = (await first.getAttribute("data-command-id")) ?? "";
    const command = await waitCommand(org.owner, sessionId, firstId, 60_000);
    expect(command.state).toBe("finished");
    expect(command.stdoutBytes).toBeGreaterThan(80_000_000);
    const href = (await first.getByTestId("download-full-stdout").getAttribute("href")) ?? "";
    expect(href).toContain(`/commands/${encodeURIComponent(firstId)}/output?stream=stdout`);
    const res = await page.request.get(`${org.server.url}${href}`, { timeout: 60_000 });
    expect(res.status()).toBe(200);
    const body = await res.body();
    expect(body.length).toBe(command.stdoutBytes);
    expect(createHash("sha256").update(body).digest("hex")).toBe(command.stdoutSha256);
  });
});

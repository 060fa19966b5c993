// On a change, the transcript says what its targets were before it ran ("before: …", from command.prestate), and for
// a file the next change read again, the before → after diff.

import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { OWNER, tempDir } from "../helpers.ts";
import { runToEnd, useOrganization } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const CONF = [
  "# Front desk app",
  "[server]",
  "host=0.0.0.0",
  "port=8080",
  "workers=4",
  "[printing]",
  "spooler=local",
  "retries=3",
  "timeout=30",
  "[logging]",
  "level=info",
  "",
].join("\n");

describe("the pre-state in the transcript", () => {
  const org = useOrganization({ clients: [{ name: "Contoso Dental", approvalPolicy: "never", machine: true }] });
  const chromium = useChromium();
  let page: Page;

  beforeAll(async () => {
    page = await chromium.page({ width: 1280, height: 900 });
  });

  it("shows a before line for every target of a change, the diff a later change reveals, and nothing on a read", async () => {
    const dir = tempDir("prestate-console");
    org.removeLater(dir);
    const conf = join(dir, "app.conf");
    writeFileSync(conf, CONF, { mode: 0o644 });
    const { id: sessionId } = await org.owner.json<{ id: string }>("/api/v1/sessions", {
      machineId: org.runtime.machineId,
    });
    await runToEnd(org.owner, sessionId, `sed -i 's/retries=3/retries=5/' ${conf} && echo ok > ${dir}/done.flag`);
    await runToEnd(org.owner, sessionId, `rm -f ${conf}/x; echo checked`);
    const afterFirst = statSync(conf).size;
    await runToEnd(org.owner, sessionId, `sed -i 's/level=info/level=debug/' ${conf}`);
    await runToEnd(org.owner, sessionId, `head -2 ${conf}`);

    await signIn(page, org.server.url, OWNER.email, OWNER.password);
    await page.goto(`${org.server.url}/sessions/${sessionId}`);
    const blocks = page.getByTestId("command-block");
    await expect.poll(() => blocks.count()).toBe(4);
    const lines = (i: number) => blocks.nth(i).getByTestId("prestate-line").allTextContents();
    await expect
      .poll(() => lines(0))
      .toEqual([
        expect.stringMatching(new RegExp(`^before: ${conf} ${CONF.length} bytes, mode 0644, sha256 [0-9a-f]{4}…$`)),
        `before: ${dir}/done.flag did not exist`,
      ]);
    expect(await lines(1)).toEqual([
      `before: ${conf}/x could not be read (not a directory: part of its path is a file)`,
    ]);
    expect(await lines(2)).toEqual([
      expect.stringMatching(new RegExp(`^before: ${conf} ${afterFirst} bytes, mode 0644, sha256 [0-9a-f]{4}…$`)),
    ]);
    // The first change's diff: what the third change found in the file.
    const diff = blocks.nth(0).getByTestId("prestate-diff");
    expect(await diff.locator("pre").textContent()).toBe(
      "… 5 unchanged lines\n  [printing]\n  spooler=local\n- retries=3\n+ retries=5\n  timeout=30\n  [logging]\n… 1 unchanged line\n",
    );
    // The last change has no later read of its file: no diff, only its before line.
    expect(await blocks.nth(2).getByTestId("prestate-diff").count()).toBe(0);
    // The read is shown finished, with no before line.
    expect(await blocks.nth(3).getByTestId("command-state").textContent()).toBe("finished");
    expect(await blocks.nth(3).getByTestId("command-prestate").count()).toBe(0);
    await page.screenshot({ path: "/tmp/shots/prestate/transcript.png", fullPage: true });
  });
});

// Rolling back yesterday's fix from the console (issue 12): the technician finds the change on the machine card,
// rolls it back (the dialog proposes the reverse, re-describes an edit as it is typed, and shows the sentence the
// contact will approve), the contact approves in the portal, the reverse runs on the real machine, and the timeline
// links the two both ways.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers.ts";
import { runToEnd, useOrganization, waitCommand } from "../organization.ts";
import { signIn, useChromium } from "./browser.ts";

const SHOTS = "/tmp/shots/rollback";
const TECH = { name: "Alice Tech", email: "alice@northwind.test", password: "alice's long password" };
const CONTACT = { name: "Carla Contact", email: "carla@contoso.test", password: "carla's long password" };

describe("rolling back a change from the machine card", () => {
  // The client approves nothing by policy: the rollback still waits for them.
  const org = useOrganization({
    technicians: [TECH],
    clients: [{ name: "Contoso Dental", approvalPolicy: "never", contacts: [CONTACT], machine: true }],
  });
  const chromium = useChromium();
  let tech: Page;
  let contact: Page;
  const work = tempDir("rollback");
  const folder = join(work, "spooler-cache");
  let fix = { sessionId: "", commandId: "" };

  beforeAll(async () => {
    org.removeLater(work);
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync("/tmp/shots/rbe2e", { recursive: true });
    tech = await chromium.page({ width: 1360, height: 900 });
    contact = await chromium.page({ width: 1280, height: 900 });
    // Yesterday's fix, run and closed through the API by the technician.
    const alice = await org.login(TECH.email);
    const { id } = await alice.json("/api/v1/sessions", { machineId: org.runtime.machineId, ticket: "T-311" });
    const ran = await runToEnd(alice, id, `mkdir ${folder}`);
    expect(ran).toMatchObject({ state: "finished", exitCode: 0 });
    expect(existsSync(folder)).toBe(true);
    await alice.json(`/api/v1/sessions/${id}/close`, {});
    fix = { sessionId: id, commandId: ran.id };
  });

  it("proposes the reverse, asks the contact, runs it once approved, and links both ways", async () => {
    await signIn(tech, org.server.url, TECH.email, TECH.password, /\/machines$/);
    await tech.goto(`${org.server.url}/machines/${org.runtime.machineId}`);
    const change = tech.locator(`[data-testid="machine-change"][data-command-id="${fix.commandId}"]`);
    await change.waitFor({ timeout: 10_000 });
    await change.getByTestId("roll-back").click();

    const dialog = tech.getByTestId("rollback-dialog");
    const command = dialog.getByTestId("rollback-command");
    await command.waitFor({ timeout: 10_000 });
    expect(await dialog.getByTestId("rollback-original").textContent()).toBe(`mkdir ${folder}`);
    expect(await command.inputValue()).toBe(`rmdir -- ${folder}`);
    expect(await dialog.getByTestId("rollback-prestate-none").textContent()).toBe(
      "Caisey recorded nothing before this change ran.",
    );
    const approval = dialog.getByTestId("rollback-approval");
    const asked = new RegExp(
      `^Reverse a change made on \\d{1,2} [A-Z][a-z]+ at \\d\\d:\\d\\d by Alice Tech: delete the empty folder ${folder}$`,
    );
    expect(await approval.textContent()).toMatch(asked);
    await tech.screenshot({ path: `${SHOTS}/dialog.png` });

    // An edit is described afresh as it is typed; putting the proposal back restores its words.
    await command.fill(`rm -rf ${folder}`);
    await expect.poll(() => approval.textContent()).toMatch(/by Alice Tech: delete .*spooler-cache/);
    expect(await approval.textContent()).not.toMatch(asked);
    await tech.screenshot({ path: `${SHOTS}/dialog-edited.png` });
    await command.fill(`rmdir -- ${folder}`);
    await expect.poll(() => approval.textContent()).toMatch(asked);
    await dialog.getByTestId("rollback-reason").fill("The accounting app no longer starts since this change");
    const text = (await approval.textContent()) ?? "";
    await dialog.getByTestId("rollback-request").click();

    // The new session, with the rollback waiting for the client and linked to the change it undoes.
    await tech.waitForURL(/\/sessions\/ses_/, { timeout: 10_000 });
    const rollbackSession = /\/sessions\/(ses_[a-z2-7]+)/.exec(tech.url())?.[1] ?? "";
    expect(rollbackSession).not.toBe(fix.sessionId);
    const block = tech.getByTestId("command-block").first();
    await expect
      .poll(() => block.getByTestId("command-state").textContent(), { timeout: 10_000 })
      .toBe("awaiting approval");
    const rollbackCommand = (await block.getAttribute("data-command-id")) ?? "";
    expect(await block.getByTestId("undoes").textContent()).toContain(fix.commandId.slice(0, 12));
    expect(await block.getByTestId("approval-summary").textContent()).toBe(text);
    await tech.screenshot({ path: `${SHOTS}/session-awaiting.png` });

    // The contact reads exactly what the dialog showed, and approves.
    await signIn(contact, org.server.url, CONTACT.email, CONTACT.password, /\/approvals$/);
    const card = contact.locator('[data-testid="approval-card"]').first();
    await card.waitFor({ timeout: 10_000 });
    expect(await card.getByTestId("approval-summary").textContent()).toBe(text);
    expect(await card.getByTestId("approval-command").textContent()).toBe(`rmdir -- ${folder}`);
    await contact.screenshot({ path: `${SHOTS}/portal.png`, fullPage: true });
    await card.getByTestId("approve").click();
    await contact.getByTestId("no-pending").waitFor({ timeout: 10_000 });

    // It runs on the machine: the folder is gone.
    const owner = org.owner;
    expect(await waitCommand(owner, rollbackSession, rollbackCommand)).toMatchObject({
      state: "finished",
      exitCode: 0,
    });
    expect(existsSync(folder)).toBe(false);

    // The timeline shows both directions.
    await tech.goto(`${org.server.url}/machines/${org.runtime.machineId}`);
    const undone = tech.locator(`[data-testid="machine-change"][data-command-id="${fix.commandId}"]`);
    const undoing = tech.locator(`[data-testid="machine-change"][data-command-id="${rollbackCommand}"]`);
    await undoing.waitFor({ timeout: 10_000 });
    expect(await undone.getByTestId("rolled-back-by").textContent()).toBe(`rolled back by rmdir -- ${folder}finished`);
    expect(await undoing.getByTestId("undoes").textContent()).toBe(`undoes mkdir ${folder}`);
    expect(await undone.getByTestId("rolled-back-by").locator("a").getAttribute("href")).toBe(
      `/sessions/${rollbackSession}#cmd-${rollbackCommand}`,
    );
    expect(await undoing.getByTestId("undoes").locator("a").getAttribute("href")).toBe(
      `/sessions/${fix.sessionId}#cmd-${fix.commandId}`,
    );
    await tech.screenshot({ path: `${SHOTS}/timeline.png`, fullPage: true });

    // The change's own transcript says what undid it, though its session closed before the rollback was asked for.
    await tech.goto(`${org.server.url}/sessions/${fix.sessionId}`);
    const original = tech.locator(`[data-testid="command-block"][data-command-id="${fix.commandId}"]`);
    const by = original.getByTestId("rolled-back-by");
    await by.waitFor({ timeout: 10_000 });
    expect(await by.textContent()).toBe(`rolled back by rmdir -- ${folder}finished`);
    expect(await by.locator("a").getAttribute("href")).toBe(`/sessions/${rollbackSession}#cmd-${rollbackCommand}`);
    await tech.screenshot({ path: "/tmp/shots/rbe2e/transcript-rolled-back-by.png", fullPage: true });
  });

  it("offers Roll back… on a search hit of a change, not of a command that only looked", async () => {
    const alice = await org.login(TECH.email);
    const { id } = await alice.json("/api/v1/sessions", { machineId: org.runtime.machineId, ticket: "T-312" });
    const look = await runToEnd(alice, id, `ls -d ${folder}`);
    expect(look.state).toBe("finished");
    await expect
      .poll(
        async () =>
          (await alice.json(`/api/v1/search?${new URLSearchParams({ q: "spooler", kind: "command" })}`)).results.length,
        { timeout: 10_000 },
      )
      .toBe(3);

    await tech.goto(`${org.server.url}/search?q=spooler&kind=command`);
    const hit = (sessionId: string) => tech.locator(`[data-testid="search-result"][data-session-id="${sessionId}"]`);
    await hit(id).waitFor({ timeout: 10_000 });
    expect(await tech.getByTestId("search-result").count()).toBe(3);
    expect(await hit(fix.sessionId).getByTestId("roll-back").count()).toBe(1);
    expect(await hit(id).getByTestId("roll-back").count()).toBe(0);
    await tech.screenshot({ path: "/tmp/shots/rbe2e/search-hits.png", fullPage: true });
  });

  it("says plainly when a file is too large to restore from the console, and takes a hand-written reverse", async () => {
    const big = join(work, "big.conf");
    writeFileSync(big, `mode=old\n${"#".repeat(40_000)}\n`);
    const alice = await org.login(TECH.email);
    const { id } = await alice.json("/api/v1/sessions", { machineId: org.runtime.machineId, ticket: "T-313" });
    const edit = await runToEnd(alice, id, `sed -i 's/old/new/' ${big}`);
    expect(edit).toMatchObject({ state: "finished", exitCode: 0 });

    await tech.goto(`${org.server.url}/sessions/${id}`);
    const block = tech.locator(`[data-testid="command-block"][data-command-id="${edit.id}"]`);
    await block.getByTestId("roll-back").click();
    const dialog = tech.getByTestId("rollback-dialog");
    const none = dialog.getByTestId("rollback-no-reverse");
    await none.waitFor({ timeout: 10_000 });
    expect(await none.textContent()).toBe(
      `${big} was larger than Caisey can restore from the console: 40010 bytes; restore it by hand from the pre-state. Write the command that undoes it; it is still linked to this change.`,
    );
    expect(await dialog.getByTestId("rollback-command").inputValue()).toBe("");
    await dialog.getByTestId("rollback-command").fill(`sed -i 's/mode=new/mode=old/' ${big}`);
    await expect.poll(() => dialog.getByTestId("rollback-approval").textContent()).toMatch(/by Alice Tech: /);
    expect(await dialog.getByTestId("rollback-request").isEnabled()).toBe(true);
    await tech.screenshot({ path: "/tmp/shots/rbe2e/too-large.png" });
    await dialog.getByTestId("rollback-cancel").click();
  });
});

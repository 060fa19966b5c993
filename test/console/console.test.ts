import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { api, enrollRuntime, OWNER } from "../helpers.ts";
import { useOrganization } from "../organization.ts";
import { useChromium } from "./browser.ts";

const SCREENSHOT = "/tmp/console-session.png";

/** What the README's quick start puts in bold (page titles, fields, buttons, states), in order. */
function quickStartNames(): string[] {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const steps = readme.slice(readme.indexOf("### Your first session"), readme.indexOf("The same from a script"));
  return [...steps.matchAll(/\*\*([^*]+)\*\*/g)].map((m) => m[1] as string);
}

/** The two endpoint commands the README's quick start shows. */
function quickStartCommands(): string {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const steps = readme.slice(readme.indexOf("### Your first session"), readme.indexOf("The same from a script"));
  return (/```sh\n([^`]*)```/.exec(steps)?.[1] ?? "").replace(/^ +/gm, "").trimEnd();
}

describe("console end to end", () => {
  const org = useOrganization({ setUp: false }); // the test sets the organization up through the console
  const chromium = useChromium();
  let page: Page;

  beforeAll(async () => {
    page = await chromium.page({ width: 1280, height: 800 });
  });

  it("sets up, enrolls a machine, runs commands live and replays them after a reload", async () => {
    /** Types a command into the session and sends it; its block is the `nth` on the page. */
    const send = async (command: string, nth: number) => {
      await page.getByTestId("command-input").fill(command);
      await page.getByTestId("command-input").press("Enter");
      return page.getByTestId("command-block").nth(nth);
    };
    const waitLive = () =>
      expect.poll(() => page.getByTestId("connection").getAttribute("data-status"), { timeout: 10_000 }).toBe("live");

    // The README's quick start walks this same path; every name it sets in bold is on the page where it says.
    const readme = quickStartNames();
    expect(readme).toEqual([
      "Set up your organization",
      "Organization",
      "Your name",
      "Email",
      "Password",
      "Create organization",
      "Machines",
      "Enroll a machine",
      "Enroll a machine",
      "Machines",
      "Client",
      "+ New client…",
      "New client name",
      "Create client and token",
      "Copy",
      "Install as a service",
      "From a checkout of the Caisey repository",
      "online",
      "Open session",
    ]);
    const named = async (...names: string[]) => {
      for (const name of names) {
        expect(name).toBe(readme.shift());
        await page.getByText(name, { exact: true }).first().waitFor({ state: "attached", timeout: 10_000 });
      }
    };

    // First visit: no organization yet, so the console sends us to setup.
    await page.goto(`${org.server.url}/`);
    await page.waitForURL(/\/setup$/, { timeout: 30_000 });
    await named("Set up your organization", "Organization", "Your name", "Email", "Password", "Create organization");
    await page.getByTestId("setup-organization").fill(OWNER.organization);
    await page.getByTestId("setup-name").fill(OWNER.name);
    await page.getByTestId("setup-email").fill(OWNER.email);
    await page.getByTestId("setup-password").fill(OWNER.password);
    await page.getByTestId("setup-submit").click();
    await page.waitForURL(/\/machines$/, { timeout: 30_000 });
    await expect.poll(() => page.getByTestId("whoami").textContent(), { timeout: 10_000 }).toContain(OWNER.name);

    // The enroll panel makes a client and a token and shows the exact commands to run on the endpoint.
    await page.getByTestId("enroll-panel").waitFor({ timeout: 10_000 });
    await named("Machines", "Enroll a machine");
    await page.getByTestId("enroll-toggle").click();
    await expect.poll(() => page.getByTestId("enroll-toggle").textContent()).toBe("Enroll a machine");
    await named("Enroll a machine", "Machines");
    await page.getByTestId("enroll-toggle").click();
    await named("Client", "+ New client…");
    await page.getByTestId("enroll-client").selectOption("__new__");
    await named("New client name", "Create client and token");
    await page.getByTestId("enroll-new-client").fill("Acme Dental");
    await page.getByTestId("enroll-create").click();
    await page.getByTestId("enroll-token").waitFor({ timeout: 10_000 });
    await named("Copy", "Install as a service", "From a checkout of the Caisey repository");
    const token = ((await page.getByTestId("enroll-token").textContent()) ?? "").trim();
    expect(token.length).toBeGreaterThan(10);
    const commands = (await page.getByTestId("enroll-command").textContent()) ?? "";
    expect(commands).toContain(
      `CAISEY_ENROLL_TOKEN=${token} npm run runtime -- enroll --server ${org.server.url} --data-dir `,
    );
    expect(commands).not.toContain("--token"); // npm would print it in its log line
    // word for word what the README shows, but for the address and the token
    expect(commands.replace(org.server.url, "http://127.0.0.1:8787").replace(token, "cse_…")).toBe(
      quickStartCommands(),
    );

    // Enroll and start a real runtime, authenticated as the signed-in owner (the console's cookie is a token).
    const cookie = (await page.context().cookies(org.server.url)).find((c) => c.name === "caisey_token");
    expect(cookie?.value).toBeTruthy();
    const owner = api(org.server.url, cookie?.value ?? "");
    const enrolled = await enrollRuntime(org.server.url, owner);
    org.removeLater(enrolled.dataDir);
    org.start(enrolled);

    const row = page.locator(`[data-testid="machine-row"][data-machine-id="${enrolled.machineId}"]`);
    await expect.poll(() => row.getByTestId("machine-status").textContent(), { timeout: 20_000 }).toBe("online");
    await named("online", "Open session");
    expect(readme).toEqual([]);

    await row.getByTestId("open-session").click();
    await page.waitForURL(/\/sessions\/ses_/, { timeout: 10_000 });
    await waitLive();

    // A quick command.
    const first = await send("echo hello", 0);
    await expect.poll(() => first.getByTestId("command-state").textContent(), { timeout: 30_000 }).toBe("finished");
    expect(await first.getByTestId("command-output").textContent()).toBe("hello\n");
    expect(await first.getByTestId("exit-code").textContent()).toBe("exit 0");
    expect(await page.getByTestId("command-input").inputValue()).toBe("");
    // The context the command ran in: user, cwd, executable, shell version, pid, environment.
    await first.getByTestId("command-context").locator("summary").click();
    expect(await first.getByTestId("command-context").textContent()).toMatch(/cwd\S+/);
    expect(await first.getByTestId("command-env").textContent()).toMatch(/^PATH=/m);

    // A streaming one, with the page reloaded in the middle: history comes back over the socket from seq 0.
    const loop = await send("for i in 1 2 3 4 5; do echo $i; sleep 1; done", 1);
    await expect.poll(() => loop.getByTestId("command-output").textContent(), { timeout: 30_000 }).toMatch(/^1\n2\n/);
    expect(await loop.getByTestId("command-state").textContent()).toBe("running");

    await page.reload();
    const replayed = page.getByTestId("command-block").nth(1);
    await expect.poll(() => replayed.getByTestId("command-state").textContent(), { timeout: 30_000 }).toBe("finished");
    expect(await replayed.getByTestId("command-output").textContent()).toBe("1\n2\n3\n4\n5\n");
    expect(await replayed.getByTestId("exit-code").textContent()).toBe("exit 0");
    expect(await page.getByTestId("command-block").count()).toBe(2);
    await waitLive();

    // stderr is kept apart visibly, and a failing exit code stands out.
    const failing = await send("echo out; echo err >&2; exit 3", 2);
    await expect.poll(() => failing.getByTestId("exit-code").textContent(), { timeout: 30_000 }).toBe("exit 3");
    expect(await failing.getByTestId("command-state").textContent()).toBe("finished");
    expect(await failing.locator(".stderr").textContent()).toBe("err\n");
    expect(await failing.getByTestId("command-output").textContent()).toMatch(/^(out\nerr\n|err\nout\n)$/);

    // The header's head matches the server's.
    const sessionId = /\/sessions\/(ses_[a-z2-7]+)/.exec(page.url())?.[1] ?? "";
    const { session } = await owner.json<{ session: { head: { seq: number; hash: string } } }>(
      `/api/v1/sessions/${sessionId}`,
    );
    await expect.poll(() => page.getByTestId("head-seq").textContent()).toBe(String(session.head.seq));
    expect(await page.getByTestId("head-hash").textContent()).toBe(session.head.hash.slice(0, 12));

    await page.screenshot({ path: SCREENSHOT });
  });
});

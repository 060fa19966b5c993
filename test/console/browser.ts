// Debian's Chromium driven by playwright-core, and the sign-in, shared by the console tests.
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Signs in on the console's login page and waits for the landing page: Machines for staff, Approvals for a contact. */
export async function signIn(
  page: Page,
  url: string,
  email: string,
  password: string,
  landing: RegExp = /\/(machines|approvals)$/,
): Promise<void> {
  await page.goto(`${url}/login`);
  await page.getByTestId("login-email").fill(email);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
  await page.waitForURL(landing, { timeout: 30_000 });
}

export interface Chromium {
  /** A page in a browser context of its own (its own cookies: one person each). */
  page: (viewport: { width: number; height: number }) => Promise<Page>;
}

/** Registers the file's Chromium: launched before its tests, closed after them. */
export function useChromium(): Chromium {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    page: async (viewport) => {
      if (!browser) throw new Error("Chromium is not launched (yet)");
      return (await browser.newContext({ viewport })).newPage();
    },
  };
}

// Debian's Chromium driven by playwright-core, and the sign-in, shared by the console tests.
import { type Browser, chromium, type Page } from "playwright-core";

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

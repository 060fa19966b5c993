import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// One `vitest run` runs every project: pure logic in Node, the server inside workerd, and end-to-end suites that
// start the real server, runtimes, shells and Chromium.
export default defineConfig({
  test: {
    projects: [
      { test: { name: "core", include: ["packages/core/test/**/*.test.ts"], environment: "node" } },
      {
        test: {
          name: "runtime",
          include: ["packages/runtime/test/**/*.test.ts"],
          environment: "node",
          testTimeout: 20_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./packages/server/wrangler.jsonc" },
            // As `npm start` runs it: the operator secret for hosted deployments (so the tests can create a second
            // organization), a key secret, no edge in front, so no client-sent address header is believed, and the
            // console's public address, for the links in webhook messages.
            miniflare: {
              bindings: {
                CAISEY_OPERATOR_TOKEN: "operator-secret-for-the-server-tests",
                CAISEY_KEY_SECRET: "key-secret-for-the-server-tests-0123456789",
                CAISEY_TRUSTED_ADDRESS_HEADER: "",
                CAISEY_PUBLIC_URL: "https://support.northwind.test",
              },
            },
          }),
        ],
        // Setting up people hashes passwords with scrypt, one at a time (a login flood must not stall the server):
        // a hook that adds several people needs more than vitest's default 10 s on a loaded CI machine.
        test: {
          name: "server",
          include: ["packages/server/test/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      // Pure tests of test/ (the console's transcript, the scripts): parallel, no processes.
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" } },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/console/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // What the suites poll for (a machine online, output so far, the index catching up) takes seconds.
          expect: { poll: { timeout: 20_000 } },
          fileParallelism: false,
        },
      },
    ],
  },
});

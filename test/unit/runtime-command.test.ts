// `npm run runtime` and the end-to-end suites start the runtime the same way.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { SEA_EXEC_ARGV } from "../../scripts/package-runtime.mjs";
import { ROOT, RUNTIME_NODE_FLAGS } from "../helpers.ts";

it("starts the runtime in the e2e tests exactly as `npm run runtime` does, heap settings included", () => {
  const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts;
  expect(scripts.runtime).toBe(
    `node scripts/build.mjs runtime && node ${RUNTIME_NODE_FLAGS.join(" ")} packages/runtime/dist/caisey-runtime.mjs`,
  );
});

it("builds the one-file runtime with the same heap settings", () => {
  expect(SEA_EXEC_ARGV).toEqual(RUNTIME_NODE_FLAGS);
});

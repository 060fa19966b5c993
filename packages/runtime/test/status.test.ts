// `caisey-runtime status`: what the running runtime reports in DIR/status.json, put in words.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RuntimeConfig } from "../src/config.ts";
import { describeStatus, isErrorLine, type RuntimeStatus, readStatus, writeStatus } from "../src/status.ts";

const CONFIG = {
  server: "https://caisey.northwind.test",
  machineId: "mch_aaaaaaaaaaaaaaaaaaaa",
  enrolledAt: "2026-12-01T09:00:00.000Z",
} as RuntimeConfig;

const STATUS: RuntimeStatus = {
  pid: 4242,
  version: "0.1.0",
  connected: false,
  outboxFrames: 3,
  lastError: { at: "2026-12-01T10:00:00.000Z", message: "cannot connect: connect ECONNREFUSED 10.0.0.5:443" },
  updatedAt: "2026-12-01T10:00:01.000Z",
};

describe("status", () => {
  it("says the enrollment, server, connection, outbox backlog and last error of a running runtime", () => {
    expect(describeStatus("/var/lib/caisey-runtime", CONFIG, STATUS, true)).toBe(
      `data dir:    /var/lib/caisey-runtime
enrollment:  machine mch_aaaaaaaaaaaaaaaaaaaa (enrolled 2026-12-01T09:00:00.000Z)
server:      https://caisey.northwind.test
runtime:     running, version 0.1.0, pid 4242
connection:  not connected (retrying) as of 2026-12-01T10:00:01.000Z
outbox:      3 frames waiting for the server
last error:  2026-12-01T10:00:00.000Z cannot connect: connect ECONNREFUSED 10.0.0.5:443
`,
    );
  });

  it("says when the runtime is not running, and when the machine is not enrolled", () => {
    expect(describeStatus("/d", CONFIG, STATUS, false)).toContain(
      "runtime:     not running (last seen 2026-12-01T10:00:01.000Z, pid 4242)\n",
    );
    expect(describeStatus("/d", null, null, false)).toBe(
      "data dir:    /d\nenrollment:  not enrolled (run `install` or `enroll`)\n",
    );
  });

  it("keeps the status in the data dir, and takes an unreadable one for none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "caisey-status-"));
    try {
      expect(await readStatus(dir)).toBeNull();
      await writeStatus(dir, STATUS);
      expect(await readStatus(dir)).toEqual(STATUS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("remembers the runtime's error lines, not its ordinary ones", () => {
    expect(isErrorLine("cannot connect: connect ECONNREFUSED 127.0.0.1:8787")).toBe(true);
    expect(isErrorLine("refused dispatch cmd_x: bad signature")).toBe(true);
    expect(isErrorLine("connected")).toBe(false);
    expect(isErrorLine("running cmd_x (bash)")).toBe(false);
  });
});

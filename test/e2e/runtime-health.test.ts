// The runtime's health end to end: a real runtime whose acks are held has output journalled and unacknowledged; the
// machine card shows that backlog, `caisey-runtime status` against its data dir shows the same figures, and once the
// acks go through both show it drained.

import { describe, expect, it, vi } from "vitest";
import { holdBacklog, machineHealth, runtimeStatus } from "../held-backlog.ts";
import { useOrganization } from "../organization.ts";

const org = useOrganization();

/** `status` once the running runtime has written this outbox line to its status file (every two seconds). */
async function statusShows(dataDir: string, outbox: string): Promise<string> {
  let text = "";
  await vi.waitFor(
    async () => {
      text = await runtimeStatus(dataDir);
      expect(text).toContain(`outbox:      ${outbox}`);
    },
    { timeout: 20_000, interval: 250 },
  );
  return text;
}

describe("runtime health", () => {
  it("the card and `status` show a held backlog, then none once it drains", async () => {
    const held = await holdBacklog(org, "Contoso Dental", 100_000);
    const { machineId, dataDir } = held.runtime;
    try {
      const backlog = await machineHealth(org, machineId);
      // Its output frames and its finish, and when the oldest of them was journalled.
      expect(backlog).toMatchObject({ backlogBytes: 100_000, lastError: null });
      expect(backlog.backlogFrames).toBeGreaterThanOrEqual(2);
      expect(Date.parse(backlog.oldestAt)).toBeLessThanOrEqual(Date.parse(backlog.reportedAt));
      const text = await statusShows(
        dataDir,
        `${backlog.backlogFrames} frames waiting for the server (100000 bytes of output, the oldest journalled `,
      );
      expect(text).toContain("connection:  connected");

      held.release();
      await vi.waitFor(
        async () =>
          expect(await machineHealth(org, machineId)).toMatchObject({
            backlogFrames: 0,
            backlogBytes: 0,
            oldestAt: null,
          }),
        { timeout: 20_000, interval: 100 },
      );
      await statusShows(dataDir, "0 frames waiting for the server\n");
    } finally {
      await held.stop();
    }
  });
});

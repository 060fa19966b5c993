// The runtime's health end to end: a real runtime whose acks are held (a proxy in front of the server keeps what the
// server sends) has output journalled and unacknowledged; the machine card shows that backlog, `caisey-runtime status`
// against its data dir shows the same figures, and once the acks go through both show it drained.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { RUNTIME, startProc, tcpProxy, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const org = useOrganization();

async function health(machineId: string) {
  return (await org.owner.json(`/api/v1/machines/${machineId}`)).machine.health;
}

async function status(dataDir: string): Promise<string> {
  const proc = startProc([RUNTIME, "status", "--data-dir", dataDir], {});
  expect(await proc.exited).toBe(0);
  return proc.output();
}

/** The outbox line `status` prints, once the running runtime has written this backlog to its status file. */
async function statusShows(dataDir: string, outbox: string): Promise<string> {
  let text = "";
  await vi.waitFor(
    async () => {
      text = await status(dataDir);
      expect(text).toContain(`outbox:      ${outbox}`);
    },
    { timeout: 20_000, interval: 250 },
  );
  return text;
}

describe("runtime health", () => {
  it("the card and `status` show a held backlog, then none once it drains", async () => {
    const proxy = await tcpProxy(org.server.port);
    const runtime = await org.enroll("Contoso Dental", "never", proxy.url);
    const proc = org.start(runtime);
    try {
      await waitOnline(org.owner, runtime.machineId);
      await vi.waitFor(async () => expect(await health(runtime.machineId)).toMatchObject({ backlogFrames: 0 }), {
        timeout: 10_000,
        interval: 100,
      });
      const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId });
      // Writes its 100 000 bytes only when told to, so all of them are written while the acks are held.
      const go = join(tempDir("go"), "go");
      const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
        command: `while [ ! -e '${go}' ]; do sleep 0.05; done; head -c 100000 /dev/zero | tr '\\0' x`,
        shell: "bash",
      });
      // Started, and the runtime has heard that it is recorded: nothing waits.
      await vi.waitFor(
        async () => {
          const { command } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`);
          expect(command.state).toBe("running");
          expect(await health(runtime.machineId)).toMatchObject({ backlogFrames: 0 });
          expect(await status(runtime.dataDir)).toContain("outbox:      0 frames waiting for the server\n");
        },
        { timeout: 20_000, interval: 100 },
      );

      proxy.holdReplies();
      writeFileSync(go, "");
      // The server records the whole command; the runtime hears none of it.
      expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({
        state: "finished",
        stdoutBytes: 100_000,
      });
      let held: any;
      await vi.waitFor(
        async () => {
          held = await health(runtime.machineId);
          expect(held.backlogBytes).toBe(100_000);
        },
        { timeout: 20_000, interval: 100 },
      );
      // Its output frames and its finish.
      expect(held.backlogFrames).toBeGreaterThanOrEqual(2);
      expect(Date.parse(held.oldestAt)).toBeLessThanOrEqual(Date.parse(held.reportedAt));
      const frames = `${held.backlogFrames} frames waiting for the server (100000 bytes of output, the oldest journalled `;
      const text = await statusShows(runtime.dataDir, frames);
      expect(text).toContain("connection:  connected");

      proxy.release();
      await vi.waitFor(
        async () =>
          expect(await health(runtime.machineId)).toMatchObject({ backlogFrames: 0, backlogBytes: 0, oldestAt: null }),
        { timeout: 20_000, interval: 100 },
      );
      await statusShows(runtime.dataDir, "0 frames waiting for the server\n");
    } finally {
      await proc.stop();
      await proxy.close();
    }
  });
});

// A real runtime with output journalled and not acknowledged: a proxy in front of the server holds what the server
// sends (acks among it) while a command writes exactly `bytes` bytes, which the server records in full — as long as
// they fit the runtime's send window: beyond it the runtime waits for acks before it sends more.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, vi } from "vitest";
import { SEND_WINDOW_BYTES } from "../packages/runtime/src/sender.ts";
import { RUNTIME, type Runtime, startProc, tcpProxy, tempDir } from "./helpers.ts";
import { type Organization, waitCommand, waitOnline } from "./organization.ts";

export interface HeldBacklog {
  runtime: Runtime;
  /** Let the held acks through: the backlog drains. */
  release: () => void;
  /** Stop the runtime and the proxy. */
  stop: () => Promise<void>;
}

export async function machineHealth(org: Organization, machineId: string) {
  return (await org.owner.json(`/api/v1/machines/${machineId}`)).machine.health;
}

/** What `caisey-runtime status` prints against a data dir. */
export async function runtimeStatus(dataDir: string): Promise<string> {
  const proc = startProc([RUNTIME, "status", "--data-dir", dataDir], {});
  expect(await proc.exited).toBe(0);
  return proc.output();
}

export async function holdBacklog(org: Organization, client: string, bytes: number): Promise<HeldBacklog> {
  if (bytes >= SEND_WINDOW_BYTES)
    throw new Error(`a held backlog must stay below the send window, ${SEND_WINDOW_BYTES}`);
  const proxy = await tcpProxy(org.server.port);
  const runtime = await org.enroll(client, "never", proxy.url);
  const proc = org.start(runtime);
  const stop = async () => {
    await proc.stop();
    await proxy.close();
  };
  try {
    await waitOnline(org.owner, runtime.machineId);
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: runtime.machineId });
    // Writes its bytes only when told to, so all of them are written while the acks are held.
    const go = join(tempDir("go"), "go");
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: `while [ ! -e '${go}' ]; do sleep 0.05; done; head -c ${bytes} /dev/zero | tr '\\0' x`,
      shell: "bash",
    });
    // Started, and the runtime has heard that it is recorded: nothing waits.
    await vi.waitFor(
      async () => {
        const { command } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`);
        expect(command.state).toBe("running");
        expect(await machineHealth(org, runtime.machineId)).toMatchObject({ backlogFrames: 0 });
        expect(await runtimeStatus(runtime.dataDir)).toContain("outbox:      0 frames waiting for the server\n");
      },
      { timeout: 20_000, interval: 100 },
    );
    proxy.holdReplies();
    writeFileSync(go, "");
    // The server records the whole command; the runtime hears none of it.
    expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({ state: "finished", stdoutBytes: bytes });
    await vi.waitFor(async () => expect((await machineHealth(org, runtime.machineId))?.backlogBytes).toBe(bytes), {
      timeout: 20_000,
      interval: 100,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { runtime, release: proxy.release, stop };
}

// Verify before you close, on real processes: a diagnostic's baseline, a change on the machine, the same diagnostic
// re-run as its verification (now, or as a scheduled re-check that outlives a server restart), and the diff.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fetchRecord, tempDir } from "../helpers.ts";
import { useOrganization, waitCommand } from "../organization.ts";
import { listUnits, NGINX_FAILED, NGINX_RUNNING, UNITS } from "../service-units.ts";

const CLIENT = "Fabrikam Print";
const org = useOrganization({ clients: [{ name: CLIENT, approvalPolicy: "changes", machine: true }] });

/** A session whose first command listed the units while nginx had failed; `file` is where the test fixes it. */
async function baseline() {
  const dir = tempDir("units");
  org.removeLater(dir);
  const file = join(dir, "units.txt");
  writeFileSync(file, UNITS(NGINX_FAILED));
  const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
  // A `systemctl list-units` that reads the state from a file the test changes, so the fix is the test's to make.
  const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
    command: listUnits(file),
    shell: "bash",
  });
  expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({ state: "finished", exitCode: 3 });
  return { sessionId, baselineId: commandId as string, file };
}

describe("verify before you close", () => {
  it("baseline → change → verify now: the diff shows the change, row by row", async () => {
    const { sessionId, baselineId, file } = await baseline();

    writeFileSync(file, UNITS(NGINX_RUNNING)); // the fix
    const { commandId, state } = await org.owner.json(
      `/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`,
      {},
    );
    expect(state).toBe("queued");
    expect(await waitCommand(org.owner, sessionId, commandId)).toMatchObject({
      state: "finished",
      exitCode: 0,
      verifies: baselineId,
    });

    const diff = await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${baselineId}/diff?against=${commandId}`);
    expect(diff).toMatchObject({
      changed: true,
      summary: { added: 1, removed: 1 },
      exitCode: { before: 3, after: 0, changed: true },
      stderr: { changed: true, summary: { added: 0, removed: 1 } },
      view: { kind: "table", keyColumn: "UNIT", rows: [{ key: "nginx.service", change: "changed" }] },
    });
    expect(diff.hunks[0].lines.filter((l: any) => l.op !== "same").map((l: any) => [l.op, l.text])).toEqual([
      ["removed", NGINX_FAILED],
      ["added", NGINX_RUNNING],
    ]);
    const { events } = await fetchRecord(org.owner, sessionId);
    expect(events.find((e) => e.type === "command.requested" && e.data.commandId === commandId).data.verifies).toBe(
      baselineId,
    );
  });

  it("a scheduled re-check runs after the server is restarted", async () => {
    const { sessionId, baselineId, file } = await baseline();
    writeFileSync(file, UNITS(NGINX_RUNNING));

    const at = new Date(Date.now() + 4000).toISOString();
    const scheduled = await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, { at });
    expect(scheduled).toMatchObject({ state: "scheduled", at });
    await org.server.stop();
    await org.server.restart();

    // The check's own command id: it appears in the record once due, runs on the machine, and verifies the baseline.
    const ran = await waitCommand(org.owner, sessionId, scheduled.commandId, 60_000);
    expect(ran).toMatchObject({ state: "finished", exitCode: 0, verifies: baselineId });
    const { events } = await fetchRecord(org.owner, sessionId);
    const types = events.filter((e) => e.data?.commandId === scheduled.commandId || e.type === "check.scheduled");
    expect(types.map((e) => e.type).slice(0, 2)).toEqual(["check.scheduled", "command.requested"]);
    expect(types[0].data).toMatchObject({ commandId: baselineId, at, checkCommandId: scheduled.commandId });
    expect(Date.parse(types[1].ts)).toBeGreaterThanOrEqual(Date.parse(at));
    const diff = await org.owner.json(
      `/api/v1/sessions/${sessionId}/commands/${scheduled.commandId}/diff?against=${baselineId}`,
    );
    expect(diff).toMatchObject({ changed: true, before: { commandId: baselineId }, after: { commandId: ran.id } });
  });

  it("diffs a 50 MiB output: figures for the whole, hunks a page at a time", async () => {
    const dir = tempDir("big");
    org.removeLater(dir);
    const file = join(dir, "events.log");
    const line = (i: number, state = "ok") =>
      `${String(i).padStart(9, "0")} ${"Spooler heartbeat ".repeat(4)}${state}`.padEnd(99);
    const count = (50 * 1024 * 1024) / 100; // 100-byte lines
    const text = (changed: Set<number>) =>
      Array.from({ length: count }, (_, i) => `${line(i, changed.has(i) ? "FAIL" : "ok")}\n`).join("");
    writeFileSync(file, text(new Set()));
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
    const { commandId: baselineId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: `cat ${file}`,
      shell: "bash",
    });
    expect(await waitCommand(org.owner, sessionId, baselineId, 180_000)).toMatchObject({
      stdoutBytes: 50 * 1024 * 1024,
    });
    const changed = new Set([7, 262_144, count - 2]);
    writeFileSync(file, text(changed));
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands/${baselineId}/verify`, {});
    await waitCommand(org.owner, sessionId, commandId, 180_000);

    const diff = await org.owner.json(
      `/api/v1/sessions/${sessionId}/commands/${baselineId}/diff?against=${commandId}&hunk=1&hunks=1`,
    );
    expect(diff).toMatchObject({
      changed: true,
      approximate: false,
      summary: { added: 3, removed: 3 },
      hunkCount: 3,
      before: { bytes: 50 * 1024 * 1024, lines: count },
      after: { bytes: 50 * 1024 * 1024, lines: count },
      view: null, // the row/field view needs both texts whole: only up to 1 MiB
      page: { hunk: 1, hunks: 1 },
    });
    expect(diff.hunks).toHaveLength(1);
    expect(diff.hunks[0].lines.filter((l: any) => l.op !== "same")).toEqual([
      { op: "removed", text: line(262_144), before: 262_145 },
      { op: "added", text: line(262_144, "FAIL"), after: 262_145 },
    ]);
  }, 600_000);
});

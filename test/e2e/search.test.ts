// Search over real sessions: what a real runtime ran and printed is found, scoped to the tenant and the contact's
// client; and the index catches up after the server is killed between recording and indexing.

import { describe, expect, it, vi } from "vitest";
import type { Api } from "../helpers.ts";
import { useOrganization, waitCommand, waitOnline } from "../organization.ts";

const org = useOrganization({
  // The index feed waits a minute after each append, so a kill lands while the index is behind the record.
  env: { CAISEY_INDEX_DELAY_MS: "60000" },
  clients: [{ name: "Contoso Dental", approvalPolicy: "never", machine: true }],
});
const INDEXING = { timeout: 30_000, interval: 250 };

const search = async (as: Api, q: string) =>
  (await as.json(`/api/v1/search?q=${encodeURIComponent(q)}`)).results as any[];

describe("search", () => {
  it("catches up after the server is killed between record and index, and finds commands, output and chat", async () => {
    const word = `zebra${Date.now().toString(36)}`;
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", {
      machineId: org.runtime.machineId,
      ticket: "INC-77",
    });
    const { commandId } = await org.owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: `echo spooler-${word}-ok; exit 2`,
      shell: "bash",
    });
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: `Printer ${word} works again` });
    await waitCommand(org.owner, sessionId, commandId);
    // Recorded, not yet indexed.
    expect(await search(org.owner, word)).toEqual([]);
    await org.server.kill9();
    await org.server.restart({});
    await waitOnline(org.owner, org.runtime.machineId);
    // Without anyone touching the session, its durable alarm pushes the record to the index within seconds.
    const found = await vi.waitFor(async () => {
      const results = await search(org.owner, word);
      expect(results.length, "the index to catch up").toBeGreaterThanOrEqual(3);
      return results;
    }, INDEXING);
    expect(new Set(found.map((r) => r.kind))).toEqual(new Set(["command", "output", "chat"]));
    for (const r of found)
      expect(r).toMatchObject({ sessionId, machineId: org.runtime.machineId, clientId: org.runtime.clientId });
    const command = found.find((r) => r.kind === "command");
    expect(command).toMatchObject({ commandId, exitCode: 2 });
    // Filters: non-zero exit keeps the command and its output, kind narrows.
    const failed = (await org.owner.json(`/api/v1/search?q=${word}&exit=nonzero`)).results;
    expect(new Set(failed.map((r: any) => r.kind))).toEqual(new Set(["command", "output"]));
    expect((await org.owner.json(`/api/v1/search?q=${word}&kind=chat`)).results.map((r: any) => r.kind)).toEqual([
      "chat",
    ]);
  });

  it("lets a contact find only their own client's sessions", async () => {
    const word = `okapi${Date.now().toString(36)}`;
    const other = await org.enroll("Litware Law", "never");
    await org.owner.json(`/api/v1/clients/${org.runtime.clientId}/contacts`, {
      name: "Carol",
      email: "carol@contoso.test",
      password: "correct horse battery staple",
    });
    const mine = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
    const theirs = await org.owner.json("/api/v1/sessions", { machineId: other.machineId });
    await org.owner.json(`/api/v1/sessions/${mine.id}/messages`, { text: `${word} for Contoso` });
    await org.owner.json(`/api/v1/sessions/${theirs.id}/messages`, { text: `${word} for Litware` });
    const carol = await org.login("carol@contoso.test", "correct horse battery staple");
    // Since the restart the feed runs with its normal delay: wait for both to be indexed.
    await expect
      .poll(async () => (await search(org.owner, word)).length, { ...INDEXING, message: "both messages indexed" })
      .toBe(2);
    const seen = await search(carol, word);
    expect(seen.map((r) => r.sessionId)).toEqual([mine.id]);
    // Asking for the other client explicitly changes nothing.
    expect((await carol.json(`/api/v1/search?q=${word}&clientId=${other.clientId}`)).results).toEqual([]);
  });
  it("finds a session's documents under the technician it was handed over to, and no longer under the first", async () => {
    const word = `quokka${Date.now().toString(36)}`;
    const { id: bobId } = await org.owner.json("/api/v1/users", {
      name: "Bob Brown",
      email: "bob@northwind.test",
      role: "technician",
      password: "correct horse battery staple",
    });
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: `${word} before the hand-over` });
    const [before] = await vi.waitFor(async () => {
      const results = await search(org.owner, word);
      expect(results, "the message indexed").toHaveLength(1);
      return results;
    }, INDEXING);
    const ownerId = before.technicianId as string;
    expect(ownerId).not.toBe(bobId);
    await org.owner.json(`/api/v1/sessions/${sessionId}/assign`, { technicianId: bobId });
    await org.owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: `${word} after the hand-over` });
    const byTechnician = async (technicianId: string) =>
      (await org.owner.json(`/api/v1/search?q=${word}&technicianId=${technicianId}`)).results.map(
        (r: any) => r.snippet,
      );
    const bobs = await vi.waitFor(async () => {
      const found = await byTechnician(bobId);
      expect(found, "both messages under Bob").toHaveLength(2);
      return found;
    }, INDEXING);
    expect(bobs).toEqual([`${word} after the hand-over`, `${word} before the hand-over`]);
    expect(await byTechnician(ownerId)).toEqual([]);
    expect((await search(org.owner, word)).map((r) => r.technicianId)).toEqual([bobId, bobId]);
  });
});

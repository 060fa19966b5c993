// Search over real sessions: what a real runtime ran and printed is found, scoped to the tenant and the contact's
// client; and the index catches up after the server is killed between recording and indexing.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  enrollRuntime,
  login,
  type Proc,
  type Runtime,
  type Server,
  setupOrganization,
  startServer,
  waitCommand,
  waitFor,
  waitOnline,
} from "../helpers.ts";

let server: Server;
let owner: Api;
let runtime: Runtime;
let proc: Proc;

beforeAll(async () => {
  // The index feed waits a minute after each append, so a kill lands while the index is behind the record.
  server = await startServer({ env: { CAISEY_INDEX_DELAY_MS: "60000" } });
  owner = await setupOrganization(server.url);
  runtime = await enrollRuntime(server.url, owner, "Contoso Dental", "never");
  proc = runtime.start();
  await waitOnline(owner, runtime.machineId);
});

afterAll(async () => {
  await proc?.stop();
  await server?.stop();
});

const search = async (as: Api, q: string) =>
  (await as.json(`/api/v1/search?q=${encodeURIComponent(q)}`)).results as any[];

describe("search", () => {
  it("catches up after the server is killed between record and index, and finds commands, output and chat", async () => {
    const word = `zebra${Date.now().toString(36)}`;
    const { id: sessionId } = await owner.json("/api/v1/sessions", { machineId: runtime.machineId, ticket: "INC-77" });
    const { commandId } = await owner.json(`/api/v1/sessions/${sessionId}/commands`, {
      command: `echo spooler-${word}-ok; exit 2`,
      shell: "bash",
    });
    await owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: `Printer ${word} works again` });
    await waitCommand(owner, sessionId, commandId);
    // Recorded, not yet indexed.
    expect(await search(owner, word)).toEqual([]);
    await server.kill9();
    await server.restart({});
    await waitOnline(owner, runtime.machineId);
    // Without anyone touching the session, its durable alarm pushes the record to the index within seconds.
    const found = await waitFor(
      async () => {
        const results = await search(owner, word);
        return results.length >= 3 ? results : null;
      },
      "the index to catch up",
      30_000,
      250,
    );
    expect(new Set(found.map((r) => r.kind))).toEqual(new Set(["command", "output", "chat"]));
    for (const r of found)
      expect(r).toMatchObject({ sessionId, machineId: runtime.machineId, clientId: runtime.clientId });
    const command = found.find((r) => r.kind === "command");
    expect(command).toMatchObject({ commandId, exitCode: 2 });
    // Filters: non-zero exit keeps the command and its output, kind narrows.
    const failed = (await owner.json(`/api/v1/search?q=${word}&exit=nonzero`)).results;
    expect(new Set(failed.map((r: any) => r.kind))).toEqual(new Set(["command", "output"]));
    expect((await owner.json(`/api/v1/search?q=${word}&kind=chat`)).results.map((r: any) => r.kind)).toEqual(["chat"]);
  });

  it("lets a contact find only their own client's sessions", async () => {
    const word = `okapi${Date.now().toString(36)}`;
    const other = await enrollRuntime(server.url, owner, "Litware Law", "never");
    await owner.json(`/api/v1/clients/${runtime.clientId}/contacts`, {
      name: "Carol",
      email: "carol@contoso.test",
      password: "correct horse battery staple",
    });
    const mine = await owner.json("/api/v1/sessions", { machineId: runtime.machineId });
    const theirs = await owner.json("/api/v1/sessions", { machineId: other.machineId });
    await owner.json(`/api/v1/sessions/${mine.id}/messages`, { text: `${word} for Contoso` });
    await owner.json(`/api/v1/sessions/${theirs.id}/messages`, { text: `${word} for Litware` });
    const carol = await login(server.url, "carol@contoso.test", "correct horse battery staple");
    // Since the restart the feed runs with its normal delay: wait for both to be indexed.
    await waitFor(async () => (await search(owner, word)).length === 2, "both messages indexed", 30_000, 250);
    const seen = await search(carol, word);
    expect(seen.map((r) => r.sessionId)).toEqual([mine.id]);
    // Asking for the other client explicitly changes nothing.
    expect((await carol.json(`/api/v1/search?q=${word}&clientId=${other.clientId}`)).results).toEqual([]);
  });
  it("finds a session's documents under the technician it was handed over to, and no longer under the first", async () => {
    const word = `quokka${Date.now().toString(36)}`;
    const { id: bobId } = await owner.json("/api/v1/users", {
      name: "Bob Brown",
      email: "bob@northwind.test",
      role: "technician",
      password: "correct horse battery staple",
    });
    const { id: sessionId } = await owner.json("/api/v1/sessions", { machineId: runtime.machineId });
    await owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: `${word} before the hand-over` });
    const [before] = await waitFor(
      async () => {
        const results = await search(owner, word);
        return results.length === 1 ? results : null;
      },
      "the message indexed",
      30_000,
      250,
    );
    const ownerId = before.technicianId as string;
    expect(ownerId).not.toBe(bobId);
    await owner.json(`/api/v1/sessions/${sessionId}/assign`, { technicianId: bobId });
    await owner.json(`/api/v1/sessions/${sessionId}/messages`, { text: `${word} after the hand-over` });
    const byTechnician = async (technicianId: string) =>
      (await owner.json(`/api/v1/search?q=${word}&technicianId=${technicianId}`)).results.map((r: any) => r.snippet);
    const bobs = await waitFor(
      async () => {
        const found = await byTechnician(bobId);
        return found.length === 2 ? found : null;
      },
      "both messages under Bob",
      30_000,
      250,
    );
    expect(bobs).toEqual([`${word} after the hand-over`, `${word} before the hand-over`]);
    expect(await byTechnician(ownerId)).toEqual([]);
    expect((await search(owner, word)).map((r) => r.technicianId)).toEqual([bobId, bobId]);
  });
});

// Upgrading in place: each object opened over the schema of the release before, with data in it, keeps reading that
// data; the Tenant hands its machines, sessions, timeline and approvals to the Fleet exactly once; and an object
// whose applied migrations disagree with its code refuses to start, saying why.

import { env, runInDurableObject } from "cloudflare:test";
import { newId } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { directory, fleet, machine, tenant } from "../src/env.ts";
import { migrate } from "../src/migrations.ts";
import { DIRECTORY_MIGRATIONS, Directory } from "../src/objects/directory.ts";
import { FLEET_MIGRATIONS, Fleet } from "../src/objects/fleet.ts";
import { MACHINE_MIGRATIONS, type Machine } from "../src/objects/machine.ts";
import { TENANT_MIGRATIONS, Tenant } from "../src/objects/tenant.ts";
import { previousRelease } from "./harness.ts";

// (The SearchIndex's upgrades with data are in search.test.ts: "migrates a shard indexed before fact tags" and
// "upgrades a shard with forwards still pending under its previous schema".)

const T0 = "2026-03-01T09:00:00.000Z";

describe("migrations are checked by name at start", () => {
  it("refuses a database whose applied migrations were renamed, reordered or are unknown to the code", async () => {
    await runInDurableObject(machine(env, newId("mch")), async (_instance: Machine, state) => {
      await previousRelease(state, FLEET_MIGRATIONS, 1);
      const renamed = [{ ...(FLEET_MIGRATIONS[0] as { sql: string }), name: "machines and sessions" }];
      expect(() => migrate(state.storage, renamed)).toThrow(
        'schema migrations do not match: migration 1 was applied as "machines, sessions, timeline of changes, approvals, names of clients and people" but the code lists "machines and sessions" there: shipped migrations are never edited or reordered',
      );
      migrate(state.storage, FLEET_MIGRATIONS);
      expect(() => migrate(state.storage, [...FLEET_MIGRATIONS].reverse())).toThrow(/migration 1 was applied as/);
      expect(() => migrate(state.storage, FLEET_MIGRATIONS.slice(0, 1))).toThrow(
        `schema migrations do not match: the database has ${FLEET_MIGRATIONS.length} migrations applied but the code knows only 1`,
      );
      // The same list again is a no-op.
      migrate(state.storage, FLEET_MIGRATIONS);
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM _migrations").one().n).toBe(FLEET_MIGRATIONS.length);
    });
  });
});

describe("upgrading each object from its previous schema, with data", () => {
  it("Tenant: keeps people and clients, hands machines, sessions, the timeline and approvals to the Fleet once, and moves webhook deliveries into the outbox", async () => {
    const tenantId = newId("ten");
    const [owner, tech, contact] = [newId("usr"), newId("usr"), newId("usr")];
    const [clientX, machineM, sessionS, approvalA, hook] = [
      newId("cli"),
      newId("mch"),
      newId("ses"),
      newId("apr"),
      newId("whk"),
    ];
    const commandC = newId("cmd");
    await runInDurableObject(tenant(env, tenantId), async (_instance: Tenant, state) => {
      await previousRelease(state, TENANT_MIGRATIONS, 5, (sql) => {
        sql.exec("INSERT INTO organization (id, name, created_at) VALUES (?, 'Northwind IT', ?)", tenantId, T0);
        for (const [id, name, role, client] of [
          [owner, "Olivia Owner", "owner", null],
          [tech, "Tess Tech", "technician", null],
          [contact, "Carol Contoso", "contact", clientX],
        ])
          sql.exec(
            "INSERT INTO users (id, name, email, role, password_hash, client_id, created_at) VALUES (?, ?, ?, ?, 'x', ?, ?)",
            id,
            name,
            `${id}@a.test`,
            role,
            client,
            T0,
          );
        sql.exec(
          "INSERT INTO clients (id, name, approval_policy, created_at) VALUES (?, 'Contoso Dental', 'changes', ?)",
          clientX,
          T0,
        );
        sql.exec(
          `INSERT INTO machines (id, client_id, hostname, os, os_version, arch, runtime_version, public_key, enrolled_at,
             last_seen_at, online, presence_at, last_user) VALUES (?, ?, 'FRONTDESK-01', 'linux', '6.1', 'x64', '0.1.0', 'pk', ?, ?, 0, ?, 'carol')`,
          machineM,
          clientX,
          T0,
          T0,
          T0,
        );
        sql.exec(
          `INSERT INTO sessions (id, machine_id, client_id, technician_id, ticket, state, opened_at, command_count, failed_count,
             head_seq, approval_count) VALUES (?, ?, ?, ?, 'T-1', 'closed', ?, 3, 1, 12, 1)`,
          sessionS,
          machineM,
          clientX,
          tech,
          T0,
        );
        sql.exec(
          `INSERT INTO machine_changes (command_id, machine_id, session_id, command, shell, requested_by, started_at, state, exit_code,
             approval_id) VALUES (?, ?, ?, 'touch /tmp/x', 'bash', ?, ?, 'finished', 0, ?)`,
          commandC,
          machineM,
          sessionS,
          tech,
          T0,
          approvalA,
        );
        sql.exec(
          `INSERT INTO approvals (id, session_id, command_id, client_id, machine_id, hostname, command, shell, summary, requested_by,
             requested_at, expires_at, state, decided_by, decided_at, comment)
           VALUES (?, ?, ?, ?, ?, 'FRONTDESK-01', 'touch /tmp/x', 'bash', 'Creates a file', ?, ?, ?, 'granted', ?, ?, 'ok')`,
          approvalA,
          sessionS,
          commandC,
          clientX,
          machineM,
          tech,
          T0,
          T0,
          contact,
          T0,
        );
        sql.exec(
          "INSERT INTO webhooks (id, url, secret, events, created_by, created_at) VALUES (?, 'http://127.0.0.1:9/hook', 'whsec_AAAA', '[\"approval.requested\"]', ?, ?)",
          hook,
          owner,
          T0,
        );
        sql.exec(
          "INSERT INTO webhook_deliveries (id, webhook_id, event, body, attempts, next_at, delivered_at, last_error) VALUES ('msg_1', ?, 'approval.requested', '{}', 1, 0, ?, NULL)",
          hook,
          T0,
        );
        sql.exec(
          "INSERT INTO webhook_deliveries (id, webhook_id, event, body, attempts, next_at, delivered_at, last_error) VALUES ('msg_2', ?, 'approval.granted', '{}', 10, 0, NULL, 'HTTP 500')",
          hook,
        );
      });
      // The new release opens the same storage.
      const upgraded = new Tenant(state, env);
      await state.blockConcurrencyWhile(async () => {});
      expect(upgraded.organization()).toEqual({ id: tenantId, name: "Northwind IT" });
      expect(upgraded.listPeople({ contacts: false }).map((p) => p.name)).toEqual(["Olivia Owner", "Tess Tech"]);
      expect(upgraded.listClients()).toEqual([{ id: clientX, name: "Contoso Dental", approvalPolicy: "changes" }]);
      expect(upgraded.webhookDeliveries(10)).toEqual([
        {
          id: "msg_2",
          webhookId: hook,
          event: "approval.granted",
          attempts: 10,
          deliveredAt: null,
          lastError: "HTTP 500",
        },
        { id: "msg_1", webhookId: hook, event: "approval.requested", attempts: 1, deliveredAt: T0, lastError: null },
      ]);
      // Every handed-over row reached the Fleet, and the given-up delivery is not retried.
      expect(
        state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL AND given_up = 0").one().n,
      ).toBe(0);
    });

    const f = fleet(env, tenantId);
    expect(await f.listMachines()).toEqual([
      {
        id: machineM,
        hostname: "FRONTDESK-01",
        clientId: clientX,
        clientName: "Contoso Dental",
        os: "linux",
        osVersion: "6.1",
        arch: "x64",
        runtimeVersion: "0.1.0",
        online: false,
        lastSeenAt: T0,
        enrolledAt: T0,
        revoked: false,
        lastUser: "carol",
        health: null, // no runtime has reported since
      },
    ]);
    expect(await f.listSessions({ limit: 10 })).toEqual([
      {
        id: sessionS,
        machineId: machineM,
        clientId: clientX,
        technicianId: tech,
        ticket: "T-1",
        state: "closed",
        openedAt: T0,
        closedAt: null,
        commandCount: 3,
        failedCount: 1,
        approvalCount: 1,
        returns: 0,
      },
    ]);
    expect(await f.machineChanges(machineM, 10)).toEqual([
      {
        commandId: commandC,
        sessionId: sessionS,
        command: "touch /tmp/x",
        shell: "bash",
        requestedBy: tech,
        requestedByName: "Tess Tech",
        startedAt: T0,
        state: "finished",
        exitCode: 0,
        approvalId: approvalA,
      },
    ]);
    expect(await f.getApproval(approvalA, clientX)).toMatchObject({
      id: approvalA,
      clientName: "Contoso Dental",
      requestedByName: "Tess Tech",
      decidedByName: "Carol Contoso",
      state: "granted",
      comment: "ok",
    });

    // Handed over once: delivering the whole hand-over again changes nothing (the Fleet's receipt says it has it).
    await runInDurableObject(tenant(env, tenantId), async (_instance: Tenant, state) => {
      const again = state.storage.sql
        .exec<{ seq: number; kind: string; key: string; payload: string }>(
          "SELECT seq, kind, key, payload FROM outbox WHERE target = ? ORDER BY seq",
          `fleet:${tenantId}`,
        )
        .toArray();
      expect(again.map((e) => e.kind)).toEqual([
        "handover.clients",
        "handover.people",
        "handover.people",
        "handover.people",
        "handover.machines",
        "handover.sessions",
        "handover.machine_changes",
        "handover.approvals",
      ]);
      expect(await fleet(env, tenantId).receive(`tenant:${tenantId}`, again)).toEqual({
        ok: true,
        value: { applied: 0 },
      });
    });
    expect((await f.listMachines()).length).toBe(1);
  });

  it("Fleet: opened over its first schema with data, it keeps every list", async () => {
    const tenantId = newId("ten");
    const [clientX, machineM] = [newId("cli"), newId("mch")];
    await runInDurableObject(fleet(env, tenantId), async (_instance: Fleet, state) => {
      await previousRelease(state, FLEET_MIGRATIONS, 1, (sql) => {
        sql.exec("INSERT INTO fleet (id, tenant_id) VALUES (1, ?)", tenantId);
        sql.exec("INSERT INTO clients (id, name) VALUES (?, 'Contoso Dental')", clientX);
        sql.exec(
          `INSERT INTO machines (id, client_id, hostname, os, os_version, arch, runtime_version, public_key, enrolled_at)
           VALUES (?, ?, 'FRONTDESK-01', 'windows', '11', 'x64', '0.1.0', 'pk', ?)`,
          machineM,
          clientX,
          T0,
        );
        sql.exec(
          `INSERT INTO approvals (id, session_id, command_id, client_id, machine_id, hostname, command, shell, summary,
             requested_by, requested_at, expires_at, state) VALUES ('apr_old', 'ses_old', 'cmd_old', ?, ?, 'FRONTDESK-01',
             'Stop-Service Spooler', 'powershell', 'Stop the Print Spooler service', 'usr_t', ?, ?, 'granted')`,
          clientX,
          machineM,
          T0,
          T0,
        );
      });
      const upgraded = new Fleet(state, env);
      expect(upgraded.listMachines(clientX).map((m) => [m.id, m.clientName, m.os])).toEqual([
        [machineM, "Contoso Dental", "windows"],
      ]);
      // an approval from before approvals carried a reason: none, and its changes read from its command
      expect(upgraded.getApproval("apr_old", clientX)).toMatchObject({
        state: "granted",
        reason: null,
        changes: [{ kind: "change", text: "Stop the Print Spooler service" }],
      });
    });
  });

  it("Machine: opened over its previous schema with an identity, it still knows the machine", async () => {
    const machineId = newId("mch");
    await runInDurableObject(machine(env, machineId), async (_instance: Machine, state) => {
      await previousRelease(state, MACHINE_MIGRATIONS, MACHINE_MIGRATIONS.length, (sql) => {
        sql.exec(
          "INSERT INTO identity (id, tenant_id, client_id, public_key, enrolled_at) VALUES (?, 'ten_x', 'cli_x', 'pk', ?)",
          machineId,
          T0,
        );
      });
      migrate(state.storage, MACHINE_MIGRATIONS);
    });
    // Known and not revoked: the connect door answers with a socket, not "unknown machine".
    const res = await machine(env, machineId).fetch(
      new Request("https://machine/connect", { headers: { upgrade: "websocket" } }),
    );
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close(1000, "done");
  });

  it("Directory: opened over its previous schema with an organization and a locked account, it still signs the email in there", async () => {
    await runInDurableObject(directory(env), async (_instance: Directory, state) => {
      await previousRelease(state, DIRECTORY_MIGRATIONS, 2, (sql) => {
        sql.exec("INSERT INTO tenants (id, name, created_at, via) VALUES ('ten_old', 'Northwind IT', ?, 'setup')", T0);
        sql.exec("INSERT INTO emails (email, tenant_id) VALUES ('owner@old.test', 'ten_old')");
        // A 15-minute lock of the release before: it goes with the table, and the account is admitted.
        sql.exec(
          "INSERT INTO throttle (key, failures, window_start, locked_until) VALUES ('account:owner@old.test', 5, ?, ?)",
          Date.now(),
          Date.now() + 900_000,
        );
      });
    });
    await runInDurableObject(directory(env), async (_instance: Directory, state) => {
      const upgraded = new Directory(state, env);
      expect(upgraded.tenantForEmail("owner@old.test")).toBe("ten_old");
      expect(upgraded.setupRequired()).toBe(false);
      expect(upgraded.admitAttempt(["account:owner@old.test"])).toBe(0);
    });
  });
});

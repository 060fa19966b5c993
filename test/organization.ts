// The one fixture of the end-to-end and console suites: a real server, the MSP's organization with its owner, the people
// and clients a file asks for, and enrolled runtimes, started and online. One per test file (its tests are a story that
// builds on itself), stopped and removed when the file ends. Also what those tests wait on, through vitest's polling.

import { afterAll, beforeAll, expect, vi } from "vitest";
import {
  type Api,
  enrollRuntime,
  fetchRecord,
  isOnline,
  login,
  OWNER,
  type Proc,
  type Runtime,
  removeDir,
  type Server,
  setupOrganization,
  startServer,
} from "./helpers.ts";

export type ApprovalPolicy = "always" | "changes" | "never";

export interface Person {
  name: string;
  email: string;
  password: string;
}

export interface ClientSpec {
  name: string;
  approvalPolicy?: ApprovalPolicy;
  contacts?: Person[];
  /** Enroll a runtime for this client, start it and wait until it is online. */
  machine?: boolean;
}

export interface OrganizationOptions {
  /** Settings of the server (the environment of `npm start`). */
  env?: Record<string, string>;
  /** Set the organization up with its owner (OWNER) through the API; false for a test that goes through setup itself. */
  setUp?: boolean;
  technicians?: Person[];
  dispatchers?: Person[];
  clients?: ClientSpec[];
  /** The organization's settings (`PUT /api/v1/settings`: close policy, callback window…), set before anything else. */
  settings?: Record<string, unknown>;
}

export interface Machine extends Runtime {
  /** The running runtime; a test that kills or stops it starts the next one with `organization.start`. */
  proc: Proc;
}

export interface Organization {
  readonly server: Server;
  /** The owner, signed in (unless `setUp: false`). */
  readonly owner: Api;
  /** Ids of the people the fixture added, by email. */
  readonly personId: Record<string, string>;
  /** Ids of the clients the fixture added, by name. */
  readonly clientId: Record<string, string>;
  /** The started machine of a client the fixture enrolled one for. */
  machine: (client: string) => Machine;
  /** The first of them (most files have one). */
  readonly runtime: Machine;
  /** Sign in one of the fixture's people (or anyone, given the password). */
  login: (email: string, password?: string) => Promise<Api>;
  /** Create a client and enroll a runtime for it (not started, in `dataDir` or a new one); removed when the file ends. */
  enroll: (client?: string, approvalPolicy?: ApprovalPolicy, serverUrl?: string, dataDir?: string) => Promise<Runtime>;
  /** Start a runtime; stopped when the file ends. */
  start: (runtime: Runtime) => Proc;
  /** Remove this directory when the file ends. */
  removeLater: (dir: string) => void;
}

/** Registers the file's beforeAll/afterAll and returns the organization they set up and tear down. */
export function useOrganization(options: OrganizationOptions = {}): Organization {
  let server: Server | undefined;
  let owner: Api | undefined;
  const procs: Proc[] = [];
  const dirs: string[] = [];
  const passwords = new Map<string, string>([[OWNER.email, OWNER.password]]);
  const machines = new Map<string, Machine>();
  const personId: Record<string, string> = {};
  const clientId: Record<string, string> = {};
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the organization's ${what} is not set up (yet)`);
    return value;
  };

  const organization: Organization = {
    get server() {
      return started(server, "server");
    },
    get owner() {
      return started(owner, "owner");
    },
    personId,
    clientId,
    machine: (client) => started(machines.get(client), `machine of ${client}`),
    get runtime() {
      return started(machines.values().next().value, "machine");
    },
    login: (email, password) => login(organization.server.url, email, password ?? passwords.get(email)),
    enroll: async (
      client = "Contoso Dental",
      approvalPolicy = "changes",
      serverUrl = organization.server.url,
      dataDir,
    ) => {
      const runtime = await enrollRuntime(serverUrl, organization.owner, client, approvalPolicy, dataDir);
      dirs.push(runtime.dataDir);
      return runtime;
    },
    start: (runtime) => {
      const proc = runtime.start();
      procs.push(proc);
      return proc;
    },
    removeLater: (dir) => {
      dirs.push(dir);
    },
  };

  const addPerson = async (path: string, person: Person, extra: object = {}) => {
    passwords.set(person.email, person.password);
    personId[person.email] = (await organization.owner.json<{ id: string }>(path, { ...person, ...extra })).id;
  };

  beforeAll(async () => {
    server = await startServer({ env: options.env });
    dirs.push(server.dataDir);
    if (options.setUp === false) return;
    owner = await setupOrganization(server.url);
    if (options.settings) {
      const res = await owner.put("/api/v1/settings", options.settings);
      if (!res.ok) throw new Error(`settings ${res.status}: ${await res.text()}`);
    }
    for (const technician of options.technicians ?? []) {
      await addPerson("/api/v1/users", technician, { role: "technician" });
    }
    for (const dispatcher of options.dispatchers ?? []) {
      await addPerson("/api/v1/users", dispatcher, { role: "dispatcher" });
    }
    for (const client of options.clients ?? []) {
      const policy = client.approvalPolicy ?? "changes";
      if (client.machine) {
        const runtime = await organization.enroll(client.name, policy);
        clientId[client.name] = runtime.clientId;
        machines.set(client.name, { ...runtime, proc: organization.start(runtime) });
      } else {
        clientId[client.name] = (
          await owner.json<{ id: string }>("/api/v1/clients", { name: client.name, approvalPolicy: policy })
        ).id;
      }
      for (const contact of client.contacts ?? []) {
        await addPerson(`/api/v1/clients/${clientId[client.name]}/contacts`, contact);
      }
    }
    for (const machine of machines.values()) await waitOnline(owner, machine.machineId);
  });

  afterAll(async () => {
    for (const proc of procs.reverse()) await proc.stop();
    await server?.stop();
    for (const dir of dirs) removeDir(dir);
  });

  return organization;
}

/** Wait until the machine list shows the machine online (or offline). Works in hooks as well as in tests. */
export async function waitOnline(owner: Api, machineId: string, online = true): Promise<void> {
  await vi.waitFor(
    async () => {
      if ((await isOnline(owner, machineId)) !== online) throw new Error(`not ${online ? "online" : "offline"}`);
    },
    { timeout: 20_000, interval: 50, message: `machine ${machineId} ${online ? "online" : "offline"}` },
  );
}

const FINAL = ["finished", "failed", "cancelled", "timed_out", "interrupted", "declined"];

/** Wait until a command reaches a final state and return it. */
export function waitCommand(as: Api, sessionId: string, commandId: string, timeoutMs = 30_000): Promise<any> {
  return vi.waitFor(
    async () => {
      const { command } = await as.json(`/api/v1/sessions/${sessionId}/commands/${commandId}`);
      if (!FINAL.includes(command.state)) throw new Error(`still ${command.state}`);
      return command;
    },
    { timeout: timeoutMs, interval: 50, message: `command ${commandId} to finish` },
  );
}

/** Run a command in a session and wait for it to end; returns the finished command. */
export async function runToEnd(as: Api, sessionId: string, command: string): Promise<any> {
  const { commandId } = await as.json(`/api/v1/sessions/${sessionId}/commands`, { command, shell: "bash" });
  return waitCommand(as, sessionId, commandId);
}

/**
 * The session holds the command for the client's approval: its record asks for the approval and nothing has been
 * dispatched or started (a positive fact of the record, where a wait would only show that nothing happened yet).
 */
export async function expectHeldForApproval(as: Api, sessionId: string, commandId: string): Promise<void> {
  const { events } = await fetchRecord(as, sessionId);
  const about = events.filter((e) => e.data?.commandId === commandId).map((e) => e.type);
  expect(about).toEqual(["command.requested", "approval.requested"]);
}

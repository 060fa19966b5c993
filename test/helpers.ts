// Real processes for end-to-end tests: the server (`npm start`'s script: the Worker bundle in workerd) on a free port with a
// temporary data dir, and runtimes enrolled into temporary dirs. Every process gets its own process group so a test
// can kill it (and everything it spawned) the way a crash would. Plain Node (no vitest): the benchmarks use it too.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RUNTIME_NODE_FLAGS } from "../packages/runtime/src/service.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = process.execPath;
/** The runtime bundle `npm run build` makes, the real CLI the tests run. */
export const RUNTIME = join(ROOT, "packages/runtime/dist/caisey-runtime.mjs");

/**
 * The V8 heap settings `npm run runtime` starts the runtime with (package.json; a test keeps the two equal), the same
 * the service runs it with: a small young generation and an old-generation ceiling keep its memory near 120 MB while
 * output streams, instead of ~180.
 */
export { RUNTIME_NODE_FLAGS } from "../packages/runtime/src/service.ts";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `caisey-${prefix}-`));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** A child process in its own process group; output kept for diagnostics. */
export interface Proc {
  child: ChildProcess;
  output: () => string;
  /**
   * Resolves with the first match of `pattern` in the output written after character `from` (see `output().length`);
   * rejects if the process exits first, or after `timeoutMs`.
   */
  waitForLog: (pattern: RegExp, from?: number, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** Graceful stop (SIGTERM to the group), waiting for exit. */
  stop: () => Promise<void>;
  /** Crash: SIGKILL to the whole group. */
  kill9: () => Promise<void>;
  exited: Promise<number | null>;
}

/** Start `program` (Node by default) in `cwd` with `args`, its environment this process's plus `env`. */
export function startProc(
  args: string[],
  env: Record<string, string>,
  { program = NODE, cwd = ROOT }: { program?: string; cwd?: string } = {},
): Proc {
  const child = spawn(program, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const onOutput = new Set<() => void>();
  const append = (d: Buffer) => {
    log += d;
    for (const check of onOutput) check();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const waitForLog = (pattern: RegExp, from = 0, timeoutMs = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const done = () => {
        onOutput.delete(check);
        clearTimeout(timer);
      };
      const check = () => {
        const match = log.slice(from).match(pattern);
        if (match) {
          done();
          resolve(match);
        }
      };
      const fail = (why: string) => {
        done();
        reject(new Error(`no ${pattern} in the output: ${why}\n${log.slice(-2000)}`));
      };
      const timer = setTimeout(() => fail(`not within ${timeoutMs} ms`), timeoutMs);
      // "close": the process exited and its output is fully read, so no match can come any more.
      child.once("close", (code) => onOutput.has(check) && fail(`the process exited (${code})`));
      onOutput.add(check);
      check();
    });
  const signalGroup = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      return;
    }
    await exited;
  };
  return {
    child,
    output: () => log,
    waitForLog,
    exited,
    stop: async () => {
      const timer = setTimeout(() => void signalGroup("SIGKILL"), 5000);
      await signalGroup("SIGTERM");
      clearTimeout(timer);
      // wrangler's workerd child may outlive its parent by a moment; make sure the group is gone.
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {}
    },
    kill9: async () => {
      await signalGroup("SIGKILL");
    },
  };
}

export interface Server {
  url: string;
  port: number;
  dataDir: string;
  proc: Proc;
  stop: () => Promise<void>;
  kill9: () => Promise<void>;
  /** Start again on the same port and data dir (after stop or kill9), optionally with other settings. */
  restart: (env?: Record<string, string>) => Promise<void>;
}

export async function startServer(
  options: { dataDir?: string; port?: number; env?: Record<string, string> } = {},
): Promise<Server> {
  const dataDir = options.dataDir ?? tempDir("data");
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const proc = startProc([join(ROOT, "scripts/start.mjs")], {
      PORT: String(port),
      CAISEY_DATA: dataDir,
      ...options.env,
    });
    try {
      await proc.waitForLog(new RegExp(`Caisey: serving ${url}`), 0, 60_000); // printed once it listens
    } catch (error) {
      await proc.kill9(); // never leave a half-started server behind
      throw error;
    }
    return proc;
  };
  const server: Server = {
    url,
    port,
    dataDir,
    proc: await launch(),
    stop: () => server.proc.stop(),
    kill9: () => server.proc.kill9(),
    restart: async (env?: Record<string, string>) => {
      if (env) options.env = env;
      server.proc = await launch();
    },
  };
  return server;
}

export interface Api {
  token: string;
  get: (path: string) => Promise<Response>;
  post: (path: string, body?: unknown) => Promise<Response>;
  put: (path: string, body: unknown) => Promise<Response>;
  json: <T = any>(path: string, body?: unknown) => Promise<T>;
}

export function api(url: string, token: string): Api {
  const headers = { authorization: `Bearer ${token}` };
  const a: Api = {
    token,
    get: (path) => fetch(`${url}${path}`, { headers }),
    post: (path, body) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      }),
    put: (path, body) =>
      fetch(`${url}${path}`, {
        method: "PUT",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    /** GET (no body) or POST (with body); throws on a non-2xx answer with the error's text. */
    json: async (path, body) => {
      const res = body === undefined ? await a.get(path) : await a.post(path, body);
      const text = await res.text();
      if (!res.ok) throw new Error(`${path} → ${res.status} ${text}`);
      return JSON.parse(text);
    },
  };
  return a;
}

export const OWNER = {
  organization: "Northwind IT",
  name: "Olivia Owner",
  email: "olivia@northwind.test",
  password: "correct horse battery staple",
};

/** Sign in as a person through the API; the owner's password is the default. */
export async function login(url: string, email: string, password = OWNER.password): Promise<Api> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login ${email} failed: ${res.status} ${await res.text()}`);
  return api(url, ((await res.json()) as { token: string }).token);
}

export async function setupOrganization(url: string): Promise<Api> {
  const res = await fetch(`${url}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(OWNER),
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  return api(url, token);
}

export interface Runtime {
  dataDir: string;
  machineId: string;
  clientId: string;
  start: () => Proc;
}

/** Create a client and an enrollment token, and enroll a runtime with the real CLI. */
export async function enrollRuntime(
  url: string,
  owner: Api,
  clientName = "Contoso Dental",
  approvalPolicy: "always" | "changes" | "never" = "changes",
  dataDir = tempDir("runtime"),
): Promise<Runtime> {
  const { id: clientId } = await owner.json<{ id: string }>("/api/v1/clients", { name: clientName, approvalPolicy });
  const { token } = await owner.json<{ token: string }>("/api/v1/enrollments", { clientId });
  const enroll = startProc([RUNTIME, "enroll", "--server", url, "--data-dir", dataDir], { CAISEY_ENROLL_TOKEN: token });
  const code = await enroll.exited;
  if (code !== 0) throw new Error(`enroll failed (${code}): ${enroll.output()}`);
  const machineId = /mch_[a-z2-7]{20}/.exec(enroll.output())?.[0];
  if (!machineId) throw new Error(`no machine id in: ${enroll.output()}`);
  return {
    dataDir,
    machineId,
    clientId,
    start: () => startProc([...RUNTIME_NODE_FLAGS, RUNTIME, "run", "--data-dir", dataDir], {}),
  };
}

/** Whether the machine list shows the machine online right now. */
export async function isOnline(owner: Api, machineId: string): Promise<boolean> {
  const { machines } = await owner.json<{ machines: { id: string; online: boolean }[] }>("/api/v1/machines");
  return machines.find((m) => m.id === machineId)?.online === true;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A loopback TCP proxy in front of the server, so a test can cut every connection through it mid-stream; hold what
 * the server sends (acks stop reaching the runtime: its outbox backlog grows); or hold the runtimes' sockets (no byte
 * through, either way) while plain HTTP requests still pass. `release` ends either hold.
 */
export async function tcpProxy(targetPort: number): Promise<{
  url: string;
  dropAll: () => void;
  holdReplies: () => void;
  holdRuntimes: () => void;
  release: () => void;
  close: () => Promise<void>;
}> {
  const { createConnection, createServer: createTcpServer } = await import("node:net");
  type Socket = import("node:net").Socket;
  const sockets = new Set<Socket>();
  const runtimes = new Set<[Socket, Socket]>();
  let holdingReplies = false;
  let holdingRuntimes = false;
  const held: { client: Socket; data: Buffer }[] = [];
  const hold = ([client, upstream]: [Socket, Socket]) => {
    client.unpipe(upstream);
    client.pause();
    upstream.pause();
  };
  const server = createTcpServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      runtimes.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    // A runtime's socket opens with its upgrade request; the server answers after this first chunk is through.
    client.once("data", (chunk: Buffer) => {
      if (!chunk.includes("/api/v1/runtime/connect")) return;
      runtimes.add(pair);
      if (holdingRuntimes) hold(pair);
    });
    client.pipe(upstream);
    upstream.on("data", (data: Buffer) => {
      if (holdingReplies) held.push({ client, data });
      else client.write(data);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    dropAll: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    holdReplies: () => {
      holdingReplies = true;
    },
    holdRuntimes: () => {
      holdingRuntimes = true;
      for (const pair of runtimes) hold(pair);
    },
    release: () => {
      holdingReplies = false;
      for (const { client, data } of held.splice(0)) if (!client.destroyed) client.write(data);
      if (!holdingRuntimes) return;
      holdingRuntimes = false;
      for (const [client, upstream] of runtimes) {
        client.pipe(upstream);
        upstream.resume();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Fetch a session's record and check it as an outsider would: contiguous seq, and the chain head the API states. */
export async function fetchRecord(owner: Api, sessionId: string): Promise<{ lines: string[]; events: any[] }> {
  const { createHash } = await import("node:crypto");
  const sha = (b: Buffer | string) => createHash("sha256").update(b).digest();
  const ndjson = Buffer.from(await (await owner.get(`/api/v1/sessions/${sessionId}/record`)).arrayBuffer()).toString(
    "utf8",
  );
  const lines = ndjson.slice(0, -1).split("\n");
  const events = lines.map((l) => JSON.parse(l));
  events.forEach((e, i) => {
    if (e.seq !== i + 1) throw new Error(`record seq ${e.seq} at line ${i + 1}`);
  });
  let h = sha(`caisey-session-v1\n${sessionId}`);
  for (const line of lines) h = sha(Buffer.concat([h, sha(Buffer.from(line, "utf8"))]));
  const { session } = await owner.json(`/api/v1/sessions/${sessionId}`);
  if (session.head.hash !== h.toString("hex") || session.head.seq !== lines.length)
    throw new Error("record chain does not match the session head");
  return { lines, events };
}

/** A stream's bytes as the record holds them, from its command.output events, checking offsets are contiguous. */
export function recordedStream(events: any[], commandId: string, stream: "stdout" | "stderr"): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (const e of events) {
    if (e.type !== "command.output" || e.data.commandId !== commandId || e.data.stream !== stream) continue;
    if (e.data.offset !== offset) throw new Error(`${stream} offset ${e.data.offset}, expected ${offset}`);
    const bytes = Buffer.from(e.data.data, "base64");
    parts.push(bytes);
    offset += bytes.length;
  }
  return Buffer.concat(parts);
}

// caisey-runtime: the endpoint agent's command line.
//   CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll --server URL [--data-dir DIR] [--force]   (or --token -: stdin)
//   caisey-runtime run [--data-dir DIR]
//   caisey-runtime install | uninstall | status   (the service; see args.ts)

import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import { defaultDataDirHere, type EnrollToken, parseArgs, TOKEN_ARGUMENT_WARNING, TOKEN_ENV, USAGE } from "./args.ts";
import { BUILD } from "./build-info.ts";
import { hasConfig, RUNTIME_VERSION, type RuntimeConfig, readConfig } from "./config.ts";
import { enroll } from "./enroll.ts";
import { collectFacts } from "./facts.ts";
import { HealthWatch } from "./health.ts";
import { install, uninstall } from "./install.ts";
import { Journal } from "./journal.ts";
import { Runtime } from "./runtime.ts";
import { describeStatus, readStatus, STATUS_FILE, statusOf, writeStatus } from "./status.ts";
import { removeReplaced, UPDATE_CHECK_SECONDS, UPDATE_EXIT_CODE, Updater, underServiceManager } from "./update.ts";

/** Keeps the last line that said something went wrong, for `status` and the machine card. */
const health = new HealthWatch();

function log(line: string): void {
  health.noteLine(line);
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, process.env);
  switch (args.kind) {
    case "help":
      process.stdout.write(USAGE[args.topic]);
      return 0;
    case "error":
      process.stderr.write(`caisey-runtime: ${args.message}\n\n${USAGE[args.topic]}`);
      return 2;
    case "enroll": {
      if (args.token.from === "argument") process.stderr.write(`${TOKEN_ARGUMENT_WARNING}\n`);
      const token = await enrollToken(args.token);
      if (!token) {
        process.stderr.write(`caisey-runtime: no enrollment token on standard input (or set ${TOKEN_ENV})\n`);
        return 2;
      }
      const result = await enroll({
        server: args.server,
        token,
        dataDir: args.dataDir ?? defaultDataDirHere(),
        force: args.force,
        facts: collectFacts(),
      });
      if (!result.ok) {
        process.stderr.write(`enroll failed: ${result.message}\n`);
        return 1;
      }
      process.stdout.write(`Enrolled as machine ${result.config.machineId}\n`);
      return 0;
    }
    case "run": {
      const code = await run(args.dataDir ?? defaultDataDirHere(), args.updateEverySeconds);
      return code === UPDATE_EXIT_CODE ? restartAfterUpdate() : code;
    }
    case "install":
      return install(args, write(process.stdout), write(process.stderr));
    case "uninstall":
      return uninstall(args, write(process.stdout));
    case "status":
      return status(args.dataDir ?? defaultDataDirHere());
  }
}

function write(stream: NodeJS.WriteStream): (text: string) => void {
  return (text) => stream.write(text);
}

/** The token itself: as given, or the first line of standard input for `--token -`. */
async function enrollToken(token: EnrollToken): Promise<string> {
  if (token.from !== "stdin") return token.value;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return (Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "").trim();
}

async function run(dataDir: string, updateEverySeconds: number | null | undefined): Promise<number> {
  let config: Awaited<ReturnType<typeof readConfig>>;
  try {
    config = await readConfig(dataDir);
  } catch (error) {
    process.stderr.write(`caisey-runtime: ${(error as Error).message}\n`);
    return 1;
  }
  let store: Journal;
  try {
    store = await Journal.open(path.join(dataDir, "outbox"), { log });
  } catch (error) {
    process.stderr.write(`caisey-runtime: cannot open the outbox journal: ${(error as Error).message}\n`);
    return 1;
  }
  let replaced: (() => void) | undefined;
  const updater = updaterFor(
    config,
    dataDir,
    updateEverySeconds === undefined ? UPDATE_CHECK_SECONDS : updateEverySeconds,
    () => runtime.executor.active() > 0,
    (version, reason) => runtime.report({ t: "update_refused", version, reason: reason.slice(0, 512) }),
  );
  const checkForUpdate = () =>
    void updater?.check().then((outcome) => {
      if (outcome === "replaced") replaced?.();
    });
  const runtime: Runtime = new Runtime({
    config,
    facts: collectFacts(),
    log,
    store,
    health,
    onConnected: checkForUpdate,
  });
  log(`caisey-runtime ${RUNTIME_VERSION}: machine ${config.machineId}, server ${config.server}`);
  if (updater) await removeReplaced(updater.program);
  runtime.start();
  reportStatus(dataDir, runtime);
  if (updater) setInterval(checkForUpdate, updater.everySeconds * 1000).unref();
  return new Promise<number>((resolve) => {
    let stopping = false;
    replaced = () => {
      if (stopping) return;
      stopping = true;
      // The journal is closed with everything in it; the next process delivers what is not acknowledged yet.
      runtime.stop().then(
        () => resolve(UPDATE_EXIT_CODE),
        () => resolve(UPDATE_EXIT_CODE),
      );
    };
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log(`${signal} again: exiting now`);
        resolve(130);
        return;
      }
      stopping = true;
      log(`${signal}: stopping`);
      runtime.stop().then(
        () => resolve(0),
        (error: unknown) => {
          log(`error while stopping: ${(error as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/**
 * The updater, when this build can update itself: it carries a release key (a development build does not) and
 * updating is not turned off.
 */
function updaterFor(
  config: RuntimeConfig,
  dataDir: string,
  everySeconds: number | null,
  busy: () => boolean,
  onRefused: (version: string, reason: string) => void,
): (Updater & { program: string; everySeconds: number }) | null {
  if (BUILD.releaseKey === null || everySeconds === null) return null;
  const program = BUILD.form === "executable" ? process.execPath : realpathSync(process.argv[1] as string);
  const updater = new Updater(
    {
      server: config.server,
      dataDir,
      build: BUILD,
      program,
      platform: process.platform,
      arch: process.arch,
      log,
      onRefused,
      busy,
    },
    BUILD.releaseKey,
  );
  return Object.assign(updater, { program, everySeconds });
}

/**
 * After an update replaced the program: a service manager starts it again on UPDATE_EXIT_CODE; in the foreground the
 * runtime starts the new program itself, with the same arguments, and stays only to pass on signals and its exit code.
 */
function restartAfterUpdate(): Promise<number> {
  if (underServiceManager(process.platform, process.env)) return Promise.resolve(UPDATE_EXIT_CODE);
  const args =
    BUILD.form === "executable"
      ? process.argv.slice(2)
      : [...process.execArgv, process.argv[1] as string, ...process.argv.slice(2)];
  const child = spawn(process.execPath, args, { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

/** Keep DIR/status.json current for `status` (checked every 2 s, written when it changed). */
function reportStatus(dataDir: string, runtime: Runtime): void {
  let written = "";
  const report = () => {
    const now = statusOf(process.pid, RUNTIME_VERSION, runtime.outbox.online, runtime.health.backlog());
    const key = JSON.stringify(now);
    if (key === written) return;
    written = key;
    writeStatus(dataDir, { ...now, updatedAt: new Date().toISOString() }).catch((error: unknown) =>
      process.stderr.write(`caisey-runtime: cannot write ${STATUS_FILE}: ${(error as Error).message}\n`),
    );
  };
  report();
  setInterval(report, 2000).unref();
}

async function status(dataDir: string): Promise<number> {
  const config = (await hasConfig(dataDir)) ? await readConfig(dataDir).catch(() => null) : null;
  const current = await readStatus(dataDir);
  let running = false;
  if (current) {
    try {
      process.kill(current.pid, 0);
      running = true;
    } catch (error) {
      running = (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  process.stdout.write(describeStatus(dataDir, config, current, running));
  return config ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`caisey-runtime: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);

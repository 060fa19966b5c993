// Command-line parsing and usage text of caisey-runtime. Pure (parseArgs), so it is unit-tested.

import { RUNTIME_VERSION } from "./config.ts";
import { defaultDataDir } from "./platform.ts";
import { UPDATE_CHECK_SECONDS } from "./update.ts";

/** Where `enroll` takes the enrollment token from, so that it never has to be on a command line. */
export const TOKEN_ENV = "CAISEY_ENROLL_TOKEN";

/** Said when the token was given on the command line. */
export const TOKEN_ARGUMENT_WARNING = `warning: a token given with --token is visible in the process list, shell history and npm's log line; use ${TOKEN_ENV}=… or --token - instead`;

export const USAGE = {
  main: `caisey-runtime ${RUNTIME_VERSION} — the Caisey endpoint runtime

Usage:
  CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime install --server URL [--token-file FILE] [--data-dir DIR] [--dry-run]
  caisey-runtime uninstall [--purge] [--data-dir DIR] [--dry-run]
  caisey-runtime status [--data-dir DIR]
  CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll --server URL [--data-dir DIR] [--force]
  caisey-runtime run [--data-dir DIR] [--no-update | --update-every SECONDS]
  caisey-runtime <command> --help

Commands:
  install    enroll (once), copy this program to its place and run it as a service started at boot
  uninstall  stop and remove the service and the program (--purge: the machine's key and journal too)
  status     enrollment, server, connection, outbox backlog and the last error
  enroll     register this machine with a Caisey server using an enrollment token
  run        connect to the server and run the commands technicians send (foreground, reconnects forever)

The data dir (identity, journal) is ${defaultDataDirHere()} unless --data-dir says otherwise.
`,
  enroll: `Usage: CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll --server URL [--data-dir DIR] [--force]
       caisey-runtime enroll --server URL --token - [--data-dir DIR] [--force] < file-with-the-token

Registers this machine and stores its identity (an Ed25519 key) in DIR/runtime.json.

The enrollment token (from the console) comes from the environment variable ${TOKEN_ENV}, or from standard input
with --token -. --token TOKEN works too, but then the token is in the process list, your shell history and the
log line npm prints for \`npm run\`.

Options:
  --server URL      the Caisey server, e.g. https://caisey.example.com
  --token -         read the enrollment token from standard input
  --data-dir DIR    where the identity is kept (default: ${defaultDataDirHere()})
  --force           replace an existing enrollment in DIR
`,
  run: `Usage: caisey-runtime run [--data-dir DIR] [--no-update | --update-every SECONDS]

Connects to the server this machine enrolled with and runs dispatched commands. Stops on SIGINT/SIGTERM.
When it connects, and every hour, it asks the server for a newer build of itself; one signed by its release key
replaces it, and it restarts (a build that is not is deleted, never run, and reported).

Options:
  --data-dir DIR            where the identity is kept (default: ${defaultDataDirHere()})
  --no-update               never update itself
  --update-every SECONDS    ask for a newer build this often (default: ${UPDATE_CHECK_SECONDS})
`,
  install: `Usage: CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime install --server URL [--data-dir DIR] [--dry-run]
       caisey-runtime install --server URL --token-file FILE [--data-dir DIR] [--dry-run]

Enrolls this machine (unless DIR already holds an enrollment), copies this program to its place and installs it as
a service that starts at boot and restarts whenever it stops: a systemd unit on Linux, a launchd daemon on macOS, a
Windows service running as LocalSystem. Run it as root (Administrator on Windows).

Options:
  --server URL        the Caisey server, e.g. https://caisey.example.com
  --token-file FILE   read the enrollment token from FILE (else from ${TOKEN_ENV})
  --data-dir DIR      where the identity and the journal are kept (default: ${defaultDataDirHere()})
  --dry-run           print every file it would write and every command it would run, and change nothing
`,
  uninstall: `Usage: caisey-runtime uninstall [--purge] [--data-dir DIR] [--dry-run]

Stops and removes the service and the installed program. The enrollment (the machine's key) stays, so installing
again needs no new token, unless --purge removes DIR too.

Options:
  --purge             remove the data dir: the machine's key and its journal
  --data-dir DIR      the data dir (default: ${defaultDataDirHere()})
  --dry-run           print what it would do, and change nothing
`,
  status: `Usage: caisey-runtime status [--data-dir DIR]

Prints the enrollment, the server, whether the runtime is running and connected, how many frames wait in its outbox
for the server, and the last error it logged. Exits 1 when DIR holds no enrollment.

Options:
  --data-dir DIR      the data dir (default: ${defaultDataDirHere()})
`,
} as const;

export function defaultDataDirHere(): string {
  return defaultDataDir(process.platform, process.env);
}

export type ParsedArgs =
  | { kind: "help"; topic: keyof typeof USAGE }
  | { kind: "error"; message: string; topic: keyof typeof USAGE }
  | { kind: "enroll"; server: string; token: EnrollToken; dataDir: string | null; force: boolean }
  | {
      kind: "run";
      dataDir: string | null;
      /** How often to ask for a newer build: null never, absent every UPDATE_CHECK_SECONDS. */
      updateEverySeconds?: number | null;
    }
  | { kind: "install"; server: string; token: InstallToken; dataDir: string | null; dryRun: boolean }
  | { kind: "uninstall"; purge: boolean; dataDir: string | null; dryRun: boolean }
  | { kind: "status"; dataDir: string | null };

/** Where `install` takes the token from; none when it is not needed (already enrolled, or a dry run). */
export type InstallToken = { from: "environment"; value: string } | { from: "file"; path: string } | null;

/** The enrollment token, or where to read it. */
export type EnrollToken =
  | { from: "environment"; value: string }
  | { from: "argument"; value: string }
  | { from: "stdin" };

const FLAGS = {
  enroll: { values: ["--server", "--token", "--data-dir"], switches: ["--force"] },
  run: { values: ["--data-dir", "--update-every"], switches: ["--no-update"] },
  install: { values: ["--server", "--token-file", "--data-dir"], switches: ["--dry-run"] },
  uninstall: { values: ["--data-dir"], switches: ["--purge", "--dry-run"] },
  status: { values: ["--data-dir"], switches: [] as string[] },
} as const;

/** Parse argv (without node and script) and the environment. Pure. */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): ParsedArgs {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: "error", message: "missing command", topic: "main" };
  if (first === "--help" || first === "-h" || first === "help") return { kind: "help", topic: "main" };
  if (!Object.hasOwn(FLAGS, first)) {
    return { kind: "error", message: `unknown command: ${first}`, topic: "main" };
  }
  const command = first as keyof typeof FLAGS;
  const spec = FLAGS[command];
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === "--help" || arg === "-h") return { kind: "help", topic: command };
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if ((spec.switches as readonly string[]).includes(name)) {
      if (eq > 0) return { kind: "error", message: `${name} takes no value`, topic: command };
      switches.add(name);
      continue;
    }
    if (!(spec.values as readonly string[]).includes(name)) {
      return { kind: "error", message: `unknown option: ${arg}`, topic: command };
    }
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      value = rest[i + 1];
      i++;
    }
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
      return { kind: "error", message: `${name} needs a value`, topic: command };
    }
    if (values.has(name)) return { kind: "error", message: `${name} given twice`, topic: command };
    values.set(name, value);
  }
  const dataDir = values.get("--data-dir") ?? null;
  if (command === "status") return { kind: command, dataDir };
  if (command === "run") {
    const every = values.get("--update-every");
    if (every !== undefined && switches.has("--no-update")) {
      return { kind: "error", message: "--no-update and --update-every contradict each other", topic: command };
    }
    if (every !== undefined && !/^[1-9]\d{0,6}$/.test(every)) {
      return { kind: "error", message: "--update-every needs a number of seconds (1 or more)", topic: command };
    }
    if (switches.has("--no-update")) return { kind: "run", dataDir, updateEverySeconds: null };
    return every === undefined ? { kind: "run", dataDir } : { kind: "run", dataDir, updateEverySeconds: Number(every) };
  }
  if (command === "uninstall") {
    return { kind: "uninstall", purge: switches.has("--purge"), dataDir, dryRun: switches.has("--dry-run") };
  }
  const server = values.get("--server");
  if (!server) return { kind: "error", message: "missing --server", topic: command };
  if (command === "install") {
    const file = values.get("--token-file");
    const fromEnv = env[TOKEN_ENV] ?? "";
    if (file !== undefined && fromEnv !== "") {
      return {
        kind: "error",
        message: `the token is both in ${TOKEN_ENV} and --token-file; give it once`,
        topic: command,
      };
    }
    const token: InstallToken =
      file !== undefined
        ? { from: "file", path: file }
        : fromEnv !== ""
          ? { from: "environment", value: fromEnv }
          : null;
    return { kind: "install", server, token, dataDir, dryRun: switches.has("--dry-run") };
  }
  const argument = values.get("--token");
  const fromEnv = env[TOKEN_ENV] ?? "";
  if (argument !== undefined && fromEnv !== "") {
    return { kind: "error", message: `the token is both in ${TOKEN_ENV} and --token; give it once`, topic: "enroll" };
  }
  let token: EnrollToken;
  if (argument === "-") token = { from: "stdin" };
  else if (argument !== undefined) token = { from: "argument", value: argument };
  else if (fromEnv !== "") token = { from: "environment", value: fromEnv };
  else
    return {
      kind: "error",
      message: `missing the enrollment token: set ${TOKEN_ENV} or give --token -`,
      topic: "enroll",
    };
  return { kind: "enroll", server, token, dataDir, force: switches.has("--force") };
}

// Command-line parsing and usage text of caisey-runtime. Pure (parseArgs), so it is unit-tested.

import os from "node:os";
import { RUNTIME_VERSION } from "./config.ts";
import { defaultDataDir } from "./platform.ts";

/** Where `enroll` takes the enrollment token from, so that it never has to be on a command line. */
export const TOKEN_ENV = "CAISEY_ENROLL_TOKEN";

/** Said when the token was given on the command line. */
export const TOKEN_ARGUMENT_WARNING = `warning: a token given with --token is visible in the process list, shell history and npm's log line; use ${TOKEN_ENV}=… or --token - instead`;

export const USAGE = {
  main: `caisey-runtime ${RUNTIME_VERSION} — the Caisey endpoint runtime

Usage:
  CAISEY_ENROLL_TOKEN=TOKEN caisey-runtime enroll --server URL [--data-dir DIR] [--force]
  caisey-runtime run [--data-dir DIR]
  caisey-runtime <command> --help

Commands:
  enroll   register this machine with a Caisey server using an enrollment token
  run      connect to the server and run the commands technicians send (foreground, reconnects forever)
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
  run: `Usage: caisey-runtime run [--data-dir DIR]

Connects to the server this machine enrolled with and runs dispatched commands. Stops on SIGINT/SIGTERM.

Options:
  --data-dir DIR    where the identity is kept (default: ${defaultDataDirHere()})
`,
} as const;

export function defaultDataDirHere(): string {
  return defaultDataDir(process.platform, process.env, process.getuid?.() ?? null, os.homedir());
}

export type ParsedArgs =
  | { kind: "help"; topic: keyof typeof USAGE }
  | { kind: "error"; message: string; topic: keyof typeof USAGE }
  | { kind: "enroll"; server: string; token: EnrollToken; dataDir: string | null; force: boolean }
  | { kind: "run"; dataDir: string | null };

/** The enrollment token, or where to read it. */
export type EnrollToken =
  | { from: "environment"; value: string }
  | { from: "argument"; value: string }
  | { from: "stdin" };

const FLAGS = {
  enroll: { values: ["--server", "--token", "--data-dir"], switches: ["--force"] },
  run: { values: ["--data-dir"], switches: [] as string[] },
} as const;

/** Parse argv (without node and script) and the environment. Pure. */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined) return { kind: "error", message: "missing command", topic: "main" };
  if (command === "--help" || command === "-h" || command === "help") return { kind: "help", topic: "main" };
  if (command !== "enroll" && command !== "run") {
    return { kind: "error", message: `unknown command: ${command}`, topic: "main" };
  }
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
  if (command === "run") return { kind: "run", dataDir };
  const server = values.get("--server");
  if (!server) return { kind: "error", message: "missing --server", topic: "enroll" };
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

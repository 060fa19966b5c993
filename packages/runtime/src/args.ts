// Command-line parsing and usage text of caisey-runtime. Pure (parseArgs), so it is unit-tested.

import os from "node:os";
import { RUNTIME_VERSION } from "./config.ts";
import { defaultDataDir } from "./platform.ts";

export const USAGE = {
  main: `caisey-runtime ${RUNTIME_VERSION} — the Caisey endpoint runtime

Usage:
  caisey-runtime enroll --server URL --token TOKEN [--data-dir DIR] [--force]
  caisey-runtime run [--data-dir DIR]
  caisey-runtime <command> --help

Commands:
  enroll   register this machine with a Caisey server using an enrollment token
  run      connect to the server and run the commands technicians send (foreground, reconnects forever)
`,
  enroll: `Usage: caisey-runtime enroll --server URL --token TOKEN [--data-dir DIR] [--force]

Registers this machine and stores its identity (an Ed25519 key) in DIR/runtime.json.

Options:
  --server URL      the Caisey server, e.g. https://caisey.example.com
  --token TOKEN     an enrollment token from the console
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
  | { kind: "enroll"; server: string; token: string; dataDir: string | null; force: boolean }
  | { kind: "run"; dataDir: string | null };

const FLAGS = {
  enroll: { values: ["--server", "--token", "--data-dir"], switches: ["--force"] },
  run: { values: ["--data-dir"], switches: [] as string[] },
} as const;

/** Parse argv (without node and script). Pure. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
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
  const token = values.get("--token");
  if (!server) return { kind: "error", message: "missing --server", topic: "enroll" };
  if (!token) return { kind: "error", message: "missing --token", topic: "enroll" };
  return { kind: "enroll", server, token, dataDir, force: switches.has("--force") };
}

// `install` and `uninstall`: carry out (or, with --dry-run, print) the plans of service.ts on this machine.

import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { defaultDataDirHere, type InstallToken, TOKEN_ENV } from "./args.ts";
import { hasConfig, readConfig } from "./config.ts";
import { enroll } from "./enroll.ts";
import { collectFacts } from "./facts.ts";
import { describePlan, installPlan, type Self, type ServiceTarget, type Step, uninstallPlan } from "./service.ts";

type Write = (text: string) => void;

/** This program: the one-file build is its own Node; the portable bundle is a script run by a Node. */
export async function thisProgram(): Promise<Self> {
  let sea = false;
  try {
    sea = (await import("node:sea")).isSea();
  } catch {
    // A Node without node:sea runs the portable bundle.
  }
  return { executable: process.execPath, script: sea ? null : path.resolve(process.argv[1] ?? "") };
}

async function target(dataDir: string | null): Promise<ServiceTarget> {
  return {
    platform: process.platform,
    env: process.env,
    self: await thisProgram(),
    dataDir: path.resolve(dataDir ?? defaultDataDirHere()),
  };
}

export interface InstallArgs {
  server: string;
  token: InstallToken;
  dataDir: string | null;
  dryRun: boolean;
}

export async function install(args: InstallArgs, out: Write, err: Write): Promise<number> {
  const service = await target(args.dataDir);
  const plan = installPlan(service);
  if (args.dryRun) {
    out(`# enroll with ${args.server} into ${service.dataDir}, unless it already holds an enrollment\n\n`);
    out(describePlan(plan, service.platform));
    return 0;
  }
  if (await hasConfig(service.dataDir)) {
    const config = await readConfig(service.dataDir);
    out(`Already enrolled as machine ${config.machineId} with ${config.server}\n`);
  } else {
    if (args.token === null) {
      err(`caisey-runtime: ${service.dataDir} holds no enrollment: set ${TOKEN_ENV} or give --token-file FILE\n`);
      return 2;
    }
    const token =
      args.token.from === "file"
        ? (await readFile(args.token.path, "utf8")).split(/\r?\n/)[0]?.trim()
        : args.token.value;
    if (!token) {
      err(`caisey-runtime: no enrollment token in ${args.token.from === "file" ? args.token.path : TOKEN_ENV}\n`);
      return 2;
    }
    const result = await enroll({ server: args.server, token, dataDir: service.dataDir, facts: collectFacts() });
    if (!result.ok) {
      err(`enroll failed: ${result.message}\n`);
      return 1;
    }
    out(`Enrolled as machine ${result.config.machineId}\n`);
  }
  await carryOut(plan, out);
  out("Installed: the runtime runs as a service and starts at boot.\n");
  return 0;
}

export async function uninstall(
  args: { purge: boolean; dataDir: string | null; dryRun: boolean },
  out: Write,
): Promise<number> {
  const service = await target(args.dataDir);
  const plan = uninstallPlan(service, args.purge);
  if (args.dryRun) {
    out(describePlan(plan, service.platform));
    return 0;
  }
  await carryOut(plan, out, { tolerateFailures: true });
  out(args.purge ? "Uninstalled, and the machine's key removed.\n" : "Uninstalled; the enrollment stays.\n");
  return 0;
}

/** Each step in order; uninstalling goes on past a step that fails (a service already stopped, a file gone). */
async function carryOut(steps: readonly Step[], out: Write, { tolerateFailures = false } = {}): Promise<void> {
  for (const step of steps) {
    try {
      switch (step.kind) {
        case "copy": {
          if (path.resolve(step.from) === path.resolve(step.to)) break; // installing the installed program again
          await mkdir(path.dirname(step.to), { recursive: true, mode: 0o755 });
          // Beside the target then renamed over it: a running copy keeps its file, the next start gets the new one.
          const temp = `${step.to}.new`;
          await copyFile(step.from, temp);
          await chmod(temp, 0o755);
          await rename(temp, step.to);
          break;
        }
        case "write":
          await mkdir(path.dirname(step.path), { recursive: true, mode: 0o755 });
          await writeFile(step.path, step.text, { mode: step.mode });
          break;
        case "run":
          execFileSync(step.argv[0] as string, step.argv.slice(1), { stdio: ["ignore", "inherit", "inherit"] });
          break;
        case "remove":
          await rm(step.path, { force: true, recursive: step.recursive ?? false });
          break;
      }
    } catch (error) {
      if (!tolerateFailures) throw error;
      out(`(${step.kind === "run" ? step.argv.join(" ") : step.kind}: ${(error as Error).message})\n`);
    }
  }
}

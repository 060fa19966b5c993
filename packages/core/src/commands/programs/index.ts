// Every program family, merged into one lookup table per place a name is looked up. A name belongs to one family.

import type { Program, ProgramFamily, ProgramTable } from "../types.ts";
import { TABLES } from "../types.ts";
import { accounts } from "./accounts.ts";
import { disks } from "./disks.ts";
import { files } from "./files.ts";
import { net } from "./net.ts";
import { network } from "./network.ts";
import { packages } from "./packages.ts";
import { printers } from "./printers.ts";
import { processes } from "./processes.ts";
import { registry } from "./registry.ts";
import { scheduledTasks } from "./scheduled-tasks.ts";
import { services } from "./services.ts";
import { shell } from "./shell.ts";
import { system } from "./system.ts";
import { text } from "./text.ts";
import { tools } from "./tools.ts";

export const FAMILIES: Record<string, ProgramFamily> = {
  accounts,
  disks,
  files,
  net,
  network,
  packages,
  printers,
  processes,
  registry,
  "scheduled-tasks": scheduledTasks,
  services,
  shell,
  system,
  text,
  tools,
};

function merge(table: ProgramTable): Map<string, Program> {
  const out = new Map<string, Program>();
  for (const [family, programs] of Object.entries(FAMILIES)) {
    for (const [name, program] of Object.entries(programs[table] ?? {})) {
      if (out.has(name)) throw new Error(`${table} program '${name}' is in two families (the second: ${family})`);
      out.set(name, program);
    }
  }
  return out;
}

const LOOKUP = Object.fromEntries(TABLES.map((t) => [t, merge(t)])) as Record<ProgramTable, Map<string, Program>>;

/** What Caisey knows about `name` (lower-case, resolved) in one table. */
export function program(table: ProgramTable, name: string): Program | undefined {
  const found = LOOKUP[table].get(name);
  if (found === undefined && table === "posix" && /^mkfs(\.|$)/.test(name)) return LOOKUP.posix.get("mkfs");
  return found;
}

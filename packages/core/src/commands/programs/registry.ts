// The Windows registry: reg.exe and the registry cmdlets (and the registry paths the file cmdlets also accept).
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import type { Shell } from "../../shells.ts";
import { firstLc, hasArg, param, psParams, psSwitchSet, winOpt } from "../args.ts";
import { cmdQuote, psQuote } from "../quote.ts";
import {
  change,
  type Finding,
  type Invocation,
  type Probe,
  type ProgramFamily,
  READ,
  type RegistryPrestate,
  type Target,
  type Undo,
} from "../types.ts";
import { list, quoteValue, splitList } from "../words.ts";

export const REG_PATH =
  /^(?:microsoft\.powershell\.core\\)?(?:registry::)?(hklm|hkcu|hkcr|hku|hkcc|hkey_[a-z_]+)(?::)?\\?(.*)$/i;

export function isRegistry(path: string): boolean {
  return REG_PATH.test(path);
}

/** HKLM:\SOFTWARE\X and Registry::HKEY_LOCAL_MACHINE\SOFTWARE\X → HKLM\SOFTWARE\X (as reg.exe writes it). */
export function regPath(path: string): string {
  const m = REG_PATH.exec(path);
  if (!m) return path;
  const hive = (m[1] ?? "").toUpperCase();
  const short: Record<string, string> = {
    HKEY_LOCAL_MACHINE: "HKLM",
    HKEY_CURRENT_USER: "HKCU",
    HKEY_CLASSES_ROOT: "HKCR",
    HKEY_USERS: "HKU",
    HKEY_CURRENT_CONFIG: "HKCC",
  };
  const rest = (m[2] ?? "").replace(/\\+$/, "");
  return rest ? `${short[hive] ?? hive}\\${rest}` : (short[hive] ?? hive);
}

export function paths(items: string[]): string {
  return list(items.map((p) => (isRegistry(p) ? regPath(p) : p)));
}

export function setRegValue(path: string, name: string | undefined, value: string | undefined, back = false): string {
  const what = name === undefined || name === "" ? "the default registry value" : `the registry value ${name}`;
  return `Set ${what} under ${regPath(path)}${value === undefined ? "" : ` ${back ? "back " : ""}to ${quoteValue(value)}`}`;
}

export function deleteRegValue(path: string, name: string): string {
  return name === ""
    ? `Delete the default registry value from ${regPath(path)}`
    : `Delete the registry value ${name} from ${regPath(path)}`;
}

// Rollback: the values an invocation sets or deletes, how to read one first, and how to put it back.

/** One registry value as a probe target, when key and name are written literally. */
function valueTarget(key: string | undefined, name: string | undefined): Target[] | undefined {
  if (key === undefined || name === undefined || !isRegistry(key) || /[$`*?]/.test(key + name)) return undefined;
  return [{ kind: "registry", target: regPath(key), name }];
}

/** `reg add|delete KEY /v NAME` or `/ve`: the value; a whole key (no /v, /ve) is not probed. */
function regValueTarget({ args }: Invocation): Target[] | undefined {
  const [sub, key, ...rest] = args;
  if (!["add", "delete"].includes(sub?.toLowerCase() ?? "")) return undefined;
  return valueTarget(key, hasArg(rest, "/ve") ? "" : winOpt(rest, "v"));
}

/** A registry cmdlet's -Path and -Name (one value). */
function psValueTarget(s: Invocation): Target[] | undefined {
  const p = psParams(s.args);
  const names = splitList([param(p, ["name"], 1)]);
  return names.length === 1 ? valueTarget(param(p, ["path", "literalpath"], 0), names[0]) : undefined;
}

/** `reg query` of one value, in cmd or PowerShell (reg.exe prints its type, which the cmdlets do not). */
export function registryProbe(shell: Shell, key: string, name: string): Probe | undefined {
  const k = cmdQuote(key);
  const v = name === "" ? "/ve" : cmdQuote(name) && `/v ${cmdQuote(name)}`;
  if (k === undefined || v === undefined || shell === "bash" || shell === "sh") return undefined;
  const command =
    shell === "cmd"
      ? `reg query ${k} ${v}`
      : `reg.exe query ${psQuote(key)} ${name === "" ? "/ve" : `/v ${psQuote(name)}`}`;
  return { kind: "registry", target: key, name, read: { shell, command, format: "reg-query" } };
}

const VALUE_LINE = /^ {4}(.*?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/;

/**
 * The prestate from `reg query KEY /v NAME` output: the value line (name, type, data) when there is one; none when
 * reg.exe found no such value or key (it exits 1 and says so on stderr). DWORD and QWORD become decimal.
 */
export function parseRegQuery(
  key: string,
  name: string,
  out: { stdout: string; stderr?: string; exitCode: number },
): RegistryPrestate {
  const line = out.stdout
    .split(/\r?\n/)
    .map((l) => VALUE_LINE.exec(l))
    .find((m) => m !== null);
  if (!line) {
    const missing = out.exitCode === 1 && !/denied/i.test(out.stderr ?? "");
    return missing
      ? { kind: "registry", target: key, name, exists: false }
      : {
          kind: "registry",
          target: key,
          name,
          exists: false,
          error: (out.stderr ?? "").trim() || `reg query exited ${out.exitCode}`,
        };
  }
  const type = line[2] ?? "";
  const raw = line[3] ?? "";
  const value =
    (type === "REG_DWORD" || type === "REG_QWORD") && /^0x[0-9a-f]+$/i.test(raw) ? BigInt(raw).toString() : raw;
  return { kind: "registry", target: key, name, exists: true, type, value };
}

const PS_TYPES: Record<string, string> = {
  REG_SZ: "String",
  REG_EXPAND_SZ: "ExpandString",
  REG_MULTI_SZ: "MultiString",
  REG_DWORD: "DWord",
  REG_QWORD: "QWord",
  REG_BINARY: "Binary",
  REG_NONE: "None",
};

/** HKLM\X → HKLM:\X (the drives PowerShell has), other hives through the Registry:: provider. */
function psRegPath(key: string): string {
  const [hive, ...rest] = key.split("\\");
  const long: Record<string, string> = { HKCR: "HKEY_CLASSES_ROOT", HKU: "HKEY_USERS", HKCC: "HKEY_CURRENT_CONFIG" };
  const tail = rest.length > 0 ? `\\${rest.join("\\")}` : "";
  return hive === "HKLM" || hive === "HKCU" ? `${hive}:${tail}` : `Registry::${long[hive ?? ""] ?? hive}${tail}`;
}

/** A value as PowerShell writes it for -PropertyType: numbers wrap to signed as the registry stores them. */
function psValue(type: string, value: string): string | undefined {
  if (type === "REG_DWORD" || type === "REG_QWORD") {
    if (!/^\d+$/.test(value)) return undefined;
    const bits = type === "REG_DWORD" ? 32n : 64n;
    const n = BigInt(value);
    return (n >= 1n << (bits - 1n) ? n - (1n << bits) : n).toString();
  }
  if (type === "REG_MULTI_SZ") return `@(${value.split("\\0").map(psQuote).join(", ")})`;
  if (type === "REG_BINARY" || type === "REG_NONE") {
    if (!/^([0-9a-f]{2})*$/i.test(value)) return undefined;
    return `([Convert]::FromBase64String('${btoa(String.fromCharCode(...(value.match(/../g) ?? []).map((b) => Number.parseInt(b, 16))))}'))`;
  }
  return psQuote(value);
}

/** How to put one registry value back as the prestate recorded it: its type and data, or gone if it was not there. */
export function restoreRegistry(shell: Shell, before: RegistryPrestate): Undo {
  const { target: key, name } = before;
  const shown = name === "" ? "the default value" : name;
  if (before.error !== undefined)
    return { reason: `Caisey could not read ${shown} under ${key} before the change (${before.error})` };
  if (!before.exists) {
    const summaries = [`${deleteRegValue(key, name)}, which did not exist before the change`];
    if (shell === "cmd") {
      const k = cmdQuote(key);
      const v = name === "" ? "/ve" : cmdQuote(name) && `/v ${cmdQuote(name)}`;
      if (k === undefined || v === undefined) return { needs: "powershell" };
      return { commands: [`reg delete ${k} ${v} /f`], summaries, basis: "prestate" };
    }
    const command = `Remove-ItemProperty -LiteralPath ${psQuote(psRegPath(key))} -Name ${psQuote(name === "" ? "(default)" : name)}`;
    return { commands: [command], summaries, basis: "prestate" };
  }
  const type = before.type ?? "";
  const value = before.value ?? "";
  const summaries = [setRegValue(key, name, value, true)];
  if (shell === "cmd") {
    const k = cmdQuote(key);
    const v = name === "" ? "/ve" : cmdQuote(name) && `/v ${cmdQuote(name)}`;
    const d = value === "" ? "" : cmdQuote(value);
    if (k === undefined || v === undefined || d === undefined) return { needs: "powershell" };
    return { commands: [`reg add ${k} ${v} /t ${type} ${d === "" ? "" : `/d ${d} `}/f`], summaries, basis: "prestate" };
  }
  const psType = PS_TYPES[type];
  const data = psValue(type, value);
  if (psType === undefined || data === undefined)
    return { reason: `Caisey cannot write back a ${type || "registry"} value like ${shown} under ${key}` };
  const command = `New-ItemProperty -LiteralPath ${psQuote(psRegPath(key))} -Name ${psQuote(name === "" ? "(default)" : name)} -PropertyType ${psType} -Value ${data} -Force`;
  return { commands: [command], summaries, basis: "prestate" };
}

export const registry: ProgramFamily = {
  windows: {
    reg: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = firstLc(args);
        if (sub === "query" || sub === "compare") return READ;
        if (sub === "export" || sub === "save") return change(`reg ${sub} writes a file`);
        return change(`reg ${sub || ""} changes the registry`.replace("  ", " "));
      },
      probe: regValueTarget,
      describe: (s) => {
        const [sub, key, ...rest] = s.args;
        if (sub === undefined || key === undefined) return undefined;
        const v = winOpt(rest, "v");
        const isDefault = hasArg(rest, "/ve");
        const k = regPath(key);
        switch (sub.toLowerCase()) {
          case "query":
            return v !== undefined ? `Show the registry value ${v} under ${k}` : `Show the registry key ${k}`;
          case "add":
            if (v === undefined && !isDefault) return `Create registry key ${k}`;
            return setRegValue(key, isDefault ? "" : v, winOpt(rest, "d"));
          case "delete":
            if (v !== undefined || isDefault) return deleteRegValue(key, isDefault ? "" : (v ?? ""));
            if (hasArg(rest, "/va")) return `Delete all values from ${k}`;
            return `Delete registry key ${k} and everything in it`;
          case "export":
            return rest[0] === undefined ? undefined : `Save registry key ${k} to ${rest[0]}`;
          case "import":
            return `Import registry settings from ${key}`;
          default:
            return undefined;
        }
      },
    },
  },
  cmdlets: {
    "get-itemproperty": {
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        const name = param(p, ["name"], 1);
        if (path === undefined) return s.piped ? "Show the details of the items from the previous step" : undefined;
        if (!isRegistry(path)) return `Show the properties of ${path}`;
        return name === undefined
          ? `Show the registry values in ${regPath(path)}`
          : `Show the registry value ${name} under ${regPath(path)}`;
      },
    },
    "get-itempropertyvalue": {
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        const name = param(p, ["name"], 1);
        if (path === undefined || name === undefined) return undefined;
        return isRegistry(path)
          ? `Show the registry value ${name} under ${regPath(path)}`
          : `Show the ${name} of ${path}`;
      },
    },
    "new-itemproperty": {
      probe: psValueTarget,
      // without -Force it fails on a value that exists: once it succeeded, the value is new
      reverse: (inv, before, shell) => {
        const [target] = psValueTarget(inv) ?? [];
        const recorded = before[0]?.error === undefined && before[0] !== undefined;
        if (target?.kind !== "registry" || recorded || psSwitchSet(inv.args, "force")) return undefined;
        const undo = restoreRegistry(shell, {
          kind: "registry",
          target: target.target,
          name: target.name,
          exists: false,
        });
        return "commands" in undo ? { ...undo, basis: "inferred" } : undo;
      },
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        const name = param(p, ["name"], 1);
        const value = param(p, ["value"], 2);
        if (path === undefined || name === undefined || !isRegistry(path)) return undefined;
        return `Create the registry value ${name} under ${regPath(path)}${value === undefined ? "" : ` set to ${quoteValue(value)}`}`;
      },
      whatIf: true,
      reason: "creates a registry value or property",
    },
    "remove-itemproperty": {
      probe: psValueTarget,
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        const names = splitList([param(p, ["name"], 1)]);
        if (path === undefined || names.length === 0) return undefined;
        const what = names.length === 1 ? `the registry value ${names[0]}` : `the registry values ${list(names)}`;
        return isRegistry(path)
          ? `Delete ${what} from ${regPath(path)}`
          : `Remove the ${list(names)} property from ${path}`;
      },
      whatIf: true,
      reason: "deletes a registry value or property",
    },
    "set-itemproperty": {
      probe: psValueTarget,
      describe: (s) => {
        const p = psParams(s.args);
        const path = param(p, ["path", "literalpath"], 0);
        const name = param(p, ["name"], 1);
        const value = param(p, ["value"], 2);
        if (path === undefined || name === undefined) return undefined;
        if (!isRegistry(path))
          return `Change the ${name} of ${path}${value === undefined ? "" : ` to ${quoteValue(value)}`}`;
        return setRegValue(path, name, value);
      },
      whatIf: true,
      reason: "changes a registry value or property",
    },
  },
};

// The Windows registry: reg.exe and the registry cmdlets (and the registry paths the file cmdlets also accept).
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstLc, hasArg, param, psParams, winOpt } from "../args.ts";
import { change, type Finding, type Invocation, type ProgramFamily, READ } from "../types.ts";
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

export function setRegValue(path: string, name: string | undefined, value: string | undefined): string {
  const what = name === undefined || name === "" ? "the default registry value" : `the registry value ${name}`;
  return `Set ${what} under ${regPath(path)}${value === undefined ? "" : ` to ${quoteValue(value)}`}`;
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
            if (v !== undefined) return `Delete the registry value ${v} from ${k}`;
            if (hasArg(rest, "/va")) return `Delete all values from ${k}`;
            if (isDefault) return `Delete the default registry value from ${k}`;
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

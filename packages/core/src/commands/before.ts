// What a change's targets were before it ran, in the technician's words: one line per pre-state record, as the
// console shows them on the change in the transcript. No zod here: the console imports it (@caisey/core/before).

import type { Prestate } from "./types.ts";

const START_TYPES: Record<string, string> = { "automatic-delayed": "automatic (delayed)" };

/** The short fingerprint of a hash shown in a line; the whole hash is in the record. */
const shortHash = (hex: string): string => `${hex.slice(0, 4)}…`;

/**
 * One line saying what a target was before the change, for the technician reading the transcript:
 * "before: DisableRestart = 0 (REG_DWORD)", "before: Spooler: running, start automatic",
 * "before: /srv/app.conf did not exist", "before: /srv/app.conf 1,204 bytes, sha256 ab12…".
 */
export function describePrestate(p: Prestate): string {
  const what = p.kind === "registry" ? (p.name === "" ? "(Default)" : p.name) : p.target;
  if (p.error !== undefined) return `before: ${what} could not be read (${p.error})`;
  if (!p.exists) return `before: ${what} did not exist`;
  switch (p.kind) {
    case "registry": {
      const value = p.type === "REG_MULTI_SZ" ? (p.value ?? "").split("\\0").join(", ") : (p.value ?? "");
      return `before: ${what} = ${value}${p.type ? ` (${p.type})` : ""}`;
    }
    case "service": {
      const parts = [
        ...(p.state ? [p.state] : []),
        ...(p.startType ? [`start ${START_TYPES[p.startType] ?? p.startType}`] : []),
      ];
      return `before: ${what}: ${parts.join(", ") || "present"}`;
    }
    case "file": {
      if (p.directory) return `before: ${what} was a folder${p.mode ? `, mode ${p.mode}` : ""}`;
      const parts = [
        `${(p.bytes ?? 0).toLocaleString("en-US")} bytes`,
        ...(p.mode ? [`mode ${p.mode}`] : []),
        ...(p.sha256 ? [`sha256 ${shortHash(p.sha256)}`] : []),
      ];
      return `before: ${what} ${parts.join(", ")}${p.data === undefined ? " (content not kept)" : ""}`;
    }
  }
}

export type { Prestate };

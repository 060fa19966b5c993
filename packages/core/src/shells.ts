// The shells a technician can choose, and which fit which endpoint.

export const SHELLS = ["bash", "sh", "powershell", "pwsh", "cmd"] as const;
export type Shell = (typeof SHELLS)[number];

export const POSIX_SHELLS: readonly Shell[] = ["bash", "sh"];
export const WINDOWS_SHELLS: readonly Shell[] = ["powershell", "pwsh", "cmd"];

/** The shell used when a technician does not choose one: what that endpoint's admins reach for first. */
export function defaultShell(os: string): Shell {
  return os === "windows" ? "powershell" : "bash";
}

/** Shells that can run on an endpoint of this OS (pwsh runs everywhere it is installed). */
export function shellsFor(os: string): readonly Shell[] {
  return os === "windows" ? WINDOWS_SHELLS : [...POSIX_SHELLS, "pwsh"];
}

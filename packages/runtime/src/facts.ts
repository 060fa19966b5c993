// What the runtime tells the server about its machine (MachineFacts), gathered once at start.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { MachineFacts } from "@caisey/core";
import { RUNTIME_VERSION } from "./config.ts";
import { osName, parseOsRelease } from "./platform.ts";

export function collectFacts(): MachineFacts {
  return {
    hostname: (os.hostname() || "unknown").slice(0, 255),
    os: osName(process.platform),
    osVersion: osVersion().slice(0, 255),
    arch: process.arch.slice(0, 32),
    runtimeVersion: RUNTIME_VERSION,
  };
}

function osVersion(): string {
  const kernel = os.release();
  try {
    if (process.platform === "linux") {
      const pretty = parseOsRelease(readFileSync("/etc/os-release", "utf8"));
      return pretty ? `${pretty} (kernel ${kernel})` : kernel;
    }
    if (process.platform === "darwin") {
      const version = execFileSync("sw_vers", ["-productVersion"], { encoding: "utf8", timeout: 5000 }).trim();
      return version ? `macOS ${version}` : kernel;
    }
    if (process.platform === "win32") return `${os.version()} ${kernel}`.trim();
  } catch {
    // fall through to the kernel release
  }
  return kernel;
}

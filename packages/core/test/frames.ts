// A runtime's started and finished frames for tests (the server tests' simulated runtime and core's rule tests).

import type { FinishedFrame, StartedFrame } from "../src/index.ts";

type CommandRef = { sessionId: string; commandId: string };

/** The started frame a runtime sends for a command (a bash in `/`); any field can be set. */
export function startedFrame(ref: CommandRef, fields: Partial<StartedFrame> = {}): StartedFrame {
  return {
    t: "started",
    ...ref,
    pid: 7,
    user: "u",
    cwd: "/",
    executable: "/bin/bash",
    shell: "bash",
    shellVersion: "5",
    env: {},
    ...fields,
  };
}

/** The finished frame of a command that exited 0 with no output; any field can be set. */
export function finishedFrame(ref: CommandRef, fields: Partial<FinishedFrame> = {}): FinishedFrame {
  return {
    t: "finished",
    ...ref,
    state: "finished",
    exitCode: 0,
    signal: null,
    reason: null,
    stdoutBytes: 0,
    stderrBytes: 0,
    stdoutSha256: null,
    stderrSha256: null,
    durationMs: 1,
    ...fields,
  };
}

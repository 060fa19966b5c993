import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args.ts";

describe("parseArgs", () => {
  it("asks for help on the program and on each command", () => {
    expect(parseArgs(["--help"])).toEqual({ kind: "help", topic: "main" });
    expect(parseArgs(["-h"])).toEqual({ kind: "help", topic: "main" });
    expect(parseArgs(["enroll", "--help"])).toEqual({ kind: "help", topic: "enroll" });
    expect(parseArgs(["run", "-h"])).toEqual({ kind: "help", topic: "run" });
    expect(parseArgs(["enroll", "--server", "http://x", "-h"])).toEqual({ kind: "help", topic: "enroll" });
  });

  it("parses enroll", () => {
    expect(parseArgs(["enroll", "--server", "http://127.0.0.1:8787", "--token", "tok", "--data-dir", "/d"])).toEqual({
      kind: "enroll",
      server: "http://127.0.0.1:8787",
      token: { from: "argument", value: "tok" },
      dataDir: "/d",
      force: false,
    });
    expect(parseArgs(["enroll", "--token=t=1", "--force", "--server=https://s"])).toEqual({
      kind: "enroll",
      server: "https://s",
      token: { from: "argument", value: "t=1" },
      dataDir: null,
      force: true,
    });
  });

  it("takes the enrollment token from CAISEY_ENROLL_TOKEN or standard input, so it need not be on the command line", () => {
    const env = { CAISEY_ENROLL_TOKEN: "cse_x" };
    expect(parseArgs(["enroll", "--server", "https://s"], env)).toMatchObject({
      kind: "enroll",
      token: { from: "environment", value: "cse_x" },
    });
    expect(parseArgs(["enroll", "--server", "https://s", "--token", "-"])).toMatchObject({
      kind: "enroll",
      token: { from: "stdin" },
    });
    expect(parseArgs(["enroll", "--server", "https://s"], { CAISEY_ENROLL_TOKEN: "" })).toEqual({
      kind: "error",
      message: "missing the enrollment token: set CAISEY_ENROLL_TOKEN or give --token -",
      topic: "enroll",
    });
    expect(parseArgs(["enroll", "--server", "https://s", "--token", "-"], env)).toEqual({
      kind: "error",
      message: "the token is both in CAISEY_ENROLL_TOKEN and --token; give it once",
      topic: "enroll",
    });
  });

  it("parses run", () => {
    expect(parseArgs(["run"])).toEqual({ kind: "run", dataDir: null });
    expect(parseArgs(["run", "--data-dir", "/var/x"])).toEqual({ kind: "run", dataDir: "/var/x" });
  });

  it("rejects what it does not understand, with the usage to show", () => {
    expect(parseArgs([])).toEqual({ kind: "error", message: "missing command", topic: "main" });
    expect(parseArgs(["start"])).toEqual({ kind: "error", message: "unknown command: start", topic: "main" });
    expect(parseArgs(["enroll", "--token", "t"])).toEqual({
      kind: "error",
      message: "missing --server",
      topic: "enroll",
    });
    expect(parseArgs(["enroll", "--server", "s"])).toEqual({
      kind: "error",
      message: "missing the enrollment token: set CAISEY_ENROLL_TOKEN or give --token -",
      topic: "enroll",
    });
    expect(parseArgs(["enroll", "--server"])).toEqual({
      kind: "error",
      message: "--server needs a value",
      topic: "enroll",
    });
    expect(parseArgs(["enroll", "--server", "--token", "t"])).toEqual({
      kind: "error",
      message: "--server needs a value",
      topic: "enroll",
    });
    expect(parseArgs(["run", "--force"])).toEqual({ kind: "error", message: "unknown option: --force", topic: "run" });
    expect(parseArgs(["run", "--data-dir", "a", "--data-dir", "b"])).toEqual({
      kind: "error",
      message: "--data-dir given twice",
      topic: "run",
    });
    expect(parseArgs(["enroll", "--force=yes"])).toEqual({
      kind: "error",
      message: "--force takes no value",
      topic: "enroll",
    });
  });
});

import { describe, expect, it } from "vitest";
import {
  boundEnv,
  defaultDataDir,
  describeUser,
  encodePowerShellCommand,
  firstLine,
  killTreeCommand,
  osName,
  parseOsRelease,
  resolveExecutable,
  shellInvocation,
  shellVersionProbe,
  splitChunk,
} from "../src/platform.ts";

const PS_FLAGS = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"];

describe("encodePowerShellCommand", () => {
  it("is base64 of UTF-16LE", () => {
    expect(encodePowerShellCommand("dir")).toBe("ZABpAHIA");
    expect(encodePowerShellCommand("é")).toBe("6QA="); // E9 00
    expect(encodePowerShellCommand("😀")).toBe("PdgA3g=="); // surrogate pair 3D D8 00 DE
    expect(encodePowerShellCommand("")).toBe("");
    expect(encodePowerShellCommand("Get-Process | Where-Object { $_.CPU -gt 100 }")).toBe(
      "RwBlAHQALQBQAHIAbwBjAGUAcwBzACAAfAAgAFcAaABlAHIAZQAtAE8AYgBqAGUAYwB0ACAAewAgACQAXwAuAEMAUABVACAALQBnAHQAIAAxADAAMAAgAH0A",
    );
  });
});

describe("shellInvocation", () => {
  it("starts bash without profile or rc files", () => {
    expect(shellInvocation("bash", "echo 'a b'", "linux")).toEqual({
      file: "bash",
      args: ["--noprofile", "--norc", "-c", "echo 'a b'"],
    });
  });

  it("starts sh with -c", () => {
    expect(shellInvocation("sh", "ls -la", "darwin")).toEqual({ file: "sh", args: ["-c", "ls -la"] });
  });

  it("passes PowerShell scripts encoded", () => {
    expect(shellInvocation("powershell", "dir", "win32")).toEqual({
      file: "powershell.exe",
      args: [...PS_FLAGS, "ZABpAHIA"],
    });
    expect(shellInvocation("pwsh", "dir", "win32")).toEqual({ file: "pwsh.exe", args: [...PS_FLAGS, "ZABpAHIA"] });
    expect(shellInvocation("pwsh", "dir", "linux")).toEqual({ file: "pwsh", args: [...PS_FLAGS, "ZABpAHIA"] });
  });

  it("quotes cmd's command line the way cmd /s expects, verbatim", () => {
    expect(shellInvocation("cmd", 'dir "C:\\Program Files"', "win32")).toEqual({
      file: "cmd.exe",
      args: ["/d", "/s", "/c", '"dir "C:\\Program Files""'],
      windowsVerbatimArguments: true,
    });
  });
});

describe("shellVersionProbe and firstLine", () => {
  it("asks each shell in its own way", () => {
    expect(shellVersionProbe("bash", "/usr/bin/bash")).toEqual({ file: "/usr/bin/bash", args: ["--version"] });
    expect(shellVersionProbe("sh", "/bin/sh")).toEqual({ file: "/bin/sh", args: ["--version"] });
    expect(shellVersionProbe("pwsh", "/usr/bin/pwsh")).toEqual({
      file: "/usr/bin/pwsh",
      args: ["-NoProfile", "-NonInteractive", "-Command", "$PSVersionTable.PSVersion.ToString()"],
    });
    expect(shellVersionProbe("cmd", "C:\\Windows\\System32\\cmd.exe")).toEqual({
      file: "C:\\Windows\\System32\\cmd.exe",
      args: ["/d", "/c", "ver"],
    });
  });

  it("keeps the first non-empty line, trimmed and bounded", () => {
    expect(firstLine("GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)\nCopyright (C) 2022\n")).toBe(
      "GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)",
    );
    expect(firstLine("\r\nMicrosoft Windows [Version 10.0.19045.4291]\r\n")).toBe(
      "Microsoft Windows [Version 10.0.19045.4291]",
    );
    expect(firstLine("")).toBe("");
    expect(firstLine("x".repeat(600))).toBe("x".repeat(512));
  });
});

describe("killTreeCommand", () => {
  it("uses taskkill on Windows and the process group elsewhere", () => {
    expect(killTreeCommand(4242, "win32")).toEqual({ file: "taskkill", args: ["/T", "/F", "/PID", "4242"] });
    expect(killTreeCommand(4242, "linux")).toBeNull();
    expect(killTreeCommand(4242, "darwin")).toBeNull();
  });
});

describe("defaultDataDir", () => {
  it("uses ProgramData on Windows", () => {
    expect(defaultDataDir("win32", { ProgramData: "D:\\PD" })).toBe("D:\\PD\\Caisey\\runtime");
    expect(defaultDataDir("win32", {})).toBe("C:\\ProgramData\\Caisey\\runtime");
  });

  it("uses one system directory per platform, whoever runs it (the service's)", () => {
    expect(defaultDataDir("linux", { HOME: "/root" })).toBe("/var/lib/caisey-runtime");
    expect(defaultDataDir("linux", { HOME: "/home/ann" })).toBe("/var/lib/caisey-runtime");
    expect(defaultDataDir("darwin", { HOME: "/Users/ann" })).toBe("/Library/Application Support/Caisey/runtime");
    expect(defaultDataDir("freebsd", { HOME: "/home/bob" })).toBe("/var/lib/caisey-runtime");
  });
});

describe("describeUser", () => {
  it("names LocalSystem as Windows does", () => {
    expect(describeUser({ platform: "win32", username: "DESK-01$", domain: "WORKGROUP", isService: true })).toBe(
      "NT AUTHORITY\\SYSTEM",
    );
    expect(describeUser({ platform: "win32", username: "SYSTEM", domain: "NT AUTHORITY" })).toBe(
      "NT AUTHORITY\\SYSTEM",
    );
  });

  it("qualifies Windows users with their domain", () => {
    expect(describeUser({ platform: "win32", username: "ann", domain: "CONTOSO", isService: false })).toBe(
      "CONTOSO\\ann",
    );
    expect(describeUser({ platform: "win32", username: "ann" })).toBe("ann");
    // A machine account name outside a service is reported as it is.
    expect(describeUser({ platform: "win32", username: "DESK-01$", domain: "CONTOSO" })).toBe("CONTOSO\\DESK-01$");
  });

  it("uses the plain user name on POSIX", () => {
    expect(describeUser({ platform: "linux", username: "root", domain: "x", isService: true })).toBe("root");
    expect(describeUser({ platform: "darwin", username: "ann" })).toBe("ann");
  });
});

describe("resolveExecutable", () => {
  const files = (...paths: string[]) => {
    const set = new Set(paths);
    return (file: string) => set.has(file);
  };

  it("searches PATH in order on POSIX", () => {
    const exists = files("/usr/bin/bash", "/bin/bash");
    expect(resolveExecutable("bash", "/usr/local/bin:/usr/bin:/bin", "linux", exists)).toBe("/usr/bin/bash");
    expect(resolveExecutable("bash", "/bin:/usr/bin", "linux", exists)).toBe("/bin/bash");
    expect(resolveExecutable("zsh", "/bin:/usr/bin", "linux", exists)).toBeNull();
    expect(resolveExecutable("bash", undefined, "linux", exists)).toBeNull();
  });

  it("skips empty and relative PATH entries", () => {
    const exists = files("bin/bash", "./bash", "/opt/bash");
    expect(resolveExecutable("bash", ":.:bin:/opt", "linux", exists)).toBe("/opt/bash");
    expect(resolveExecutable("bash", "::bin", "linux", exists)).toBeNull();
  });

  it("accepts absolute paths as they are", () => {
    expect(resolveExecutable("/bin/sh", "", "linux", files("/bin/sh"))).toBe("/bin/sh");
    expect(resolveExecutable("./sh", "/bin", "linux", files("./sh", "/bin/sh"))).toBeNull();
  });

  it("tries PATHEXT on Windows", () => {
    const exists = files("C:\\Windows\\System32\\cmd.exe", "C:\\Tools\\thing.CMD");
    const PATH = 'C:\\Windows\\System32;"C:\\Tools";relative';
    expect(resolveExecutable("cmd", PATH, "win32", exists)).toBeNull(); // default PATHEXT is upper case
    expect(resolveExecutable("cmd", PATH, "win32", exists, ".com;.exe")).toBe("C:\\Windows\\System32\\cmd.exe");
    expect(resolveExecutable("cmd.exe", PATH, "win32", exists, ".COM;.EXE")).toBe("C:\\Windows\\System32\\cmd.exe");
    expect(resolveExecutable("thing", PATH, "win32", exists)).toBe("C:\\Tools\\thing.CMD");
    expect(resolveExecutable("pwsh.exe", PATH, "win32", exists)).toBeNull();
  });
});

describe("osName", () => {
  it("maps Node platforms to the facts' os", () => {
    expect(osName("linux")).toBe("linux");
    expect(osName("darwin")).toBe("darwin");
    expect(osName("win32")).toBe("windows");
    expect(osName("freebsd")).toBe("freebsd");
    expect(osName("openbsd")).toBe("other");
    expect(osName("aix")).toBe("other");
  });
});

describe("parseOsRelease", () => {
  it("reads PRETTY_NAME", () => {
    expect(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')).toBe(
      "Debian GNU/Linux 12 (bookworm)",
    );
    expect(parseOsRelease("PRETTY_NAME=Alpine\n")).toBe("Alpine");
    expect(parseOsRelease("ID=x\n")).toBeNull();
    expect(parseOsRelease('PRETTY_NAME=""\n')).toBeNull();
  });
});

describe("boundEnv", () => {
  it("keeps small environments as they are", () => {
    expect(boundEnv({ B: "2", A: "1" })).toEqual({ env: { A: "1", B: "2" }, omitted: 0 });
  });

  it("shortens long values and leaves out what does not fit", () => {
    const long = "v".repeat(10_000);
    const { env, omitted } = boundEnv({ LONG: long, SHORT: "s" });
    expect(env.LONG).toBe(`${"v".repeat(8192 - "…[truncated]".length)}…[truncated]`);
    expect(env.LONG?.length).toBe(8192);
    expect(env.SHORT).toBe("s");
    expect(omitted).toBe(0);

    const many: Record<string, string> = {};
    for (let i = 0; i < 600; i++) many[`V${String(i).padStart(3, "0")}`] = "x";
    const bounded = boundEnv(many);
    expect(Object.keys(bounded.env).length).toBe(500);
    expect(bounded.omitted).toBe(100);
    expect(Object.keys(bounded.env).at(-1)).toBe("V499");

    const big: Record<string, string> = {};
    for (let i = 0; i < 20; i++) big[`K${String(i).padStart(2, "0")}`] = "y".repeat(8000);
    const capped = boundEnv(big, 30_000);
    expect(Object.keys(capped.env)).toEqual(["K00", "K01", "K02"]);
    expect(capped.omitted).toBe(17);
    expect(JSON.stringify(capped.env).length).toBeLessThanOrEqual(30_000);
  });
});

describe("splitChunk", () => {
  it("splits into pieces of at most max bytes, in order", () => {
    const buffer = Buffer.alloc(200 * 1024);
    for (let i = 0; i < buffer.length; i++) buffer[i] = i % 251;
    const pieces = splitChunk(buffer, 65536);
    expect(pieces.map((p) => p.length)).toEqual([65536, 65536, 65536, 8192]);
    expect(Buffer.concat(pieces).equals(buffer)).toBe(true);
    expect(splitChunk(Buffer.from("abc"), 65536).map((p) => p.toString())).toEqual(["abc"]);
    expect(splitChunk(Buffer.alloc(65536), 65536).length).toBe(1);
  });
});

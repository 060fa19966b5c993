import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DATA_BUDGET_SPENT,
  type DispatchFrame,
  joinPrestate,
  type PrestateFrame,
  type ProbeCommand,
} from "@caisey/core";
import { afterAll, describe, expect, it } from "vitest";
import { finishedFrame, startedFrame } from "../../core/test/frames.ts";
import { Executor } from "../src/executor.ts";
import { Journal } from "../src/journal.ts";
import { Outbox, type OutboxFrame } from "../src/outbox.ts";
import { capturePrestate, type FileFacts, PROBE_LIMITS, type ProbeSeams, resolveTarget } from "../src/probes.ts";
import { MACHINE } from "./fixtures.ts";
import { bashDispatch, testTenant } from "./tenant.ts";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A file system and probe commands from tables; `clock` advances by what each call says it took. */
function fakeSeams(
  files: Record<string, Uint8Array | "dir" | FileFacts>,
  outputs: Record<string, { stdout: string; stderr?: string; exitCode?: number } | Error> = {},
  took: Record<string, number> = {},
): ProbeSeams & { ran: { probe: ProbeCommand; timeoutMs: number }[] } {
  let clock = 0;
  const ran: { probe: ProbeCommand; timeoutMs: number }[] = [];
  return {
    ran,
    async stat(file) {
      const f = files[file];
      if (f === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
      if (f === "dir") return { kind: "directory", size: 4096, mode: 0o40755, uid: 0, gid: 0 };
      if (!(f instanceof Uint8Array)) return f;
      return { kind: "file", size: f.length, mode: 0o100640, uid: 1000, gid: 1001 };
    },
    async *read(file) {
      const f = files[file];
      if (!(f instanceof Uint8Array)) throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      clock += took[file] ?? 0;
      for (let at = 0; at < f.length; at += 65536) yield f.subarray(at, at + 65536);
    },
    async run(probe, timeoutMs) {
      ran.push({ probe, timeoutMs });
      clock += took[probe.command] ?? 0;
      const out = outputs[probe.command];
      if (out === undefined) throw new Error(`no such probe: ${probe.command}`);
      if (out instanceof Error) throw out;
      return { stdout: out.stdout, stderr: out.stderr ?? "", exitCode: out.exitCode ?? 0 };
    },
    now: () => clock,
  };
}

const linux = { cwd: "/srv/app", platform: "linux" as const };
const windows = { cwd: "C:\\Users\\alice", platform: "win32" as const };

describe("capturing the pre-state of a change", () => {
  it("reads files natively, resolved against the command's folder, in planProbes order", async () => {
    const mixed = Uint8Array.from([0x61, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x62]);
    const seams = fakeSeams({ "/srv/app/app.conf": mixed, "/etc/old": "dir" });
    const records = await capturePrestate(
      "bash",
      "sed -i 's/a/b/' app.conf && echo x > /tmp/new.txt && rm -r /etc/old",
      linux,
      seams,
    );
    expect(records).toEqual([
      {
        kind: "file",
        target: "/srv/app/app.conf",
        exists: true,
        sha256: sha256(mixed),
        bytes: 7,
        mode: "0640",
        owner: "1000:1001",
        data: Buffer.from(mixed).toString("base64"),
      },
      { kind: "file", target: "/tmp/new.txt", exists: false },
      { kind: "file", target: "/etc/old", exists: true, mode: "0755", owner: "0:0", directory: true },
    ]);
    expect(seams.ran).toEqual([]);
  });

  it("resolves ~ to the home folder, and relative paths against the command's folder", () => {
    const posix = { ...linux, home: "/home/alice" };
    expect(resolveTarget("~/notes.txt", posix)).toBe("/home/alice/notes.txt");
    expect(resolveTarget("~", posix)).toBe("/home/alice");
    expect(resolveTarget("~bob/x", posix)).toBe("/srv/app/~bob/x");
    expect(resolveTarget("./a/../b.conf", posix)).toBe("/srv/app/b.conf");
    expect(resolveTarget("/etc/hosts", posix)).toBe("/etc/hosts");
    const win = { ...windows, home: "C:\\Users\\alice" };
    expect(resolveTarget("~\\Desktop\\x.txt", win)).toBe("C:\\Users\\alice\\Desktop\\x.txt");
    expect(resolveTarget(".\\y", win)).toBe("C:\\Users\\alice\\y");
    expect(resolveTarget("D:\\data\\z", win)).toBe("D:\\data\\z");
  });

  it("records a read-only command as nothing to probe", async () => {
    const seams = fakeSeams({});
    expect(await capturePrestate("bash", "cat /etc/hosts; ls -l", linux, seams)).toEqual([]);
    expect(await capturePrestate("cmd", "reg query HKLM\\Software\\X /v Y", windows, seams)).toEqual([]);
  });

  it("keeps only the hash of a file over 1 MiB, and content up to 1 MiB per command in all", async () => {
    const big = new Uint8Array(1024 * 1024 + 1).fill(7);
    const half = new Uint8Array(600 * 1024).fill(1);
    const seams = fakeSeams({ "/a": big, "/b": half, "/c": half });
    const records = await capturePrestate("bash", "rm /a /b /c", linux, seams);
    expect(records.map((r) => (r.kind === "file" ? [r.target, r.bytes, r.data?.length, r.dataOmitted] : []))).toEqual([
      ["/a", big.length, undefined, undefined],
      ["/b", half.length, Buffer.from(half).toString("base64").length, undefined],
      ["/c", half.length, undefined, DATA_BUDGET_SPENT],
    ]);
    expect(records[0]).toMatchObject({ sha256: sha256(big) });
    expect(records[2]).toMatchObject({ sha256: sha256(half) });
  });

  it("records a file it cannot read as failed, and goes on", async () => {
    const seams = fakeSeams({ "/srv/app/secret": { kind: "file", size: 3, mode: 0o600, uid: 0, gid: 0 } });
    expect(await capturePrestate("bash", "rm secret", linux, seams)).toEqual([
      { kind: "file", target: "/srv/app/secret", exists: false, error: "permission denied" },
    ]);
  });

  it("reads registry values with reg query (cmd) and reg.exe (PowerShell)", async () => {
    const key = "HKLM\\Software\\PrintSpooler";
    const query = `\r\n${key}\r\n    DisableRestart    REG_DWORD    0x0\r\n\r\n`;
    const seams = fakeSeams(
      {},
      {
        [`reg query ${key} /v DisableRestart`]: { stdout: query },
        [`reg query ${key} /v Missing`]: {
          stdout: "",
          stderr: "ERROR: The system was unable to find the specified registry key or value.",
          exitCode: 1,
        },
        [`reg.exe query '${key}' /v 'DisableRestart'`]: { stdout: query },
      },
    );
    expect(
      await capturePrestate(
        "cmd",
        `reg add ${key} /v DisableRestart /t REG_DWORD /d 1 /f & reg delete ${key} /v Missing /f`,
        windows,
        seams,
      ),
    ).toEqual([
      { kind: "registry", target: key, name: "DisableRestart", exists: true, type: "REG_DWORD", value: "0" },
      { kind: "registry", target: key, name: "Missing", exists: false },
    ]);
    expect(
      await capturePrestate(
        "powershell",
        `Set-ItemProperty -Path 'HKLM:\\Software\\PrintSpooler' -Name DisableRestart -Value 1`,
        windows,
        seams,
      ),
    ).toEqual([{ kind: "registry", target: key, name: "DisableRestart", exists: true, type: "REG_DWORD", value: "0" }]);
    expect(seams.ran.map((r) => [r.probe.shell, r.timeoutMs])).toEqual([
      ["cmd", PROBE_LIMITS.commandMs],
      ["cmd", PROBE_LIMITS.commandMs],
      ["powershell", PROBE_LIMITS.commandMs],
    ]);
  });

  it("reads a service's start type (delayed too) and state with sc qc / sc query", async () => {
    const sc = [
      "[SC] QueryServiceConfig SUCCESS",
      "SERVICE_NAME: Spooler",
      "        TYPE               : 110  WIN32_OWN_PROCESS  (interactive)",
      "        START_TYPE         : 2   AUTO_START  (DELAYED)",
      "SERVICE_NAME: Spooler",
      "        STATE              : 4  RUNNING",
    ].join("\r\n");
    const seams = fakeSeams({}, { "sc qc Spooler & sc query Spooler": { stdout: sc } });
    expect(await capturePrestate("cmd", "sc config Spooler start= disabled", windows, seams)).toEqual([
      { kind: "service", target: "Spooler", exists: true, startType: "automatic-delayed", state: "running" },
    ]);
  });

  it("records a probe that fails or outlasts the time bound as failed, never throwing", async () => {
    const key = "HKLM\\Software\\A";
    const seams = fakeSeams(
      {},
      {
        [`reg query ${key} /v One`]: new Error("the probe took longer than 5000 ms"),
        [`reg query ${key} /v Two`]: { stdout: `    Two    REG_SZ    x` },
        [`reg query ${key} /v Three`]: { stdout: `    Three    REG_SZ    y` },
      },
      { [`reg query ${key} /v One`]: 5_000, [`reg query ${key} /v Two`]: 10_001 },
    );
    const records = await capturePrestate(
      "cmd",
      `reg delete ${key} /v One /f & reg delete ${key} /v Two /f & reg delete ${key} /v Three /f`,
      windows,
      seams,
    );
    expect(records).toEqual([
      { kind: "registry", target: key, name: "One", exists: false, error: "the probe took longer than 5000 ms" },
      { kind: "registry", target: key, name: "Two", exists: true, type: "REG_SZ", value: "x" },
      {
        kind: "registry",
        target: key,
        name: "Three",
        exists: false,
        error: `not read: probing took longer than ${PROBE_LIMITS.totalMs / 1000} s`,
      },
    ]);
    // The second probe only had what was left of the whole bound.
    expect(seams.ran.map((r) => r.timeoutMs)).toEqual([PROBE_LIMITS.commandMs, PROBE_LIMITS.commandMs]);
  });
});

describe("the executor sends the pre-state ahead of the start", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "caisey-probes-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tenant = testTenant();
  const dispatch = (command: string): DispatchFrame => tenant.signDispatch(MACHINE, bashDispatch(command));

  it("reads the real file before the command changes it, and the outbox drops it once the start is acknowledged", async () => {
    const file = path.join(dir, "app.conf");
    const before = Buffer.from([0x6b, 0x3d, 0x31, 0x00, 0xc3, 0x28, 0x0d, 0x0a]);
    writeFileSync(file, before);
    chmodSync(file, 0o604);
    const outbox = new Outbox({ windowBytes: 1 << 20 });
    const finished = new Promise<void>((resolve) => {
      const push = outbox.push.bind(outbox);
      outbox.push = (frame) => {
        push(frame);
        if (frame.t === "finished") resolve();
      };
    });
    const executor = new Executor({ sink: outbox, cwd: dir, shellVersion: async () => "bash 5" });
    const d = dispatch("sed -i 's/1/2/' app.conf");
    executor.dispatch(d);
    await finished;
    const frames = outbox.pending();
    expect(frames.map((f) => f.t)).toEqual(["prestate", "started", "finished"]);
    const part = frames[0] as PrestateFrame;
    expect(part).toMatchObject({ sessionId: d.sessionId, commandId: d.commandId, part: 0, parts: 1 });
    expect(joinPrestate([part.text])).toEqual({
      ok: true,
      probes: [
        {
          kind: "file",
          target: file,
          exists: true,
          sha256: sha256(before),
          bytes: before.length,
          mode: "0604",
          owner: `${os.userInfo().uid}:${os.userInfo().gid}`,
          data: before.toString("base64"),
        },
      ],
    });
    const ack = { t: "ack" as const, sessionId: d.sessionId, commandId: d.commandId, stdout: 0, stderr: 0 };
    outbox.ack({ ...ack, started: false, finished: false });
    expect(outbox.pending().map((f) => f.t)).toEqual(["prestate", "started", "finished"]);
    outbox.ack({ ...ack, started: true, finished: false });
    expect(outbox.pending().map((f) => f.t)).toEqual(["finished"]);
  });

  it("runs the command when its probe fails", async () => {
    const outbox = new Outbox({ windowBytes: 1 << 20 });
    const seams = fakeSeams({});
    seams.stat = async () => {
      throw new Error("the disk is on fire");
    };
    const executor = new Executor({ sink: outbox, cwd: dir, shellVersion: async () => "bash 5", probeSeams: seams });
    const d = dispatch("echo ran > out.txt");
    const done = new Promise<void>((resolve) => {
      const push = outbox.push.bind(outbox);
      outbox.push = (frame) => {
        push(frame);
        if (frame.t === "finished") resolve();
      };
    });
    executor.dispatch(d);
    await done;
    const frames = outbox.pending();
    expect(frames.map((f) => f.t)).toEqual(["prestate", "started", "finished"]);
    expect(joinPrestate([(frames[0] as PrestateFrame).text])).toEqual({
      ok: true,
      probes: [{ kind: "file", target: path.join(dir, "out.txt"), exists: false, error: "the disk is on fire" }],
    });
    expect(frames[2]).toMatchObject({ state: "finished", exitCode: 0 });
  });

  it("ends a command that never started with its pre-state dropped by the finish's ack", async () => {
    const settled: string[] = [];
    const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };
    const o = new Outbox({ windowBytes: 1 << 20, onSettled: (id) => settled.push(id) });
    o.push({ t: "prestate", ...ref, part: 0, parts: 1, text: "[]" });
    o.push(finishedFrame(ref, { state: "failed", exitCode: null, reason: "bash not found on PATH" }));
    o.ack({ t: "ack", ...ref, started: false, stdout: 0, stderr: 0, finished: true });
    expect(o.pending()).toEqual([]);
    expect(settled).toEqual([ref.commandId]);
  });
});

describe("the pre-state in the outbox journal", () => {
  it("survives a crash before the start, is resent, and leaves once the start is acknowledged", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "caisey-prestate-journal-"));
    try {
      const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };
      const parts = ['[{"kind":"file",', '"target":"/a","exists":false}]'];
      const journal = await Journal.open(dir);
      const outbox = new Outbox({ store: journal, windowBytes: 1 << 20 });
      await outbox.starting(ref.sessionId, ref.commandId);
      for (const [part, text] of parts.entries()) outbox.push({ t: "prestate", ...ref, part, parts: 2, text });
      await journal.close(); // the runtime dies before spawning the command

      const again = await Journal.open(dir);
      const reopened = new Outbox({ store: again, windowBytes: 1 << 20 });
      const resent: OutboxFrame[] = [];
      reopened.connected((f) => resent.push(f));
      expect(resent).toEqual(parts.map((text, part) => ({ t: "prestate", ...ref, part, parts: 2, text })));
      // It may have run: reported as such, never run again.
      expect(again.unfinished()).toMatchObject([{ commandId: ref.commandId, phase: "starting" }]);
      reopened.push(startedFrame(ref));
      reopened.ack({ t: "ack", ...ref, started: true, stdout: 0, stderr: 0, finished: false });
      expect(reopened.pending()).toEqual([]);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The updater's decisions without processes: which file of a release is this runtime's own, whether a service manager
// restarts it, why a downloaded build must not run, and the `run` options that set how often it asks.
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { releaseMessage } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args.ts";
import { ownReleaseFile, refusal, releaseKeyObject, underServiceManager } from "../src/update.ts";

const build = { version: "1.0.0", releaseKey: null };

describe("updates", () => {
  it("looks for its own platform's executable, or the portable bundle", () => {
    expect(ownReleaseFile({ ...build, form: "portable" }, "darwin", "arm64")).toBe("caisey-runtime.mjs");
    expect(ownReleaseFile({ ...build, form: "executable" }, "linux", "x64")).toBe("caisey-runtime-linux-x64");
    expect(ownReleaseFile({ ...build, form: "executable" }, "linux", "arm64")).toBe("caisey-runtime-linux-arm64");
    expect(ownReleaseFile({ ...build, form: "executable" }, "win32", "x64")).toBe("caisey-runtime-win-x64.exe");
  });

  it("leaves the restart to systemd, launchd, the Windows service manager or a supervisor that says so", () => {
    expect(underServiceManager("linux", { INVOCATION_ID: "5a1f…" })).toBe(true);
    expect(underServiceManager("linux", {})).toBe(false);
    expect(underServiceManager("darwin", { XPC_SERVICE_NAME: "com.caisey.runtime" })).toBe(true);
    expect(underServiceManager("darwin", { XPC_SERVICE_NAME: "0" })).toBe(false);
    expect(underServiceManager("win32", { USERPROFILE: "C:\\Windows\\system32\\config\\systemprofile" })).toBe(true);
    expect(underServiceManager("win32", { USERPROFILE: "C:\\Users\\alice" })).toBe(false);
    expect(underServiceManager("linux", { CAISEY_RUNTIME_SUPERVISED: "1" })).toBe(true);
  });

  it("runs a build only when its size, SHA-256 and the release key's signature over both hold", () => {
    const ours = generateKeyPairSync("ed25519");
    const theirs = generateKeyPairSync("ed25519");
    const key = releaseKeyObject(ours.publicKey.export({ format: "jwk" }).x as string);
    const bytes = Buffer.from("console.log('1.1.0')\n");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const signed = (by: typeof ours, version = "1.1.0") =>
      sign(null, Buffer.from(releaseMessage("caisey-runtime.mjs", version, sha256)), by.privateKey).toString("base64");
    const file = { name: "caisey-runtime.mjs", size: bytes.length, sha256, signature: signed(ours) };
    expect(refusal(bytes.length, sha256, file, "1.1.0", key)).toBeNull();
    expect(refusal(bytes.length + 1, sha256, file, "1.1.0", key)).toBe(
      `its size is ${bytes.length + 1} bytes, the release says ${bytes.length}`,
    );
    const other = "0".repeat(64);
    expect(refusal(bytes.length, other, file, "1.1.0", key)).toBe(
      `its SHA-256 ${other} is not the ${sha256} the release names`,
    );
    expect(refusal(bytes.length, sha256, { ...file, signature: signed(theirs) }, "1.1.0", key)).toBe(
      "its signature is not by this runtime's release key",
    );
    // A signature for another version does not make this one.
    expect(refusal(bytes.length, sha256, { ...file, signature: signed(ours, "1.0.1") }, "1.1.0", key)).toBe(
      "its signature is not by this runtime's release key",
    );
  });

  it("asks hourly unless told another period or never", () => {
    expect(parseArgs(["run", "--no-update"])).toEqual({ kind: "run", dataDir: null, updateEverySeconds: null });
    expect(parseArgs(["run", "--update-every", "60"])).toEqual({ kind: "run", dataDir: null, updateEverySeconds: 60 });
    expect(parseArgs(["run", "--update-every", "0"])).toMatchObject({
      kind: "error",
      message: "--update-every needs a number of seconds (1 or more)",
    });
    expect(parseArgs(["run", "--no-update", "--update-every", "60"])).toMatchObject({
      kind: "error",
      message: "--no-update and --update-every contradict each other",
    });
  });
});

// Runtime releases: the version order an update follows, the exact bytes a release key signs, and which offers count.
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compareVersions, ReleaseManifest, releaseMessage, updateOffer } from "../src/release.ts";

const SHA = "9e2fa1e66b96a43c32a3817cbdc9939552f348c7a94e1e3f024379ceed17d786";
const SIGNATURE = `${"A".repeat(86)}==`;

describe("runtime releases", () => {
  it("orders versions as semver does, pre-releases before their release and build metadata ignored", () => {
    const ordered = [
      "0.1.0",
      "0.1.1",
      "0.2.0-alpha",
      "0.2.0-alpha.1",
      "0.2.0-alpha.beta",
      "0.2.0-beta.2",
      "0.2.0-beta.11",
      "0.2.0",
      "0.10.0",
      "1.0.0",
    ];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(compareVersions(ordered[i] as string, ordered[j] as string), `${ordered[i]} vs ${ordered[j]}`).toBe(
          Math.sign(i - j),
        );
      }
    }
    expect(compareVersions("1.2.3+build.7", "1.2.3")).toBe(0);
    expect(() => compareVersions("1.2", "1.2.0")).toThrow("not a semantic version: 1.2");
  });

  it("signs the file's name, the version and its SHA-256 under its own domain, and nothing else verifies", () => {
    expect(releaseMessage("caisey-runtime.mjs", "0.2.0", SHA)).toBe(
      `caisey-release-v1\ncaisey-runtime.mjs\n0.2.0\n${SHA}`,
    );
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const signature = sign(null, Buffer.from(releaseMessage("caisey-runtime.mjs", "0.2.0", SHA)), privateKey);
    const holds = (name: string, version: string) =>
      verify(null, Buffer.from(releaseMessage(name, version, SHA)), publicKey, signature);
    expect(holds("caisey-runtime.mjs", "0.2.0")).toBe(true);
    expect(holds("caisey-runtime-linux-x64", "0.2.0")).toBe(false);
    expect(holds("caisey-runtime.mjs", "0.1.0")).toBe(false);
  });

  it("offers an update only for a newer version carrying this runtime's own file", () => {
    const manifest = ReleaseManifest.parse({
      version: "0.2.0",
      files: [{ name: "caisey-runtime.mjs", size: 10, sha256: SHA, signature: SIGNATURE }],
    });
    expect(updateOffer(manifest, "0.1.0", "caisey-runtime.mjs")).toEqual({
      kind: "update",
      version: "0.2.0",
      file: manifest.files[0],
    });
    expect(updateOffer(manifest, "0.2.0", "caisey-runtime.mjs")).toEqual({ kind: "current", version: "0.2.0" });
    expect(updateOffer(manifest, "0.3.0-rc.1", "caisey-runtime.mjs")).toEqual({ kind: "current", version: "0.2.0" });
    expect(updateOffer(manifest, "0.1.0", "caisey-runtime-linux-x64")).toEqual({ kind: "no_file", version: "0.2.0" });
  });

  it("refuses a manifest with a bad version, file name, hash or signature", () => {
    const file = { name: "caisey-runtime.mjs", size: 10, sha256: SHA, signature: SIGNATURE };
    expect(ReleaseManifest.safeParse({ version: "0.2", files: [file] }).success).toBe(false);
    expect(ReleaseManifest.safeParse({ version: "0.2.0", files: [{ ...file, name: "../etc/passwd" }] }).success).toBe(
      false,
    );
    expect(
      ReleaseManifest.safeParse({ version: "0.2.0", files: [{ ...file, sha256: SHA.toUpperCase() }] }).success,
    ).toBe(false);
    expect(ReleaseManifest.safeParse({ version: "0.2.0", files: [{ ...file, signature: "AAAA" }] }).success).toBe(
      false,
    );
  });
});

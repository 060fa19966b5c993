// The runtime's releases: what a release key signs for each built file, the release.json a server announces, and how a
// runtime decides that an offered build is newer and meant for it. Pure; the signing (scripts/package-runtime.mjs) and
// the checking (packages/runtime/src/update.ts) call these so the two can never disagree on the bytes signed.

import { z } from "zod";

/** The file `npm run package:runtime` writes beside the builds, served at /downloads/release.json. */
export const RELEASE_MANIFEST = "release.json";

/** MAJOR.MINOR.PATCH[-prerelease][+build], as semver.org writes it. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export const ReleaseVersion = z.string().max(64).regex(SEMVER, "must be a semantic version such as 1.4.0");

/** One built file of a release: what the runtime checks before the file is ever made executable. */
export const ReleaseFile = z.object({
  name: z.string().regex(/^caisey-runtime(-[a-z0-9]+-[a-z0-9]+)?(\.exe|\.mjs)?$/),
  size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Ed25519 by the release key over releaseMessage(name, version, sha256), base64. */
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/),
});
export type ReleaseFile = z.infer<typeof ReleaseFile>;

export const ReleaseManifest = z.object({
  version: ReleaseVersion,
  files: z.array(ReleaseFile).max(16),
});
export type ReleaseManifest = z.infer<typeof ReleaseManifest>;

/**
 * What the release key signs for one file. Domain-separated and naming the file and the version, so a signature can
 * be replayed neither for another platform's file nor to make a runtime "update" to an older build.
 */
export function releaseMessage(name: string, version: string, sha256: string): string {
  return `caisey-release-v1\n${name}\n${version}\n${sha256}`;
}

/** Semantic-version order (build metadata ignored): negative when a is older than b, 0 when equal, positive when newer. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa.core[i] as number) - (pb.core[i] as number);
    if (d !== 0) return Math.sign(d);
  }
  // A pre-release is older than its release (1.0.0-rc.1 < 1.0.0); identifiers compare one by one.
  if (pa.pre.length === 0 || pb.pre.length === 0) return Math.sign(pb.pre.length - pa.pre.length);
  for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i++) {
    const x = pa.pre[i] as string;
    const y = pb.pre[i] as string;
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return Math.sign(Number(x) - Number(y));
    if (xn !== yn) return xn ? -1 : 1; // numeric identifiers come first
    return x < y ? -1 : 1;
  }
  return Math.sign(pa.pre.length - pb.pre.length);
}

function parseVersion(version: string): { core: number[]; pre: string[] } {
  const match = SEMVER.exec(version);
  if (!match) throw new Error(`not a semantic version: ${version}`);
  return { core: [Number(match[1]), Number(match[2]), Number(match[3])], pre: match[4] ? match[4].split(".") : [] };
}

/** What a runtime does with the server's release.json: the file to fetch, or why it stays as it is. */
export type UpdateOffer =
  | { kind: "update"; version: string; file: ReleaseFile }
  | { kind: "current"; version: string }
  | { kind: "no_file"; version: string };

/** A newer release carrying `fileName` (this runtime's own platform file) is an update; anything else is not. */
export function updateOffer(manifest: ReleaseManifest, currentVersion: string, fileName: string): UpdateOffer {
  if (compareVersions(manifest.version, currentVersion) <= 0) return { kind: "current", version: manifest.version };
  const file = manifest.files.find((f) => f.name === fileName);
  return file ? { kind: "update", version: manifest.version, file } : { kind: "no_file", version: manifest.version };
}

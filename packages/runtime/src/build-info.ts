// What this build of the runtime is, fixed when it is bundled (scripts/runtime-bundle.mjs defines CAISEY_BUILD): its
// version, the release public key it trusts updates from, and whether it runs as the portable bundle or as the one-file
// executable. Run from source (the tests), it is the workspace's version with no release key: it never updates.

declare const CAISEY_BUILD: RuntimeBuild | undefined;

export interface RuntimeBuild {
  version: string;
  /** The release key's raw Ed25519 public key, base64url; null for a development build, which never updates itself. */
  releaseKey: string | null;
  /** "portable": `node caisey-runtime.mjs`; "executable": Node's single-executable build (its own Node). */
  form: "portable" | "executable";
}

export const BUILD: RuntimeBuild =
  typeof CAISEY_BUILD === "undefined" ? { version: "0.1.0", releaseKey: null, form: "portable" } : CAISEY_BUILD;

// Types of package-runtime.mjs, for the tests that build and run what it makes.
export declare const RUNTIME_DIST: string;
export declare const SEA_EXEC_ARGV: string[];
export declare const TARGETS: Record<
  "linux-x64" | "linux-arm64" | "win-x64",
  { npm: string; binary: string; file: string }
>;
export declare const DEVELOPMENT_RELEASE_KEY: string;
export declare function releaseKey(keyFile?: string): {
  privateKey: import("node:crypto").KeyObject;
  publicKey: string;
};
export declare function packageRuntime(
  targets?: readonly (keyof typeof TARGETS)[],
  options?: { outDir?: string; version?: string; keyFile?: string },
): Promise<void>;

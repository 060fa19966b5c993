// Types of runtime-bundle.mjs, for the tests that check what goes into the runtime's bundle.
export declare function workspaceVersion(root: string): string;
export declare function bundleRuntime(
  root: string,
  options: {
    outfile: string;
    format?: "esm" | "cjs";
    sourcemap?: boolean | "linked";
    minify?: boolean;
    version?: string;
    releaseKey?: string | null;
  },
): Promise<import("esbuild").Metafile>;

// GET /downloads/<file>: the runtime's built files, byte for byte from where the deployment keeps them (here, as on
// Cloudflare, the DOWNLOADS bucket), with no credentials; a file not built answers 404 saying how to build it.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json } from "./harness.ts";

describe("downloads", () => {
  it("serves a built file's exact bytes and SHA256SUMS, to anyone", async () => {
    const bytes = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 255]);
    const sums = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  caisey-runtime-linux-x64\n";
    await env.DOWNLOADS?.put("caisey-runtime-linux-x64", bytes);
    await env.DOWNLOADS?.put("SHA256SUMS", sums);

    const file = await call("/downloads/caisey-runtime-linux-x64");
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("application/octet-stream");
    expect(file.headers.get("content-disposition")).toBe('attachment; filename="caisey-runtime-linux-x64"');
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(bytes);

    const listed = await call("/downloads/SHA256SUMS");
    expect(listed.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await listed.text()).toBe(sums);
  });

  it("serves release.json, the version runtimes update to, as JSON", async () => {
    const release = '{"version":"0.2.0","files":[]}\n';
    await env.DOWNLOADS?.put("release.json", release);
    const served = await call("/downloads/release.json");
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("application/json");
    expect(served.headers.get("cache-control")).toBe("no-cache");
    expect(await served.text()).toBe(release);
  });

  it("answers 404 with how to build it for a file not built, and 404 for a name that is no download", async () => {
    const missing = await json(await call("/downloads/caisey-runtime-win-x64.exe"), 404);
    expect(missing.error.code).toBe("not_built");
    expect(missing.error.message).toContain("npm run package:runtime");
    await env.DOWNLOADS?.put("notes.txt", "not the runtime");
    expect((await json(await call("/downloads/notes.txt"), 404)).error).toEqual({
      code: "not_found",
      message: "no download named notes.txt",
    });
  });
});

// The runtime's files for endpoints to download (`GET /downloads/<file>`, `GET /downloads/SHA256SUMS`, and
// `GET /downloads/release.json`, the version served and each file's signature, which runtimes update from): what
// `npm run package:runtime` built into dist/runtime/. Not static assets: an executable is ~120 MB, past the 25 MiB an
// asset may be. `npm start` reads them from dist/runtime/ itself (RUNTIME_FILES, scripts/worker.mjs); on Cloudflare
// they are uploaded to the DOWNLOADS bucket (R2; README). No credentials: an endpoint has none before it enrolls, and
// the files hold no secret.

import type { Hono } from "hono";
import type { AppEnv } from "../auth.ts";
import type { Env } from "../env.ts";
import { errorResponse } from "../http.ts";

/** What the build makes: caisey-runtime[-<platform>][.exe|.mjs], SHA256SUMS, release.json; nothing else is ours. */
const DOWNLOAD = /^(SHA256SUMS|release\.json|caisey-runtime(-[a-z0-9]+-[a-z0-9]+)?(\.exe|\.mjs)?)$/;

const CONTENT_TYPE: Record<string, string> = {
  SHA256SUMS: "text/plain; charset=utf-8",
  "release.json": "application/json",
};

export function downloadRoutes(app: Hono<AppEnv>): void {
  app.get("/downloads/:file", async (c) => {
    const file = c.req.param("file");
    if (!DOWNLOAD.test(file)) return errorResponse(404, "not_found", `no download named ${file}`);
    const object = await downloadable(c.env, file);
    if (!object) {
      return errorResponse(
        404,
        "not_built",
        `${file} is not on this server: build the runtime with \`npm run package:runtime\` and start the server again (on Cloudflare, upload dist/runtime/ to the caisey-downloads bucket: see the README)`,
      );
    }
    return new Response(object.body, {
      headers: {
        "content-type": CONTENT_TYPE[file] ?? "application/octet-stream",
        "content-length": String(object.size),
        "content-disposition": `attachment; filename="${file}"`,
        // A new build replaces the file under the same name: always ask again.
        "cache-control": "no-cache",
      },
    });
  });
}

/** The file's bytes and size, from the disk the server runs beside, else the bucket; null when neither has it. */
async function downloadable(env: Env, file: string): Promise<{ body: ReadableStream; size: number } | null> {
  if (env.RUNTIME_FILES) {
    const res = await env.RUNTIME_FILES.fetch(`https://runtime-files/${file}`);
    if (!res.ok || !res.body) return null;
    return { body: res.body, size: Number(res.headers.get("content-length")) };
  }
  const object = await env.DOWNLOADS?.get(file);
  return object ? { body: object.body, size: object.size } : null;
}

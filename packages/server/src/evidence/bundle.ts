// The evidence bundle (`…/export?format=bundle`, DESIGN.md Evidence): the record exactly as GET …/record serves it to
// this reader, the seal, its tlog-proof, the log's verifier key, a manifest and a README, zipped with fflate (pure
// JavaScript, runs in workerd). Only a sealed session has one: the bundle's point is the seal.

import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  type BundleManifest,
  bundleReadme,
  tlogProofText,
  toHex,
  utf8,
} from "@caisey/core";
import { zipSync } from "fflate";
import { sha256 } from "../crypto.ts";
import { type Env, session, transparencyLog } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import type { Scope } from "../objects/session/index.ts";

async function recordBytes(env: Env, view: Scope, sessionId: string): Promise<Uint8Array> {
  const stub = session(env, sessionId);
  const pages: string[] = [];
  let after = 0;
  for (;;) {
    const page = unwrap(await stub.recordPage(view, after));
    if (page.lines.length > 0) pages.push(`${page.lines.join("\n")}\n`);
    if (page.done) return utf8(pages.join(""));
    after = page.last;
  }
}

export async function evidenceBundle(env: Env, view: Scope, sessionId: string): Promise<Response> {
  const stub = session(env, sessionId);
  const { session: info } = unwrap(await stub.summary(view));
  const sealed = await stub.seal(view);
  if (!sealed.ok && sealed.code === "not_sealed")
    throw new HttpError(409, "not_sealed", "an evidence bundle is of a sealed session: close the session first");
  const proof = unwrap(sealed);
  const key = unwrap(await transparencyLog(env, view.tenantId).publicKey(view.tenantId));
  const contents: Record<string, Uint8Array> = {
    [BUNDLE_FILES.record]: await recordBytes(env, view, sessionId),
    [BUNDLE_FILES.seal]: utf8(proof.note),
    [BUNDLE_FILES.proof]: utf8(tlogProofText(proof)),
    [BUNDLE_FILES.key]: utf8(`${key.vkey}\n`),
  };
  const about = {
    format: BUNDLE_FORMAT,
    sessionId,
    tenantId: view.tenantId,
    machineId: info.machineId,
    hostname: info.hostname ?? "",
    head: info.head,
    createdAt: new Date().toISOString(),
  } as const;
  contents[BUNDLE_FILES.readme] = utf8(bundleReadme(about));
  const manifest: BundleManifest = {
    ...about,
    files: Object.entries(contents).map(([name, bytes]) => ({
      name,
      sha256: toHex(sha256(bytes)),
      bytes: bytes.length,
    })),
  };
  contents[BUNDLE_FILES.manifest] = utf8(`${JSON.stringify(manifest, null, 2)}\n`);
  return new Response(zipSync(contents, { mtime: about.createdAt }), {
    headers: {
      "content-type": "application/zip",
      "content-disposition": `attachment; filename="caisey-${sessionId}.zip"`,
      "cache-control": "no-store",
    },
  });
}

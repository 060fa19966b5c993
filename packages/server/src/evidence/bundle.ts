// The evidence bundle (`…/export?format=bundle`, DESIGN.md Evidence): the record exactly as GET …/record serves it to
// this reader (or with notes withheld, when the exporter chose so), the seal, its tlog-proof, the log's verifier key, a manifest and a README, zipped with fflate (pure
// JavaScript, runs in workerd). Only a sealed session has one: the bundle's point is the seal.

import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  type BundleManifest,
  bundleReadme,
  type Disclosure,
  type SealProof,
  tlogProofText,
  toHex,
  utf8,
} from "@caisey/core";
import { zipSync } from "fflate";
import { sha256 } from "../crypto.ts";
import { type Env, session } from "../env.ts";
import { HttpError, unwrap } from "../http.ts";
import type { Scope } from "../objects/session/index.ts";
import { logVerifierKey } from "./seal.ts";

/** The session as the manifest names it. */
export interface BundledSession {
  machineId: string;
  hostname: string | null;
  head: { seq: number; hash: string };
}

async function recordBytes(env: Env, view: Scope, sessionId: string, disclosure: Disclosure): Promise<Uint8Array> {
  const stub = session(env, sessionId);
  const pages: string[] = [];
  let after = 0;
  for (;;) {
    const page = unwrap(await stub.recordPage(view, after, disclosure));
    if (page.lines.length > 0) pages.push(`${page.lines.join("\n")}\n`);
    if (page.done) return utf8(pages.join(""));
    after = page.last;
  }
}

/**
 * The zip of a sealed session's evidence, its record disclosed as `disclosure` says (a contact never reads a note,
 * whatever is asked). Built once per export: the PDF report attaches these very bytes.
 */
export async function evidenceBundle(
  env: Env,
  view: Scope,
  sessionId: string,
  sealed: { info: BundledSession; proof: SealProof; vkey: string },
  disclosure: Disclosure,
): Promise<Uint8Array> {
  const { info, proof, vkey } = sealed;
  const contents: Record<string, Uint8Array> = {
    [BUNDLE_FILES.record]: await recordBytes(env, view, sessionId, disclosure),
    [BUNDLE_FILES.seal]: utf8(proof.note),
    [BUNDLE_FILES.proof]: utf8(tlogProofText(proof)),
    [BUNDLE_FILES.key]: utf8(`${vkey}\n`),
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
  return zipSync(contents, { mtime: about.createdAt });
}

/** The bundle's file name, the same for the download and the PDF's attachment. */
export const bundleFileName = (sessionId: string) => `caisey-${sessionId}.zip`;

/** `…/export?format=bundle`: 409 until the session is sealed, the bundle is of its seal. */
export async function bundleExport(
  env: Env,
  view: Scope,
  sessionId: string,
  disclosure: Disclosure,
): Promise<Response> {
  const stub = session(env, sessionId);
  const { session: info } = unwrap(await stub.summary(view));
  const sealed = await stub.seal(view);
  if (!sealed.ok && sealed.code === "not_sealed")
    throw new HttpError(409, "not_sealed", "an evidence bundle is of a sealed session: close the session first");
  const vkey = await logVerifierKey(env, view.tenantId);
  const zip = await evidenceBundle(env, view, sessionId, { info, proof: unwrap(sealed), vkey }, disclosure);
  return new Response(zip, {
    headers: {
      "content-type": "application/zip",
      "content-disposition": `attachment; filename="${bundleFileName(sessionId)}"`,
      "cache-control": "no-store",
    },
  });
}

#!/usr/bin/env node
// caisey verify: check a Caisey evidence bundle offline (issue 14). It runs core's verifyBundle — the same code the
// server's tests hold the bundle to — over the zip's files, and prints every check it made.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type NoteKey, type OlderCheckpoint, parseVerifierKey, readConsistencyProof, verifyBundle } from "@caisey/core";
import { unzipSync } from "fflate";

export const USAGE = `Usage: caisey verify <bundle.zip> [--key <vkey file or string>] [--checkpoint <file>] [--consistency <file>]

Checks a Caisey evidence bundle (GET /api/v1/sessions/:id/export?format=bundle, or the caisey-<session>.zip
attached to a session's PDF report: pdfdetach -saveall report.pdf) offline:
  seal         the seal is a signed note by the log key
  checkpoint   the log's checkpoint in proof.tlog-proof is signed by the same key
  inclusion    the seal is a leaf of the tree the checkpoint names
  record       record.ndjson recomputes the hash chain up to the sealed seq and head hash
  manifest     every file has the SHA-256 and length manifest.json lists, and it lists every file
  consistency  (with --checkpoint) the log only grew since an older checkpoint you kept

Options:
  --key          the organization's verifier key (<name>+<id>+<key>), or a file holding it. Without it the
                 bundle's own key.vkey is used, which proves only that the bundle agrees with itself.
  --checkpoint   an older signed checkpoint of the same log (GET /api/v1/log/checkpoint, kept earlier)
  --consistency  the log's proof from that checkpoint to the bundle's: the answer of
                 GET /api/v1/log/consistency?from=<older size>&to=<bundle size>, or one hex hash per line.
                 Needed unless both checkpoints are of the same size.
  -h, --help     this text

Exits 0 when every check holds, 1 naming the first that fails, 2 when the command line is wrong.
`;

const digest = async (data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));

/** A key given as a string, or as a file holding one. */
function keyText(given: string): string {
  return (/^[^\s+]+\+[0-9a-f]{8}\+\S+$/.test(given) ? given : readFileSync(given, "utf8")).trim();
}

/** `caisey <args>`: the lines to print and the exit code. */
export async function run(args: string[]): Promise<{ code: number; out: string[] }> {
  let parsed: ReturnType<typeof parse>;
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      allowPositionals: true,
      options: {
        key: { type: "string" },
        checkpoint: { type: "string" },
        consistency: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  try {
    parsed = parse(args);
  } catch (error) {
    return { code: 2, out: [(error as Error).message, USAGE] };
  }
  const { values, positionals } = parsed;
  if (values.help) return { code: 0, out: [USAGE] };
  if (positionals[0] !== "verify" || positionals.length !== 2) return { code: 2, out: [USAGE] };
  const out: string[] = [];
  const failed = (line: string) => ({ code: 1, out: [...out, line] });
  let files: Map<string, Uint8Array>;
  try {
    files = new Map(Object.entries(unzipSync(new Uint8Array(readFileSync(positionals[1] as string)))));
  } catch (error) {
    return failed(`FAIL bundle: ${(error as Error).message}`);
  }
  let vkey: string;
  if (values.key !== undefined) vkey = keyText(values.key);
  else {
    vkey = new TextDecoder().decode(files.get("key.vkey") ?? new Uint8Array()).trim();
    out.push(
      "warning: no --key given: using the bundle's own key.vkey, which proves only that the bundle agrees with itself",
    );
  }
  const key = await parseVerifierKey(digest, vkey);
  if (typeof key === "string") return failed(`FAIL key: ${key}`);
  out.push(`key: ${vkey}`);
  let older: OlderCheckpoint | null = null;
  if (values.checkpoint !== undefined) {
    const consistency =
      values.consistency === undefined ? null : readConsistencyProof(readFileSync(values.consistency, "utf8"));
    if (typeof consistency === "string") return failed(`FAIL consistency: ${consistency}`);
    older = { checkpoint: readFileSync(values.checkpoint, "utf8"), consistency };
  }
  const checks = await verifyBundle(crypto.subtle, files, key as NoteKey, older);
  for (const c of checks) out.push(`${c.ok ? "ok  " : "FAIL"} ${c.check}: ${c.detail}`);
  const failure = checks.find((c) => !c.ok);
  if (failure) return { code: 1, out };
  out.push(older === null ? "verified (no older checkpoint given: the log's consistency was not checked)" : "verified");
  return { code: 0, out };
}

if (import.meta.main) {
  const { code, out } = await run(process.argv.slice(2));
  (code === 0 ? process.stdout : process.stderr).write(`${out.join("\n")}\n`);
  process.exitCode = code;
}

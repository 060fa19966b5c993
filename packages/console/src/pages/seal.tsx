// A closed session's seal, checked in this browser: the tenant's log key (GET /api/v1/log/key) must have signed the
// seal and the log's checkpoint, the seal must be in the tree the checkpoint names, and the sealed head must be the
// head of the record this page shows. The check is core's verifySeal on WebCrypto, the same as any offline verifier.

import { type NoteKey, parseVerifierKey, type SealProof, verifySeal } from "@caisey/core/evidence";
import * as routes from "@caisey/core/routes";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorMessage } from "../api.ts";
import { CopyButton } from "./ui.tsx";

const digest = async (data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));

/** While the log has not appended the seal yet (it was out of reach at the close), look again this often. */
const WAIT_MS = 3000;

type Check =
  | { kind: "checking" }
  | { kind: "waiting" }
  | { kind: "verified"; proof: SealProof; vkey: string; origin: string; closedAt: string }
  | { kind: "failed"; reason: string };

/** The seal checked against a verifier key and the head of the record shown: the one check every page makes. */
export async function checkSeal(
  proof: SealProof,
  vkey: string,
  sessionId: string,
  head: { seq: number; hash: string },
): Promise<{ ok: true; closedAt: string } | { ok: false; reason: string }> {
  const parsed = await parseVerifierKey(digest, vkey);
  if (typeof parsed === "string") return { ok: false, reason: `the log key: ${parsed}` };
  const result = await verifySeal(digest, proof, parsed as NoteKey);
  if (!result.ok) return { ok: false, reason: result.failure };
  const { seal } = result;
  if (seal.sessionId !== sessionId) return { ok: false, reason: "the seal is another session's" };
  if (seal.seq !== head.seq || seal.headHash !== head.hash)
    return { ok: false, reason: `the seal is of event ${seal.seq}, the record ends at event ${head.seq}` };
  return { ok: true, closedAt: seal.closedAt };
}

async function check(sessionId: string, head: { seq: number; hash: string }): Promise<Check> {
  const [proof, key] = await Promise.all([api(routes.sessionSeal, { params: { id: sessionId } }), api(routes.logKey)]);
  const checked = await checkSeal(proof, key.vkey, sessionId, head);
  if (!checked.ok) return { kind: "failed", reason: checked.reason };
  return { kind: "verified", proof, vkey: key.vkey, origin: key.origin, closedAt: checked.closedAt };
}

export function SealPanel({ sessionId, head }: { sessionId: string; head: { seq: number; hash: string } }) {
  const [state, setState] = useState<Check>({ kind: "checking" });

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const next = await check(sessionId, head);
        if (alive) setState(next);
      } catch (error) {
        if (!alive) return;
        if (error instanceof ApiError && error.code === "not_sealed") {
          setState({ kind: "waiting" });
          timer = setTimeout(() => void run(), WAIT_MS);
        } else setState({ kind: "failed", reason: errorMessage(error) });
      }
    };
    void run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [sessionId, head.seq, head.hash]);

  if (state.kind === "checking" || state.kind === "waiting")
    return (
      <div class="seal" data-testid="seal" data-state={state.kind}>
        <span class="badge">{state.kind === "checking" ? "checking seal…" : "sealing…"}</span>
        <span class="muted">
          {state.kind === "checking"
            ? "Checking the seal in this browser."
            : "The record is closed; its seal is on its way to the organization's log."}
        </span>
      </div>
    );
  if (state.kind === "failed")
    return (
      <div class="seal failed" data-testid="seal" data-state="failed">
        <span class="badge bad">seal does not verify</span>
        <span data-testid="seal-failure">{state.reason}</span>
      </div>
    );
  const { proof, vkey, origin, closedAt } = state;
  return (
    <div class="seal" data-testid="seal" data-state="verified">
      <span class="badge good">sealed</span>
      <span data-testid="seal-summary">
        Closed and sealed {new Date(closedAt).toLocaleString()}. Checked in this browser: signed by the organization's
        log key, entry {proof.leafIndex + 1} of {proof.treeSize} in its log, and it matches this record to the last
        event ({head.seq}).
      </span>
      <details class="seal-details">
        <summary>How to check it yourself</summary>
        <dl>
          <dt>Log</dt>
          <dd class="mono">{origin}</dd>
          <dt>Log key</dt>
          <dd class="mono" data-testid="seal-vkey">
            {vkey} <CopyButton text={vkey} />
          </dd>
          <dt>Sealed head</dt>
          <dd class="mono">
            event {head.seq} · {head.hash}
          </dd>
          <dt>Seal</dt>
          <dd>
            <pre class="mono">{proof.note}</pre>
          </dd>
          <dt>Checkpoint</dt>
          <dd>
            <pre class="mono">{proof.checkpoint}</pre>
          </dd>
        </dl>
        <p class="muted">
          Anyone with the log key can check the seal offline: the signature over the seal, the checkpoint's signature,
          and the seal's place in the log (GET /api/v1/sessions/{sessionId}/seal). Keep a checkpoint: the log must later
          prove every newer checkpoint extends it, so a removed or rewritten session shows.
        </p>
      </details>
    </div>
  );
}

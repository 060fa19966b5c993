// One object per MSP: its transparency log. It holds the tenant's log key (Ed25519, wrapped at rest with the
// deployment's key secret, like the dispatch key), appends the seal of every closed session as a leaf of an RFC 6962
// Merkle tree, signs a C2SP checkpoint of each new tree, and answers proofs. A session's seal reaches it as a durable
// effect from the Session's outbox, so it lands exactly once however often it is delivered (and a session has at
// most one leaf, whatever happens). It is its own object, not part of the Tenant, which every request authenticates
// at: proofs and signatures never queue behind sign-ins, and the key that seals is apart from the key that dispatches.
// Rules (hashing, proofs, note and seal formats) are core's (packages/core/src/evidence/).

import {
  checkpointText,
  completedNodes,
  consistencyProof,
  ed25519Signer,
  fromBase64,
  inclusionProof,
  type NoteSigner,
  type Seal,
  type SealProof,
  sealText,
  signNote,
  toBase64,
  toHex,
  treeRoot,
  utf8,
  verifierKey,
} from "@caisey/core";
import { sha256 } from "../crypto.ts";
import { DurableBase } from "../durable/base.ts";
import type { Effect } from "../durable/outbox.ts";
import { DURABLE_EFFECTS_SQL } from "../durable/schema.ts";
import type { Env } from "../env.ts";
import { unwrapKey, wrapKey } from "../key-wrap.ts";
import { fail, ok, type Result } from "../result.ts";

export const LOG_MIGRATIONS = [
  {
    // nodes: the hash of every complete aligned subtree (level, index), written once when its last leaf arrives.
    name: "log key, seals, complete subtrees, checkpoints",
    sql: `CREATE TABLE log_key (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, origin TEXT NOT NULL,
            public_key TEXT NOT NULL, private_wrapped TEXT NOT NULL, created_at TEXT NOT NULL);
          CREATE TABLE leaves (idx INTEGER PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, note TEXT NOT NULL,
            appended_at TEXT NOT NULL);
          CREATE TABLE nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
            PRIMARY KEY (level, idx)) WITHOUT ROWID;
          CREATE TABLE checkpoints (tree_size INTEGER PRIMARY KEY, note TEXT NOT NULL);`,
  },
  { name: "durable effects: named alarms, outbox, receipts", sql: DURABLE_EFFECTS_SQL },
];

/** What a Session asks of the log when it closes: seal this head. */
export const SEAL_REQUESTED = "seal.requested";

/** The log's public identity, as `GET /api/v1/log/key` answers it. */
export interface LogKey {
  origin: string;
  keyName: string;
  /** The raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  /** The signed-note verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`. */
  vkey: string;
}

type KeyRow = { tenant_id: string; origin: string; public_key: string; private_wrapped: string };

const logKeyPurpose = (tenantId: string) => `log-key:${tenantId}`;

/**
 * The log's origin (and key name): `<host>/log/<tenantId>`, the host being the deployment's public address
 * (CAISEY_PUBLIC_URL) when the log is first used, else `caisey.local`. Chosen once and kept with the key: a log's
 * identity must not change when the deployment moves.
 */
function originFor(env: Env, tenantId: string): string {
  let host = "caisey.local";
  try {
    if (env.CAISEY_PUBLIC_URL) host = new URL(env.CAISEY_PUBLIC_URL).host || host;
  } catch {
    // not a URL: the neutral host
  }
  return `${host}/log/${tenantId}`;
}

export class TransparencyLog extends DurableBase {
  private signer: Promise<Result<NoteSigner>> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, LOG_MIGRATIONS);
  }

  /** The log sends no effects. */
  protected override source(): string | null {
    return null;
  }

  private keyRow(): KeyRow | null {
    return (
      this.sql
        .exec<KeyRow>("SELECT tenant_id, origin, public_key, private_wrapped FROM log_key WHERE id = 1")
        .toArray()[0] ?? null
    );
  }

  /** The log's key, made on its first use. Two first uses at once keep whichever was stored first. */
  private async keyOf(tenantId: string): Promise<Result<KeyRow>> {
    const stored = this.keyRow();
    if (stored) return ok(stored);
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const wrapped = await wrapKey(
      this.env,
      logKeyPurpose(tenantId),
      utf8(JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey))),
    );
    if (!wrapped.ok) return wrapped;
    const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
    this.sql.exec(
      "INSERT OR IGNORE INTO log_key (id, tenant_id, origin, public_key, private_wrapped, created_at) VALUES (1, ?, ?, ?, ?, ?)",
      tenantId,
      originFor(this.env, tenantId),
      toBase64(publicKey),
      wrapped.value,
      new Date().toISOString(),
    );
    return ok(this.keyRow() as KeyRow);
  }

  /** The private key, unwrapped with the deployment's key secret (and wrapped again if it was under the previous). */
  private async openSigner(row: KeyRow): Promise<Result<NoteSigner>> {
    const purpose = logKeyPurpose(row.tenant_id);
    const opened = await unwrapKey(this.env, purpose, row.private_wrapped);
    if (!opened.ok) return opened;
    if (opened.value.stale) {
      const rewrapped = await wrapKey(this.env, purpose, opened.value.plaintext);
      if (!rewrapped.ok) return rewrapped;
      this.sql.exec("UPDATE log_key SET private_wrapped = ? WHERE id = 1", rewrapped.value);
    }
    const jwk = JSON.parse(new TextDecoder().decode(opened.value.plaintext)) as JsonWebKey;
    const privateKey = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
    return ok(await ed25519Signer(sha256, row.origin, privateKey, fromBase64(row.public_key)));
  }

  private async signerOf(tenantId: string): Promise<Result<NoteSigner>> {
    const row = await this.keyOf(tenantId);
    if (!row.ok) return row;
    this.signer ??= this.openSigner(row.value);
    const signer = await this.signer;
    if (!signer.ok) this.signer = null; // said clearly, and tried again on the next use (the secret may be fixed)
    return signer;
  }

  // ---- the tree

  private get size(): number {
    return this.sql.exec<{ n: number | null }>("SELECT MAX(idx) + 1 AS n FROM leaves").one().n ?? 0;
  }

  private readonly node = (level: number, index: number): Uint8Array =>
    new Uint8Array(
      this.sql.exec<{ hash: ArrayBuffer }>("SELECT hash FROM nodes WHERE level = ? AND idx = ?", level, index).one()
        .hash,
    );

  /** Seal notes are signed before the transaction that appends them (Ed25519 is deterministic: a redelivery signs alike). */
  protected override async prepareEffects(source: string, effects: Effect[]): Promise<Result<Map<number, unknown>>> {
    const notes = new Map<number, unknown>();
    for (const effect of effects) {
      if (effect.kind !== SEAL_REQUESTED) continue;
      const seal = JSON.parse(effect.payload) as Seal;
      if (source !== `session:${seal.sessionId}`) return fail(403, "not_your_seal", "a session seals only itself");
      const signer = await this.signerOf(seal.tenantId);
      if (!signer.ok) return signer;
      notes.set(effect.seq, await signNote(sealText(seal), signer.value));
    }
    return ok(notes);
  }

  protected override applyEffect(source: string, effect: Effect, note?: unknown): void {
    if (effect.kind !== SEAL_REQUESTED || typeof note !== "string" || !source.startsWith("session:"))
      throw new Error(`the log takes no ${effect.kind} from ${source}`);
    const sessionId = source.slice("session:".length);
    // Once per session, whatever happens: the seal is final.
    if (this.sql.exec("SELECT 1 FROM leaves WHERE session_id = ?", sessionId).toArray().length > 0) return;
    const index = this.size;
    for (const n of completedNodes(sha256, index, utf8(note), this.node))
      this.sql.exec("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", n.level, n.index, n.hash);
    this.sql.exec(
      "INSERT INTO leaves (idx, session_id, note, appended_at) VALUES (?, ?, ?, ?)",
      index,
      sessionId,
      note,
      new Date().toISOString(),
    );
  }

  /** A new tree is checkpointed as soon as its seals are appended. */
  override async receive(source: string, effects: Effect[]): Promise<Result<{ applied: number }>> {
    const received = await super.receive(source, effects);
    const key = this.keyRow();
    if (received.ok && received.value.applied > 0 && key) await this.checkpointOf(key.tenant_id, this.size);
    return received;
  }

  /** The signed checkpoint of the tree of `size` leaves (signed now if an append's checkpoint was lost to a crash). */
  private async checkpointOf(tenantId: string, size: number): Promise<Result<string>> {
    const stored = this.sql
      .exec<{ note: string }>("SELECT note FROM checkpoints WHERE tree_size = ?", size)
      .toArray()[0];
    if (stored) return ok(stored.note);
    const signer = await this.signerOf(tenantId);
    if (!signer.ok) return signer;
    const root = treeRoot(sha256, this.node, size);
    const note = await signNote(checkpointText({ origin: signer.value.name, size, root }), signer.value);
    this.sql.exec("INSERT OR IGNORE INTO checkpoints (tree_size, note) VALUES (?, ?)", size, note);
    return ok(note);
  }

  // ---- what the routes ask

  async publicKey(tenantId: string): Promise<Result<LogKey>> {
    const row = await this.keyOf(tenantId);
    if (!row.ok) return row;
    const publicKey = fromBase64(row.value.public_key);
    return ok({
      origin: row.value.origin,
      keyName: row.value.origin,
      publicKey: row.value.public_key,
      vkey: await verifierKey(sha256, row.value.origin, publicKey),
    });
  }

  /** The latest checkpoint (of the empty tree, before the first seal). */
  checkpoint(tenantId: string): Promise<Result<string>> {
    return this.checkpointOf(tenantId, this.size);
  }

  consistency(from: number, to: number): Result<{ proof: string[] }> {
    const size = this.size;
    if (from < 1 || from > to || to > size)
      return fail(
        422,
        "invalid_range",
        `a consistency proof needs 1 ≤ from ≤ to ≤ ${size} (the log holds ${size} seal${size === 1 ? "" : "s"})`,
      );
    return ok({ proof: consistencyProof(sha256, this.node, from, to).map(toHex) });
  }

  /** A session's seal with its proof against the latest checkpoint; 404 `not_sealed` until it is appended. */
  async sealOf(tenantId: string, sessionId: string): Promise<Result<SealProof>> {
    const leaf = this.sql
      .exec<{ idx: number; note: string }>("SELECT idx, note FROM leaves WHERE session_id = ?", sessionId)
      .toArray()[0];
    if (!leaf) return fail(404, "not_sealed", "this session is not sealed yet");
    const treeSize = this.size;
    const checkpoint = await this.checkpointOf(tenantId, treeSize);
    if (!checkpoint.ok) return checkpoint;
    return ok({
      note: leaf.note,
      leafIndex: leaf.idx,
      treeSize,
      inclusion: inclusionProof(sha256, this.node, leaf.idx, treeSize).map(toHex),
      checkpoint: checkpoint.value,
    });
  }
}

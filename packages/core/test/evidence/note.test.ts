// Signed notes against the reference example of golang.org/x/mod/sumdb/note (the PeterNeumann key: Ed25519 is
// deterministic, so our signature must be the published one byte for byte), checkpoints, and seals with every way a
// seal can be tampered with detected.

import { describe, expect, it } from "vitest";
import {
  checkpointText,
  ed25519Signer,
  fromBase64,
  fromHex,
  inclusionProof,
  type NoteKey,
  type NoteSigner,
  openNote,
  parseCheckpoint,
  parseNote,
  parseSealText,
  parseVerifierKey,
  type SealProof,
  sealLeafHash,
  sealText,
  signNote,
  toHex,
  treeRoot,
  verifierKey,
  verifySeal,
} from "../../src/index.ts";
import { MemoryLog, sha256 } from "./memory-log.ts";

const VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SEED = fromBase64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").slice(1);
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

/** An Ed25519 private key from its 32-byte seed (PKCS #8 wraps it after a fixed prefix). */
async function privateKeyOf(seed: Uint8Array): Promise<CryptoKey> {
  const pkcs8 = Uint8Array.of(...fromHex("302e020100300506032b657004220420"), ...seed);
  return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
}

/** A fresh log key; its public key's base64 holds a plus sign (as ~1 key in 4 does), which the vkey must survive. */
async function key(name: string): Promise<{ signer: NoteSigner; key: NoteKey; vkey: string }> {
  let pair: CryptoKeyPair;
  let publicKey: Uint8Array;
  do {
    pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  } while (
    !Buffer.from([1, ...publicKey])
      .toString("base64")
      .includes("+")
  );
  const vkey = await verifierKey(sha256, name, publicKey);
  return {
    signer: await ed25519Signer(sha256, name, pair.privateKey, publicKey),
    key: (await parseVerifierKey(sha256, vkey)) as NoteKey,
    vkey,
  };
}

describe("signed notes", () => {
  it("match the Go reference: key id, verifier key and signature, byte for byte", async () => {
    const peter = (await parseVerifierKey(sha256, VKEY)) as NoteKey;
    expect(toHex(peter.keyId)).toBe("c74f20a3");
    expect(await verifierKey(sha256, "PeterNeumann", peter.publicKey)).toBe(VKEY);
    const signer = await ed25519Signer(sha256, "PeterNeumann", await privateKeyOf(SEED), peter.publicKey);
    expect(await signNote(TEXT, signer)).toBe(NOTE);
    expect(await openNote(NOTE, peter)).toEqual({ text: TEXT });
  });

  it("refuse an altered text, a bad signature, another key, and malformed notes and keys", async () => {
    const peter = (await parseVerifierKey(sha256, VKEY)) as NoteKey;
    expect(await openNote(NOTE.replace("cryptography", "cryptographY"), peter)).toMatch(/does not verify/);
    const sig = NOTE.slice(NOTE.lastIndexOf(" ") + 1, -1);
    const flipped = toHex(fromBase64(sig)).replace(/^(.{20})(.)/, (_, a, c) => a + (c === "0" ? "1" : "0"));
    expect(await openNote(NOTE.replace(sig, Buffer.from(fromHex(flipped)).toString("base64")), peter)).toMatch(
      /does not verify/,
    );
    const other = await key("PeterNeumann");
    expect(await openNote(NOTE, other.key)).toBe("the note is not signed by PeterNeumann");
    expect(await openNote(TEXT, peter)).toMatch(/blank line/);
    expect(await openNote(NOTE.replace("\n—", "\r\n—"), peter)).toMatch(/control characters/);
    expect(parseNote(`${TEXT}\n— PeterNeumann !!!\n`)).toBe("a signature is not base64");
    expect(await parseVerifierKey(sha256, VKEY.replace("c74f20a3", "c74f20a4"))).toMatch(/does not match/);
    expect(await parseVerifierKey(sha256, "Peter Neumann+c74f20a3+AAAA")).toMatch(/not a key name/);
    expect(await parseVerifierKey(sha256, VKEY.replace("+ARpc", "+AhRpc"))).toMatch(/not base64|not Ed25519/);
  });
});

describe("checkpoints", () => {
  it("are the origin, the tree size and the base64 root, and read back", () => {
    const root = fromHex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    const text = checkpointText({ origin: "example.com/log", size: 8, root });
    expect(text).toBe("example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");
    expect(parseCheckpoint(text)).toEqual({ origin: "example.com/log", size: 8, root });
    expect(parseCheckpoint("example.com/log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n")).toMatch(/leading/);
    expect(parseCheckpoint("example.com/log\n8\nAAAA\n")).toMatch(/32 bytes/);
    expect(parseCheckpoint("example.com/log\n8\n")).toMatch(/origin, a tree size and a root/);
  });
});

const ORIGIN = "support.northwind.test/log/ten_demo";
const seal = (sessionId: string, seq: number) => ({
  tenantId: "ten_demo",
  sessionId,
  seq,
  headHash: toHex(sha256(Uint8Array.of(seq))),
  closedAt: "2026-05-14T15:17:45.120Z",
});

/** A log of `count` seals signed by `signer`, and the proof of seal `index` against its latest checkpoint. */
async function sealedLog(signer: NoteSigner, count: number, index: number) {
  const notes: string[] = [];
  const log = new MemoryLog();
  for (let i = 0; i < count; i++) {
    notes.push(await signNote(sealText(seal(`ses_${i}`, i + 3)), signer));
    log.append(new TextEncoder().encode(notes[i]));
  }
  const root = treeRoot(sha256, log.node, count);
  const proof: SealProof = {
    note: notes[index] as string,
    leafIndex: index,
    treeSize: count,
    inclusion: inclusionProof(sha256, log.node, index, count).map(toHex),
    checkpoint: await signNote(checkpointText({ origin: signer.name, size: count, root }), signer),
  };
  return { notes, log, proof };
}

describe("seals", () => {
  it("have the contract's exact text, and verify against the log's key with their inclusion proof", async () => {
    expect(sealText(seal("ses_1", 7))).toBe(
      `caisey-seal/v1\nten_demo\nses_1\n7\n${toHex(sha256(Uint8Array.of(7)))}\n2026-05-14T15:17:45.120Z\n`,
    );
    expect(parseSealText(sealText(seal("ses_1", 7)))).toEqual(seal("ses_1", 7));
    const log = await key(ORIGIN);
    const { proof, log: tree } = await sealedLog(log.signer, 5, 3);
    expect(await verifySeal(sha256, proof, log.key)).toEqual({
      ok: true,
      seal: seal("ses_3", 6),
      checkpoint: { origin: ORIGIN, size: 5, root: treeRoot(sha256, tree.node, 5) },
    });
    expect(toHex(await sealLeafHash(sha256, proof.note))).toBe(toHex(tree.node(0, 3)));
  });

  it("name the first failure of every tampering", async () => {
    const log = await key(ORIGIN);
    const { proof, notes } = await sealedLog(log.signer, 6, 2);
    const failure = async (p: SealProof, k: NoteKey = log.key) => {
      const check = await verifySeal(sha256, p, k);
      return check.ok ? "verified" : check.failure;
    };
    // A flipped byte in the sealed head.
    const head = seal("ses_2", 5).headHash;
    const flippedHead = `${head.slice(0, 10)}${head[10] === "0" ? "1" : "0"}${head.slice(11)}`;
    expect(await failure({ ...proof, note: proof.note.replace(head, flippedHead) })).toMatch(
      /^seal: .*does not verify/,
    );
    // Another session's seal, signed and in the log, presented with this proof.
    expect(await failure({ ...proof, note: notes[4] as string })).toMatch(/^inclusion: /);
    // A bad signature on the checkpoint.
    expect(await failure({ ...proof, checkpoint: proof.checkpoint.replace("\n6\n", "\n7\n") })).toMatch(
      /^checkpoint: .*does not verify/,
    );
    // A checkpoint (and seal) from another key with the same name: not this log's.
    const impostor = await key(ORIGIN);
    const forged = await sealedLog(impostor.signer, 6, 2);
    expect(await failure(forged.proof)).toMatch(/^seal: the note is not signed by/);
    expect(await failure({ ...proof, checkpoint: forged.proof.checkpoint })).toMatch(
      /^checkpoint: the note is not signed/,
    );
    // A proof for another tree size, or a shortened proof.
    expect(await failure({ ...proof, treeSize: 5 })).toMatch(/^checkpoint: it is of a tree of 6/);
    expect(await failure({ ...proof, inclusion: proof.inclusion.slice(1) })).toMatch(/^inclusion: /);
    expect(await failure({ ...proof, leafIndex: 3 })).toMatch(/^inclusion: /);
    expect(await failure(proof)).toBe("verified");
  });
});

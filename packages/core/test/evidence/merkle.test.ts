// The log's Merkle tree against transparency-dev/merkle's published vectors (RFC 6962 hashing; every inclusion and
// consistency probe, good and bad, in test/fixtures/merkle-vectors.json) and against properties over random trees.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  consistencyProof,
  fromBase64,
  fromHex,
  inclusionProof,
  leafHash,
  toHex,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from "../../src/index.ts";
import vectors from "../fixtures/merkle-vectors.json" with { type: "json" };
import { MemoryLog, sha256 } from "./memory-log.ts";

const b64 = (values: readonly string[] | null) => (values ?? []).map(fromBase64);
const hex = (values: readonly Uint8Array[]) => values.map(toHex);
const reference = MemoryLog.of(vectors.leafInputs.map(fromHex));

describe("the tree of transparency-dev's eight reference leaves", () => {
  it("has the published root at every size, the empty tree included", () => {
    const roots = vectors.rootHashes.map((_, size) => toHex(treeRoot(sha256, reference.node, size)));
    expect(roots).toEqual(vectors.rootHashes);
  });

  it("produces exactly the published proofs of every happy path", () => {
    const inclusions = vectors.inclusion.filter((p) => p.file.endsWith("happy-path.json"));
    expect(inclusions).toHaveLength(5);
    for (const p of inclusions) {
      expect(toHex(leafHash(sha256, fromHex(vectors.leafInputs[p.leafIdx] as string)))).toBe(
        toHex(fromBase64(p.leafHash)),
      );
      expect(hex(inclusionProof(sha256, reference.node, p.leafIdx, p.treeSize)), p.file).toEqual(hex(b64(p.proof)));
    }
    const consistencies = vectors.consistency.filter((p) => p.file.endsWith("happy-path.json") && p.size1 < p.size2);
    expect(consistencies).toHaveLength(4);
    for (const p of consistencies)
      expect(hex(consistencyProof(sha256, reference.node, p.size1, p.size2)), p.file).toEqual(hex(b64(p.proof)));
  });
});

describe("verification answers every published probe as transparency-dev does", () => {
  it.each(vectors.inclusion.map((p) => [p.file, p] as const))("inclusion %s", async (_, p) => {
    const why = await verifyInclusion(
      sha256,
      p.leafIdx,
      p.treeSize,
      fromBase64(p.leafHash),
      b64(p.proof),
      fromBase64(p.root),
    );
    expect(why === null ? "holds" : "fails").toBe(p.wantErr ? "fails" : "holds");
  });

  it.each(vectors.consistency.map((p) => [p.file, p] as const))("consistency %s", async (_, p) => {
    const why = await verifyConsistency(
      sha256,
      p.size1,
      p.size2,
      b64(p.proof),
      fromBase64(p.root1),
      fromBase64(p.root2),
    );
    expect(why === null ? "holds" : "fails").toBe(p.wantErr ? "fails" : "holds");
  });
});

/** Distinct leaves (each starts with its index): a proof for one leaf must not hold for an equal twin. */
const leaves = fc
  .array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 70 })
  .map((data) => data.map((d, i) => Uint8Array.of(i, ...d)));

describe("properties over random logs", () => {
  it("every leaf's inclusion proof holds against the root of every tree that holds it", async () => {
    await fc.assert(
      fc.asyncProperty(leaves, fc.nat(), fc.nat(), async (data, i, s) => {
        const log = MemoryLog.of(data);
        const size = 1 + (s % data.length);
        const index = i % size;
        const proof = inclusionProof(sha256, log.node, index, size);
        const leaf = leafHash(sha256, data[index] as Uint8Array);
        const root = treeRoot(sha256, log.node, size);
        expect(await verifyInclusion(sha256, index, size, leaf, proof, root)).toBeNull();
        // The same proof places no other leaf there, and no other index.
        const other = leafHash(sha256, Uint8Array.of(...(data[index] as Uint8Array), 0));
        expect(await verifyInclusion(sha256, index, size, other, proof, root)).not.toBeNull();
        if (size > 1) expect(await verifyInclusion(sha256, (index + 1) % size, size, leaf, proof, root)).not.toBeNull();
      }),
      { numRuns: 150 },
    );
  });

  it("every earlier tree is consistent with every later one; a log that dropped or changed a leaf is not", async () => {
    await fc.assert(
      fc.asyncProperty(leaves, fc.nat(), fc.nat(), fc.nat(), async (data, a, b, d) => {
        const log = MemoryLog.of(data);
        const to = 1 + (b % data.length);
        const from = 1 + (a % to);
        const proof = consistencyProof(sha256, log.node, from, to);
        const fromRoot = treeRoot(sha256, log.node, from);
        const toRoot = treeRoot(sha256, log.node, to);
        expect(await verifyConsistency(sha256, from, to, proof, fromRoot, toRoot)).toBeNull();
        // The log drops one leaf the earlier checkpoint held: its new tree cannot be proven an extension.
        if (to < 2) return;
        const dropped = d % from;
        const rewritten = MemoryLog.of(data.filter((_, i) => i !== dropped));
        const size = to - 1;
        if (size < from) return;
        const forged = consistencyProof(sha256, rewritten.node, from, size);
        const forgedRoot = treeRoot(sha256, rewritten.node, size);
        expect(await verifyConsistency(sha256, from, size, forged, fromRoot, forgedRoot)).not.toBeNull();
      }),
      { numRuns: 150 },
    );
  });

  it("verifies with an asynchronous digest (WebCrypto) exactly as with a synchronous one", async () => {
    const webDigest = async (data: Uint8Array) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
    const log = MemoryLog.of(vectors.leafInputs.map(fromHex));
    const proof = inclusionProof(sha256, log.node, 5, 8);
    const leaf = leafHash(sha256, fromHex(vectors.leafInputs[5] as string));
    expect(await verifyInclusion(webDigest, 5, 8, leaf, proof, treeRoot(sha256, log.node, 8))).toBeNull();
    const consistency = consistencyProof(sha256, log.node, 3, 7);
    expect(
      await verifyConsistency(
        webDigest,
        3,
        7,
        consistency,
        treeRoot(sha256, log.node, 3),
        treeRoot(sha256, log.node, 7),
      ),
    ).toBeNull();
  });
});

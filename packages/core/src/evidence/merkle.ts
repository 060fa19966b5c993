// The tenant's transparency log is an RFC 6962 / RFC 9162 Merkle tree: leaf hash SHA-256(0x00 || leaf), interior
// node SHA-256(0x01 || left || right), the empty tree's root SHA-256(""). The log stores the hash of every complete
// aligned subtree (level l, index i covers leaves [i·2^l, (i+1)·2^l)), written once when its last leaf arrives, so a
// root or a proof needs O(log² n) reads and never the leaves themselves.
//
// Building (append, proofs) hashes synchronously, as the log object must inside a transaction; verifying takes a
// digest that may be asynchronous, so a browser checks with WebCrypto and Node with node:crypto, through one code.

import { bytesEqual, concatBytes } from "../bytes.ts";
import type { Sha256 } from "../chain.ts";

/** SHA-256, synchronous (server) or not (WebCrypto in a browser). */
export type Digest = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** The stored hash of a complete aligned subtree; it must exist for every subtree a tree of the size asked holds. */
export type NodeReader = (level: number, index: number) => Uint8Array;

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);
const HASH_BYTES = 32;

export const leafHash = (sha256: Sha256, leaf: Uint8Array): Uint8Array => sha256(concatBytes(LEAF, leaf));
export const nodeHash = (sha256: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array =>
  sha256(concatBytes(NODE, left, right));

/** The largest power of two smaller than n (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * The complete subtrees that the leaf at `index` completes, bottom-up, starting with the leaf itself (level 0): what
 * the log stores when it appends that leaf. `node` reads the ones stored before.
 */
export function completedNodes(
  sha256: Sha256,
  index: number,
  leaf: Uint8Array,
  node: NodeReader,
): { level: number; index: number; hash: Uint8Array }[] {
  const out = [{ level: 0, index, hash: leafHash(sha256, leaf) }];
  let at = index;
  let hash = out[0]?.hash as Uint8Array;
  for (let level = 1; at % 2 === 1; level++) {
    hash = nodeHash(sha256, node(level - 1, at - 1), hash);
    at = (at - 1) / 2;
    out.push({ level, index: at, hash });
  }
  return out;
}

/** MTH(D[start:start+size]) for a range that starts on a multiple of its split (as every range below does). */
function rangeHash(sha256: Sha256, node: NodeReader, start: number, size: number): Uint8Array {
  if (isPowerOfTwo(size)) {
    const level = Math.log2(size);
    return node(level, start / size);
  }
  const k = split(size);
  return nodeHash(sha256, rangeHash(sha256, node, start, k), rangeHash(sha256, node, start + k, size - k));
}

/** The root hash of the tree of the first `size` leaves. */
export function treeRoot(sha256: Sha256, node: NodeReader, size: number): Uint8Array {
  return size === 0 ? sha256(new Uint8Array()) : rangeHash(sha256, node, 0, size);
}

function assertSize(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number ≥ 0`);
}

/** RFC 6962 PATH(m, D[n]): the inclusion proof of leaf `index` in the tree of `size` leaves, leaf to root. */
export function inclusionProof(sha256: Sha256, node: NodeReader, index: number, size: number): Uint8Array[] {
  assertSize(index, "index");
  assertSize(size, "size");
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path = (m: number, start: number, n: number): Uint8Array[] => {
    if (n === 1) return [];
    const k = split(n);
    return m < k
      ? [...path(m, start, k), rangeHash(sha256, node, start + k, n - k)]
      : [...path(m - k, start + k, n - k), rangeHash(sha256, node, start, k)];
  };
  return path(index, 0, size);
}

/** RFC 6962 PROOF(m, D[n]): that the tree of `to` leaves extends the tree of `from` leaves (0 < from ≤ to). */
export function consistencyProof(sha256: Sha256, node: NodeReader, from: number, to: number): Uint8Array[] {
  assertSize(from, "from");
  assertSize(to, "to");
  if (from === 0 || from > to) throw new RangeError(`no consistency proof from ${from} to ${to}`);
  const subproof = (m: number, start: number, n: number, whole: boolean): Uint8Array[] => {
    if (m === n) return whole ? [] : [rangeHash(sha256, node, start, n)];
    const k = split(n);
    return m <= k
      ? [...subproof(m, start, k, whole), rangeHash(sha256, node, start + k, n - k)]
      : [...subproof(m - k, start + k, n - k, false), rangeHash(sha256, node, start, k)];
  };
  return subproof(from, 0, to, true);
}

/** Why a proof does not hold, in words; null when it holds. */
export type ProofCheck = string | null;

const child = async (digest: Digest, left: Uint8Array, right: Uint8Array) =>
  new Uint8Array(await digest(concatBytes(NODE, left, right)));

/** Shift fn and sn right together until fn's lowest bit is set or fn is 0 (RFC 9162's inner loop). */
function climb(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn /= 2;
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

/** RFC 9162 §2.1.3.2: does `proof` place the leaf hash at `index` in the tree of `size` with root `root`? */
export async function verifyInclusion(
  digest: Digest,
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Promise<ProofCheck> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    return `leaf index ${index} is not in a tree of ${size}`;
  if (leaf.length !== HASH_BYTES) return "the leaf hash is not 32 bytes";
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return "the inclusion proof is longer than the tree is deep";
    if (fn % 2 === 1 || fn === sn) {
      r = await child(digest, p, r);
      if (fn % 2 === 0) [fn, sn] = climb(fn, sn);
    } else {
      r = await child(digest, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return "the inclusion proof is shorter than the tree is deep";
  return bytesEqual(r, root) ? null : "the inclusion proof does not lead to the checkpoint's root hash";
}

/**
 * RFC 9162 §2.1.4.2: is the tree of `to` leaves (root `toRoot`) an extension of the tree of `from` leaves (root
 * `fromRoot`)? A log that dropped or rewrote a leaf since `from` cannot produce a proof that holds.
 */
export async function verifyConsistency(
  digest: Digest,
  from: number,
  to: number,
  proof: readonly Uint8Array[],
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
): Promise<ProofCheck> {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from)
    return `no consistency proof leads from a tree of ${from} to a tree of ${to}`;
  if (from === 0) return "a consistency proof from the empty tree proves nothing";
  if (from === to) {
    if (proof.length > 0) return "the trees are the same size, yet the proof is not empty";
    return bytesEqual(fromRoot, toRoot) ? null : "the two checkpoints differ at the same size";
  }
  if (proof.length === 0) return "the consistency proof is empty";
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return "the consistency proof is longer than the trees are deep";
    if (fn % 2 === 1 || fn === sn) {
      fr = await child(digest, c, fr);
      sr = await child(digest, c, sr);
      if (fn % 2 === 0) [fn, sn] = climb(fn, sn);
    } else {
      sr = await child(digest, sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return "the consistency proof is shorter than the trees are deep";
  if (!bytesEqual(fr, fromRoot)) return "the consistency proof does not lead to the earlier checkpoint's root hash";
  return bytesEqual(sr, toRoot) ? null : "the consistency proof does not lead to the later checkpoint's root hash";
}

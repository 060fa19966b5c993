#!/usr/bin/env node
// verify-caisey.mjs — check a Caisey evidence bundle with nothing but Node (18+): node:crypto and node:zlib.
// Written to be read by whoever must trust it: it shares no code with Caisey, and makes the same checks as
// `npx caisey verify`, in the same order, naming the same first failure.
//
//   node verify-caisey.mjs <bundle.zip> [--key <vkey or file>] [--checkpoint <file> [--consistency <file>]]
//
// Formats: C2SP signed-note (Ed25519), tlog-checkpoint and tlog-proof; RFC 6962/9162 Merkle proofs; the record's
// chain h0 = SHA-256("caisey-session-v1\n" + session id), h_i = SHA-256(h_(i-1) || SHA-256(line_i)).
// Last, manifest.json: every file has the SHA-256 and length it lists, and it lists every file.
import { createHash, createPublicKey, verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";

const sha = (...parts) =>
  createHash("sha256")
    .update(Buffer.concat(parts.map((p) => Buffer.from(p))))
    .digest();
class Failure extends Error {
  constructor(check, detail) {
    super(`${check}: ${detail}`);
    this.check = check;
  }
}
const must = (ok, check, detail) => {
  if (!ok) throw new Failure(check, detail);
};

/** The zip's entries by name: the central directory read from its end record, stored or deflated data. */
function unzip(zip) {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  must(end >= 0, "bundle", "not a zip file");
  const files = new Map();
  let at = zip.readUInt32LE(end + 16);
  for (let n = zip.readUInt16LE(end + 10); n > 0; n--) {
    const [method, size, nameLength] = [
      zip.readUInt16LE(at + 10),
      zip.readUInt32LE(at + 20),
      zip.readUInt16LE(at + 28),
    ];
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    files.set(name, method === 0 ? data : inflateRawSync(data));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return files;
}

function parseKey(vkey) {
  const [name, id, encoded] = [vkey.split("+")[0], vkey.split("+")[1], vkey.split("+").slice(2).join("+")];
  const material = Buffer.from(encoded ?? "", "base64");
  must(material.length === 33 && material[0] === 1, "key", "the verifier key is not Ed25519");
  const publicKey = material.subarray(1);
  must(sha(`${name}\n`, [1], publicKey).subarray(0, 4).toString("hex") === id, "key", "the key id does not match");
  const jwk = { kty: "OKP", crv: "Ed25519", x: publicKey.toString("base64url") };
  return { name, id, key: createPublicKey({ key: jwk, format: "jwk" }) };
}

/** The text of a signed note, once a signature by `key` holds over it. */
function openNote(check, note, key) {
  const split = note.lastIndexOf("\n\n");
  must(note.endsWith("\n") && split >= 0, check, "not a signed note");
  const text = note.slice(0, split + 1);
  const mine = note
    .slice(split + 2, -1)
    .split("\n")
    .map((line) => line.split(" "))
    .filter(([dash, name]) => dash === "\u2014" && name === key.name)
    .map(([, , encoded]) => Buffer.from(encoded ?? "", "base64"))
    .filter((sig) => sig.subarray(0, 4).toString("hex") === key.id);
  must(mine.length > 0, check, `the note is not signed by ${key.name}`);
  for (const sig of mine)
    must(
      verify(null, Buffer.from(text), key.key, sig.subarray(4)),
      check,
      `the signature by ${key.name} does not verify`,
    );
  return text;
}

function checkpointOf(check, note, key) {
  const [origin, size, root] = openNote(check, note, key).split("\n");
  must(origin === key.name, check, `it is of the log ${origin}, not ${key.name}`);
  must(/^(0|[1-9][0-9]*)$/.test(size), check, "its tree size is not a number");
  return { origin, size: Number(size), root: Buffer.from(root, "base64") };
}

const node = (l, r) => sha([1], l, r);

// RFC 9162 §2.1.3.2
function inclusionRoot(index, size, leaf, path) {
  let [fn, sn, r] = [index, size - 1, leaf];
  for (const p of path) {
    must(sn !== 0, "inclusion", "the inclusion proof is longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else r = node(r, p);
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  must(sn === 0, "inclusion", "the inclusion proof is shorter than the tree is deep");
  return r;
}

// RFC 9162 §2.1.4.2
function checkConsistency(from, to, proof, fromRoot, toRoot) {
  const fail = (detail) => must(false, "consistency", detail);
  if (from === to)
    return must(
      proof.length === 0 && fromRoot.equals(toRoot),
      "consistency",
      "the two checkpoints differ at the same size",
    );
  if (from === 0 || from > to || proof.length === 0) fail(`no proof leads from a tree of ${from} to one of ${to}`);
  const path = (from & (from - 1)) === 0 ? [fromRoot, ...proof] : proof;
  let [fn, sn] = [from - 1, to - 1];
  while (fn % 2 === 1) [fn, sn] = [(fn - 1) / 2, Math.floor(sn / 2)];
  let [fr, sr] = [path[0], path[0]];
  for (const c of path.slice(1)) {
    if (sn === 0) fail("the consistency proof is longer than the trees are deep");
    if (fn % 2 === 1 || fn === sn) {
      [fr, sr] = [node(c, fr), node(c, sr)];
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else sr = node(sr, c);
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  if (sn !== 0) fail("the consistency proof is shorter than the trees are deep");
  if (!fr.equals(fromRoot)) fail("the consistency proof does not lead to the earlier checkpoint's root hash");
  if (!sr.equals(toRoot)) fail("the consistency proof does not lead to the later checkpoint's root hash");
}

// The manifest is not signed: this catches a damaged or mixed-up bundle; the seal and the chain catch a forged one.
function checkManifest(files) {
  const raw = files.get("manifest.json");
  must(raw !== undefined, "manifest", "the bundle lacks manifest.json");
  let listed;
  try {
    listed = JSON.parse(raw.toString("utf8")).files;
  } catch {
    must(false, "manifest", "manifest.json is not JSON");
  }
  must(Array.isArray(listed), "manifest", "manifest.json lists no files");
  const names = new Set(["manifest.json"]);
  for (const { name, sha256, bytes } of listed.map((entry) => entry ?? {})) {
    must(
      typeof name === "string" && typeof sha256 === "string",
      "manifest",
      "manifest.json lists a file without its name and sha256",
    );
    names.add(name);
    const file = files.get(name);
    must(file !== undefined, "manifest", `the manifest lists ${name}, which the bundle lacks`);
    const actual = sha(file).toString("hex");
    must(actual === sha256, "manifest", `${name} has SHA-256 ${actual}, the manifest lists ${sha256}`);
    must(bytes === file.length, "manifest", `${name} is ${file.length} bytes, the manifest lists ${bytes}`);
  }
  const unlisted = [...files.keys()].find((name) => !names.has(name) && !name.endsWith("/"));
  must(unlisted === undefined, "manifest", `the bundle holds ${unlisted}, which the manifest does not list`);
  console.log("ok   manifest: every file of the bundle has the SHA-256 and length manifest.json lists");
}

function main(argv) {
  const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const given = (name) => {
    const v = option(name);
    return v === undefined ? undefined : existsSync(v) ? readFileSync(v, "utf8").trim() : v;
  };
  const files = unzip(readFileSync(argv[0]));
  const text = (name) => (files.get(name) ?? must(false, "files", `the bundle lacks ${name}`)).toString("utf8");
  let vkey = given("--key");
  if (vkey === undefined) {
    console.log(
      "warning: no --key given: using the bundle's own key.vkey, which proves only that the bundle agrees with itself",
    );
    vkey = text("key.vkey").trim();
  }
  const key = parseKey(vkey);
  const [record, note, proof] = [text("record.ndjson"), text("seal.note"), text("proof.tlog-proof")];
  const [head, checkpointNote] = [
    proof.slice(0, proof.indexOf("\n\n")).split("\n"),
    proof.slice(proof.indexOf("\n\n") + 2),
  ];
  if (head[1]?.startsWith("extra ")) head.splice(1, 1);
  must(
    head[0] === "c2sp.org/tlog-proof@v1" && /^index \d+$/.test(head[1] ?? ""),
    "proof",
    "not a c2sp.org/tlog-proof@v1",
  );
  const [tag, tenant, sessionId, seq, headHash] = openNote("seal", note, key).split("\n");
  must(tag === "caisey-seal/v1" && /^[0-9a-f]{64}$/.test(headHash), "seal", "the note is not a caisey-seal/v1 seal");
  console.log(`ok   seal: signed by ${key.name}: session ${sessionId} of ${tenant}, seq ${seq}, head ${headHash}`);
  const checkpoint = checkpointOf("checkpoint", checkpointNote, key);
  console.log(`ok   checkpoint: signed by ${key.name}: a tree of ${checkpoint.size} seals`);
  const index = Number(head[1].slice(6));
  must(index < checkpoint.size, "inclusion", `leaf index ${index} is not in a tree of ${checkpoint.size}`);
  const path = head.slice(2).map((h) => Buffer.from(h, "base64"));
  const root = inclusionRoot(index, checkpoint.size, sha([0], note), path);
  must(root.equals(checkpoint.root), "inclusion", "the inclusion proof does not lead to the checkpoint's root hash");
  console.log(`ok   inclusion: the seal is leaf ${index} of that tree`);
  must(record.endsWith("\n"), "record", "record export must end with a newline");
  let chain = sha(`caisey-session-v1\n${sessionId}`);
  const lines = record.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const redacted = /^\{"seq":(\d+),"redacted":"([0-9a-f]{64})"\}$/.exec(line);
    let lineSeq;
    try {
      lineSeq = redacted ? Number(redacted[1]) : JSON.parse(line).seq;
    } catch {
      must(false, "record", `the hash chain breaks at seq ${i + 1}: line ${i + 1} is not JSON`);
    }
    must(lineSeq === i + 1, "record", `the hash chain breaks at seq ${i + 1}: expected seq ${i + 1}, found ${lineSeq}`);
    chain = sha(chain, redacted ? Buffer.from(redacted[2], "hex") : sha(line));
  });
  must(
    lines.length === Number(seq) && chain.toString("hex") === headHash,
    "record",
    `the record's recomputed head (seq ${lines.length}, ${chain.toString("hex")}) is not the sealed head (seq ${seq}, ${headHash})`,
  );
  console.log(`ok   record: ${lines.length} lines recompute the sealed head`);
  checkManifest(files);
  const older = option("--checkpoint");
  if (older === undefined)
    return console.log("verified (no older checkpoint given: the log's consistency was not checked)");
  const kept = checkpointOf("consistency", readFileSync(older, "utf8"), key);
  const raw = option("--consistency") === undefined ? null : readFileSync(option("--consistency"), "utf8").trim();
  must(
    raw !== null || kept.size === checkpoint.size,
    "consistency",
    `cannot check offline without the log's proof from ${kept.size} to ${checkpoint.size}: give --consistency`,
  );
  const hashes = raw === null || raw === "" ? [] : raw.startsWith("{") ? JSON.parse(raw).proof : raw.split(/\s+/);
  checkConsistency(
    kept.size,
    checkpoint.size,
    hashes.map((h) => Buffer.from(h, "hex")),
    kept.root,
    checkpoint.root,
  );
  console.log(`ok   consistency: the log grew from ${kept.size} to ${checkpoint.size} seals without changing one`);
  console.log("verified");
}

const argv = process.argv.slice(2);
if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
  console.log(
    "usage: node verify-caisey.mjs <bundle.zip> [--key <vkey or file>] [--checkpoint <file> [--consistency <file>]]",
  );
} else {
  try {
    main(argv);
  } catch (error) {
    console.log(`FAIL ${error instanceof Failure ? error.message : `bundle: ${error.message}`}`);
    process.exitCode = 1;
  }
}

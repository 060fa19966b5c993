// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, the format of Caisey's seals and of its log's
// checkpoints, so any note verifier (Go's golang.org/x/mod/sumdb/note, the transparency-dev tools) reads them:
//
//   <text, ending in a newline>
//   <blank line>
//   — <key name> base64(key id || Ed25519 signature over the text)
//
// key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]; a verifier key is written
// `<name>+<hex key id>+<base64(0x01 || public key)>`. Ed25519 runs on WebCrypto: workerd, Node and browsers alike.

import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from "../bytes.ts";
import type { Digest } from "./merkle.ts";

const ED25519 = 0x01;
const SIGNATURE_BYTES = 64;
const PUBLIC_KEY_BYTES = 32;
/** More signatures than this and a note is refused unread (the spec asks verifiers to accept at least 16). */
const MAX_SIGNATURES = 16;
const DASH = "\u2014 ";

/** A note key: its name and 4-byte id, and the Ed25519 public key they belong to. */
export interface NoteKey {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  signature: Uint8Array;
}

const subtle = () => crypto.subtle;

/** Key names are non-empty, with no Unicode space and no plus sign. */
export function validKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name);
}

export async function keyId(digest: Digest, name: string, publicKey: Uint8Array): Promise<Uint8Array> {
  const hash = await digest(concatBytes(utf8(`${name}\n`), Uint8Array.of(ED25519), publicKey));
  return hash.slice(0, 4);
}

/** The verifier key a third party pins: `<name>+<hex key id>+<base64(0x01 || public key)>`. */
export async function verifierKey(digest: Digest, name: string, publicKey: Uint8Array): Promise<string> {
  if (!validKeyName(name)) throw new Error("a key name must be non-empty, without spaces or '+'");
  const id = toHex(await keyId(digest, name, publicKey));
  return `${name}+${id}+${toBase64(concatBytes(Uint8Array.of(ED25519), publicKey))}`;
}

/** A verifier key read back, its id checked against its name and public key; a reason when it is not one. */
export async function parseVerifierKey(digest: Digest, vkey: string): Promise<NoteKey | string> {
  // Split at the first two plus signs only: the base64 key may hold more.
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first < 0 || second < 0) return "a verifier key is <name>+<key id>+<key>";
  const [name, hexId, encoded] = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
  if (!validKeyName(name)) return "the verifier key's name is not a key name";
  if (!/^[0-9a-f]{8}$/.test(hexId)) return "the verifier key's id is not 8 lowercase hex digits";
  let material: Uint8Array;
  try {
    material = fromBase64(encoded);
  } catch {
    return "the verifier key is not base64";
  }
  if (material.length !== PUBLIC_KEY_BYTES + 1 || material[0] !== ED25519) return "the verifier key is not Ed25519";
  const publicKey = material.slice(1);
  const id = await keyId(digest, name, publicKey);
  if (toHex(id) !== hexId) return "the verifier key's id does not match its name and key";
  return { name, keyId: fromHex(hexId), publicKey };
}

/** A note's text and signature lines, or why it is not a signed note. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } | string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the spec forbids exactly these
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) return "a note holds no control characters but newlines";
  if (!note.endsWith("\n")) return "a signed note ends with a newline";
  const split = note.lastIndexOf("\n\n");
  if (split < 0) return "a signed note has a blank line between its text and its signatures";
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) return `a note with more than ${MAX_SIGNATURES} signatures is not read`;
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(DASH)) return "a signature line starts with an em dash and a space";
    const [name, encoded, ...rest] = line.slice(DASH.length).split(" ");
    if (name === undefined || encoded === undefined || rest.length > 0 || !validKeyName(name))
      return "a signature line is — <key name> <signature>";
    let blob: Uint8Array;
    try {
      blob = fromBase64(encoded);
    } catch {
      return "a signature is not base64";
    }
    if (blob.length < 5) return "a signature is too short";
    signatures.push({ name, keyId: blob.slice(0, 4), signature: blob.slice(4) });
  }
  return { text, signatures };
}

/** Who signs a note: the key's name and id, and the signing itself (Ed25519 over the text's bytes). */
export interface NoteSigner {
  name: string;
  keyId: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** An Ed25519 signer from a WebCrypto private key and its public key. */
export async function ed25519Signer(
  digest: Digest,
  name: string,
  privateKey: CryptoKey,
  publicKey: Uint8Array,
): Promise<NoteSigner> {
  if (!validKeyName(name)) throw new Error("a key name must be non-empty, without spaces or '+'");
  return {
    name,
    keyId: await keyId(digest, name, publicKey),
    sign: async (message) =>
      new Uint8Array(await subtle().sign("Ed25519", privateKey, message as Uint8Array<ArrayBuffer>)),
  };
}

/** The signed note of a text (which must end in a newline). */
export async function signNote(text: string, signer: NoteSigner): Promise<string> {
  if (!text.endsWith("\n")) throw new Error("a note's text ends with a newline");
  const signature = await signer.sign(utf8(text));
  return `${text}\n${DASH}${signer.name} ${toBase64(concatBytes(signer.keyId, signature))}\n`;
}

const sameId = (a: Uint8Array, b: Uint8Array) => toHex(a) === toHex(b);

/**
 * The note's text, once a signature by `key` verifies over it; else why not. Signatures by other keys are ignored, as
 * the spec says; a signature that claims to be `key`'s and does not verify rejects the whole note.
 */
export async function openNote(note: string, key: NoteKey): Promise<{ text: string } | string> {
  const parsed = parseNote(note);
  if (typeof parsed === "string") return parsed;
  const mine = parsed.signatures.filter((s) => s.name === key.name && sameId(s.keyId, key.keyId));
  if (mine.length === 0) return `the note is not signed by ${key.name}`;
  const publicKey = await subtle().importKey(
    "raw",
    key.publicKey as Uint8Array<ArrayBuffer>,
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  for (const s of mine) {
    const holds =
      s.signature.length === SIGNATURE_BYTES &&
      (await subtle().verify(
        "Ed25519",
        publicKey,
        s.signature as Uint8Array<ArrayBuffer>,
        utf8(parsed.text) as Uint8Array<ArrayBuffer>,
      ));
    if (!holds) return `the signature by ${key.name} does not verify: the note was altered or signed by another key`;
  }
  return { text: parsed.text };
}

// Byte helpers shared by server, runtime and console. Pure; no platform APIs beyond TextEncoder/atob/btoa.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) throw new Error("invalid hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const B64_CHUNK = 0x8000;

/**
 * The platform's own base64 (Uint8Array.prototype.toBase64 / Uint8Array.fromBase64) where it has it: workerd and
 * current browsers do, Node 22 does not. Several times faster than the portable code below, which stays for the rest.
 */
const nativeToBase64 = (Uint8Array.prototype as { toBase64?: (this: Uint8Array) => string }).toBase64;
const nativeFromBase64 = (
  Uint8Array as unknown as { fromBase64?: (text: string, options: { lastChunkHandling: "loose" }) => Uint8Array }
).fromBase64;

export function toBase64(bytes: Uint8Array): string {
  if (nativeToBase64) return nativeToBase64.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += B64_CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + B64_CHUNK));
  }
  return btoa(binary);
}

/** Strict base64 (standard alphabet, padded). Throws on anything else so hostile input never decodes loosely. */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error("invalid base64");
  if (nativeFromBase64) return nativeStrict(nativeFromBase64, text);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error("invalid base64");
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * The platform's decoding, as strict as the pattern the portable code checks: that pattern ran ~12 ns a character, more
 * than the decoding (a 512 KiB output chunk took ~11 ms). The platform refuses a character outside the alphabet and
 * misplaced padding itself ("loose" only lets a last chunk's unused bits be non-zero, as atob does), but skips ASCII
 * whitespace: with the length a multiple of 4, any skipped character leaves the decoded length short of what the
 * text's length and padding give (at most 3n/4 - 1 against 3n/4 - padding, and a padded last chunk among fewer
 * characters is shorter still), so comparing the two refuses it.
 */
function nativeStrict(decode: NonNullable<typeof nativeFromBase64>, text: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = decode(text, { lastChunkHandling: "loose" });
  } catch {
    throw new Error("invalid base64");
  }
  if (bytes.length !== base64DecodedLength(text)) throw new Error("invalid base64");
  return bytes;
}

/** Exact decoded length of a valid padded base64 string, without decoding it. */
export function base64DecodedLength(text: string): number {
  if (text.length === 0) return 0;
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - pad;
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("invalid base64url");
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(std + "=".repeat((4 - (std.length % 4)) % 4));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

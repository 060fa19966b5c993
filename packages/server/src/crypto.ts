// Server-side hashing. SHA-256 is native and synchronous (node:crypto) so the Session object can append records
// without yielding. Passwords use scrypt, a memory-hard KDF: N=2^15, r=8, p=3 (32 MiB, OWASP's recommended floor),
// stored as a self-describing string so parameters can be raised later without breaking old hashes.

import { Buffer } from "node:buffer";
import { createHash, scrypt, timingSafeEqual } from "node:crypto";
import { fromBase64Url, randomBytes, type Sha256, toBase64, toBase64Url, toHex, utf8 } from "@caisey/core";
import { HttpError } from "./http.ts";

export const sha256: Sha256 = (data) => new Uint8Array(createHash("sha256").update(data).digest());

/** Native base64 decoding of text already known to be valid (the record's own output). */
export function decodeBase64(text: string): Uint8Array {
  const buf = Buffer.from(text, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Raw bytes per base64 piece in sha256AroundBase64: a multiple of 3, so the pieces' base64 joined is the whole's
 * (padding only at the very end), and small enough that no piece's text lands in V8's large-object space.
 */
const BASE64_PIECE = 3 * 16 * 1024;
const base64Piece = new Uint8Array((BASE64_PIECE / 3) * 4);
const textEncoder = new TextEncoder();

/**
 * SHA-256 of the text `head + base64(bytes) + tail` (UTF-8), with the base64 fed to the hash piece by piece instead of
 * building the text and then its bytes: the same digest with two fewer copies of the largest thing a record holds.
 */
export function sha256AroundBase64(head: string, bytes: Uint8Array, tail: string): Uint8Array {
  const hash = createHash("sha256").update(head, "utf8");
  // Each piece's text becomes bytes in one reused buffer (measured cheaper than the hash converting the string).
  for (let at = 0; at < bytes.length; at += BASE64_PIECE) {
    const { written } = textEncoder.encodeInto(toBase64(bytes.subarray(at, at + BASE64_PIECE)), base64Piece);
    hash.update(base64Piece.subarray(0, written));
  }
  return new Uint8Array(hash.update(tail, "utf8").digest());
}

export function sha256Hex(text: string): string {
  return toHex(sha256(utf8(text)));
}

const SCRYPT = { N: 1 << 15, r: 8, p: 3, keyLength: 32 } as const;

/**
 * Hashing capacity, per isolate. scrypt runs on the isolate's one thread (~0.1–0.2 s a hash, during which nothing
 * else is answered: not other requests, not the objects' calls), so one hash runs at a time. While more hashes are on
 * their way (callers waiting, or sign-ins still before their hash: `hashAhead`), the thread rests after each hash as
 * long as the hash took, so an unrelated request waits for at most one hash however many logins arrive; a lone
 * sign-in does not wait for a rest. A few callers wait their turn; beyond that a caller is answered at once with 429
 * `busy`. A waiter polls on its own timer (a promise resolved by another request's handler would continue in that
 * request's context, which workerd refuses), and a turn whose request was cancelled is forgotten after `staleMs`.
 */
export const HASHING = { concurrent: 1, waiting: 8, pollMs: 5, staleMs: 10_000 } as const;
const hashingSince = new Map<number, number>();
const waitingSince = new Map<number, number>();
const aheadSince = new Map<number, number>();
let turns = 0;
let restingUntil = 0;

function forgetStale(now: number): void {
  for (const [turn, at] of hashingSince) if (now - at > HASHING.staleMs) hashingSince.delete(turn);
  for (const [turn, at] of waitingSince) if (now - at > HASHING.staleMs) waitingSince.delete(turn);
  for (const [turn, at] of aheadSince) if (now - at > HASHING.staleMs) aheadSince.delete(turn);
}

/** Run `work`, a request that will hash a password after some object calls (a sign-in): others rest for it. */
export async function hashAhead<T>(work: () => Promise<T>): Promise<T> {
  const turn = turns++;
  aheadSince.set(turn, Date.now());
  try {
    return await work();
  } finally {
    aheadSince.delete(turn);
  }
}

/** When the next hash may start without waiting (a hash running: never sooner than its end). */
export function hashingFreeAt(): number {
  return hashingSince.size >= HASHING.concurrent ? Number.POSITIVE_INFINITY : restingUntil;
}

async function hashingTurn(): Promise<number> {
  const turn = turns++;
  forgetStale(Date.now());
  if (hashingSince.size >= HASHING.concurrent || Date.now() < restingUntil) {
    if (waitingSince.size >= HASHING.waiting)
      throw new HttpError(429, "busy", "the server is checking too many passwords; try again in a moment", {
        "retry-after": "1",
      });
    waitingSince.set(turn, Date.now());
    while (hashingSince.size >= HASHING.concurrent || Date.now() < restingUntil) {
      await new Promise((resolve) => setTimeout(resolve, HASHING.pollMs));
      waitingSince.set(turn, Date.now());
      forgetStale(Date.now());
    }
    waitingSince.delete(turn);
  }
  hashingSince.set(turn, Date.now());
  return turn;
}

async function derive(
  password: string,
  salt: Uint8Array,
  N: number,
  r: number,
  p: number,
  keyLength: number,
): Promise<Uint8Array> {
  const turn = await hashingTurn();
  const grantedAt = Date.now();
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      scrypt(
        password.normalize("NFC"),
        salt,
        keyLength,
        { N, r, p, maxmem: 256 * N * r + 16 * 1024 * 1024 },
        (err, key) => (err ? reject(err) : resolve(new Uint8Array(key))),
      );
    });
  } finally {
    // With more hashes on their way, the thread then rests as long as the hash held it, so what queued up meanwhile
    // (other requests, object calls, answers) runs before the next hash. Time moves on only between events.
    if (waitingSince.size > 0 || aheadSince.size > 1) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      restingUntil = Date.now() + Math.min(Date.now() - grantedAt, HASHING.staleMs);
    }
    hashingSince.delete(turn);
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${toBase64Url(salt)}$${toBase64Url(key)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const expected = fromBase64Url(parts[5] as string);
  const key = await derive(password, fromBase64Url(parts[4] as string), N, r, p, expected.length);
  return timingSafeEqual(key, expected);
}

/** A hash to compare against when the account does not exist, so timing does not reveal which emails exist. */
export const DUMMY_PASSWORD_HASH =
  "scrypt$32768$8$3$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

// Identifiers read as what they name: ses_… is a session, mch_… a machine. 20 base32 chars = 100 random bits.

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

export type IdKind = "ten" | "usr" | "cli" | "mch" | "ses" | "cmd" | "enr" | "tok" | "apr" | "whk" | "shr";

export function newId(kind: IdKind, random: (n: number) => Uint8Array = defaultRandom): string {
  const bytes = random(20);
  let out = `${kind}_`;
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

export function isId(kind: IdKind, value: unknown): value is string {
  return typeof value === "string" && new RegExp(`^${kind}_[a-z2-7]{20}$`).test(value);
}

export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${kind}_[a-z2-7]{20}$`);
}

export function randomBytes(n: number): Uint8Array {
  return defaultRandom(n);
}

function defaultRandom(n: number): Uint8Array {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

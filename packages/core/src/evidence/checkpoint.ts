// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the text of a signed note naming a log (its origin), a
// tree size and the RFC 6962 root hash at that size. Whoever keeps one checkpoint can later ask the log to prove that
// every newer checkpoint extends it, so a seal the log dropped or rewrote shows.

import { fromBase64, toBase64 } from "../bytes.ts";

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
}

export function checkpointText(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${toBase64(c.root)}\n`;
}

/** A checkpoint's text read back (extension lines are allowed and ignored); a reason when it is not one. */
export function parseCheckpoint(text: string): Checkpoint | string {
  const lines = text.split("\n");
  if (lines.length < 4 || lines.at(-1) !== "") return "a checkpoint has an origin, a tree size and a root hash";
  const [origin, size, root, ...extensions] = lines.slice(0, -1) as [string, string, string, ...string[]];
  if (origin === "" || extensions.some((l) => l === "")) return "a checkpoint's lines are not empty";
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size)))
    return "a checkpoint's tree size is a decimal number without leading zeros";
  let hash: Uint8Array;
  try {
    hash = fromBase64(root);
  } catch {
    return "a checkpoint's root hash is base64";
  }
  if (hash.length !== 32) return "a checkpoint's root hash is 32 bytes";
  return { origin, size: Number(size), root: hash };
}

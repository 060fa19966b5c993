// The pre-state on its way from the runtime to the record: what a change's targets were before it ran (see
// rollback.ts for what is probed), validated, bounded, and cut into frames small enough for the runtime's socket.
//
// Decisions:
// - A command's records travel as the JSON text of the array, escaped to printable ASCII and cut into parts of at
//   most PRESTATE_LIMITS.partChars; every part is its own frame (a frame stays far below LIMITS.runtimeFrameBytes
//   even with every character escaped again by the frame's JSON) and the Session joins them when `started` comes.
// - ASCII text makes the bound exact: the record line re-serialises the same JSON unescaped, which takes at most as
//   many UTF-8 bytes as the escaped text has characters, so a command.prestate line stays below
//   PRESTATE_LIMITS.parts × partChars (1.5 MiB), under the 2 MB a Durable Object row may hold.
// - File content is kept for the first files up to PRESTATE_LIMITS.dataBytes in all (1 MiB, the most one file may
//   keep); a file past that keeps its hash and size, and `dataOmitted` says why its bytes are not there.

import { z } from "zod";
import { PRESTATE_MAX_BYTES, type Prestate } from "./types.ts";

export const PRESTATE_LIMITS = {
  /** Characters of the records' JSON in one frame. */
  partChars: 128 * 1024,
  /** Frames one command's pre-state may take. */
  parts: 12,
  /** File content kept for one command, all files together. */
  dataBytes: PRESTATE_MAX_BYTES,
  /** Longest path, registry value or error text kept in a record. */
  textChars: 16 * 1024,
} as const;

/** Why a file's bytes are missing although it was small enough: the command's budget went to files before it. */
export const DATA_BUDGET_SPENT = "the content Caisey keeps for one command (1 MiB in all) went to the files before it";

const text = z.string().max(PRESTATE_LIMITS.textChars);
const error = text.min(1).optional();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

const FilePrestateSchema = z.object({
  kind: z.literal("file"),
  target: text.min(1),
  exists: z.boolean(),
  sha256: sha256.optional(),
  bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  mode: z
    .string()
    .regex(/^0[0-7]{3,5}$/)
    .optional(),
  owner: z
    .string()
    .regex(/^\d{1,10}:\d{1,10}$/)
    .optional(),
  directory: z.literal(true).optional(),
  // Standard padded base64; its length bounds the bytes (the total is checked over the whole array).
  data: z
    .string()
    .max(Math.ceil(PRESTATE_MAX_BYTES / 3) * 4)
    .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/)
    .optional(),
  dataOmitted: text.min(1).optional(),
  error,
});

const RegistryPrestateSchema = z.object({
  kind: z.literal("registry"),
  target: text.min(1),
  name: text,
  exists: z.boolean(),
  type: z.string().max(32).optional(),
  value: text.optional(),
  error,
});

const ServicePrestateSchema = z.object({
  kind: z.literal("service"),
  target: text.min(1),
  exists: z.boolean(),
  startType: z.string().max(64).optional(),
  state: z.string().max(64).optional(),
  error,
});

/** One record of command.prestate, as a network peer may send it. */
export const PrestateRecord = z.discriminatedUnion("kind", [
  FilePrestateSchema,
  RegistryPrestateSchema,
  ServicePrestateSchema,
]);

/** The decoded size of padded base64 text. */
const decodedBytes = (b64: string): number =>
  (b64.length / 4) * 3 - (b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0);

/** A command's records, in planProbes order, with the content budget held over all of them. */
export const PrestateRecords = z
  .array(PrestateRecord)
  .refine(
    (records) =>
      records.reduce((sum, r) => sum + (r.kind === "file" && r.data ? decodedBytes(r.data) : 0), 0) <=
      PRESTATE_LIMITS.dataBytes,
    { message: `file content over ${PRESTATE_LIMITS.dataBytes} bytes in all` },
  );

// The schema and the type the rest of core reads must describe the same records.
const _sameShape: z.ZodType<Prestate[]> = PrestateRecords;
void _sameShape;

/**
 * Holds the content budget: the first files keep their bytes until PRESTATE_LIMITS.dataBytes in all; later ones keep
 * only their hash and size, and say why.
 */
export function withinContentBudget(records: readonly Prestate[]): Prestate[] {
  let left: number = PRESTATE_LIMITS.dataBytes;
  return records.map((r) => {
    if (r.kind !== "file" || r.data === undefined) return r;
    const bytes = decodedBytes(r.data);
    if (bytes <= left) {
      left -= bytes;
      return r;
    }
    const { data: _data, ...rest } = r;
    return { ...rest, dataOmitted: DATA_BUDGET_SPENT };
  });
}

/** JSON with everything outside printable ASCII escaped, so its length bounds its size in any encoding. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${(c.charCodeAt(0) as number).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The records as the texts of the frames that carry them, in order; records that do not fit
 * PRESTATE_LIMITS.parts frames are left off the end (the runtime logs how many).
 */
export function prestateParts(records: readonly Prestate[]): { parts: string[]; kept: number } {
  const max = PRESTATE_LIMITS.parts * PRESTATE_LIMITS.partChars;
  // "[" + records joined by "," + "]": each record's own length decides whether it still fits.
  const texts: string[] = [];
  let length = 2;
  for (const r of records) {
    const t = asciiJson(r);
    if (length + t.length + (texts.length > 0 ? 1 : 0) > max) break;
    length += t.length + (texts.length > 0 ? 1 : 0);
    texts.push(t);
  }
  const json = `[${texts.join(",")}]`;
  const parts: string[] = [];
  for (let at = 0; at < json.length; at += PRESTATE_LIMITS.partChars) {
    parts.push(json.slice(at, at + PRESTATE_LIMITS.partChars));
  }
  return { parts, kept: texts.length };
}

/** The records from their frames' texts, in part order; or why they cannot be read. Never throws. */
export function joinPrestate(parts: readonly string[]): { ok: true; probes: Prestate[] } | { ok: false; why: string } {
  let value: unknown;
  try {
    value = JSON.parse(parts.join(""));
  } catch {
    return { ok: false, why: "the pre-state's parts are not one JSON array" };
  }
  const parsed = PrestateRecords.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    return { ok: false, why: `${where}${issue?.message ?? "invalid pre-state"}` };
  }
  return { ok: true, probes: parsed.data as Prestate[] };
}

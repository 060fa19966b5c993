// The edge of every route: bounded bodies, strict UTF-8 and JSON, zod validation, and one error shape
// {"error":{"code","message"}} with a fitting status.

import { describeIssue, LIMITS } from "@caisey/core";
import type { Context } from "hono";
import type { z } from "zod";
import type { Failure, Result } from "./result.ts";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

/** Unwrap an object's result, turning a refusal into the HTTP error it describes. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new HttpError(result.status, result.code, result.message);
  return result.value;
}

export function failure(f: Failure): never {
  throw new HttpError(f.status, f.code, f.message);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Read at most `max` bytes of body; a larger one is refused without being read further. */
export async function readBody(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max)
    throw new HttpError(413, "body_too_large", `request body exceeds ${max} bytes`);
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new HttpError(413, "body_too_large", `request body exceeds ${max} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const contentType = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(contentType))
    throw new HttpError(415, "unsupported_media_type", "send Content-Type: application/json");
  const bytes = await readBody(c.req.raw, LIMITS.jsonBodyBytes);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_utf8", "request body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "malformed_json", "request body is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(422, "invalid_request", describeIssue(parsed.error));
  return parsed.data;
}

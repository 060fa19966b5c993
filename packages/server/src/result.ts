// Durable Object RPC methods return results instead of throwing: a thrown error crosses the RPC boundary as an
// unhandled rejection, and an expected refusal (not found, conflict) is not exceptional.

export type Failure = {
  ok: false;
  status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429 | 503;
  code: string;
  message: string;
};
export type Result<T> = { ok: true; value: T } | Failure;

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export function fail(status: Failure["status"], code: string, message: string): Failure {
  return { ok: false, status, code, message };
}

export const notFound = (what: string): Failure => fail(404, "not_found", `${what} not found`);

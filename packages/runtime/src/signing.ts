// The tenant's signing key, pinned at enrollment: the runtime runs (or cancels) only what it signed. A spoofed server
// or a tampered frame can at most make the runtime refuse to act, never act.
//
// The signed messages are dispatchMessage / cancelMessage from @caisey/core, bound to this runtime's own machine id,
// so a dispatch signed for another machine never verifies here.

import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import {
  approvalSubject,
  type CancelFrame,
  cancelMessage,
  type DispatchFrame,
  dispatchMessage,
  utf8,
} from "@caisey/core";

/** A raw 32-byte Ed25519 public key as base64url without padding. */
const RAW_KEY = /^[A-Za-z0-9_-]{43}$/;
/** A 64-byte Ed25519 signature as base64url without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

/** Decode base64url only if it is the one canonical encoding of `bytes` bytes (no stray bits in the last char). */
function decodeExact(text: string, pattern: RegExp, bytes: number): Buffer | null {
  if (!pattern.test(text)) return null;
  const decoded = Buffer.from(text, "base64url");
  if (decoded.length !== bytes || decoded.toString("base64url") !== text) return null;
  return decoded;
}

/**
 * The tenant's signing key (raw Ed25519 public key, base64url) as a KeyObject to verify with. Throws on anything that
 * is not one: build it once, when the enrollment is read.
 */
export function signingKeyObject(signingKey: string): KeyObject {
  if (!decodeExact(signingKey, RAW_KEY, 32)) throw new Error("not a base64url Ed25519 public key (32 bytes)");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: signingKey }, format: "jwk" });
  if (key.asymmetricKeyType !== "ed25519") throw new Error("not an Ed25519 public key");
  return key;
}

/** Whether `signingKey` is usable as the tenant's signing key. */
export function isSigningKey(signingKey: unknown): signingKey is string {
  if (typeof signingKey !== "string") return false;
  try {
    signingKeyObject(signingKey);
    return true;
  } catch {
    return false;
  }
}

function verifyMessage(message: string, signature: string, key: KeyObject): boolean {
  const bytes = decodeExact(signature, SIGNATURE, 64);
  if (!bytes) return false;
  try {
    return verify(null, utf8(message), key, bytes);
  } catch {
    return false;
  }
}

/** Whether the tenant signed this dispatch for this machine: the only way a command gets to run. Never throws. */
export function verifyDispatch(
  frame: Pick<
    DispatchFrame,
    | "sessionId"
    | "commandId"
    | "command"
    | "shell"
    | "timeoutSeconds"
    | "technicianId"
    | "approvalRequired"
    | "approval"
    | "signature"
  >,
  machineId: string,
  key: KeyObject,
): boolean {
  return verifyMessage(dispatchMessage(machineId, frame), frame.signature, key);
}

/**
 * A dispatch the client's approval policy gates runs only with the approval it was granted for: the digest must be
 * that of this exact command, shell, machine, session and technician. (Defence in depth: the dispatch is signed too.)
 */
export function approvalHolds(
  frame: Pick<DispatchFrame, "sessionId" | "command" | "shell" | "technicianId" | "approvalRequired" | "approval">,
  machineId: string,
): boolean {
  if (!frame.approvalRequired) return true;
  if (!frame.approval) return false;
  const subject = approvalSubject({
    shell: frame.shell,
    command: frame.command,
    machineId,
    sessionId: frame.sessionId,
    technicianId: frame.technicianId,
  });
  return createHash("sha256").update(subject).digest("hex") === frame.approval.digest;
}

/** Whether the tenant signed this cancel for this machine. Never throws. */
export function verifyCancel(
  frame: Pick<CancelFrame, "sessionId" | "commandId" | "signature">,
  machineId: string,
  key: KeyObject,
): boolean {
  return verifyMessage(cancelMessage(machineId, frame), frame.signature, key);
}

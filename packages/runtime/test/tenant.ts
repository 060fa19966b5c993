// Test helper: a tenant signing key, and dispatch/cancel frames signed with it as the server would sign them.

import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { type CancelFrame, cancelMessage, type DispatchFrame, dispatchMessage, toBase64Url, utf8 } from "@caisey/core";
import { cmdId } from "./fixtures.ts";

/** The technician a test dispatch comes from unless it says otherwise. */
export const TECHNICIAN = "usr_aaaaaaaaaaaaaaaaaaaa";

/** The dispatch fields whose defaults signDispatch fills in: from TECHNICIAN, no approval required. */
type Defaulted = "technicianId" | "approvalRequired" | "approval";
export type UnsignedDispatch = Omit<DispatchFrame, "signature" | Defaulted> & Partial<Pick<DispatchFrame, Defaulted>>;

export interface TestTenant {
  /** The raw Ed25519 public key as base64url: what the server hands the runtime at enrollment. */
  signingKey: string;
  privateKey: KeyObject;
  /** Sign a dispatch; technicianId defaults to TECHNICIAN, approvalRequired to false, approval to null. */
  signDispatch(machineId: string, frame: UnsignedDispatch): DispatchFrame;
  signCancel(machineId: string, frame: Omit<CancelFrame, "signature">): CancelFrame;
}

/** A bash command in `ses_aaaaaaaaaaaaaaaaaaaa` with a fresh command id, not queued before, unsigned. */
export function bashDispatch(command: string, extra: Partial<Omit<DispatchFrame, "signature">> = {}): UnsignedDispatch {
  return {
    t: "dispatch",
    sessionId: "ses_aaaaaaaaaaaaaaaaaaaa",
    commandId: cmdId(),
    command,
    shell: "bash",
    timeoutSeconds: null,
    resume: false,
    ...extra,
  };
}

/** Fill in the defaults for the fields a test does not care about. */
export function withDefaults(frame: UnsignedDispatch): Omit<DispatchFrame, "signature"> {
  return { technicianId: TECHNICIAN, approvalRequired: false, approval: null, ...frame };
}

/**
 * The digest a client's approval carries, computed here from the spec rather than through approvalSubject: SHA-256
 * (hex) of `caisey-approval-v1\n` + JSON of [shell, command, machineId, sessionId, technicianId].
 */
export function approvalDigest(a: {
  shell: string;
  command: string;
  machineId: string;
  sessionId: string;
  technicianId: string;
}): string {
  const subject = `caisey-approval-v1\n${JSON.stringify([a.shell, a.command, a.machineId, a.sessionId, a.technicianId])}`;
  return createHash("sha256").update(subject, "utf8").digest("hex");
}

export function testTenant(): TestTenant {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("no x");
  const signature = (message: string) => toBase64Url(sign(null, utf8(message), privateKey));
  return {
    signingKey: x,
    privateKey,
    signDispatch: (machineId, frame) => {
      const full = withDefaults(frame);
      return { ...full, signature: signature(dispatchMessage(machineId, full)) };
    },
    signCancel: (machineId, frame) => ({ ...frame, signature: signature(cancelMessage(machineId, frame)) }),
  };
}

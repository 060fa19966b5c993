// Test helper: a tenant signing key, and dispatch/cancel frames signed with it as the server would sign them.

import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { type CancelFrame, cancelMessage, type DispatchFrame, dispatchMessage, toBase64Url, utf8 } from "@caisey/core";

export interface TestTenant {
  /** The raw Ed25519 public key as base64url: what the server hands the runtime at enrollment. */
  signingKey: string;
  privateKey: KeyObject;
  signDispatch(machineId: string, frame: Omit<DispatchFrame, "signature">): DispatchFrame;
  signCancel(machineId: string, frame: Omit<CancelFrame, "signature">): CancelFrame;
}

export function testTenant(): TestTenant {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("no x");
  const signature = (message: string) => toBase64Url(sign(null, utf8(message), privateKey));
  return {
    signingKey: x,
    privateKey,
    signDispatch: (machineId, frame) => ({ ...frame, signature: signature(dispatchMessage(machineId, frame)) }),
    signCancel: (machineId, frame) => ({ ...frame, signature: signature(cancelMessage(machineId, frame)) }),
  };
}

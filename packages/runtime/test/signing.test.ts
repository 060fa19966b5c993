import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import {
  approvalSubject,
  CancelFrame,
  type DispatchFrame,
  DispatchFrame as DispatchSchema,
  dispatchMessage,
} from "@caisey/core";
import { describe, expect, it } from "vitest";
import { approvalHolds, isSigningKey, signingKeyObject, verifyCancel, verifyDispatch } from "../src/signing.ts";
import { MACHINE } from "./fixtures.ts";
import { testTenant } from "./tenant.ts";

const OTHER_MACHINE = "mch_bbbbbbbbbbbbbbbbbbbb";
const tenant = testTenant();
const key = signingKeyObject(tenant.signingKey);

const unsigned: Omit<DispatchFrame, "signature"> = {
  t: "dispatch",
  sessionId: "ses_aaaaaaaaaaaaaaaaaaaa",
  commandId: "cmd_aaaaaaaaaaaaaaaaaaaa",
  command: "echo hello",
  shell: "bash",
  timeoutSeconds: 30,
  resume: false,
  technicianId: "usr_aaaaaaaaaaaaaaaaaaaa",
  approvalRequired: false,
  approval: null,
};
const signed = tenant.signDispatch(MACHINE, unsigned);

/** Computed from the spec, not through approvalSubject: sha256 hex of the exact subject string. */
function digestOf(shell: string, command: string, machineId: string, sessionId: string, technicianId: string): string {
  const subject = `caisey-approval-v1\n${JSON.stringify([shell, command, machineId, sessionId, technicianId])}`;
  return createHash("sha256").update(subject, "utf8").digest("hex");
}
const TECH = unsigned.technicianId;
const APPROVAL_ID = "apr_aaaaaaaaaaaaaaaaaaaa";
const DIGEST = digestOf(unsigned.shell, unsigned.command, MACHINE, unsigned.sessionId, TECH);
const gated: Omit<DispatchFrame, "signature"> = {
  ...unsigned,
  approvalRequired: true,
  approval: { id: APPROVAL_ID, digest: DIGEST },
};

describe("signingKeyObject", () => {
  it("takes a raw 32-byte Ed25519 public key as base64url, nothing else", () => {
    expect(signingKeyObject(tenant.signingKey).asymmetricKeyType).toBe("ed25519");
    expect(isSigningKey(tenant.signingKey)).toBe(true);
    const bad = [
      undefined,
      null,
      42,
      "",
      tenant.signingKey.slice(0, 42), // 31.5 bytes
      `${tenant.signingKey}A`, // 44 chars
      `${tenant.signingKey.slice(0, 42)}=`, // padding
      `${tenant.signingKey.slice(0, 42)}+`, // not base64url
      Buffer.alloc(32).toString("base64"), // standard base64 with padding
    ];
    for (const value of bad) expect(isSigningKey(value), String(value)).toBe(false);
    expect(() => signingKeyObject("x")).toThrow("not a base64url Ed25519 public key (32 bytes)");
  });

  it("refuses a non-canonical encoding (stray bits in the last character)", () => {
    const raw = Buffer.from(tenant.signingKey, "base64url");
    raw[31] = 0; // last char then encodes 4 data bits + 2 zero bits
    const canonical = raw.toString("base64url");
    expect(isSigningKey(canonical)).toBe(true);
    const last = canonical.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const stray = `${canonical.slice(0, 42)}${alphabet[alphabet.indexOf(last) + 1]}`;
    expect(Buffer.from(stray, "base64url").equals(raw)).toBe(true);
    expect(isSigningKey(stray)).toBe(false);
  });
});

describe("verifyDispatch", () => {
  it("accepts the tenant's signature over dispatchMessage(machineId, frame)", () => {
    expect(DispatchSchema.parse(signed)).toEqual(signed);
    expect(verifyDispatch(signed, MACHINE, key)).toBe(true);
    // `resume` is not signed: it can only make the runtime refuse to run.
    const resumed: DispatchFrame = { ...signed, resume: true };
    expect(verifyDispatch(resumed, MACHINE, key)).toBe(true);
    expect(verifyDispatch(tenant.signDispatch(MACHINE, { ...unsigned, timeoutSeconds: null }), MACHINE, key)).toBe(
      true,
    );
  });

  it("refuses any change to a signed field", () => {
    const tampered: Partial<DispatchFrame>[] = [
      { command: "echo hellO" },
      { command: "echo hello; rm -rf ~" },
      { shell: "sh" },
      { timeoutSeconds: 31 },
      { timeoutSeconds: null },
      { sessionId: "ses_bbbbbbbbbbbbbbbbbbbb" },
      { commandId: "cmd_bbbbbbbbbbbbbbbbbbbb" },
      { technicianId: "usr_bbbbbbbbbbbbbbbbbbbb" },
      { approvalRequired: true },
      { approval: { id: APPROVAL_ID, digest: DIGEST } },
    ];
    for (const change of tampered) {
      expect(verifyDispatch({ ...signed, ...change }, MACHINE, key), JSON.stringify(change)).toBe(false);
    }
  });

  it("covers the approval fields: none of technicianId, approvalRequired, approval can change under it", () => {
    const signedGated = tenant.signDispatch(MACHINE, gated);
    expect(DispatchSchema.parse(signedGated)).toEqual(signedGated);
    expect(verifyDispatch(signedGated, MACHINE, key)).toBe(true);
    const tampered: Partial<DispatchFrame>[] = [
      { technicianId: "usr_bbbbbbbbbbbbbbbbbbbb" },
      { approvalRequired: false }, // dropping the requirement
      { approval: null },
      { approval: { id: "apr_bbbbbbbbbbbbbbbbbbbb", digest: DIGEST } },
      { approval: { id: APPROVAL_ID, digest: "0".repeat(64) } },
      { approval: { id: APPROVAL_ID, digest: digestOf("bash", "rm -rf ~", MACHINE, unsigned.sessionId, TECH) } },
      { approvalRequired: false, approval: null }, // exactly the ungated frame's fields, under the gated signature
    ];
    for (const change of tampered) {
      expect(verifyDispatch({ ...signedGated, ...change }, MACHINE, key), JSON.stringify(change)).toBe(false);
    }
    // And the other way round: the ungated frame's signature does not carry a requirement or an approval.
    expect(verifyDispatch({ ...signed, approvalRequired: true, approval: gated.approval }, MACHINE, key)).toBe(false);
  });

  it("refuses a dispatch signed for another machine", () => {
    expect(verifyDispatch(signed, OTHER_MACHINE, key)).toBe(false);
    expect(verifyDispatch(tenant.signDispatch(OTHER_MACHINE, unsigned), MACHINE, key)).toBe(false);
  });

  it("refuses a signature by any other key", () => {
    const other = testTenant();
    expect(verifyDispatch(other.signDispatch(MACHINE, unsigned), MACHINE, key)).toBe(false);
    // The machine's own key (or any key the server holds) is not the tenant's.
    const { privateKey } = generateKeyPairSync("ed25519");
    expect(verifyDispatch({ ...signed, signature: signWith(privateKey, unsigned) }, MACHINE, key)).toBe(false);
  });

  it("refuses malformed signatures without throwing", () => {
    const bad = [
      "",
      signed.signature.slice(0, 85), // truncated
      signed.signature.slice(0, 43),
      `${signed.signature}A`, // too long
      `${signed.signature.slice(0, 85)}=`,
      signed.signature.replace(/.$/, "+"),
      "A".repeat(86),
      Buffer.from(signed.signature, "base64url").toString("base64"), // standard base64, padded
    ];
    for (const signature of bad) expect(verifyDispatch({ ...signed, signature }, MACHINE, key), signature).toBe(false);
    // Any single flipped bit in the signature.
    const bytes = Buffer.from(signed.signature, "base64url");
    for (const at of [0, 31, 32, 63]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] as number) ^ 1;
      expect(verifyDispatch({ ...signed, signature: flipped.toString("base64url") }, MACHINE, key)).toBe(false);
    }
    expect(verifyDispatch({ ...signed, signature: undefined as unknown as string }, MACHINE, key)).toBe(false);
  });
});

describe("approvalHolds", () => {
  it("holds when no approval is required (whatever `approval` says)", () => {
    expect(approvalHolds(unsigned, MACHINE)).toBe(true);
    expect(approvalHolds({ ...unsigned, approval: { id: APPROVAL_ID, digest: "0".repeat(64) } }, MACHINE)).toBe(true);
  });

  it("does not hold when an approval is required and none is given", () => {
    expect(approvalHolds({ ...unsigned, approvalRequired: true, approval: null }, MACHINE)).toBe(false);
  });

  it("holds with the digest of exactly this shell, command, machine, session and technician", () => {
    expect(approvalHolds(gated, MACHINE)).toBe(true);
    // The spec's digest and @caisey/core's approvalSubject agree.
    const subject = approvalSubject({
      shell: unsigned.shell,
      command: unsigned.command,
      machineId: MACHINE,
      sessionId: unsigned.sessionId,
      technicianId: TECH,
    });
    expect(createHash("sha256").update(subject).digest("hex")).toBe(DIGEST);
  });

  it("does not hold when the command, shell, session, technician or machine differ from what the digest covers", () => {
    const changed: Partial<DispatchFrame>[] = [
      { command: "echo hellO" },
      { command: "echo hello " },
      { command: "echo hello; rm -rf ~" },
      { shell: "sh" },
      { sessionId: "ses_bbbbbbbbbbbbbbbbbbbb" },
      { technicianId: "usr_bbbbbbbbbbbbbbbbbbbb" },
    ];
    for (const change of changed) {
      expect(approvalHolds({ ...gated, ...change }, MACHINE), JSON.stringify(change)).toBe(false);
    }
    expect(approvalHolds(gated, OTHER_MACHINE)).toBe(false);
  });

  it("does not hold for a digest of anything else: another command, another field order, no prefix, upper case", () => {
    const wrong = [
      digestOf("bash", "echo other", MACHINE, unsigned.sessionId, TECH),
      digestOf("bash", "echo hello", OTHER_MACHINE, unsigned.sessionId, TECH),
      digestOf("bash", "echo hello", MACHINE, "ses_bbbbbbbbbbbbbbbbbbbb", TECH),
      digestOf("bash", "echo hello", MACHINE, unsigned.sessionId, "usr_bbbbbbbbbbbbbbbbbbbb"),
      digestOf("sh", "echo hello", MACHINE, unsigned.sessionId, TECH),
      digestOf("echo hello", "bash", MACHINE, unsigned.sessionId, TECH), // shell and command swapped
      createHash("sha256")
        .update(JSON.stringify(["bash", "echo hello", MACHINE, unsigned.sessionId, TECH]))
        .digest("hex"), // no domain prefix
      DIGEST.toUpperCase(),
      "0".repeat(64),
    ];
    for (const digest of wrong) {
      expect(approvalHolds({ ...gated, approval: { id: APPROVAL_ID, digest } }, MACHINE), digest).toBe(false);
    }
  });
});

describe("verifyCancel", () => {
  const cancel = tenant.signCancel(MACHINE, {
    t: "cancel",
    sessionId: "ses_aaaaaaaaaaaaaaaaaaaa",
    commandId: "cmd_aaaaaaaaaaaaaaaaaaaa",
  });

  it("accepts the tenant's signature over cancelMessage(machineId, frame)", () => {
    expect(CancelFrame.parse(cancel)).toEqual(cancel);
    expect(verifyCancel(cancel, MACHINE, key)).toBe(true);
  });

  it("refuses tampering, another machine, another key, a dispatch's signature, a truncated signature", () => {
    expect(verifyCancel({ ...cancel, commandId: "cmd_bbbbbbbbbbbbbbbbbbbb" }, MACHINE, key)).toBe(false);
    expect(verifyCancel({ ...cancel, sessionId: "ses_bbbbbbbbbbbbbbbbbbbb" }, MACHINE, key)).toBe(false);
    expect(verifyCancel(cancel, OTHER_MACHINE, key)).toBe(false);
    expect(verifyCancel(testTenant().signCancel(MACHINE, cancel), MACHINE, key)).toBe(false);
    expect(verifyCancel({ ...cancel, signature: signed.signature }, MACHINE, key)).toBe(false);
    expect(verifyCancel({ ...cancel, signature: cancel.signature.slice(0, 85) }, MACHINE, key)).toBe(false);
  });
});

function signWith(privateKey: KeyObject, frame: Omit<DispatchFrame, "signature">): string {
  return sign(null, Buffer.from(dispatchMessage(MACHINE, frame)), privateKey).toString("base64url");
}

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64DecodedLength, fromBase64, fromBase64Url, fromHex, toBase64, toBase64Url, toHex } from "../src/index.ts";

describe("byte encodings", () => {
  it("round-trip any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (bytes) => {
        const b64 = toBase64(bytes);
        expect(b64).toBe(Buffer.from(bytes).toString("base64"));
        expect(fromBase64(b64)).toEqual(bytes);
        expect(base64DecodedLength(b64)).toBe(bytes.length);
        expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
        expect(fromHex(toHex(bytes))).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it("refuse loose base64 and hex", () => {
    for (const bad of ["abc", "ab=c", "a b=", "YQ==YQ==", "****"])
      expect(() => fromBase64(bad)).toThrow("invalid base64");
    expect(() => fromHex("abc")).toThrow("invalid hex");
    expect(() => fromHex("zz")).toThrow("invalid hex");
  });
});

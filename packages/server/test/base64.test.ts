// In workerd, core's base64 is the platform's own (Uint8Array.toBase64 / fromBase64): it must give exactly what the
// portable code gives elsewhere, and refuse the same loose input, since records and frames are checked with it.

import { Buffer } from "node:buffer";
import { fromBase64, toBase64 } from "@caisey/core";
import { describe, expect, it } from "vitest";

/** Bytes of every value at every position modulo 3, at lengths that end a base64 chunk in each of its three ways. */
const samples = [0, 1, 2, 3, 4, 5, 255, 256, 257, 70_000].map((length) =>
  Uint8Array.from({ length }, (_, i) => (i * 167 + (i >> 8)) & 0xff),
);

describe("base64 in workerd", () => {
  it("uses the platform's own base64", () => {
    expect(typeof (Uint8Array.prototype as { toBase64?: unknown }).toBase64).toBe("function");
  });

  it("encodes and decodes exactly as Buffer does", () => {
    for (const bytes of samples) {
      const text = toBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64"));
      expect(fromBase64(text)).toEqual(bytes);
      // A view into a larger buffer encodes only its own bytes.
      expect(toBase64(new Uint8Array([9, ...bytes, 9]).subarray(1, bytes.length + 1))).toBe(text);
    }
  });

  it("refuses loose base64, and reads a last chunk's unused bits as atob does", () => {
    for (const bad of ["abc", "ab=c", "a b=", "YQ==YQ==", "****", "YQ", "YQ=", " YQ==", "YQ==\n", "Y-_="])
      expect(() => fromBase64(bad), bad).toThrow("invalid base64");
    expect(fromBase64("YR==")).toEqual(Uint8Array.from(atob("YR=="), (c) => c.charCodeAt(0)));
  });
});

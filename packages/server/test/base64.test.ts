// In workerd, core's base64 is the platform's own (Uint8Array.toBase64 / fromBase64): it must give exactly what the
// portable code gives elsewhere, and refuse the same loose input, since records and frames are checked with it.

import { Buffer } from "node:buffer";
import { fromBase64, toBase64 } from "@caisey/core";
import fc from "fast-check";
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

  it("accepts and refuses exactly what the portable pattern does, whitespace and padding anywhere included", () => {
    // The portable check: length a multiple of 4, the standard alphabet, at most two '=' at the end; then atob.
    const portable = (text: string) =>
      text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text)
        ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
        : null;
    const attempt = (text: string) => {
      try {
        return fromBase64(text);
      } catch (error) {
        expect((error as Error).message).toBe("invalid base64");
        return null;
      }
    };
    const char = fc.constantFrom(..."AQYgw+/=", " ", "\n", "\t", "\r", "\f", "-", "_", "é", "\u{1F600}", "\0");
    fc.assert(
      fc.property(fc.array(char, { maxLength: 16 }), (chars) => {
        const text = chars.join("");
        expect(attempt(text)).toEqual(portable(text));
      }),
      { numRuns: 20_000 },
    );
    // Valid text of the same length with one character put in anywhere: in place of one, or pushing the last out.
    for (const bytes of samples.slice(0, 8)) {
      const text = toBase64(bytes);
      for (let at = 0; at < text.length; at++) {
        for (const extra of [" ", "\n", "=", "-", "A"]) {
          const replaced = text.slice(0, at) + extra + text.slice(at + 1);
          const pushed = (text.slice(0, at) + extra + text.slice(at)).slice(0, text.length);
          for (const changed of [replaced, pushed]) expect(attempt(changed), changed).toEqual(portable(changed));
        }
      }
    }
  });
});

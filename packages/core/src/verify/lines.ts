// An output as a list of line fingerprints, built from its bytes chunk by chunk: the before/after diff of two outputs
// of any size compares fingerprints, then reads back only the lines its page shows. Nothing here keeps a line's bytes.

/** What one output holds, line by line, without its bytes. */
export interface LineIndex {
  /** One 53-bit fingerprint per line; a line's end of line (\n or \r\n) is not part of it. */
  fingerprints: number[];
  bytes: number;
  /** A NUL byte: the output is not text, and is compared by its bytes alone. */
  binary: boolean;
  /** Some line ended in \r\n. */
  crlf: boolean;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Fingerprints lines as bytes arrive. Two 32-bit FNV-1a variants make a 53-bit fingerprint: among a million lines the
 * chance that two different lines look alike is about 1 in 20,000, where a single 32-bit hash would confuse ~100 pairs.
 */
export class LineIndexer {
  private readonly index: LineIndex = { fingerprints: [], bytes: 0, binary: false, crlf: false };
  private h1 = FNV_OFFSET;
  private h2 = FNV_OFFSET ^ 0x5bd1e995;
  private lineBytes = 0;
  /** A \r not yet known to end a line. */
  private pendingCr = false;

  push(chunk: Uint8Array): void {
    this.index.bytes += chunk.length;
    for (const byte of chunk) {
      if (byte === 0) this.index.binary = true;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (byte === LF) {
          this.index.crlf = true;
          this.endLine();
          continue;
        }
        this.hash(CR);
      }
      if (byte === LF) this.endLine();
      else if (byte === CR) this.pendingCr = true;
      else this.hash(byte);
    }
  }

  /** The index, once every chunk is pushed. A last line without an end of line counts; an empty tail does not. */
  end(): LineIndex {
    if (this.pendingCr) {
      this.pendingCr = false;
      this.hash(CR);
    }
    if (this.lineBytes > 0) this.endLine();
    return this.index;
  }

  private hash(byte: number): void {
    this.h1 = Math.imul(this.h1 ^ byte, FNV_PRIME) >>> 0;
    this.h2 = Math.imul(this.h2 ^ byte, 0x5f356495) >>> 0;
    this.lineBytes++;
  }

  private endLine(): void {
    this.index.fingerprints.push(this.h1 * 0x200000 + (this.h2 & 0x1fffff));
    this.h1 = FNV_OFFSET;
    this.h2 = FNV_OFFSET ^ 0x5bd1e995;
    this.lineBytes = 0;
  }
}

/** The longest line text a diff shows; the rest is counted, not shown. */
export const SHOWN_LINE_CHARS = 2000;

/**
 * Collects the text of the lines a page of hunks shows (by 0-based line number), as bytes arrive. Only those lines
 * are kept, each cut at SHOWN_LINE_CHARS characters.
 */
export class LineCollector {
  readonly lines = new Map<number, string>();
  private line = 0;
  private current: Uint8Array[] = [];
  private currentBytes = 0;
  private readonly decoder = new TextDecoder();
  private readonly wanted: ReadonlySet<number>;

  constructor(wanted: ReadonlySet<number>) {
    this.wanted = wanted;
  }

  push(chunk: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== LF) continue;
      this.take(chunk.subarray(start, i));
      this.endLine();
      start = i + 1;
    }
    this.take(chunk.subarray(start));
  }

  end(): Map<number, string> {
    if (this.currentBytes > 0) this.endLine();
    return this.lines;
  }

  private take(part: Uint8Array): void {
    // Bytes of lines the page does not show, and bytes past what a shown line keeps, are never held.
    const room = SHOWN_LINE_CHARS * 4 - this.currentBytes;
    if (!this.wanted.has(this.line) || room <= 0 || part.length === 0) {
      this.currentBytes += part.length;
      return;
    }
    this.current.push(part.slice(0, room));
    this.currentBytes += part.length;
  }

  private endLine(): void {
    if (this.wanted.has(this.line)) {
      const joined = new Uint8Array(this.current.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of this.current) {
        joined.set(p, at);
        at += p.length;
      }
      let text = this.decoder.decode(joined);
      if (text.endsWith("\r")) text = text.slice(0, -1);
      const kept = Math.min(this.currentBytes, SHOWN_LINE_CHARS * 4);
      if (text.length > SHOWN_LINE_CHARS || this.currentBytes > kept)
        text = `${text.slice(0, SHOWN_LINE_CHARS)}… (${this.currentBytes} bytes in all)`;
      this.lines.set(this.line, text);
    }
    this.line++;
    this.current = [];
    this.currentBytes = 0;
  }
}

// An in-memory log for the tests: leaves appended as the log object appends them (completedNodes), read back
// through the same NodeReader.

import { createHash } from "node:crypto";
import { completedNodes, type NodeReader, type Sha256 } from "../../src/index.ts";

export const sha256: Sha256 = (data) => new Uint8Array(createHash("sha256").update(data).digest());

export class MemoryLog {
  private readonly nodes = new Map<string, Uint8Array>();
  size = 0;

  readonly node: NodeReader = (level, index) => {
    const hash = this.nodes.get(`${level}/${index}`);
    if (!hash) throw new Error(`no node ${level}/${index} in a log of ${this.size}`);
    return hash;
  };

  append(leaf: Uint8Array): void {
    for (const n of completedNodes(sha256, this.size, leaf, this.node)) this.nodes.set(`${n.level}/${n.index}`, n.hash);
    this.size++;
  }

  static of(leaves: readonly Uint8Array[]): MemoryLog {
    const log = new MemoryLog();
    for (const leaf of leaves) log.append(leaf);
    return log;
  }
}

#!/usr/bin/env node
// The floor under the capture row: raw SQLite storing the same bytes Caisey stores. A fresh Node process reads FILE in
// 512 KiB pieces (the runtime's frame size) and inserts each as a BLOB row beside a short text, one transaction per
// piece, in a WAL database with synchronous=FULL (each commit durable, as a Durable Object's), and prints MiB/s and
// its CPU per MiB as JSON. No hashing, no network, no journal: only the storage Caisey cannot do without.

import { closeSync, openSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { cpuSeconds } from "../common.mjs";

const [file, dir] = process.argv.slice(2);
const PIECE = 512 * 1024;

const database = join(dir, "floor.sqlite");
const db = new DatabaseSync(database);
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
db.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, record TEXT NOT NULL, output BLOB)");
const insert = db.prepare("INSERT INTO events (seq, record, output) VALUES (?, ?, ?)");

const fd = openSync(file, "r");
const piece = Buffer.alloc(PIECE);
let bytes = 0;
const cpuBefore = cpuSeconds(process.pid);
const start = performance.now();
for (let seq = 1; ; seq++) {
  const read = readSync(fd, piece, 0, PIECE, null);
  if (read === 0) break;
  insert.run(seq, `{"seq":${seq},"type":"command.output"}`, piece.subarray(0, read));
  bytes += read;
}
const seconds = (performance.now() - start) / 1000;
const cpuMs = (cpuSeconds(process.pid) - cpuBefore) * 1000;
closeSync(fd);
db.close();
for (const suffix of ["", "-wal", "-shm"]) rmSync(database + suffix, { force: true });
const mib = bytes / (1024 * 1024);
console.log(JSON.stringify({ mib, mibps: mib / seconds, cpuMsPerMiB: cpuMs / mib }));

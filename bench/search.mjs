#!/usr/bin/env node
// `npm run bench:search`: search at scale through the real SearchIndex Durable Objects (workerd via `wrangler dev`,
// state on disk in a temp dir), beside raw SQLite FTS5 (node:sqlite, one database, the same rows and the same SQL)
// in the same run. Prints a table and appends it to bench/RESULTS.md with the machine's description.
//
//   ingest   BENCH_COMMANDS synthetic MSP commands (default 1,000,000) with output, exit codes, chat and notes, over
//            6 months (6 shards), fed as the Session feed does (record lines, batches per session and month);
//            BENCH_BIG of them (default 200) carry output up to the index cap (1 MiB indexed each) while claiming
//            BENCH_BIG_MIB each (default 50 MiB) of logical output: "10 GB-class" output, of which the cap is indexed;
//            the objects and raw SQLite take turns (neither competes with the other for the CPU) and each is timed
//            alone, beside workerd's CPU seconds from /proc (steadier than wall time on a shared machine)
//   queries  BENCH_QUERIES per kind (default 100): a rare term (~10 hits), a common term, a phrase, each alone and
//            with a filter (client, exit=nonzero), newest first, 20 per page; a common term best-first; through the
//            shards (fan-out + merge), through GET /api/v1/search (auth, validation, JSON), and raw FTS5 — the
//            baseline's query is the original plan (FTS5 matches newest first, filters joined afterwards); a second raw
//            column runs Caisey's plan on the same database (facts as FTS5 tags, so FTS5 intersects; no joins to rank),
//            after a post-pass that gives the raw documents of failed commands their exit tags.
//
// `ingestRatio({ commands, big, bigMiB })` runs the ingest comparison alone (its own Worker and database) and resolves
// to { ratio, commands, documents, objectsSeconds, rawSeconds, workerCpuSeconds, rawCpuSeconds }: `npm run bench`'s row.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { workerSettings } from "../scripts/settings.mjs";
import { appendResults, cpuSeconds, hottest, inspector, processTree, root } from "./common.mjs";

// The core modules the bench needs, one by one (Node strips their types; the package index pulls in more).
const core = {
  ...(await import("../packages/core/src/record.ts")),
  ...(await import("../packages/core/src/bytes.ts")),
  ...(await import("../packages/core/src/search.ts")),
};
const {
  encodeRecord,
  recordTimestamp,
  toBase64,
  utf8,
  indexEntries,
  buildMatch,
  composeMatch,
  docTags,
  factTags,
  timeKey,
  parseSnippet,
} = core;
const { freePort } = await import("../test/helpers.ts");

const direct = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 1_000_000);
const BIG = Number(process.env.BENCH_BIG ?? 200);
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 50);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 100);
if (direct && process.argv.includes("--help")) {
  console.log(
    "usage: npm run bench:search   (BENCH_COMMANDS=1000000 BENCH_BIG=200 BENCH_BIG_MIB=50 BENCH_QUERIES=100)\n" +
      "Prints a comparison table and appends it to bench/RESULTS.md.",
  );
  process.exit(0);
}

// ---- deterministic synthetic MSP data
let seed = 0x5eed;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(rand() * list.length)];
const int = (n) => Math.floor(rand() * n);
const ALPHA = "abcdefghijklmnopqrstuvwxyz234567";
const fakeId = (kind) => `${kind}_${Array.from({ length: 20 }, () => ALPHA[int(32)]).join("")}`;

const MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"];
const clients = Array.from({ length: 40 }, () => fakeId("cli"));
const HOST_PREFIX = ["FRONTDESK", "RECEPTION", "LAB", "ACCT", "LAW-PC", "DENTAL", "SRV", "NAS", "KIOSK", "EXAM"];
const machines = clients.flatMap((clientId) =>
  Array.from({ length: 10 }, (_, i) => ({
    machineId: fakeId("mch"),
    clientId,
    hostname: `${pick(HOST_PREFIX)}-${String(i + 1).padStart(2, "0")}`,
  })),
);
const technicians = Array.from({ length: 8 }, () => fakeId("usr"));
const SERVICES = [
  "Spooler",
  "wuauserv",
  "BITS",
  "Dnscache",
  "W32Time",
  "LanmanServer",
  "WinRM",
  "sshd",
  "nginx",
  "cron",
];
const HOSTS = ["dc01.contoso.local", "nas01", "fs02.litware.lan", "8.8.8.8", "mail.fabrikam.com", "printsrv01"];
const USERS = ["jsmith", "mgarcia", "akhan", "lchen", "reception", "dr.patel", "bwilliams"];
const COMMAND_TEMPLATES = [
  () => `Get-Service -Name ${pick(SERVICES)} | Select-Object Status,Name`,
  () => `Restart-Service -Name ${pick(SERVICES)} -Force`,
  () =>
    `reg add HKLM\\SOFTWARE\\Policies\\${pick(["Microsoft", "Contoso", "Adobe"])}\\${pick(["Windows", "Reader", "Kiosk"])} /v ${pick(["NoAutoUpdate", "DisableTelemetry", "KioskMode"])} /t REG_DWORD /d ${int(2)} /f`,
  () => `Get-EventLog -LogName System -Newest ${10 + int(90)} -EntryType Error`,
  () => "ipconfig /all",
  () => `ping -n 4 ${pick(HOSTS)}`,
  () => `nslookup ${pick(HOSTS)}`,
  () => "gpupdate /force",
  () => "sfc /scannow",
  () => "DISM /Online /Cleanup-Image /RestoreHealth",
  () => `net use ${pick(["S", "T", "Z"])}: \\\\${pick(HOSTS)}\\${pick(["shared", "scans", "accounting"])}`,
  () => "Get-WmiObject Win32_LogicalDisk | Format-Table DeviceID,FreeSpace,Size",
  () => "wmic qfe list brief",
  () => `systemctl status ${pick(SERVICES)}`,
  () => "df -h",
  () => `journalctl -u ${pick(SERVICES)} --since today`,
  () => `Test-NetConnection ${pick(HOSTS)} -Port ${pick([443, 445, 3389, 25])}`,
  () => `Get-ADUser ${pick(USERS)} -Properties LockedOut,LastLogonDate`,
  () => `Unlock-ADAccount -Identity ${pick(USERS)}`,
  () => "winget upgrade --all --silent",
  () => "Clear-DnsClientCache",
  () => "Get-Printer | Where-Object PrinterStatus -ne Normal",
];
const OK_OUTPUTS = [
  () => `Status   Name\n------   ----\nRunning  ${pick(SERVICES)}\n`,
  () => "The operation completed successfully.\n",
  () =>
    `Pinging ${pick(HOSTS)} [10.0.${int(255)}.${int(255)}] with 32 bytes of data:\nReply from 10.0.${int(255)}.${int(255)}: bytes=32 time=${int(40)}ms TTL=128\n`,
  () => `The ${pick(SERVICES)} service entered the running state.\n`,
  () => "Windows Resource Protection did not find any integrity violations.\n",
  () =>
    "Updating policy...\nComputer Policy update has completed successfully.\nUser Policy update has completed successfully.\n",
  () =>
    `Filesystem      Size  Used Avail Use% Mounted on\n/dev/sda1       ${50 + int(400)}G  ${int(50)}G  ${int(300)}G  ${int(99)}% /\n`,
  () => `Name: ${pick(HOSTS)}\nAddress: 10.0.${int(255)}.${int(255)}\n`,
  () => `${pick(USERS)}  LockedOut: False  LastLogonDate: 2026-0${1 + int(6)}-1${int(9)}\n`,
];
const ERR_OUTPUTS = [
  () => "ERROR: Access is denied.\n",
  () => "Error 1722: The RPC server is unavailable.\n",
  () => `Get-Service : Cannot find any service with service name '${pick(SERVICES)}'.\n`,
  () => `System error 53 has occurred.\n\nThe network path was not found.\n`,
  () => `Test-NetConnection : WARNING: TCP connect to ${pick(HOSTS)} failed\n`,
  () => "Access is denied. Run the command from an elevated prompt.\n",
];
const CHAT = [
  () => "Hi, I'm connected to your computer now, please don't restart it.",
  () => "Can you try printing again?",
  () => `I restarted the ${pick(SERVICES)} service, does it work now?`,
  () => "Thanks! Everything works again.",
  () => "The scanner still shows an error on the screen.",
];
const NOTES = [
  () => `Ticket #${10000 + int(90000)}: ${pick(SERVICES)} stuck, restarted; monitoring.`,
  () => `User ${pick(USERS)} locked out after password change; unlocked.`,
  () => "Disk nearly full on C:, cleared temp folders and old updates.",
];
/** The rare terms: 20 update ids, each in ~10 commands' output. */
const RARE = Array.from({ length: 20 }, (_, i) => `KB${5030100 + i * 7}`);
// Large outputs: blocks of 256 KiB of realistic log text, reused, 4 per big command (the 1 MiB cap).
const CHUNK = 256 * 1024;
const LOG_LINES = Array.from(
  { length: 400 },
  () =>
    `${recordTimestamp(Date.parse("2026-01-01T00:00:00Z") + int(1.5e10))} ${pick(["Information", "Warning", "Error"])} ${pick(["Service Control Manager", "Microsoft-Windows-WindowsUpdateClient", "Disk", "DNS Client Events", "Kernel-Power"])} ${pick(["7036", "19", "153", "1014", "41"])} The ${pick(SERVICES)} service ${pick(["entered the running state", "entered the stopped state", "terminated unexpectedly", "was installed successfully"])}.`,
);
const BIG_BLOCKS = Array.from({ length: 16 }, () => {
  let text = "";
  while (text.length < CHUNK) text += `${pick(LOG_LINES)}\n`;
  return toBase64(utf8(text.slice(0, CHUNK)));
});

/** One synthetic session's record: lines, all within one month (so one shard), one batch per 200 events. */
function* sessions(tenantId, { commands, big, bigMiB }) {
  seed = 0x5e551075; // the same documents on every run of the same size
  const rareEvery = Math.max(1, Math.floor(commands / (RARE.length * 10)));
  const bigEvery = big > 0 ? Math.max(1, Math.floor(commands / big)) : Number.POSITIVE_INFINITY;
  let made = 0;
  let bigMade = 0;
  while (made < commands) {
    const m = pick(machines);
    const technicianId = pick(technicians);
    const sessionId = fakeId("ses");
    const month = pick(MONTHS);
    let t = Date.parse(`${month}-01T00:00:00Z`) + int(27 * 86400_000);
    let seq = 0;
    const lines = [];
    const add = (type, data, actor = `user:${technicianId}`) => {
      seq++;
      t += 200 + int(3000);
      lines.push({ seq, line: encodeRecord({ seq, ts: recordTimestamp(t), type, actor, data }) });
    };
    add("session.opened", { sessionId, machineId: m.machineId, clientId: m.clientId, technicianId, ticket: null });
    const count = Math.min(commands - made, 10 + int(20));
    let logical = 0;
    for (let i = 0; i < count; i++) {
      const n = made + i;
      const commandId = fakeId("cmd");
      add("command.requested", {
        commandId,
        command: pick(COMMAND_TEMPLATES)(),
        shell: "powershell",
        requestedBy: technicianId,
        reason: null,
      });
      const failed = rand() < 0.1;
      let out = failed ? pick(ERR_OUTPUTS)() : pick(OK_OUTPUTS)();
      if (n % rareEvery === 0)
        out += `Installed update ${RARE[Math.floor(n / rareEvery) % RARE.length]} successfully.\n`;
      const actor = `machine:${m.machineId}`;
      const bytes = utf8(out);
      add(
        "command.output",
        { commandId, stream: failed ? "stderr" : "stdout", offset: 0, data: toBase64(bytes) },
        actor,
      );
      let stdoutBytes = bytes.length;
      if (n % bigEvery === 0 && bigMade < big) {
        bigMade++;
        for (let k = 0; k < 4; k++)
          add(
            "command.output",
            { commandId, stream: "stdout", offset: bytes.length + k * CHUNK, data: pick(BIG_BLOCKS) },
            actor,
          );
        // The rest of this command's output (beyond the cap) is in the record but not indexed: counted, not sent.
        stdoutBytes = bigMiB * 1024 * 1024;
      }
      logical += stdoutBytes;
      add(
        "command.finished",
        { commandId, state: "finished", exitCode: failed ? 1 + int(5) : 0, stdoutBytes, stderrBytes: 0 },
        actor,
      );
      if (rand() < 0.05) add("chat.message", { text: pick(CHAT)() }, actor);
      if (rand() < 0.05) add("note.added", { text: pick(NOTES)() });
    }
    made += count;
    const header = {
      sessionId,
      tenantId,
      machineId: m.machineId,
      clientId: m.clientId,
      hostname: m.hostname,
      technicianId,
    };
    yield { header, month, lines, commands: count, logical };
  }
}

// ---- raw SQLite FTS5 baseline: one database, the same documents, the same schema and SQL
let raw;
let rawIns;
const rawSlots = new Map();
const rawIndexed = new Map();
function openRaw(dir) {
  rawSlots.clear();
  rawIndexed.clear();
  raw = new DatabaseSync(join(dir, "raw.sqlite"));
  raw.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
  CREATE TABLE sessions (id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, client_id TEXT NOT NULL, technician_id TEXT, hostname TEXT NOT NULL);
  CREATE TABLE commands (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, requested_by TEXT, state TEXT, exit_code INTEGER,
    approval TEXT NOT NULL DEFAULT 'none', output_indexed INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE docs (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, part INTEGER NOT NULL,
    kind TEXT NOT NULL, ts TEXT NOT NULL, command_id TEXT, stream TEXT, offset INTEGER, body TEXT NOT NULL, tags TEXT NOT NULL);
  CREATE UNIQUE INDEX docs_event ON docs(session_id, seq, part);
  CREATE VIRTUAL TABLE fts USING fts5(body, tags, content='docs', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
  INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(1.0, 0.0)');`);
  rawIns = {
    session: raw.prepare("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)"),
    command: raw.prepare(
      `INSERT INTO commands (id, session_id, requested_by, state, exit_code, output_indexed) VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, 0))
     ON CONFLICT (id) DO UPDATE SET requested_by = COALESCE(?3, requested_by), state = COALESCE(?4, state),
       exit_code = COALESCE(?5, exit_code), output_indexed = COALESCE(?6, output_indexed)`,
    ),
    doc: raw.prepare("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    fts: raw.prepare("INSERT INTO fts (rowid, body, tags) VALUES (?, ?, ?)"),
  };
}
function rawIngest(s) {
  raw.exec("BEGIN");
  rawIns.session.run(
    s.header.sessionId,
    s.header.machineId,
    s.header.clientId,
    s.header.technicianId,
    s.header.hostname,
  );
  for (const { line } of s.lines) {
    const event = JSON.parse(line);
    const e = indexEntries(event, (id) => rawIndexed.get(id) ?? 0);
    if (e.command) {
      const c = e.command;
      if (c.outputIndexed !== undefined) rawIndexed.set(c.commandId, c.outputIndexed);
      rawIns.command.run(
        c.commandId,
        s.header.sessionId,
        c.requestedBy ?? null,
        c.state ?? null,
        c.exitCode ?? null,
        c.outputIndexed ?? null,
      );
    }
    for (const doc of e.docs) {
      const base = timeKey(Date.parse(doc.ts));
      const slot = rawSlots.get(base) ?? 0;
      rawSlots.set(base, slot + 1);
      const tags = docTags(doc, s.header);
      rawIns.doc.run(
        base + slot,
        s.header.sessionId,
        doc.seq,
        doc.part,
        doc.kind,
        doc.ts,
        doc.commandId,
        doc.stream,
        doc.offset,
        doc.text,
        tags,
      );
      rawIns.fts.run(base + slot, doc.text, tags);
    }
  }
  raw.exec("COMMIT");
}

/** The same two-phase query the shards run (keys in order, then snippets for the page), on the one database. */
function rawSearch(q) {
  const user = q.q ? buildMatch(q.q) : null;
  const match = composeMatch(user?.ok ? user.match : null, { clientId: q.clientId });
  const joins = [];
  const where = ["fts MATCH ?"];
  const params = [match];
  if (q.exit === "nonzero") {
    joins.push("JOIN docs d ON d.id = f.rowid JOIN commands c ON c.id = d.command_id");
    where.push("c.exit_code IS NOT NULL AND c.exit_code != 0");
  }
  const order = q.order === "best" ? "f.rank, f.rowid DESC" : "f.rowid DESC";
  const keys = raw
    .prepare(
      `SELECT f.rowid AS key FROM fts f ${joins.join(" ")} WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT 21`,
    )
    .all(...params);
  const snip = raw.prepare(
    `SELECT snippet(fts, 0, char(2), char(3), '…', 24) AS raw, d.*, s.hostname, c.exit_code FROM fts f JOIN docs d ON d.id = f.rowid
     JOIN sessions s ON s.id = d.session_id LEFT JOIN commands c ON c.id = d.command_id WHERE fts MATCH ? AND f.rowid = ?`,
  );
  return keys.slice(0, 20).map((k) => parseSnippet(snip.get(match, k.key)?.raw ?? ""));
}

/** Caisey's plan on the same raw database: every filter in the MATCH (exit as a tag), no joins to rank. */
function rawSearchPlanned(q) {
  const user = q.q ? buildMatch(q.q) : null;
  const match = composeMatch(user?.ok ? user.match : null, { clientId: q.clientId, exit: q.exit ?? null });
  const where = ["fts MATCH ?"];
  let from = "fts f";
  if (q.exit === "nonzero") {
    from = "fts f CROSS JOIN docs d ON d.id = f.rowid CROSS JOIN commands c ON c.id = d.command_id";
    where.push("c.exit_code IS NOT NULL AND c.exit_code != 0");
  }
  const order = q.order === "best" ? "f.rank, f.rowid DESC" : "f.rowid DESC";
  const keys = raw
    .prepare(`SELECT f.rowid AS key FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT 21`)
    .all(match);
  const snip = raw.prepare(
    `SELECT snippet(fts, 0, char(2), char(3), '…', 24) AS raw, d.*, s.hostname, c.exit_code FROM fts f JOIN docs d ON d.id = f.rowid
     JOIN sessions s ON s.id = d.session_id LEFT JOIN commands c ON c.id = d.command_id WHERE fts MATCH ? AND f.rowid = ?`,
  );
  return keys.slice(0, 20).map((k) => parseSnippet(snip.get(match, k.key)?.raw ?? ""));
}

/** The raw database's documents of failed commands get their exit tags (Caisey tags them as each command finishes). */
function rawTagFacts() {
  const docs = raw
    .prepare(
      `SELECT d.id, d.body, d.tags, c.exit_code FROM docs d JOIN commands c ON c.id = d.command_id
       WHERE c.exit_code IS NOT NULL AND c.exit_code != 0`,
    )
    .all();
  const del = raw.prepare("INSERT INTO fts (fts, rowid, body, tags) VALUES ('delete', ?, ?, ?)");
  const upd = raw.prepare("UPDATE docs SET tags = ? WHERE id = ?");
  raw.exec("BEGIN");
  for (const d of docs) {
    const tags = `${d.tags} ${factTags({ exitCode: d.exit_code }).join(" ")}`;
    del.run(d.id, d.body, d.tags);
    upd.run(tags, d.id);
    rawIns.fts.run(d.id, d.body, tags);
  }
  raw.exec("COMMIT");
}

// ---- the real objects: the Worker and its Durable Objects in workerd, via wrangler dev. Bundled once up front so that
// source edits during a long run do not make wrangler rebuild and restart the Worker mid-benchmark.
const processName = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, 3).join(" ").slice(-60);
  } catch {
    return "?";
  }
};

async function startWorker(dir) {
  const port = await freePort();
  const persist = join(dir, "workerd");
  const { build } = await import("esbuild");
  await build({
    entryPoints: [join(root, "bench/search-worker.ts")],
    outfile: join(dir, "worker", "worker.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    // The PDF report's fonts (Data modules in the shipped bundle), inlined: this Worker never renders a report.
    loader: { ".ttf": "binary" },
    logLevel: "warning",
  });
  // A config of its own too (the repository's wrangler.jsonc, without assets): wrangler restarts on config edits.
  const repoConfig = JSON.parse(
    readFileSync(join(root, "packages/server/wrangler.jsonc"), "utf8").replace(/^\s*\/\/.*$/gm, ""),
  );
  writeFileSync(
    join(dir, "worker", "wrangler.json"),
    JSON.stringify({
      name: "caisey-bench",
      main: "worker.js",
      compatibility_date: repoConfig.compatibility_date,
      compatibility_flags: repoConfig.compatibility_flags,
      durable_objects: repoConfig.durable_objects,
      migrations: repoConfig.migrations,
      vars: workerSettings({}, dir), // the key secret, generated into the temp dir as `npm start` does
    }),
  );
  const wrangler = spawn(
    process.execPath,
    [
      join(root, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      join(dir, "worker", "worker.js"),
      "--no-bundle",
      "--config",
      join(dir, "worker", "wrangler.json"),
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      persist,
      "--local",
      "--inspector-port",
      process.env.BENCH_INSPECTOR_PORT ?? "0",
      "--show-interactive-dev-session=false",
      "--log-level",
      process.env.BENCH_LOG_LEVEL ?? "error",
    ],
    {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
      detached: true,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        NO_COLOR: "1",
        // wrangler dev streams every invocation's trace (each shard RPC: onset, logs, outcome) to its local
        // observability dashboard's collector Worker in the same workerd: ~40% of workerd's CPU in this ingest. The
        // server `npm start` and the other rows run (scripts/worker.mjs, Miniflare directly) has no such collector,
        // nor has Cloudflare's: off, so the objects are measured as they serve.
        X_LOCAL_OBSERVABILITY: "false",
      },
    },
  );
  const stopWrangler = () => {
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {}
  };
  process.on("exit", stopWrangler);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/v1/setup`)).ok) break;
    } catch {}
    if (i > 600) throw new Error("wrangler dev did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  // CPU seconds of wrangler and its workerd processes, read from /proc: steadier than wall time on a shared machine.
  const pids = processTree(wrangler.pid);
  const cpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpuByProcess = () => pids.map((pid) => `${pid}:${processName(pid)}:${cpuSeconds(pid)}`);
  return { base, stop: stopWrangler, cpu, cpuByProcess };
}

/** POST JSON to the Worker, retried when wrangler restarts it (ingest is idempotent: re-sent seqs are ignored). */
async function post(base, path, body, headers = {}) {
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    } catch (error) {
      if (attempt >= 5) throw error;
      console.warn(`${path}: ${error.message}; retrying`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    // Ingest is idempotent (re-sent seqs are ignored), so a restarted Worker is simply asked again.
    if (res.status === 503 && attempt < 5) {
      console.warn(`${path}: 503 ${(await res.text()).slice(0, 200)}; retrying`);
      continue;
    }
    if (!res.ok) throw new Error(`${path}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    return res.json();
  }
}

/** A fresh organization in the Worker: its tenant id and the owner's token. */
async function setupTenant(base) {
  const setup = await post(base, "/api/v1/setup", {
    organization: "Bench MSP",
    name: "Bench",
    email: "bench@bench.test",
    password: "correct horse battery",
  });
  return { tenantId: setup.tenantId, token: setup.token };
}

// ---- ingest

/**
 * Feed the same synthetic sessions to the objects (POSTs of up to 400 session batches, ~4 MiB, as the Session feed
 * sends them: record lines, per session and month) and to raw SQLite. Generating the data is not timed; the two
 * sides take turns, so neither competes with the other for the CPU: `rawSeconds` is raw SQLite's time, and
 * `objectsSeconds` the wall time from a request's encoding until the Worker has answered it (every document indexed).
 */
async function ingestBoth(worker, tenantId, { commands, big, bigMiB }) {
  const totals = {
    commands: 0,
    events: 0,
    logicalBytes: 0,
    objectsSeconds: 0,
    rawSeconds: 0,
    workerCpuSeconds: 0,
    rawCpuSeconds: 0,
  };
  let pending = [];
  let pendingBytes = 0;
  const cpuBefore = worker.cpu();
  if (process.env.BENCH_CPU_DETAIL) console.log(worker.cpuByProcess());
  let lastReport = performance.now();
  const flush = async () => {
    if (pending.length === 0) return;
    const body = { batches: pending };
    pending = [];
    pendingBytes = 0;
    const t0 = performance.now();
    await post(worker.base, "/api/bench/ingest", body);
    totals.objectsSeconds += (performance.now() - t0) / 1000;
  };
  for (const s of sessions(tenantId, { commands, big, bigMiB })) {
    for (let i = 0; i < s.lines.length; i += 200) {
      const events = s.lines.slice(i, i + 200);
      pending.push({ month: s.month, batch: { session: s.header, events } });
      for (const e of events) pendingBytes += e.line.length;
    }
    totals.events += s.lines.length;
    totals.commands += s.commands;
    totals.logicalBytes += s.logical;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    rawIngest(s);
    const cpu = process.cpuUsage(cpu0);
    totals.rawCpuSeconds += (cpu.user + cpu.system) / 1e6;
    totals.rawSeconds += (performance.now() - t0) / 1000;
    if (pendingBytes > 4 * 1024 * 1024 || pending.length >= 400) await flush();
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      console.log(
        `  ${totals.commands.toLocaleString()} commands, ${totals.objectsSeconds.toFixed(0)} s in the objects`,
      );
    }
  }
  await flush();
  totals.workerCpuSeconds = worker.cpu() - cpuBefore;
  if (process.env.BENCH_CPU_DETAIL) console.log(worker.cpuByProcess());
  return totals;
}

/** Documents and bytes on disk of the tenant's shards. */
async function shardStats(base, tenantId) {
  const { stats } = await (
    await fetch(`${base}/api/bench/stats?tenantId=${tenantId}&months=${MONTHS.join(",")}`)
  ).json();
  return { docs: stats.reduce((a, s) => a + s.docs, 0), bytes: stats.reduce((a, s) => a + s.bytes, 0) };
}

/**
 * Search ingest through the objects against raw SQLite FTS5, the same documents (for `npm run bench`'s row):
 * `ratio` = raw SQLite's time / the objects' time (1: as fast as raw SQLite). Starts and stops its own Worker.
 * `commands`: synthetic commands (~2 documents each); `big`: how many carry capped large output (1 MiB indexed).
 */
export async function ingestRatio({ commands = 20_000, big = 0, bigMiB = 50 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "caisey-bench-search-"));
  // BENCH_PROFILE_OUT=file: the Worker's V8 CPU profile of the ingest, written there, and its hottest functions printed.
  const profileOut = process.env.BENCH_PROFILE_OUT;
  if (profileOut) process.env.BENCH_INSPECTOR_PORT = String(await freePort());
  const worker = await startWorker(dir);
  try {
    openRaw(dir);
    const { tenantId } = await setupTenant(worker.base);
    const profiler = profileOut ? await inspector(Number(process.env.BENCH_INSPECTOR_PORT)) : null;
    await profiler?.call("Profiler.enable");
    await profiler?.call("Profiler.setSamplingInterval", { interval: 500 });
    await profiler?.call("Profiler.start");
    const t = await ingestBoth(worker, tenantId, { commands, big, bigMiB });
    if (profiler && profileOut) {
      const { profile } = await profiler.call("Profiler.stop");
      profiler.close();
      writeFileSync(profileOut, JSON.stringify(profile));
      const top = hottest(profile, 25);
      console.log(
        `the Worker's hottest functions (self time, ${top.total.toFixed(1)} s sampled):\n${top.lines.join("\n")}`,
      );
    }
    const { docs } = await shardStats(worker.base, tenantId);
    const rawDocs = raw.prepare("SELECT COUNT(*) AS n FROM docs").get().n;
    if (docs !== rawDocs) throw new Error(`shards hold ${docs} documents, raw SQLite ${rawDocs}`);
    return {
      ratio: t.rawSeconds / t.objectsSeconds,
      commands: t.commands,
      documents: docs,
      objectsSeconds: t.objectsSeconds,
      rawSeconds: t.rawSeconds,
      workerCpuSeconds: t.workerCpuSeconds,
      rawCpuSeconds: t.rawCpuSeconds,
    };
  } finally {
    worker.stop();
    raw?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "caisey-bench-search-"));
  openRaw(dir);
  const worker = await startWorker(dir);
  const { base } = worker;
  const setup = await setupTenant(base);
  const { tenantId } = setup;
  console.log(`ingesting ${COMMANDS.toLocaleString()} commands (${BIG} with capped large output) …`);
  const totals = await ingestBoth(worker, tenantId, { commands: COMMANDS, big: BIG, bigMiB: BIG_MIB });
  let indexedOutputBytes = 0;
  for (const [, n] of rawIndexed) indexedOutputBytes += n;
  const { docs: shardDocs, bytes: shardBytes } = await shardStats(base, tenantId);
  const rawDocs = raw.prepare("SELECT COUNT(*) AS n FROM docs").get().n;
  if (shardDocs !== rawDocs) console.warn(`warning: shards hold ${shardDocs} documents, raw SQLite ${rawDocs}`);
  rawTagFacts(); // for the second raw column; the baseline's own query never looks at these tags
  raw.exec("INSERT INTO fts(fts) VALUES('optimize')"); // fair to the baseline: its best shape
  console.log(`ingested in ${totals.objectsSeconds.toFixed(0)} s (${shardDocs.toLocaleString()} documents)`);

  // ---- queries
  const PHRASES = [
    '"access is denied"',
    '"the operation completed successfully"',
    '"network path was not found"',
    '"rpc server is unavailable"',
  ];
  const COMMON = ["service", "successfully", "error", "update"];
  const kinds = [
    ["rare term", (i) => ({ q: RARE[i % RARE.length] })],
    ["rare term + client", (i) => ({ q: RARE[i % RARE.length], clientId: clients[i % clients.length] })],
    ["common term", (i) => ({ q: COMMON[i % COMMON.length] })],
    ["common term + client", (i) => ({ q: COMMON[i % COMMON.length], clientId: clients[i % clients.length] })],
    ["common term + exit=nonzero", (i) => ({ q: COMMON[i % COMMON.length], exit: "nonzero" })],
    ["phrase", (i) => ({ q: PHRASES[i % PHRASES.length] })],
    ["phrase + exit=nonzero", (i) => ({ q: PHRASES[i % PHRASES.length], exit: "nonzero" })],
    ["common term, best match first", (i) => ({ q: COMMON[i % COMMON.length], order: "best" })],
  ];
  const pct = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  };
  const fmt = (values) => `${pct(values, 50).toFixed(1)} / ${pct(values, 95).toFixed(1)}`;
  const shardQuery = (p) => ({
    tenantId,
    q: p.q,
    kinds: null,
    clientId: p.clientId ?? null,
    machineId: null,
    sessionId: null,
    technicianId: null,
    exit: p.exit ?? null,
    approval: null,
    fromMs: null,
    toMs: null,
    order: p.order ?? "newest",
    cursor: null,
  });
  const auth = { authorization: `Bearer ${setup.token}` };
  const rows = [];
  for (const [name, make] of kinds) {
    const objects = [];
    const http = [];
    const baseline = [];
    const planned = [];
    let hits = 0;
    let rawHits = 0;
    for (let i = 0; i < Math.min(3, QUERIES); i++)
      await post(base, "/api/bench/search", { query: shardQuery(make(i)), limit: 20 }); // warm
    for (let i = 0; i < QUERIES; i++) {
      const p = make(i);
      let t = performance.now();
      const r = await post(base, "/api/bench/search", { query: shardQuery(p), limit: 20 });
      objects.push(performance.now() - t);
      hits += r.count;
      const params = new URLSearchParams({
        q: p.q,
        limit: "20",
        ...(p.clientId ? { clientId: p.clientId } : {}),
        ...(p.exit ? { exit: p.exit } : {}),
        ...(p.order ? { order: p.order } : {}),
      });
      t = performance.now();
      const res = await fetch(`${base}/api/v1/search?${params}`, { headers: auth });
      await res.json();
      if (!res.ok) throw new Error(`search route: ${res.status}`);
      http.push(performance.now() - t);
      t = performance.now();
      rawHits += rawSearch(p).length;
      baseline.push(performance.now() - t);
      t = performance.now();
      const same = rawSearchPlanned(p).length;
      planned.push(performance.now() - t);
      if (same !== r.count) console.warn(`${name}: Caisey's plan on raw SQLite found ${same}, the shards ${r.count}`);
    }
    rows.push([
      name,
      fmt(objects),
      fmt(http),
      fmt(baseline),
      fmt(planned),
      `${(hits / QUERIES).toFixed(1)} / ${(rawHits / QUERIES).toFixed(1)}`,
      name === "rare term" ? "p95 ≤ 50" : "",
    ]);
    console.log(
      `  ${name}: ${fmt(objects)} ms (shards), ${fmt(baseline)} ms (raw), ${fmt(planned)} ms (raw, same plan)`,
    );
  }
  worker.stop();

  const gib = (b) => (b / 2 ** 30).toFixed(2);
  const header = [
    "query (newest first, 20 per page)",
    "Caisey shards p50 / p95 ms",
    "HTTP route p50 / p95 ms",
    "raw SQLite FTS5 p50 / p95 ms",
    "raw, Caisey's plan p50 / p95 ms",
    "hits/query (Caisey / raw)",
    "target",
  ];
  const table = (head, body) => {
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
    const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
    return [line(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(line)].join("\n");
  };
  const summary = [
    ["commands indexed", COMMANDS.toLocaleString("en")],
    ["documents (commands, output pieces, chat, notes)", shardDocs.toLocaleString("en")],
    ["shards (tenant × month)", String(MONTHS.length)],
    [
      "logical output represented",
      `${gib(totals.logicalBytes)} GiB (${BIG} commands × ${BIG_MIB} MiB + small outputs)`,
    ],
    ["output text indexed (≤ 1 MiB per command)", `${gib(indexedOutputBytes)} GiB`],
    [
      "index size on disk: shards / raw SQLite",
      `${gib(shardBytes)} GiB / ${gib(raw.prepare("SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()").get().n)} GiB`,
    ],
    [
      "ingest through the objects (record lines → indexed)",
      `${(COMMANDS / totals.objectsSeconds).toFixed(0)} commands/s, ${(totals.events / totals.objectsSeconds).toFixed(0)} events/s (${totals.objectsSeconds.toFixed(0)} s)`,
    ],
    [
      "ingest raw SQLite (same documents, same process)",
      `${(COMMANDS / totals.rawSeconds).toFixed(0)} commands/s (${totals.rawSeconds.toFixed(0)} s)`,
    ],
    ["ingest ratio: raw SQLite's time / the objects' time", (totals.rawSeconds / totals.objectsSeconds).toFixed(2)],
    [
      "CPU seconds of workerd (and wrangler) while ingesting, per 1,000 commands",
      `${((totals.workerCpuSeconds / COMMANDS) * 1000).toFixed(2)} s (raw SQLite: ${((totals.rawCpuSeconds / COMMANDS) * 1000).toFixed(2)} s)`,
    ],
  ];
  const out = `${table(["measure", "value"], summary)}\n\n${table(header, rows)}`;
  console.log(`\n${out}`);
  appendResults("search (`npm run bench:search`)", out);
  raw.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

if (direct) await main();

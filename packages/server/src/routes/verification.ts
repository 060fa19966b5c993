// Verification: re-run a finished command as its check, now or at a set time, and the before/after diff of two
// commands. The diff reads each output page by page (the Session's 2 MiB output pages): a first pass keeps one line
// fingerprint per line (8 bytes a line), a second reads back only the lines of the page of hunks asked for. Besides
// the fingerprints, the Worker holds one page of output at a time, and both stdouts whole only when each is at most
// 1 MiB (for the row/field view).

import {
  concatBytes,
  fromUtf8,
  type HunkPage,
  hunkPage,
  LineCollector,
  type LineIndex,
  LineIndexer,
  linesToRead,
  planStream,
  STRUCTURED_MAX_BYTES,
  type StreamDiff,
  streamDiff,
  structuredDiff,
} from "@caisey/core";
import { type CommandDiff, commandDiff, verifyCommand } from "@caisey/core/routes";
import type { Hono } from "hono";
import { type AppEnv, scope } from "../auth.ts";
import { session } from "../env.ts";
import { unwrap } from "../http.ts";
import { route } from "./table.ts";

type Stream = "stdout" | "stderr";

export function verificationRoutes(app: Hono<AppEnv>): void {
  route(app, verifyCommand, async (c, { params, body }) => {
    const p = c.var.principal;
    const asked = await session(c.env, params.id).verify(scope(c), { id: p.userId, name: p.name }, params.cid, body.at);
    return c.json(unwrap(asked), 202);
  });

  route(app, commandDiff, async (c, { params, query }) => {
    const stub = session(c.env, params.id);
    const view = scope(c);
    const { before, after } = unwrap(await stub.comparison(view, params.cid, query.against));
    const page: HunkPage = { hunk: query.hunk, hunks: query.hunks };

    /** Every chunk of one command's stream, in order, one page in memory at a time. */
    const read = async (commandId: string, stream: Stream, take: (chunk: Uint8Array) => void) => {
      for (let from = 0; ; ) {
        const p = unwrap(await stub.outputPage(view, commandId, stream, from));
        for (const chunk of p.chunks) take(chunk);
        if (p.done) return;
        from = p.next;
      }
    };

    const texts: Partial<Record<"before" | "after", Uint8Array[]>> = {};
    const small = before.stdoutBytes <= STRUCTURED_MAX_BYTES && after.stdoutBytes <= STRUCTURED_MAX_BYTES;

    const compare = async (stream: Stream): Promise<StreamDiff> => {
      const indexes: LineIndex[] = [];
      for (const [side, command] of [
        ["before", before],
        ["after", after],
      ] as const) {
        const indexer = new LineIndexer();
        const kept: Uint8Array[] | null = stream === "stdout" && small ? [] : null;
        await read(command.id, stream, (chunk) => {
          indexer.push(chunk);
          kept?.push(chunk);
        });
        if (kept) texts[side] = kept;
        indexes.push(indexer.end());
      }
      const digest = `${stream}Sha256` as const;
      const sameBytes =
        before[digest] === after[digest] && before[`${stream}Bytes` as const] === after[`${stream}Bytes` as const];
      const [a, b] = indexes as [LineIndex, LineIndex];
      const plan = planStream(a, b, sameBytes);
      const wanted = linesToRead(plan, page);
      const readBack = async (command: { id: string }, lines: Set<number>) => {
        if (lines.size === 0) return new Map<number, string>();
        const collector = new LineCollector(lines);
        await read(command.id, stream, (chunk) => collector.push(chunk));
        return collector.end();
      };
      const shown = hunkPage(plan, page, await readBack(before, wanted.before), await readBack(after, wanted.after));
      return streamDiff(plan, shown);
    };

    const stdout = await compare("stdout");
    const stderr = await compare("stderr");
    const decode = (chunks: Uint8Array[]) => fromUtf8(concatBytes(...chunks));
    const structured =
      texts.before && texts.after && !stdout.binary && stdout.changed
        ? structuredDiff(decode(texts.before), decode(texts.after))
        : null;
    const exitCode = {
      before: before.exitCode,
      after: after.exitCode,
      changed: before.exitCode !== after.exitCode,
    };
    const answer: CommandDiff = {
      ...stdout,
      differs: stdout.changed || stderr.changed || exitCode.changed,
      before: { ...stdout.before, commandId: before.id, exitCode: before.exitCode, state: before.state },
      after: { ...stdout.after, commandId: after.id, exitCode: after.exitCode, state: after.state },
      exitCode,
      stderr,
      view: structured,
      page,
    };
    return c.json(answer);
  });
}

// `run`: wire the connection, the outbox and the executor together.

import { createPrivateKey } from "node:crypto";
import { LIMITS, type MachineFacts, type UpdateRefusedFrame } from "@caisey/core";
import type { RuntimeConfig } from "./config.ts";
import { Connection, type ConnectionOptions } from "./connection.ts";
import { Executor, type ExecutorOptions } from "./executor.ts";
import { HealthWatch } from "./health.ts";
import { interruptedFinish, stopOrphan } from "./journal.ts";
import { Outbox, type OutboxStore } from "./outbox.ts";
import { approvalHolds, signingKeyObject, verifyCancel, verifyDispatch } from "./signing.ts";

export interface RuntimeOptions {
  config: RuntimeConfig;
  facts: MachineFacts;
  log: (line: string) => void;
  /** Where unacknowledged frames live: `run` passes the disk journal (journal.ts); default in memory. */
  store?: OutboxStore;
  /** Hears every log line (`run` makes it first, so the journal's lines count too); default a new one. */
  health?: HealthWatch;
  /** Told each time the runtime is connected and authenticated (the updater checks then). */
  onConnected?: () => void;
  /** Overrides for tests. */
  executor?: Partial<Omit<ExecutorOptions, "sink" | "log">>;
  connection?: Partial<
    Omit<ConnectionOptions, "server" | "machineId" | "privateKey" | "facts" | "health" | "handlers" | "log">
  >;
}

export class Runtime {
  readonly outbox: Outbox;
  readonly executor: Executor;
  readonly connection: Connection;
  readonly health: HealthWatch;
  /** Reports made while disconnected, sent on the next connect (a few; they are in the log as well). */
  readonly #reports: UpdateRefusedFrame[] = [];

  constructor(options: RuntimeOptions) {
    const { config, facts, log } = options;
    // The tenant's key pinned at enrollment. Nothing reaches the executor unless it signed it for this machine: a
    // refused frame is not run, not journalled and not answered (a spoofed server learns nothing from it).
    const signingKey = signingKeyObject(config.signingKey);
    const machineId = config.machineId;
    // Late-bound: the outbox and the executor call each other (backpressure one way, frames the other).
    let executor: Executor | undefined;
    this.outbox = new Outbox({
      store: options.store,
      windowBytes: LIMITS.unackedOutputBytes,
      log,
      onFlow: (commandId, paused) => executor?.setPaused(commandId, paused),
      onSettled: (commandId) => executor?.forget(commandId),
      onSpace: (full) => executor?.storeFull(full),
    });
    executor = new Executor({ ...options.executor, sink: this.outbox, log });
    this.executor = executor;
    // Commands the previous run of the runtime was running when it died: not run again; their journalled output is
    // resent (it is already in the outbox), then an `interrupted` finish with what was journalled.
    for (const lost of this.outbox.store.unfinished()) {
      stopOrphan(lost, log);
      const finish = interruptedFinish(lost);
      log(`${lost.commandId}: ${finish.reason} (${lost.stdoutBytes} stdout, ${lost.stderrBytes} stderr bytes kept)`);
      this.outbox.push(finish);
    }
    const outbox = this.outbox;
    const health = options.health ?? new HealthWatch();
    health.watch(outbox.store);
    this.health = health;
    this.connection = new Connection({
      ...options.connection,
      server: config.server,
      machineId: config.machineId,
      privateKey: createPrivateKey(config.privateKey),
      facts,
      health: () => health.hello(),
      log,
      handlers: {
        onUp: (send, report) => {
          outbox.connected(send);
          health.connected(report);
          for (const frame of this.#reports.splice(0)) this.report(frame);
          options.onConnected?.();
        },
        onDown: () => {
          outbox.disconnected();
          health.disconnected();
        },
        onDispatch: (frame) => {
          if (!verifyDispatch(frame, machineId, signingKey)) {
            log(`refused dispatch ${frame.commandId}: bad signature`);
            return;
          }
          if (!approvalHolds(frame, machineId)) {
            log(`refused dispatch ${frame.commandId}: it needs the client's approval for exactly this command`);
            return;
          }
          executor.dispatch(frame);
        },
        onCancel: (frame) => {
          if (!verifyCancel(frame, machineId, signingKey)) {
            log(`refused cancel ${frame.commandId}: bad signature`);
            return;
          }
          executor.cancel(frame.sessionId, frame.commandId);
        },
        onAck: (frame) => outbox.ack(frame),
      },
    });
  }

  start(): void {
    this.connection.start();
    this.health.start();
  }

  /** Tell the server something about this runtime (a refused update), now or once connected. */
  report(frame: UpdateRefusedFrame): void {
    if (this.connection.report(frame)) return;
    if (this.#reports.length < 8) this.#reports.push(frame);
  }

  /** Kill running commands' process trees, give their last frames a moment to leave, close the socket. */
  async stop(flushMs = 1000): Promise<void> {
    await this.executor.shutdown();
    const deadline = Date.now() + flushMs;
    while (this.outbox.online && this.outbox.pending().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.health.stop();
    await this.connection.stop();
    await this.outbox.close();
  }
}

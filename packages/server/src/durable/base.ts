// The base of every object that makes durable effects on others or receives them: subclasses name themselves as a
// sender, apply the effects they receive, and handle their own named alarms; the outbox, the receipts and the one
// storage alarm are handled here (style of partykit's partyserver: override hooks, not fetch/alarm plumbing).

import { DurableObject } from "cloudflare:workers";
import { type Env, fleet, searchIndex, tenant, transparencyLog } from "../env.ts";
import { type Migration, migrate } from "../migrations.ts";
import { fail, ok, type Result } from "../result.ts";
import { AlarmScheduler } from "./alarms.ts";
import { Later } from "./later.ts";
import { type Delivery, type Effect, OUTBOX_ALARM, Outbox } from "./outbox.ts";
import { Receipts } from "./receipts.ts";

/**
 * Where an effect goes: another object (`fleet:<tenantId>`, `tenant:<tenantId>`, `search:<tenantId>:<YYYY-MM>`, a
 * month's search shard, `log:<tenantId>`, the tenant's transparency log) or, for a Tenant, a webhook.
 */
export const target = {
  fleet: (tenantId: string) => `fleet:${tenantId}`,
  tenant: (tenantId: string) => `tenant:${tenantId}`,
  log: (tenantId: string) => `log:${tenantId}`,
  search: (tenantId: string, month: string) => `search:${tenantId}:${month}`,
};

export abstract class DurableBase extends DurableObject<Env> {
  protected readonly sql: SqlStorage;
  protected readonly alarms: AlarmScheduler;
  protected readonly outbox: Outbox;
  /** Writes that wait for the object's next transaction (see later.ts). */
  protected readonly later: Later;
  private readonly receipts: Receipts;

  constructor(ctx: DurableObjectState, env: Env, migrations: readonly Migration[]) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, migrations);
    this.alarms = new AlarmScheduler(ctx.storage);
    this.receipts = new Receipts(ctx.storage);
    this.later = new Later(() => ctx.storage.transactionSync(() => {}));
    this.outbox = new Outbox(ctx.storage, this.alarms, this.later, {
      deliver: (to, effects) => this.deliverEffects(to, effects),
      maxAttempts: (to) => this.attemptsFor(to),
      marksLater: (to) => this.marksLater(to),
    });
    // What this plumbing mirrors in memory (alarm rows, receipts, waiting effects) must not outlive a transaction that
    // rolled back, nor storage emptied: every transaction of the object (its subclass's, the receipts', the outbox's)
    // forgets it when it throws, and deleteAll when it is done. It is read again from storage when next needed. Every
    // transaction also takes the writes that wait for one (see later.ts).
    const storage = ctx.storage;
    const transactionSync = storage.transactionSync.bind(storage);
    storage.transactionSync = <T>(fn: () => T): T => {
      try {
        const result = transactionSync(() => {
          this.later.flush();
          return fn();
        });
        this.later.committed();
        return result;
      } catch (error) {
        this.later.rolledBack();
        this.forgetMirrors();
        throw error;
      }
    };
    const deleteAll = storage.deleteAll.bind(storage);
    storage.deleteAll = (options) =>
      deleteAll(options).finally(() => {
        this.later.forget();
        this.forgetMirrors();
      });
  }

  private forgetMirrors(): void {
    this.alarms.forget();
    this.receipts.forget();
    this.outbox.forget();
    this.forgetHeld();
  }

  /**
   * What the subclass holds in memory of its own storage, dropped in the same two cases (a transaction that threw,
   * storage emptied): it reads it again when next needed.
   */
  protected forgetHeld(): void {}

  /** This object as a sender (receivers key their receipts on it); null while it does not know its own name yet. */
  protected abstract source(): string | null;

  /**
   * What effects need done before their transaction and cannot do inside it (signing is asynchronous), by effect seq;
   * applyEffect receives its effect's share. Done again if the effects come again: it must give the same answer.
   */
  protected async prepareEffects(_source: string, _effects: Effect[]): Promise<Result<Map<number, unknown>>> {
    return ok(new Map());
  }

  /** Apply one effect another object sent (inside the transaction that records its receipt; throw to refuse all). */
  protected applyEffect(source: string, effect: Effect, _prepared?: unknown): void {
    throw new Error(`${this.constructor.name} takes no effects (${effect.kind} from ${source})`);
  }

  /** A named alarm of the subclass's own rang (the outbox's is handled here). */
  protected async onAlarm(name: string): Promise<void> {
    console.error(`no handler for alarm ${name}`);
  }

  /** Deliver effects to a target; subclasses with targets of their own (webhooks) handle those first. */
  protected async deliverEffects(to: string, effects: Effect[]): Promise<Delivery> {
    const source = this.source();
    if (source === null) return { delivered: 0, error: "the sender does not know its name yet" };
    const [kind, id = ""] = splitTarget(to);
    const stub =
      kind === "fleet"
        ? fleet(this.env, id)
        : kind === "tenant"
          ? tenant(this.env, id)
          : kind === "search"
            ? searchShard(this.env, id)
            : kind === "log"
              ? transparencyLog(this.env, id)
              : null;
    if (!stub) return { delivered: 0, error: `unknown target ${to}`, final: true };
    const result = await stub.receive(source, effects);
    return result.ok ? { delivered: effects.length } : { delivered: 0, error: result.message };
  }

  /**
   * Whether a landing at `to` may be marked with this object's next transaction (see later.ts): only where the target is
   * an object, which keeps receipts (see receive) and so ignores a delivery again, and where this object delivers on
   * every command (a Session's reports to the Fleet). Elsewhere landings are marked at once.
   */
  protected marksLater(_to: string): boolean {
    return false;
  }

  protected attemptsFor(_to: string): number {
    return Number.POSITIVE_INFINITY;
  }

  /** Effects from another object's outbox: each applied exactly once, however often it is delivered. */
  async receive(source: string, effects: Effect[]): Promise<Result<{ applied: number }>> {
    const prepared = await this.prepareEffects(source, effects);
    if (!prepared.ok) return prepared;
    const enqueued = this.outbox.enqueued;
    let applied: number;
    try {
      applied = this.receipts.receive(source, effects, (effect) =>
        this.applyEffect(source, effect, prepared.value.get(effect.seq)),
      );
    } catch (error) {
      return fail(503, "not_applied", error instanceof Error ? error.message : String(error));
    }
    // What the effects caused here goes out now, without holding up the sender. Most cause nothing to send (a session's
    // reports only change the Fleet's lists): then no outbox query at all; what waits from before is the alarm's.
    if (this.outbox.enqueued !== enqueued) void this.outbox.drain();
    return ok({ applied });
  }

  override async alarm(): Promise<void> {
    await this.alarms.ring((name) => (name === OUTBOX_ALARM ? this.outbox.drain() : this.onAlarm(name)));
  }
}

/** `<tenantId>:<YYYY-MM>` (tenant ids hold no `:`). */
function searchShard(env: Env, id: string) {
  const [tenantId, month] = splitTarget(id);
  return tenantId && /^\d{4}-\d{2}$/.test(month) ? searchIndex(env, tenantId, month) : null;
}

function splitTarget(to: string): [string, string] {
  const at = to.indexOf(":");
  return at < 0 ? [to, ""] : [to.slice(0, at), to.slice(at + 1)];
}

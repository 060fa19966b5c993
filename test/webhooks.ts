// A local receiver standing in for the MSP's PSA or chat bridge: subscribed to the file's organization for some events,
// it verifies every delivery as a Standard Webhooks receiver would and keeps the messages for the tests to read.

import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, vi } from "vitest";
import type { Organization } from "./organization.ts";

export interface WebhookReceiver {
  /** Every verified message so far, in arrival order. */
  readonly messages: any[];
  /** Wait for the `n`th message of this type about this session and return it. */
  nth: (type: string, sessionId: string, n?: number) => Promise<any>;
}

/** Registers after `useOrganization` (its hooks run after the organization is set up): call it after that. */
export function useWebhookReceiver(org: Organization, events: string[]): WebhookReceiver {
  const messages: any[] = [];
  let secret = "";
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      messages.push(new Webhook(secret).verify(body, req.headers as Record<string, string>));
      res.writeHead(204).end();
    });
  });

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    secret = (await org.owner.json("/api/v1/webhooks", { url: `http://127.0.0.1:${port}/caisey`, events })).secret;
  });
  afterAll(() => {
    server.close();
  });

  return {
    messages,
    nth: (type, sessionId, n = 1) =>
      vi.waitFor(
        () => {
          const found = messages.filter((m) => m.type === type && m.data?.sessionId === sessionId)[n - 1];
          if (!found) throw new Error(`no ${type} #${n} for ${sessionId} yet`);
          return found;
        },
        { timeout: 30_000, interval: 50, message: `webhook ${type} #${n} for ${sessionId}` },
      ),
  };
}

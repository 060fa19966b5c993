// The API's routes as data: the table is well formed, calls are built from it, and the query schemas read text the
// way the contract says (a missing or empty value is the default; anything else must be exact).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuditQuery, describeIssue, EventsQuery, OutputQuery, SCHEMAS, SessionListQuery } from "../src/api.ts";
import {
  allows,
  commandOutput,
  DEFINED_ROUTES,
  listUsers,
  pathOf,
  requestCommand,
  signIn,
} from "../src/routes/index.ts";

describe("route definitions", () => {
  it("define each method and path once, each path id with its kind, each schema by a name that exists", () => {
    const keys = DEFINED_ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(keys).toEqual([...new Set(keys)]);
    for (const r of DEFINED_ROUTES) {
      const names = [...r.path.matchAll(/:([a-z]+)/g)].map((m) => m[1]);
      // An approval link's token is not an id: the route checks it itself.
      const ids = names.filter((n) => n !== "token");
      expect([r.path, Object.keys(r.params ?? {}).sort()]).toEqual([r.path, ids.sort()]);
      for (const schema of [r.query, r.body]) if (schema) expect(SCHEMAS[schema]).toBeDefined();
    }
  });

  it("build a call's path and query, encoding each value", () => {
    expect(
      pathOf(commandOutput, { id: "ses_a/b", cid: "cmd_x y" }, { stream: "stderr", limit: 5, skipped: undefined }),
    ).toBe("/api/v1/sessions/ses_a%2Fb/commands/cmd_x%20y/output?stream=stderr&limit=5");
    expect(pathOf(requestCommand, { id: "ses_1" })).toBe("/api/v1/sessions/ses_1/commands");
  });

  it("say who may call a route", () => {
    expect(["owner", "dispatcher", "technician", "contact"].map((r) => allows(listUsers.access, r as never))).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(allows(signIn.access, "contact")).toBe(true);
    expect(allows("operator", "owner")).toBe(false);
  });
});

describe("query schemas", () => {
  const refusal = (schema: { safeParse: (v: unknown) => { success: boolean; error?: unknown } }, value: unknown) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? null : describeIssue(parsed.error as never);
  };

  it("take a missing, empty or zero page size as the default, and refuse anything but a whole number in range", () => {
    expect(SessionListQuery.parse({})).toEqual({ limit: 50 });
    expect(SessionListQuery.parse({ limit: "" })).toEqual({ limit: 50 });
    expect(SessionListQuery.parse({ limit: "0" })).toEqual({ limit: 50 });
    expect(SessionListQuery.parse({ limit: "200", machineId: "mch_x" })).toEqual({ limit: 200, machineId: "mch_x" });
    for (const bad of ["201", "-1", "1.5", "1e2", " 1", "0x10", "9999999999999999"])
      expect(refusal(SessionListQuery, { limit: bad })).toBe("limit: must be an integer from 0 to 200");
  });

  it("read `after` and `before` as whole numbers, any size a page can hold", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999_999 }), (n) => {
        expect(EventsQuery.parse({ after: String(n) }).after).toBe(n);
        expect(AuditQuery.parse({ before: String(n) }).before).toBe(n);
      }),
    );
    expect(EventsQuery.parse({})).toEqual({ after: 0, limit: 1000 });
    expect(AuditQuery.parse({ before: "" })).toEqual({ before: null, limit: 100 });
    expect(refusal(EventsQuery, { after: "-1" })).toBe(
      `after: must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
    );
  });

  it("default the output stream to stdout and refuse any other", () => {
    expect(OutputQuery.parse({})).toEqual({ stream: "stdout" });
    expect(OutputQuery.parse({ stream: "stderr" })).toEqual({ stream: "stderr" });
    expect(refusal(OutputQuery, { stream: "" })).toBe("stream: must be stdout or stderr");
  });
});

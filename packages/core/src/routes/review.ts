// Verify before you close: a technician's verdicts, the dispatcher's review gate, and the figures built on them.

import type { MetricsRow } from "../metrics.ts";
import type { PendingReview } from "../views.ts";
import { answer, defineRoute, RUNNERS } from "./define.ts";

/** Those who review sessions and read the figures. */
const REVIEWERS = ["owner", "dispatcher"] as const;

export const recordVerdict = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/verdicts",
  access: RUNNERS,
  params: { id: "ses" },
  body: "VerdictBody",
  answer: answer<{ seq: number }>(),
});

export const reviewSession = defineRoute({
  method: "post",
  path: "/api/v1/sessions/:id/review",
  access: REVIEWERS,
  params: { id: "ses" },
  body: "ReviewBody",
  answer: answer<{ seq: number; state: "closed" | "open" }>(),
});

export const listReviews = defineRoute({
  method: "get",
  path: "/api/v1/reviews",
  access: REVIEWERS,
  answer: answer<{ reviews: PendingReview[] }>(),
});

/** Rows carry `label` (the technician's or client's name, the week) beside `key`. */
export const metrics = defineRoute({
  method: "get",
  path: "/api/v1/metrics",
  access: REVIEWERS,
  query: "MetricsQuery",
  answer: answer<{
    from: string;
    to: string;
    groupBy: string;
    callbackDays: number;
    rows: (MetricsRow & { label: string })[];
  }>(),
});

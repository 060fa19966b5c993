// Search over the tenant's records (a client contact searches only their own client's sessions), and the owner's
// rebuild of the index from the records.

import type { SearchResult } from "../views.ts";
import { answer, defineRoute, EVERYONE, OWNERS } from "./define.ts";

export const searchRecords = defineRoute({
  method: "get",
  path: "/api/v1/search",
  access: EVERYONE,
  query: "SearchQuery",
  answer: answer<{ results: SearchResult[]; next: string | null }>(),
});

export const rebuildSearch = defineRoute({
  method: "post",
  path: "/api/v1/search/rebuild",
  access: OWNERS,
  answer: answer<{ sessions: number; failed: number; shards: number }>(),
});

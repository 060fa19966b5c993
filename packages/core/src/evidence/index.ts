// Evidence a third party reads: the SLA timeline and the exports built from a session's record.

export * from "./asciicast.ts";
export * from "./report.ts";
export * from "./share.ts";
export * from "./timeline.ts";

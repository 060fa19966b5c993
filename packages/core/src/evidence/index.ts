// Evidence: seals, the tenant's transparency log and its proofs (DESIGN.md, Evidence).

export * from "./bundle.ts";
export * from "./checkpoint.ts";
export * from "./merkle.ts";
export * from "./note.ts";
export * from "./seal.ts";
// Evidence a third party reads: the SLA timeline and the exports built from a session's record.

export * from "./asciicast.ts";
export * from "./report.ts";
export * from "./share.ts";
export * from "./timeline.ts";

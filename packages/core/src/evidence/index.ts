// Evidence: seals, the tenant's transparency log and its proofs (DESIGN.md, Evidence).

export * from "./checkpoint.ts";
export * from "./merkle.ts";
export * from "./note.ts";
export * from "./seal.ts";

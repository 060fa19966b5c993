export * from "./commands.ts";
export * from "./deadlines.ts";
export * from "./dispatch.ts";
export * from "./finish.ts";
export * from "./holder.ts";
export * from "./output.ts";
export * from "./review.ts";
export * from "./rollbacks.ts";

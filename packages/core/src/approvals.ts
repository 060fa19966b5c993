// When a command needs the client's approval: the client's policy, what the command does, and whether the
// technician asked. A technician can always ask for approval, and never skip one the policy requires.

export const APPROVAL_POLICIES = ["always", "changes", "never"] as const;
export type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number];

export function approvalRequired(policy: ApprovalPolicy, kind: "read" | "change", technicianAsked: boolean): boolean {
  if (technicianAsked || policy === "always") return true;
  return policy === "changes" && kind === "change";
}

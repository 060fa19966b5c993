// Developer and admin tools: git, containers, clusters, certificates, binary inspection, manuals.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { posixSubcommand } from "../args.ts";
import { change, changesTheSystem, type Finding, type Invocation, type ProgramFamily, READ, reads } from "../types.ts";

const containers = ({ name, args }: Invocation): Finding | undefined => {
  const sub = posixSubcommand(args);
  return ["ps", "images", "logs", "inspect", "info", "version", "stats", "top", "port", "history", "search"].includes(
    sub,
  )
    ? READ
    : change(`${name} ${sub} changes containers`);
};

export const tools: ProgramFamily = {
  posix: {
    apropos: reads,
    certbot: changesTheSystem,
    docker: { classify: containers },
    git: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return [
          "status",
          "log",
          "diff",
          "show",
          "rev-parse",
          "ls-files",
          "blame",
          "describe",
          "shortlog",
          "--version",
          "version",
        ].includes(sub)
          ? READ
          : change(`git ${sub} changes a repository`);
      },
    },
    help: reads,
    info: reads,
    kubectl: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(args);
        return ["get", "describe", "logs", "top", "version", "explain", "api-resources", "cluster-info"].includes(sub)
          ? READ
          : change(`kubectl ${sub} changes the cluster`);
      },
    },
    ldd: reads,
    make: changesTheSystem,
    man: reads,
    nm: reads,
    objdump: reads,
    openssl: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        const sub = posixSubcommand(a);
        return ["x509", "s_client", "verify", "version", "ciphers", "crl", "asn1parse", "dgst"].includes(sub) &&
          !a.some((x) => ["-out", "-keyout", "-signkey", "-new", "-sign"].includes(x))
          ? READ
          : change(`openssl ${sub} writes keys or files`);
      },
    },
    podman: { classify: containers },
    readelf: reads,
    whatis: reads,
  },
};

// Disks, volumes, partitions, mounts and boot configuration.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { hasArg, hasArgPrefix, lc, posixPositional } from "../args.ts";
import {
  change,
  changes,
  changesTheSystem,
  type Finding,
  type Invocation,
  type ProgramFamily,
  READ,
  reads,
  readsBareOr,
} from "../types.ts";
import { says } from "../words.ts";

const changesDisksOrBoot = changes("changes disks or boot configuration");

const partitions = ({ name, args: a }: Invocation): Finding | undefined => {
  return a.some((x) => x === "-l" || x === "--list") ? READ : change(`${name} changes disk partitions`);
};

/** chkdsk switches that fix what they find (/x and /b imply /f and /r). */
const CHKDSK_REPAIRS = ["/f", "/r", "/x", "/b", "/spotfix", "/offlinescanandfix", "/forceofflinefix"];
/** …and those that change the volume otherwise: an online scan that queues fixes, the log size. */
const CHKDSK_CHANGES = [...CHKDSK_REPAIRS, "/scan", "/l:"];

export const disks: ProgramFamily = {
  windows: {
    bcdboot: changesDisksOrBoot,
    bootrec: changesDisksOrBoot,
    chkdsk: {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, ...CHKDSK_CHANGES) ? change("chkdsk repairs the disk") : READ,
      describe: (s) => {
        const drive = s.args.find((a) => /^[a-z]:$/i.test(a));
        const on = drive ? ` ${drive.toUpperCase()}` : "";
        if (hasArgPrefix(s.args, ...CHKDSK_REPAIRS)) return `Check and repair the disk${on}`;
        if (hasArgPrefix(s.args, ...CHKDSK_CHANGES)) return undefined;
        return `Check the disk${on} for errors (without repairing)`;
      },
    },
    defrag: {
      classify: ({ args }: Invocation): Finding | undefined =>
        (hasArgPrefix(args, "/a", "-a") || hasArg(args, "/analyze")) &&
        !hasArgPrefix(args, "/o", "/x", "/l", "/d", "/k", "/b")
          ? READ
          : change("defrag optimizes the disk"),
    },
    diskpart: changesDisksOrBoot,
    format: changesDisksOrBoot,
    fsutil: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        return a[0] === "fsinfo" || hasArg(args, "query", "diskfree")
          ? READ
          : change("fsutil changes file system settings");
      },
    },
    label: changesDisksOrBoot,
    "manage-bde": {
      classify: ({ args }: Invocation): Finding | undefined =>
        hasArgPrefix(args, "-status", "/status") ? READ : change("manage-bde changes BitLocker"),
      describe: (s) => (hasArg(s.args, "-status", "/status") ? "Show the BitLocker encryption status" : undefined),
    },
    mountvol: changesDisksOrBoot,
    subst: {
      classify: ({ args }: Invocation): Finding | undefined =>
        args.length === 0 ? READ : change("subst maps a drive letter"),
    },
    vssadmin: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const a = args.map(lc);
        return a[0] === "list" ? READ : change("vssadmin changes shadow copies");
      },
    },
  },
  posix: {
    blkid: reads,
    cryptsetup: changesTheSystem,
    df: { classify: reads.classify, describe: says("Show the free disk space") },
    e2fsck: changesTheSystem,
    fdisk: { classify: partitions },
    findmnt: reads,
    fsck: changesTheSystem,
    hdparm: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.every((x) => /^-[iItgCHr]?$/.test(x) || !x.startsWith("-")) && !a.some((x) => /^-[^iIgCH]/.test(x))
          ? READ
          : change("hdparm changes disk settings");
      },
    },
    losetup: changesTheSystem,
    lsblk: reads,
    lvcreate: changesTheSystem,
    lvextend: changesTheSystem,
    lvremove: changesTheSystem,
    mkswap: changesTheSystem,
    mount: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const pos = posixPositional(args);
        return pos.length === 0 ? READ : change("mount mounts a file system");
      },
    },
    parted: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => x === "-l" || x === "--list" || x === "print")
          ? READ
          : change("parted changes disk partitions");
      },
    },
    pvcreate: changesTheSystem,
    resize2fs: changesTheSystem,
    sfdisk: { classify: partitions },
    smartctl: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => /^-[tsoSX]$|^--(test|smart|offlineauto|saveauto|abort)/.test(x))
          ? change("smartctl changes disk settings or runs a test")
          : READ;
      },
    },
    swapoff: changesTheSystem,
    swapon: readsBareOr(["--show", "-s", "--summary"], "swapon enables swap"),
    sync: reads,
    umount: changesTheSystem,
    vgcreate: changesTheSystem,
    wipefs: changesTheSystem,
    xfs_growfs: changesTheSystem,
  },
  cmdlets: {
    "get-bitlockervolume": { describe: says("Show the BitLocker encryption status") },
    "get-disk": { describe: says("Show the disks") },
    "get-physicaldisk": { describe: says("Show the disks and their health") },
    "get-psdrive": { describe: says("Show the disks and their free space") },
    "get-volume": { describe: says("Show the disks and their free space") },
  },
};

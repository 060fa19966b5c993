// The shells themselves: builtins, variables, aliases and functions, interpreters that run other code, PowerShell objects.
// Each entry classifies an invocation and describes it to the client contact (see Program in ../types.ts).

import { firstPos, lc, param, psGiven, psParams } from "../args.ts";
import {
  change,
  changes,
  type Finding,
  type Invocation,
  type Program,
  type ProgramFamily,
  READ,
  reads,
} from "../types.ts";

const runsOtherCode = changes("runs other code (nested execution)");

const declaresVariables = ({ name, args: a }: Invocation): Finding | undefined => {
  for (const x of a) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(x);
    if (m && SENSITIVE_VARS.has(lc(m[1] ?? ""))) return change(`changes ${m[1]}, which decides what runs`);
    if (x === "-f" || x === "-F") return change(`${name} -f exports or defines a function`);
  }
  return READ;
};

const runsScriptFile = changes("runs a script file");

const fileAssociations = ({ name, args }: Invocation): Finding | undefined =>
  args.some((x) => x.includes("=")) ? change(`${name} changes file associations`) : READ;

const redefinesCommand = ({ display }: Invocation): Finding | undefined => change(`${display} redefines a command`);

function goToFolder(s: Invocation): string {
  return s.args[0] === undefined ? "Show the current folder" : `Go to the folder ${s.args.join(" ")}`;
}

export const SENSITIVE_VARS = new Set([
  "path",
  "pathext",
  "comspec",
  "psmodulepath",
  "ld_preload",
  "ld_library_path",
  "bash_env",
  "env",
  "ifs",
  "prompt_command",
  "shellopts",
  "bashopts",
  "psexecutionpolicypreference",
]);

export const SAFE_NEW_OBJECT =
  /^(system\.)?(management\.automation\.)?(psobject|pscustomobject|collections\..*|text\.stringbuilder|datetime|timespan|security\.principal\.windowsprincipal|security\.principal\.windowsidentity|net\.sockets\.tcpclient|version|guid|uri|net\.networkinformation\.ping|diagnostics\.stopwatch|object)(\[.*\])?$/;

/** Shells and script interpreters run code Caisey does not see: a change, unless they only print their version. */
export const interpreter: Program = {
  classify: ({ name, args }) => {
    if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) return READ;
    if (args.some((x) => x === "-c")) return change(`${name} -c runs nested code`);
    return change(`${name} runs a script or other code`);
  },
};

export const shell: ProgramFamily = {
  windows: {
    bash: runsOtherCode,
    cmd: runsOtherCode,
    cscript: runsOtherCode,
    mshta: runsOtherCode,
    powershell: runsOtherCode,
    psexec: runsOtherCode,
    pwsh: runsOtherCode,
    regsvr32: runsOtherCode,
    rundll32: runsOtherCode,
    wscript: runsOtherCode,
    wsl: runsOtherCode,
  },
  cmd: {
    break: reads,
    cd: { classify: reads.classify, describe: goToFolder },
    chdir: reads,
    cls: reads,
    color: reads,
    endlocal: reads,
    exit: reads,
    goto: reads,
    pause: reads,
    popd: reads,
    prompt: reads,
    pushd: {
      classify: ({ args }) => (/^\\\\/.test(args[0] ?? "") ? change("pushd maps a network drive") : READ),
    },
    setlocal: reads,
    shift: reads,
    title: reads,
    ver: reads,
    verify: reads,
    vol: reads,
    assoc: { classify: fileAssociations },
    call: { classify: (): Finding | undefined => change("call runs a batch file or label") },
    ftype: { classify: fileAssociations },
    path: {
      classify: ({ args }: Invocation): Finding | undefined =>
        args.length === 0 ? READ : change("path changes the program search path"),
    },
    set: {
      classify: ({ args }: Invocation): Finding | undefined => {
        const text = args.join(" ");
        const m = /^(?:\/[ap]\s+)?"?([^=\s"]+)=/i.exec(text);
        if (m && SENSITIVE_VARS.has(lc(m[1] ?? ""))) return change(`changes ${m[1]}, which decides what runs`);
        return READ;
      },
      describe: (s) => {
        if (s.shell !== "cmd") return undefined;
        const m = /^(?:\/a\s+)?"?([^=\s"]+)=(.*?)"?$/i.exec(s.args.join(" "));
        if (!m) return "Show the environment variables";
        return `Set the variable ${m[1]} for this command`;
      },
    },
    start: { classify: (): Finding | undefined => change("start launches a program") },
  },
  posix: {
    ".": runsScriptFile,
    ":": reads,
    "[": reads,
    alias: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.some((x) => x.includes("=")) ? change("alias redefines a command") : READ;
      },
    },
    bash: interpreter,
    break: reads,
    "busybox-sh": interpreter,
    cd: { classify: reads.classify, describe: goToFolder },
    clear: reads,
    continue: reads,
    csh: interpreter,
    dash: interpreter,
    declare: { classify: declaresVariables },
    eval: { classify: (): Finding | undefined => change("eval runs computed code") },
    exit: reads,
    export: { classify: declaresVariables },
    false: reads,
    fish: interpreter,
    getopts: reads,
    history: reads,
    jobs: reads,
    ksh: interpreter,
    let: reads,
    local: { classify: declaresVariables },
    lua: interpreter,
    node: interpreter,
    osascript: interpreter,
    perl: interpreter,
    php: interpreter,
    popd: reads,
    powershell: interpreter,
    printenv: reads,
    pushd: reads,
    pwd: reads,
    pwsh: interpreter,
    python: interpreter,
    python2: interpreter,
    python3: interpreter,
    read: reads,
    readonly: { classify: declaresVariables },
    return: reads,
    ruby: interpreter,
    set: {
      classify: reads.classify,
      describe: (s) => {
        if (s.shell !== "cmd") return undefined;
        const m = /^(?:\/a\s+)?"?([^=\s"]+)=(.*?)"?$/i.exec(s.args.join(" "));
        if (!m) return "Show the environment variables";
        return `Set the variable ${m[1]} for this command`;
      },
    },
    sh: interpreter,
    shift: reads,
    shopt: reads,
    sleep: reads,
    source: runsScriptFile,
    tcsh: interpreter,
    test: reads,
    trap: {
      classify: ({ args: a }: Invocation): Finding | undefined => {
        return a.length === 0 || a[0] === "-p" || a[0] === "-l" ? READ : change("trap schedules commands to run later");
      },
    },
    true: reads,
    tty: reads,
    typeset: { classify: declaresVariables },
    ulimit: reads,
    umask: reads,
    unset: reads,
    wait: reads,
    whereis: reads,
    which: reads,
    zsh: interpreter,
  },
  cmdlets: {
    "add-member": reads,
    "add-type": { reason: "compiles and loads code" },
    "clear-host": reads,
    "clear-variable": reads,
    "convert-path": reads,
    "exit-pssession": reads,
    "get-help": reads,
    "import-clixml": reads,
    "import-csv": reads,
    "import-localizeddata": reads,
    "import-module": {
      classify: ({ args }: Invocation): Finding | undefined => {
        const targets = args.filter((a) => !a.startsWith("-"));
        return targets.some((a) => /[\\/]|\.(psm1|psd1|ps1|dll)$/i.test(a) || a.includes("$"))
          ? change("Import-Module loads code from a file")
          : READ;
      },
      describe: (s) => {
        const m = firstPos(s);
        return m === undefined ? undefined : `Load the PowerShell module ${m}`;
      },
    },
    "import-powershelldatafile": reads,
    "invoke-command": { reason: "runs a script block" },
    "invoke-expression": { reason: "runs computed code" },
    "new-alias": { classify: redefinesCommand },
    "new-guid": reads,
    "new-object": {
      classify: ({ args }: Invocation): Finding | undefined => {
        if (psGiven(args, "comobject", 1)) return change("New-Object creates a COM object");
        const i = args.findIndex((a) => psGiven([a], "typename", 1));
        const type = lc(i >= 0 ? (args[i + 1] ?? "") : (args.find((a) => !a.startsWith("-")) ?? ""));
        return SAFE_NEW_OBJECT.test(type) ? READ : change(`New-Object creates a ${type || "computed"} object`);
      },
    },
    "new-timespan": reads,
    "new-variable": reads,
    pause: reads,
    "pop-location": reads,
    prompt: reads,
    "push-location": reads,
    "remove-variable": reads,
    "set-alias": { classify: redefinesCommand },
    "set-location": {
      classify: reads.classify,
      describe: (s) => {
        const path = firstPos(s, ["path", "literalpath"]);
        return path === undefined ? undefined : `Go to the folder ${path}`;
      },
    },
    "set-strictmode": reads,
    "set-variable": reads,
    "start-sleep": {
      classify: reads.classify,
      describe: (s) => {
        const p = psParams(s.args);
        const sec = param(p, ["seconds"], 0);
        const ms = param(p, ["milliseconds"]);
        if (ms !== undefined) return `Wait ${ms} milliseconds`;
        return sec === undefined ? "Wait" : `Wait ${sec} second${sec === "1" ? "" : "s"}`;
      },
    },
  },
};

// One session: header (machine, ticket, state, head), the live transcript, and the command bar.
import { Component, type ComponentChildren } from "preact";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import {
  abilities,
  api,
  errorMessage,
  type Machine,
  type Me,
  type Person,
  type SessionEvent,
  type SessionInfo,
} from "../api.ts";
import { LiveConnection, type LiveStatus } from "../live.ts";
import { linkClick } from "../router.ts";
import {
  ACTIVE_STATES,
  type CommandView,
  clockTime,
  controlSymbol,
  defaultShell,
  formatBytes,
  formatDuration,
  shellsFor,
  splitControls,
  Transcript,
  type TranscriptItem,
} from "../transcript.ts";
import { ErrorBanner } from "./ui.tsx";

interface Labels {
  me: Me;
  hostname: string;
  /** People's names by id, where the viewer may read them (staff). */
  names: Map<string, string>;
}

const NO_NAMES = new Map<string, string>();

function actorLabel(actor: string, labels: Labels): string {
  const { me } = labels;
  const [kind, id = ""] = actor.includes(":") ? (actor.split(":", 2) as [string, string]) : ["", actor];
  if (id === me.user.id) return me.user.name;
  if (kind === "machine") return labels.hostname || actor;
  if (actor === "system") return "system";
  const name = labels.names.get(id);
  if (name) return name;
  // A client's contact cannot list the MSP's people; name them by what they are.
  if (me.user.role === "contact") return kind === "user" ? `${me.organization.name} support` : "contact";
  return actor;
}

export function SessionPage({ sessionId, me }: { sessionId: string; me: Me }) {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [os, setOs] = useState<string | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [status, setStatus] = useState<{ status: LiveStatus; detail?: string }>({ status: "connecting" });
  const [, setVersion] = useState(0);
  const [names, setNames] = useState<Map<string, string>>(NO_NAMES);
  const can = abilities(me.user.role);
  const transcriptRef = useRef<Transcript>(new Transcript());
  const transcript = transcriptRef.current;

  // Session header data and the machine's OS (for the default shell).
  useEffect(() => {
    let alive = true;
    (async () => {
      try {
        const answer = await api<{ session: SessionInfo }>("GET", `/api/v1/sessions/${encodeURIComponent(sessionId)}`);
        if (!alive) return;
        setSession(answer.session);
        if (answer.session.os) {
          setOs(answer.session.os);
          return;
        }
        let machineOs: string | undefined;
        try {
          const card = await api<{ machine: Machine }>(
            "GET",
            `/api/v1/machines/${encodeURIComponent(answer.session.machineId)}`,
          );
          machineOs = card.machine.os;
        } catch {
          const list = await api<{ machines: Machine[] }>("GET", "/api/v1/machines");
          machineOs = list.machines.find((m) => m.id === answer.session.machineId)?.os;
        }
        if (alive) setOs(machineOs ?? "linux");
      } catch (error) {
        if (alive) setLoadError(errorMessage(error));
      }
    })();
    return () => {
      alive = false;
    };
  }, [sessionId]);

  // Staff may list people: name the other participants instead of showing their ids.
  const clientId = session?.clientId;
  useEffect(() => {
    if (!can.staff) return;
    let alive = true;
    (async () => {
      const map = new Map<string, string>();
      const lists = await Promise.allSettled([
        api<{ users: Person[] }>("GET", "/api/v1/users").then((a) => a.users),
        clientId
          ? api<{ contacts: Person[] }>("GET", `/api/v1/clients/${encodeURIComponent(clientId)}/contacts`).then(
              (a) => a.contacts,
            )
          : Promise.resolve([] as Person[]),
      ]);
      for (const list of lists) if (list.status === "fulfilled") for (const p of list.value) map.set(p.id, p.name);
      if (alive && map.size > 0) setNames(map);
    })();
    return () => {
      alive = false;
    };
  }, [can.staff, clientId]);

  // The live transcript. All history arrives over the socket (after=0), then live events.
  useEffect(() => {
    let frame: number | null = null;
    const flush = () => {
      frame = null;
      setVersion(transcript.version);
    };
    const live = new LiveConnection({
      sessionId,
      lastSeq: () => transcript.lastSeq,
      onEvent: (event: SessionEvent) => {
        if (transcript.apply(event) && frame === null) frame = requestAnimationFrame(flush);
      },
      onStatus: (s, detail) => setStatus({ status: s, detail }),
      shouldReconnect: () => transcript.sessionState !== "closed",
    });
    live.start();
    return () => {
      live.stop();
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [sessionId, transcript]);

  // Stick to the bottom while the user is there.
  const paneRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const onScroll = useCallback(() => {
    const pane = paneRef.current;
    if (pane) atBottom.current = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 48;
  }, []);
  useLayoutEffect(() => {
    const pane = paneRef.current;
    if (pane && atBottom.current) pane.scrollTop = pane.scrollHeight;
  });

  const hostname = session?.hostname ?? "";
  const labels: Labels = { me, hostname, names };
  const back = can.staff ? "/machines" : "/sessions";
  const state = transcript.sessionState ?? session?.state ?? "open";
  const headSeq = Math.max(transcript.lastSeq, session?.head.seq ?? 0);
  const headHash =
    transcript.lastSeq >= (session?.head.seq ?? 0) && transcript.headHash ? transcript.headHash : session?.head.hash;

  const closeSession = async () => {
    if (!window.confirm("Close this session? No further commands can run in it; its record stays.")) return;
    setActionError(null);
    try {
      await api("POST", `/api/v1/sessions/${encodeURIComponent(sessionId)}/close`);
    } catch (error) {
      setActionError(`Could not close the session: ${errorMessage(error)}`);
    }
  };

  const cancel = async (commandId: string) => {
    setActionError(null);
    try {
      await api(
        "POST",
        `/api/v1/sessions/${encodeURIComponent(sessionId)}/commands/${encodeURIComponent(commandId)}/cancel`,
      );
    } catch (error) {
      setActionError(`Cancel failed: ${errorMessage(error)}`);
    }
  };

  const base = `/api/v1/sessions/${encodeURIComponent(sessionId)}`;
  const run = async (mode: BarMode, text: string, shell: string): Promise<boolean> => {
    setActionError(null);
    atBottom.current = true;
    try {
      if (mode === "command") await api("POST", `${base}/commands`, { command: text, shell });
      else await api("POST", `${base}/${mode === "note" ? "notes" : "messages"}`, { text });
      return true;
    } catch (error) {
      setActionError(errorMessage(error));
      return false;
    }
  };

  if (loadError) {
    return (
      <div class="page">
        <ErrorBanner message={`Could not open this session: ${loadError}`} />
        <a href="/machines" onClick={linkClick}>
          Back to machines
        </a>
      </div>
    );
  }

  return (
    <div class="session" data-testid="session-page" data-session-id={sessionId}>
      <div class="session-head">
        <a href={back} onClick={linkClick} class="back" title={can.staff ? "Back to machines" : "Back to sessions"}>
          ←
        </a>
        <div class="title">
          <span class="mono strong" data-testid="session-hostname">
            {hostname || "…"}
          </span>
          {session?.ticket ? (
            <span class="ticket" data-testid="session-ticket">
              {session.ticket}
            </span>
          ) : null}
          <span class={`badge session-${state}`} data-testid="session-state">
            {state}
          </span>
        </div>
        <div class="spacer" />
        <span class="head mono" data-testid="session-head" title={headHash ?? ""}>
          seq <span data-testid="head-seq">{headSeq}</span> ·{" "}
          <span data-testid="head-hash">{headHash ? headHash.slice(0, 12) : "—"}</span>
        </span>
        {!can.staff && (
          <span
            class="badge"
            data-testid="read-only"
            title="You can follow this session and chat; only staff run commands."
          >
            view &amp; chat
          </span>
        )}
        {state === "open" && can.review && (
          <button type="button" class="small" data-testid="close-session" onClick={() => void closeSession()}>
            Close session
          </button>
        )}
        <span
          class={`conn conn-${status.status}`}
          data-testid="connection"
          data-status={status.status}
          title={status.detail ?? ""}
        >
          <span class="dot" />
          {status.status === "live"
            ? "live"
            : status.status === "stopped"
              ? "ended"
              : status.status === "connecting"
                ? "connecting"
                : "reconnecting"}
        </span>
      </div>

      <div class="transcript" data-testid="transcript" ref={paneRef} onScroll={onScroll}>
        {transcript.items.length === 0 && <div class="line muted">Waiting for the session's events…</div>}
        {transcript.items.map((item) => (
          <Item
            key={item.kind === "command" ? `c:${item.command.id}` : `l:${item.seq}`}
            item={item}
            version={item.kind === "command" ? item.command.version : 0}
            sessionId={sessionId}
            labels={labels}
            onCancel={can.runCommands ? cancel : null}
          />
        ))}
      </div>

      <ErrorBanner message={actionError} onDismiss={() => setActionError(null)} />
      <CommandBar
        key={os ?? "pending"}
        os={os}
        modes={can.runCommands ? ALL_MODES : can.review ? REVIEW_MODES : CHAT_ONLY}
        disabled={state === "closed"}
        onRun={run}
        transcript={transcript}
      />
    </div>
  );
}

interface ItemProps {
  item: TranscriptItem;
  version: number;
  sessionId: string;
  labels: Labels;
  onCancel: ((commandId: string) => void) | null;
}

/** Re-renders only when its command changed (output streams mutate the model in place). */
class Item extends Component<ItemProps> {
  override shouldComponentUpdate(next: ItemProps): boolean {
    return (
      next.item !== this.props.item ||
      next.version !== this.props.version ||
      next.labels.hostname !== this.props.labels.hostname ||
      next.labels.me !== this.props.labels.me ||
      next.labels.names !== this.props.labels.names ||
      next.onCancel !== this.props.onCancel
    );
  }

  override render() {
    const { item, sessionId, labels, onCancel } = this.props;
    if (item.kind === "command")
      return <CommandBlock cmd={item.command} sessionId={sessionId} labels={labels} onCancel={onCancel} />;
    return <EventLine event={item.event} labels={labels} />;
  }
}

function EventLine({ event, labels }: { event: SessionEvent; labels: Labels }) {
  const d = event.data ?? {};
  const text = (key: string) => (typeof d[key] === "string" ? (d[key] as string) : "");
  let body: ComponentChildren;
  let kind = "event";
  switch (event.type) {
    case "session.opened":
      body = (
        <>
          Session opened on <b>{text("hostname") || labels.hostname}</b>
          {text("ticket") ? ` for ticket ${text("ticket")}` : ""}
        </>
      );
      break;
    case "session.closed":
      body = "Session closed";
      break;
    case "participant.joined":
      body = "joined";
      break;
    case "participant.left":
      body = "left";
      break;
    case "chat.message":
      kind = "chat";
      body = <span class="msg">{text("text")}</span>;
      break;
    case "note.added":
      kind = "note";
      body = (
        <>
          <span class="tag">note</span> <span class="msg">{text("text")}</span>
        </>
      );
      break;
    case "approval.requested":
      body = <>Approval requested{text("summary") ? `: ${text("summary")}` : ""}</>;
      break;
    case "approval.granted":
      body = <>Approved{text("comment") ? `: ${text("comment")}` : ""}</>;
      break;
    case "approval.declined":
      kind = "declined";
      body = <>Declined{text("comment") ? `: ${text("comment")}` : ""}</>;
      break;
    default:
      body = (
        <>
          <span class="tag">{event.type}</span> <span class="muted">{JSON.stringify(d)}</span>
        </>
      );
  }
  return (
    <div class={`line ${kind}`} data-testid="event-line" data-type={event.type} data-seq={event.seq}>
      <span class="time" title={event.ts}>
        {clockTime(event.ts)}
      </span>
      <span class="actor">{actorLabel(event.actor, labels)}</span>
      <span class="body">{body}</span>
    </div>
  );
}

function CommandBlock({
  cmd,
  sessionId,
  labels,
  onCancel,
}: {
  cmd: CommandView;
  sessionId: string;
  labels: Labels;
  onCancel: ((commandId: string) => void) | null;
}) {
  const result = cmd.result;
  const active = ACTIVE_STATES.has(cmd.state);
  const outputUrl = (stream: "stdout" | "stderr") =>
    `/api/v1/sessions/${encodeURIComponent(sessionId)}/commands/${encodeURIComponent(cmd.id)}/output?stream=${stream}`;
  const stdoutBytes = result?.stdoutBytes ?? cmd.receivedBytes.stdout;
  const stderrBytes = result?.stderrBytes ?? cmd.receivedBytes.stderr;
  const ctx = cmd.context;
  return (
    <div class={`cmd state-${cmd.state}`} data-testid="command-block" data-command-id={cmd.id} data-state={cmd.state}>
      <div class="cmd-head">
        <span class="time" title={cmd.ts}>
          {clockTime(cmd.ts)}
        </span>
        <span class="actor">{actorLabel(cmd.actor, labels)}</span>
        <span class="shell">{cmd.shell}</span>
        <span class="prompt">
          {cmd.shell === "cmd" ? ">" : cmd.shell.includes("pwsh") || cmd.shell === "powershell" ? "PS>" : "$"}
        </span>
        <pre class="cmd-text" data-testid="command-text">
          {cmd.command}
        </pre>
        <span class="cmd-meta">
          <span class={`badge state state-${cmd.state}`} data-testid="command-state">
            {cmd.state.replace("_", " ")}
          </span>
          {result && typeof result.exitCode === "number" && (
            <span class={`exit ${result.exitCode === 0 ? "ok" : "bad"}`} data-testid="exit-code">
              exit {result.exitCode}
            </span>
          )}
          {result?.signal && (
            <span class="exit bad" data-testid="signal">
              {result.signal}
            </span>
          )}
          {result?.durationMs !== undefined && (
            <span class="muted" data-testid="duration">
              {formatDuration(result.durationMs)}
            </span>
          )}
          {active && onCancel && (
            <button type="button" class="danger small" data-testid="cancel-command" onClick={() => onCancel(cmd.id)}>
              Cancel
            </button>
          )}
        </span>
      </div>
      {cmd.reason && (
        <div class="cmd-reason" data-testid="command-reason">
          # {cmd.reason}
        </div>
      )}
      {ctx && (
        <details class="context" data-testid="command-context">
          <summary>context</summary>
          <dl>
            <dt>user</dt>
            <dd>{ctx.user ?? "—"}</dd>
            <dt>cwd</dt>
            <dd>{ctx.cwd ?? "—"}</dd>
            <dt>executable</dt>
            <dd>{ctx.executable ?? "—"}</dd>
            <dt>shell</dt>
            <dd>
              {ctx.shell ?? cmd.shell} {ctx.shellVersion ?? ""}
            </dd>
            <dt>pid</dt>
            <dd>{ctx.pid ?? "—"}</dd>
            {cmd.timeoutSeconds !== undefined && (
              <>
                <dt>timeout</dt>
                <dd>{cmd.timeoutSeconds} s</dd>
              </>
            )}
          </dl>
          {ctx.env && (
            <pre class="env" data-testid="command-env">
              {Object.entries(ctx.env)
                .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                .map(([k, v]) => `${k}=${v}`)
                .join("\n")}
            </pre>
          )}
        </details>
      )}
      {cmd.hiddenChars > 0 && (
        <div class="hidden-note" data-testid="output-hidden">
          earlier output hidden ({formatBytes(cmd.hiddenChars)} of text) —{" "}
          <a href={outputUrl("stdout")} download={`${cmd.id}.stdout`}>
            download full stdout
          </a>
          {stderrBytes > 0 && (
            <>
              {" · "}
              <a href={outputUrl("stderr")} download={`${cmd.id}.stderr`}>
                stderr
              </a>
            </>
          )}
        </div>
      )}
      {cmd.chunks.length > 0 && (
        <pre class="output" data-testid="command-output">
          {cmd.chunks.map((c) => (
            <Chunk key={c.key} stream={c.stream} text={c.text} />
          ))}
        </pre>
      )}
      {cmd.chunks.length === 0 && <pre class="output empty" data-testid="command-output" />}
      {(result || stdoutBytes + stderrBytes > 0) && (
        <div class="cmd-foot">
          {result?.reason && (
            <span class="reason" data-testid="finish-reason">
              {result.reason}
            </span>
          )}
          <span class="muted">
            stdout {formatBytes(stdoutBytes)} · stderr {formatBytes(stderrBytes)}
          </span>
          <span class="spacer" />
          <a href={outputUrl("stdout")} download={`${cmd.id}.stdout`} data-testid="download-stdout">
            download stdout
          </a>
          {stderrBytes > 0 && (
            <a href={outputUrl("stderr")} download={`${cmd.id}.stderr`} data-testid="download-stderr">
              download stderr
            </a>
          )}
        </div>
      )}
    </div>
  );
}

class Chunk extends Component<{ stream: string; text: string }> {
  override shouldComponentUpdate(next: { stream: string; text: string }): boolean {
    return next.text !== this.props.text || next.stream !== this.props.stream;
  }
  override render() {
    const { stream, text } = this.props;
    const parts = splitControls(text);
    return (
      <span class={stream}>
        {parts.map((p) =>
          typeof p === "string" ? (
            p
          ) : (
            <span class="ctl" title={`control character 0x${p.control.charCodeAt(0).toString(16).padStart(2, "0")}`}>
              {controlSymbol(p.control)}
            </span>
          ),
        )}
      </span>
    );
  }
}

type BarMode = "command" | "note" | "chat";
const ALL_MODES: readonly BarMode[] = ["command", "note", "chat"];
const REVIEW_MODES: readonly BarMode[] = ["note", "chat"];
const CHAT_ONLY: readonly BarMode[] = ["chat"];
const MODE_LABELS: Record<BarMode, string> = { command: "Command", note: "Note", chat: "Chat" };

const PLACEHOLDERS: Record<BarMode, string> = {
  command: "Type a command — Enter runs it, Shift+Enter adds a line",
  note: "Add a note to the record — Enter saves it",
  chat: "Message the client's contact — Enter sends it",
};

function CommandBar({
  os,
  modes,
  disabled,
  onRun,
  transcript,
}: {
  os: string | undefined;
  modes: readonly BarMode[];
  disabled: boolean;
  onRun: (mode: BarMode, text: string, shell: string) => Promise<boolean>;
  transcript: Transcript;
}) {
  const [text, setText] = useState("");
  const [mode, setMode] = useState<BarMode>(modes[0] ?? "chat");
  const [shell, setShell] = useState<string>(defaultShell(os ?? "linux"));
  const [busy, setBusy] = useState(false);
  const historyIndex = useRef<number | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => inputRef.current?.focus(), []);

  const submit = async () => {
    if (busy || disabled || text.trim().length === 0) return;
    setBusy(true);
    const ok = await onRun(mode, text, shell);
    setBusy(false);
    if (ok) {
      setText("");
      historyIndex.current = null;
    }
    inputRef.current?.focus();
  };

  const recall = (direction: -1 | 1): boolean => {
    const past = [...transcript.commands.values()].map((c) => c.command).filter((c) => c.length > 0);
    if (past.length === 0) return false;
    let index = historyIndex.current ?? past.length;
    index = Math.min(past.length, Math.max(0, index + direction));
    historyIndex.current = index;
    setText(index === past.length ? "" : (past[index] ?? ""));
    return true;
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const target = e.currentTarget as HTMLTextAreaElement;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submit();
    } else if (mode !== "command") {
      return;
    } else if (e.key === "ArrowUp" && !target.value.slice(0, target.selectionStart).includes("\n")) {
      if (recall(-1)) e.preventDefault();
    } else if (e.key === "ArrowDown" && !target.value.slice(target.selectionEnd).includes("\n")) {
      if (historyIndex.current !== null && recall(1)) e.preventDefault();
    }
  };

  const rows = Math.min(8, Math.max(1, text.split("\n").length));
  const shells = shellsFor(os ?? "linux");

  return (
    <form
      class={`command-bar mode-${mode}`}
      data-testid="command-bar"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {modes.length > 1 ? (
        <select
          data-testid="bar-mode"
          value={mode}
          onChange={(e) => setMode(e.currentTarget.value as BarMode)}
          disabled={disabled}
          title="What to send"
        >
          {modes.map((m) => (
            <option key={m} value={m}>
              {MODE_LABELS[m]}
            </option>
          ))}
        </select>
      ) : (
        <span class="bar-mode-label" data-testid="bar-mode-label">
          {MODE_LABELS[mode]}
        </span>
      )}
      {mode === "command" && (
        <select
          data-testid="shell-select"
          value={shell}
          onChange={(e) => setShell(e.currentTarget.value)}
          disabled={disabled}
          title="Shell"
        >
          {shells.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      )}
      <textarea
        ref={inputRef}
        data-testid="command-input"
        class="mono"
        rows={rows}
        spellcheck={false}
        autoComplete="off"
        placeholder={
          disabled
            ? "This session is closed."
            : modes.length === 1 && mode === "chat"
              ? "Message the technician — Enter sends it"
              : PLACEHOLDERS[mode]
        }
        disabled={disabled}
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          historyIndex.current = null;
        }}
        onKeyDown={onKeyDown}
      />
      <button type="submit" class="primary" data-testid="run-command" disabled={disabled || busy || !text.trim()}>
        {busy ? "Sending…" : mode === "command" ? "Run" : mode === "note" ? "Add note" : "Send"}
      </button>
    </form>
  );
}

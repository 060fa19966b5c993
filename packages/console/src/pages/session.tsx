// One session: header (machine, ticket, state, head), the live transcript, and the command bar.
import { formatSeconds } from "@caisey/core/deadlines";
import * as routes from "@caisey/core/routes";
import type { Shell } from "@caisey/core/shells";
import { Component, type ComponentChildren } from "preact";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  abilities,
  api,
  errorMessage,
  type Me,
  type Person,
  type SessionEvent,
  type SessionInfo,
  urlOf,
} from "../api.ts";
import { type MachinePresence, useMachinePresence } from "../hooks.ts";
import { LiveConnection, type LiveStatus } from "../live.ts";
import { linkClick } from "../router.ts";
import {
  ACTIVE_STATES,
  type ApprovalView,
  type CommandView,
  clockTime,
  controlSymbol,
  defaultShell,
  formatBytes,
  formatDuration,
  fullTime,
  type PresenceGroup,
  type StreamFilter,
  shellsFor,
  shownChunks,
  splitControls,
  Transcript,
  type TranscriptItem,
} from "../transcript.ts";
import { ApprovalChanges, approvalLabel, DecisionForm, decisionError, shortTime } from "./approvals.tsx";
import { actorNames, EvidenceActions, TimelinePanel } from "./evidence.tsx";
import { BeforeLines } from "./prestate.tsx";
import {
  type ChangeRef,
  RollBackButton,
  RollbackDialog,
  RollbackLinkTo,
  type RolledBackBy,
  useRolledBackBy,
} from "./rollback.tsx";
import { SealPanel } from "./seal.tsx";
import { CopyButton, ErrorBanner, LoadFailed } from "./ui.tsx";
import { ReturnedNotice, VerdictForm } from "./verdict.tsx";
import { CompareView, checkLine, VerificationControls, VerifiesBadge, type VerifyActions } from "./verification.tsx";

interface Labels {
  me: Me;
  hostname: string;
  /** People's names by id, where the viewer may read them (staff). */
  names: Map<string, string>;
}

/** What the viewer may do with a command's approval: staff send a link, the client's contact decides. */
interface ApprovalActions {
  /** The session's client's contacts (staff), for "Copy approval link…". */
  contacts: Person[];
  link: ((approvalId: string, contactId: string) => Promise<{ url: string; expiresAt: string }>) | null;
  decide: ((approvalId: string, decision: "approve" | "decline", comment: string) => Promise<string | null>) | null;
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
  const [rollingBack, setRollingBack] = useState<ChangeRef | null>(null);
  const [status, setStatus] = useState<{ status: LiveStatus; detail?: string }>({ status: "connecting" });
  const [, setVersion] = useState(0);
  const [names, setNames] = useState<Map<string, string>>(NO_NAMES);
  const [people, setPeople] = useState<Person[]>([]);
  const [contacts, setContacts] = useState<Person[]>([]);
  const [timelineOpen, setTimelineOpen] = useState(false);
  const can = abilities(me.user.role);
  const transcriptRef = useRef<Transcript>(new Transcript());
  const transcript = transcriptRef.current;
  const rolledBackBy = useRolledBackBy(session?.machineId, sessionId);

  // Session header data and the machine's OS (for the default shell).
  useEffect(() => {
    let alive = true;
    (async () => {
      try {
        const answer = await api(routes.sessionSummary, { params: { id: sessionId } });
        if (!alive) return;
        setSession(answer.session);
        if (answer.session.os) {
          setOs(answer.session.os);
          return;
        }
        let machineOs: string | undefined;
        try {
          const card = await api(routes.machineCard, { params: { id: answer.session.machineId } });
          machineOs = card.machine.os;
        } catch {
          const list = await api(routes.listMachines);
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
      const [users, clientContacts] = await Promise.allSettled([
        api(routes.listUsers).then((a) => a.users),
        clientId
          ? api(routes.listContacts, { params: { id: clientId } }).then((a) => a.contacts)
          : Promise.resolve([] as Person[]),
      ]);
      for (const list of [users, clientContacts])
        if (list.status === "fulfilled") for (const p of list.value) map.set(p.id, p.name);
      if (!alive) return;
      if (map.size > 0) setNames(map);
      if (users.status === "fulfilled") setPeople(users.value);
      if (clientContacts.status === "fulfilled") setContacts(clientContacts.value);
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

  // Stick to the bottom while the user is there; a link to one event (#seq-N, #cmd-ID) scrolls there instead.
  const target = useRef<string | null>(location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null);
  const paneRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(target.current === null);
  const onScroll = useCallback(() => {
    const pane = paneRef.current;
    if (pane) atBottom.current = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 48;
  }, []);
  useLayoutEffect(() => {
    const pane = paneRef.current;
    if (pane && atBottom.current) pane.scrollTop = pane.scrollHeight;
  });
  useEffect(() => {
    const wanted = target.current;
    const pane = paneRef.current;
    if (!wanted || !pane) return;
    let el: Element | null = null;
    const seq = /^seq-(\d+)$/.exec(wanted);
    if (seq) {
      const owner = transcript.itemSeqOf(Number(seq[1]));
      if (owner !== null) el = document.getElementById(`seq-${owner}`);
    } else if (wanted.startsWith("cmd-")) {
      el = pane.querySelector(`[data-command-id="${CSS.escape(wanted.slice(4))}"]`);
    }
    if (!el) return;
    target.current = null;
    atBottom.current = false;
    el.scrollIntoView({ block: "center" });
    el.classList.add("flash");
    el.setAttribute("data-flash", "true");
    setTimeout(() => {
      el.classList.remove("flash");
      el.removeAttribute("data-flash");
    }, 2600);
  });

  const hostname = session?.hostname ?? "";
  const labels: Labels = useMemo(() => ({ me, hostname, names }), [me, hostname, names]);
  const back = can.staff ? "/machines" : "/sessions";
  const state = transcript.sessionState ?? session?.state ?? "open";
  const headSeq = Math.max(transcript.lastSeq, session?.head.seq ?? 0);
  const headHash =
    transcript.lastSeq >= (session?.head.seq ?? 0) && transcript.headHash ? transcript.headHash : session?.head.hash;

  // Under the `review` close policy, closing sends the session to a dispatcher (see core's closeOutcome).
  const forReview = me.organization.closePolicy === "review";
  const closeSession = async () => {
    const ask = forReview
      ? "Send this session for review? Nothing more runs in it until a dispatcher accepts or returns it."
      : "Close this session? Nothing more can be added to it: its record is sealed as it stands.";
    if (!window.confirm(ask)) return;
    setActionError(null);
    try {
      await api(routes.closeSession, { params: { id: sessionId } });
    } catch (error) {
      setActionError(
        `Could not ${forReview ? "send the session for review" : "close the session"}: ${errorMessage(error)}`,
      );
    }
  };

  const cancel = async (commandId: string) => {
    setActionError(null);
    try {
      await api(routes.cancelCommand, { params: { id: sessionId, cid: commandId } });
    } catch (error) {
      setActionError(`Cancel failed: ${errorMessage(error)}`);
    }
  };

  const [comparing, setComparing] = useState<{ before: string; after: string } | null>(null);
  const verification = useMemo<VerifyActions>(
    () => ({
      verify: can.runCommands
        ? async (cid, at) => {
            try {
              await api(routes.verifyCommand, { params: { id: sessionId, cid }, body: at ? { at } : {} });
              return null;
            } catch (error) {
              return errorMessage(error);
            }
          }
        : null,
      compare: (before, after) => setComparing({ before, after }),
      command: (id) => transcript.commands.get(id),
    }),
    [sessionId, can.runCommands, transcript],
  );

  const run = async (mode: BarMode, text: string, shell: Shell, gate: Gate): Promise<boolean> => {
    setActionError(null);
    atBottom.current = true;
    try {
      if (mode === "command")
        await api(routes.requestCommand, {
          params: { id: sessionId },
          body: {
            command: text,
            shell,
            ...(gate.requireApproval ? { requireApproval: true } : {}),
            ...(gate.reason.trim() ? { reason: gate.reason.trim() } : {}),
          },
        });
      else
        await api(mode === "note" ? routes.addNote : routes.postMessage, { params: { id: sessionId }, body: { text } });
      return true;
    } catch (error) {
      setActionError(errorMessage(error));
      return false;
    }
  };

  const isContact = me.user.role === "contact";
  const actions: ApprovalActions = useMemo(
    () => ({
      contacts,
      link: can.staff
        ? (approvalId, contactId) => api(routes.createApprovalLink, { params: { id: approvalId }, body: { contactId } })
        : null,
      decide: isContact
        ? async (approvalId, decision, comment) => {
            try {
              await api(routes.decideApproval, {
                params: { id: approvalId },
                body: { decision, ...(comment ? { comment } : {}) },
              });
              return null;
            } catch (error) {
              return decisionError(error);
            }
          }
        : null,
    }),
    [contacts, can.staff, isContact],
  );

  // Who watches: the snapshot the summary gave, then the presence events recorded after it, and this page itself.
  const myActor = `${isContact ? "contact" : "user"}:${me.user.id}`;
  const watchers = new Map<string, string>();
  if (session) {
    for (const p of session.participants ?? []) watchers.set(p.actor, p.name);
    for (const p of transcript.presence)
      if (p.seq > session.head.seq) {
        if (p.joined) watchers.set(p.actor, p.name);
        else watchers.delete(p.actor);
      }
  }
  if (status.status === "live" && state === "open") watchers.set(myActor, me.user.name);
  const technicianId = transcript.technicianId ?? session?.technicianId ?? null;
  const technicianName = technicianId
    ? technicianId === me.user.id
      ? me.user.name
      : (names.get(technicianId) ??
        (technicianId === transcript.technicianId ? transcript.technicianName : null) ??
        (isContact ? `${me.organization.name} support` : technicianId))
    : null;

  const presence = useMachinePresence(session?.machineId, state === "open");

  if (loadError) return <LoadFailed message={`Could not open this session: ${loadError}`} />;

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
        {technicianName && (
          <span class="technician" data-testid="session-technician" data-technician-id={technicianId ?? ""}>
            <span class="muted">technician</span> {technicianName}
          </span>
        )}
        {state === "open" && can.review && technicianId && (
          <AssignControl
            sessionId={sessionId}
            people={people}
            technicianId={technicianId}
            me={me}
            onError={(message) => setActionError(message)}
          />
        )}
        <div class="spacer" />
        {watchers.size > 0 && (
          <span class="watchers" data-testid="watchers" title="Watching this session now">
            <span class="eye">watching</span>
            {[...watchers].map(([actor, name]) => (
              <span key={actor} class="watcher" data-testid="watcher" data-actor={actor}>
                {actor === myActor ? `${name} (you)` : name}
              </span>
            ))}
          </span>
        )}
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
            {forReview ? "Send for review" : "Close session"}
          </button>
        )}
        <EvidenceActions
          sessionId={sessionId}
          me={me}
          timelineOpen={timelineOpen}
          onTimeline={() => setTimelineOpen(!timelineOpen)}
          closed={state === "closed"}
        />
        {state === "review_pending" && (
          <span class="badge session-review_pending" data-testid="review-pending">
            awaiting review
          </span>
        )}
        <ConnectionBadge status={status} machine={presence} ended={state === "closed"} />
      </div>

      {timelineOpen && <TimelinePanel events={transcript.timelineEvents} names={actorNames(names, me)} />}

      <div class="transcript" data-testid="transcript" ref={paneRef} onScroll={onScroll}>
        {transcript.items.length === 0 && <div class="line muted">Waiting for the session's events…</div>}
        {transcript.items.map((item) => (
          <Item
            key={item.kind === "command" ? `c:${item.command.id}` : `l:${item.seq}`}
            item={item}
            version={item.kind === "command" ? item.command.version : item.kind === "presence" ? item.version : 0}
            sessionId={sessionId}
            labels={labels}
            onCancel={can.runCommands ? cancel : null}
            onRollBack={can.runCommands ? setRollingBack : null}
            rolledBackBy={item.kind === "command" ? rolledBackBy.get(item.command.id) : undefined}
            actions={actions}
            verification={verification}
          />
        ))}
      </div>
      {comparing && (
        <CompareView
          sessionId={sessionId}
          beforeId={comparing.before}
          afterId={comparing.after}
          actions={verification}
          onClose={() => setComparing(null)}
        />
      )}

      {state === "closed" && headHash && <SealPanel sessionId={sessionId} head={{ seq: headSeq, hash: headHash }} />}
      {rollingBack && <RollbackDialog change={rollingBack} onClose={() => setRollingBack(null)} />}
      <ErrorBanner message={actionError} onDismiss={() => setActionError(null)} />
      {state === "open" && transcript.returned && (
        <ReturnedNotice comment={transcript.returned.comment} by={actorLabel(transcript.returned.actor, labels)} />
      )}
      {state === "open" && can.runCommands && technicianId === me.user.id && (
        <VerdictForm sessionId={sessionId} commands={[...transcript.commands.values()]} />
      )}
      <CommandBar
        os={os}
        modes={can.runCommands ? ALL_MODES : can.review ? REVIEW_MODES : CHAT_ONLY}
        disabled={state !== "open"}
        heldBy={can.runCommands && technicianId && technicianId !== me.user.id ? technicianName : null}
        onRun={run}
        transcript={transcript}
      />
    </div>
  );
}

/**
 * The header's connection: "live" only while both this page's socket and the machine's runtime are connected; with the
 * runtime gone, since when, and that commands wait for it.
 */
function ConnectionBadge({
  status,
  machine,
  ended,
}: {
  status: { status: LiveStatus; detail?: string };
  machine: MachinePresence | null;
  /** The session is closed: nothing more will happen in it, whatever the socket and the machine do. */
  ended: boolean;
}) {
  // The session first, then the page's socket (reconnecting), then the machine's runtime, once the Fleet has said.
  const shown: LiveStatus | "offline" = ended
    ? "stopped"
    : status.status !== "live"
      ? status.status
      : machine === null
        ? "connecting"
        : machine.online
          ? "live"
          : "offline";
  const since = machine?.lastSeenAt ? ` since ${clockTime(machine.lastSeenAt, Date.now(), "minutes")}` : "";
  const text =
    shown === "stopped" ? "ended" : shown === "offline" ? `machine offline${since}; commands will queue` : shown;
  return (
    <span
      class={`conn conn-${shown}`}
      data-testid="connection"
      data-status={status.status}
      data-machine={machine === null ? "unknown" : machine.online ? "online" : "offline"}
      title={
        shown === "offline" && machine?.lastSeenAt
          ? `The machine's runtime was last connected ${fullTime(machine.lastSeenAt)}; commands run when it is back.`
          : (status.detail ?? "")
      }
    >
      <span class="dot" />
      {text}
    </span>
  );
}

interface ItemProps {
  item: TranscriptItem;
  version: number;
  sessionId: string;
  labels: Labels;
  onCancel: ((commandId: string) => void) | null;
  onRollBack: ((change: ChangeRef) => void) | null;
  rolledBackBy: RolledBackBy | undefined;
  actions: ApprovalActions;
  verification: VerifyActions;
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
      next.onCancel !== this.props.onCancel ||
      next.onRollBack !== this.props.onRollBack ||
      next.rolledBackBy !== this.props.rolledBackBy ||
      next.actions !== this.props.actions ||
      next.verification !== this.props.verification
    );
  }

  override render() {
    const { item, sessionId, labels, onCancel, onRollBack, rolledBackBy, actions, verification } = this.props;
    if (item.kind === "command")
      return (
        <CommandBlock
          cmd={item.command}
          sessionId={sessionId}
          labels={labels}
          onCancel={onCancel}
          onRollBack={onRollBack}
          rolledBackBy={rolledBackBy}
          actions={actions}
          verification={verification}
        />
      );
    if (item.kind === "presence") return <PresenceLines group={item} labels={labels} />;
    return <EventLine event={item.event} labels={labels} verification={verification} />;
  }
}

/**
 * Watchers coming and going, folded: one such event is shown as its line; several next to each other as one quiet
 * line ("2 people joined or left") that opens to show each of them.
 */
function PresenceLines({ group, labels }: { group: PresenceGroup; labels: Labels }) {
  const [first] = group.events;
  if (!first) return null;
  if (group.events.length === 1) return <EventLine event={first} labels={labels} />;
  const names = [...new Set(group.events.map((e) => presenceName(e, labels)))];
  return (
    <details
      id={`seq-${group.seq}`}
      class="presence-fold"
      data-testid="presence-fold"
      data-count={group.events.length}
      data-seq={group.seq}
    >
      <summary class="line quiet" title={names.join(", ")}>
        <span class="time" title={fullTime(first.ts)}>
          {clockTime(first.ts)}
        </span>
        <span class="body" data-testid="presence-summary">
          {names.length} {names.length === 1 ? "person" : "people"} joined or left
          <span class="fold-toggle"> — show</span>
        </span>
      </summary>
      {group.events.map((event) => (
        <EventLine key={event.seq} event={event} labels={labels} anchored={false} />
      ))}
    </details>
  );
}

function presenceName(event: SessionEvent, labels: Labels): string {
  const name = event.data?.name;
  return typeof name === "string" && name ? name : actorLabel(event.actor, labels);
}

/** `anchored`: the line is the link target of its seq (#seq-N), unless a fold around it is. */
function EventLine({
  event,
  labels,
  anchored = true,
  verification,
}: {
  event: SessionEvent;
  labels: Labels;
  anchored?: boolean;
  verification?: VerifyActions;
}) {
  const d = event.data ?? {};
  const text = (key: string) => (typeof d[key] === "string" ? (d[key] as string) : "");
  let body: ComponentChildren;
  let kind = "event";
  let actor = actorLabel(event.actor, labels);
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
      body =
        d.reason === "idle" && typeof d.idleCloseSeconds === "number"
          ? `Session closed itself after ${formatSeconds(d.idleCloseSeconds)} without activity`
          : d.review === "accepted"
            ? "Session closed after review"
            : "Session closed";
      break;
    case "verification.recorded": {
      kind = "verdict";
      const label = { fixed: "fixed", not_fixed: "not fixed", unverifiable: "cannot verify" }[text("verdict")];
      // The commands as the transcript numbers them ("#1 → #2"), not by their ids.
      const ref = (id: string) => {
        const n = verification?.command(id)?.number;
        return n ? `#${n}` : id.slice(-6);
      };
      body = (
        <>
          <span class={`badge verdict-${text("verdict")}`}>{label ?? text("verdict")}</span> verdict on{" "}
          <span class="mono">{ref(text("baselineCommandId"))}</span>
          {text("verifyCommandId") ? (
            <>
              {" "}
              → <span class="mono">{ref(text("verifyCommandId"))}</span>
            </>
          ) : null}
          {text("note") ? <span class="msg">: {text("note")}</span> : null}
        </>
      );
      break;
    }
    case "session.review_requested":
      body = d.reason === "idle" ? "Sent for review after a quiet spell" : "Sent for review";
      break;
    case "session.reviewed":
      kind = d.decision === "return" ? "declined" : "event";
      body = (
        <>
          {d.decision === "return" ? "Returned to the technician" : "Review accepted"}
          {text("comment") ? <span class="msg">: {text("comment")}</span> : null}
        </>
      );
      break;
    case "participant.joined":
    case "participant.left":
      kind = "quiet";
      actor = presenceName(event, labels);
      body = event.type === "participant.joined" ? "started watching" : "stopped watching";
      break;
    case "session.assigned": {
      kind = "assigned";
      const by = text("byName") || actor;
      const to = text("toName") || labels.names.get(text("to")) || text("to");
      // the actor column already names who did it; the sentence names them only when someone else did
      const who =
        by === actor ? null : (
          <>
            <b>{by}</b>{" "}
          </>
        );
      body = (
        <>
          {event.data.takeover === true ? (
            <>
              {who}took this session over from <b>{labels.names.get(text("from")) || text("from")}</b>
            </>
          ) : (
            <>
              {who}handed this session to <b>{to}</b>
            </>
          )}
          {text("note") ? <span class="msg">: {text("note")}</span> : null}
        </>
      );
      break;
    }
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
    case "check.scheduled":
    case "check.cancelled":
      kind = "check";
      body = verification ? checkLine(event, verification) : event.type;
      break;
    default:
      body = (
        <>
          <span class="tag">{event.type}</span> <span class="muted">{JSON.stringify(d)}</span>
        </>
      );
  }
  return (
    <div
      id={anchored ? `seq-${event.seq}` : undefined}
      class={`line ${kind}`}
      data-testid="event-line"
      data-type={event.type}
      data-event={event.type}
      data-seq={event.seq}
    >
      <span class="time" title={fullTime(event.ts)}>
        {clockTime(event.ts)}
      </span>
      <span class="actor">{actor}</span>
      <span class="body">{body}</span>
    </div>
  );
}

function CommandBlock({
  cmd,
  sessionId,
  labels,
  onCancel,
  onRollBack,
  rolledBackBy,
  actions,
  verification,
}: {
  cmd: CommandView;
  sessionId: string;
  labels: Labels;
  onCancel: ((commandId: string) => void) | null;
  onRollBack: ((change: ChangeRef) => void) | null;
  rolledBackBy: RolledBackBy | undefined;
  actions: ApprovalActions;
  verification: VerifyActions;
}) {
  const result = cmd.result;
  const active = ACTIVE_STATES.has(cmd.state);
  const outputUrl = (stream: "stdout" | "stderr") =>
    urlOf(routes.commandOutput, { params: { id: sessionId, cid: cmd.id }, query: { stream } });
  const stdoutBytes = result?.stdoutBytes ?? cmd.receivedBytes.stdout;
  const stderrBytes = result?.stderrBytes ?? cmd.receivedBytes.stderr;
  // Both streams interleaved as the runtime read them; the technician may look at one alone.
  const [filter, setFilter] = useState<StreamFilter>("all");
  const bothStreams = stdoutBytes > 0 && stderrBytes > 0;
  const chunks = shownChunks(cmd, bothStreams ? filter : "all");
  const ctx = cmd.context;
  return (
    <div
      id={`seq-${cmd.seq}`}
      class={`cmd state-${cmd.state}`}
      data-testid="command-block"
      data-command-id={cmd.id}
      data-state={cmd.state}
      data-classification={cmd.classification ?? ""}
    >
      <div class="cmd-head" data-event="command.requested" data-seq={cmd.seq}>
        <span class="time" title={fullTime(cmd.ts)}>
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
          {cmd.classification && (
            <span
              class={`badge kind-${cmd.classification}`}
              data-testid="command-classification"
              title={
                cmd.classification === "read"
                  ? "Only looks at the machine"
                  : "Changes the machine (or could not be shown to only look)"
              }
            >
              {cmd.classification}
            </span>
          )}
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
          <VerifiesBadge cmd={cmd} actions={verification} />
          <VerificationControls cmd={cmd} actions={verification} />
          {cmd.rollbackOf && <RollbackLinkTo label="undoes" to={cmd.rollbackOf} />}
          {rolledBackBy && (
            <RollbackLinkTo
              label="rolled back by"
              to={rolledBackBy}
              state={rolledBackBy.state}
              command={rolledBackBy.command}
            />
          )}
          {onRollBack && cmd.classification === "change" && cmd.context && result && (
            <RollBackButton change={{ sessionId, commandId: cmd.id }} onOpen={onRollBack} />
          )}
        </span>
      </div>
      {cmd.reason && (
        <div class="cmd-reason" data-testid="command-reason">
          # {cmd.reason}
        </div>
      )}
      {cmd.approval && <ApprovalPanel approval={cmd.approval} actions={actions} />}
      {cmd.prestate && <BeforeLines prestate={cmd.prestate} />}
      {ctx && (
        <details class="context" data-testid="command-context" data-event="command.started" data-seq={cmd.startedSeq}>
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
          <a href={outputUrl("stdout")} download={`${cmd.id}.stdout`} data-testid="download-full-stdout">
            download full stdout
          </a>
          {stderrBytes > 0 && (
            <>
              {" · "}
              <a href={outputUrl("stderr")} download={`${cmd.id}.stderr`} data-testid="download-full-stderr">
                stderr
              </a>
            </>
          )}
        </div>
      )}
      {chunks.length > 0 && (
        <pre class="output" data-testid="command-output" data-event="command.output" data-seq={cmd.firstOutputSeq}>
          {chunks.map((c) => (
            <Chunk key={c.key} stream={c.stream} text={c.text} />
          ))}
        </pre>
      )}
      {chunks.length === 0 && <pre class="output empty" data-testid="command-output" />}
      {(result || stdoutBytes + stderrBytes > 0) && (
        <div
          class="cmd-foot"
          data-event={result ? "command.finished" : undefined}
          data-seq={result ? cmd.finishedSeq : undefined}
        >
          {result?.reason && (
            <span class="reason" data-testid="finish-reason">
              {result.reason}
            </span>
          )}
          {bothStreams && (
            <fieldset class="toggle" aria-label="Output shown" data-testid="stream-filter">
              {(["all", "stdout", "stderr"] as const).map((f) => (
                <button
                  key={f}
                  type="button"
                  class={filter === f ? "small active" : "small"}
                  data-stream={f}
                  data-testid={`stream-filter-${f}`}
                  aria-pressed={filter === f}
                  onClick={() => setFilter(f)}
                >
                  {f === "all" ? "All" : f}
                </button>
              ))}
            </fieldset>
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
      <span class={stream} title={stream === "stderr" ? "stderr" : undefined}>
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
/** The approval options sent with a command. */
interface Gate {
  requireApproval: boolean;
  reason: string;
}
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
  heldBy,
  onRun,
  transcript,
}: {
  os: string | undefined;
  modes: readonly BarMode[];
  disabled: boolean;
  /** Who holds the session when it is not the viewer: only they run commands (the viewer may take it over). */
  heldBy: string | null;
  onRun: (mode: BarMode, text: string, shell: Shell, gate: Gate) => Promise<boolean>;
  transcript: Transcript;
}) {
  const [text, setText] = useState("");
  const [requireApproval, setRequireApproval] = useState(false);
  const [reason, setReason] = useState("");
  const [mode, setMode] = useState<BarMode>(modes[0] ?? "chat");
  // The machine's OS arrives after the bar is on screen: until the technician picks a shell, follow the OS's default
  // (the bar is never remounted for it, so what was typed meanwhile stays).
  const [picked, setShell] = useState<Shell | null>(null);
  const shell = picked ?? defaultShell(os ?? "linux");
  const [busy, setBusy] = useState(false);
  const historyIndex = useRef<number | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => inputRef.current?.focus(), []);

  const submit = async () => {
    if (busy || disabled || text.trim().length === 0) return;
    setBusy(true);
    const ok = await onRun(mode, text, shell, { requireApproval, reason });
    setBusy(false);
    if (ok) {
      setText("");
      setReason("");
      setRequireApproval(false);
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
          onChange={(e) => setShell(e.currentTarget.value as Shell)}
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
        {busy
          ? "Sending…"
          : mode === "command"
            ? requireApproval
              ? "Ask approval"
              : "Run"
            : mode === "note"
              ? "Add note"
              : "Send"}
      </button>
      {mode === "command" && heldBy && !disabled && (
        <p class="bar-held muted small" data-testid="held-by">
          {heldBy} holds this session: only they run commands here. Take over (at the top) to run them yourself.
        </p>
      )}
      {mode === "command" && (
        <div class="bar-options">
          <label class="check" title="The command waits until the client's contact approves it, whatever the policy.">
            <input
              type="checkbox"
              data-testid="require-approval"
              checked={requireApproval}
              disabled={disabled}
              onChange={(e) => setRequireApproval(e.currentTarget.checked)}
            />
            Require client approval
          </label>
          {/* Always there: a change the client's policy holds asks the contact with this reason too. */}
          <input
            data-testid="approval-reason"
            class="reason-input"
            maxLength={1000}
            placeholder="Reason, shown to the client when it needs their approval (optional) — e.g. free disk space for the update"
            value={reason}
            disabled={disabled}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </div>
      )}
    </form>
  );
}

/** The approval part of a command block: the plain-language summary, its state, who decided, and the actions. */
function ApprovalPanel({ approval: a, actions }: { approval: ApprovalView; actions: ApprovalActions }) {
  const [linkOpen, setLinkOpen] = useState(false);
  const pending = a.state === "pending";
  return (
    <div
      class={`approval-panel approval-${a.state}`}
      data-testid="approval-panel"
      data-approval-id={a.id}
      data-state={a.state}
      data-event="approval.requested"
      data-seq={a.seq}
    >
      <div class="approval-line">
        <span class={`badge approval-badge approval-${a.state}`} data-testid="approval-state">
          {approvalLabel(a.state)}
        </span>
        {pending ? (
          <span class="approval-wait" data-testid="approval-wait">
            Waiting for the client's approval{a.expiresAt ? ` — expires ${shortTime(a.expiresAt)}` : ""}
          </span>
        ) : null}
        {a.summary && (
          <span class="approval-summary-inline" data-testid="approval-summary">
            {a.summary}
          </span>
        )}
      </div>
      {a.changes && <ApprovalChanges changes={a.changes} />}
      {(a.because || a.reason) && (
        <div class="approval-why muted">
          {a.reason ? `Reason given: ${a.reason}` : ""}
          {a.reason && a.because ? " · " : ""}
          {a.because ? `Asked because ${a.because}` : ""}
        </div>
      )}
      {a.decisionSeq !== undefined && (
        <div
          class="approval-decision"
          data-testid="approval-decision"
          data-event={`approval.${a.state}`}
          data-seq={a.decisionSeq}
        >
          {a.state === "expired" ? (
            <>Nobody decided in time; the approval expired at {a.decidedAt ? clockTime(a.decidedAt) : "—"}.</>
          ) : (
            <>
              {a.state === "granted" ? "Approved" : "Declined"} by <b>{a.contactName ?? "the client"}</b>
              {a.decidedAt ? ` at ${clockTime(a.decidedAt)}` : ""}
              {a.channel ? (
                <span class="muted">
                  {" "}
                  via {a.channel === "link" ? "one-time link" : a.channel === "portal" ? "the portal" : a.channel}
                </span>
              ) : null}
              {a.comment ? <span class="comment"> — “{a.comment}”</span> : null}
            </>
          )}
        </div>
      )}
      {pending && actions.decide && (
        <DecisionForm
          compact
          onDecide={(decision, comment) =>
            (actions.decide as NonNullable<ApprovalActions["decide"]>)(a.id, decision, comment)
          }
        />
      )}
      {pending && actions.link && !linkOpen && (
        <button type="button" class="small" data-testid="approval-link-open" onClick={() => setLinkOpen(true)}>
          Copy approval link…
        </button>
      )}
      {pending && actions.link && linkOpen && (
        <ApprovalLinkForm
          approvalId={a.id}
          contacts={actions.contacts}
          create={actions.link}
          onClose={() => setLinkOpen(false)}
        />
      )}
    </div>
  );
}

function ApprovalLinkForm({
  approvalId,
  contacts,
  create,
  onClose,
}: {
  approvalId: string;
  contacts: Person[];
  create: (approvalId: string, contactId: string) => Promise<{ url: string; expiresAt: string }>;
  onClose: () => void;
}) {
  const usable = contacts.filter((c) => !c.disabled);
  const [contactId, setContactId] = useState(usable[0]?.id ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [link, setLink] = useState<{ url: string; expiresAt: string; name: string } | null>(null);
  if (usable.length === 0)
    return (
      <div class="approval-link-form" data-testid="approval-link-form">
        <span class="muted">This client has no contacts yet; an owner adds them on the Clients page.</span>{" "}
        <button type="button" class="small ghost" onClick={onClose}>
          Close
        </button>
      </div>
    );
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await create(approvalId, contactId);
      setLink({ ...answer, name: usable.find((c) => c.id === contactId)?.name ?? "" });
    } catch (err) {
      setError(decisionError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="approval-link-form" data-testid="approval-link-form" onSubmit={submit}>
      {!link && (
        <>
          <label class="inline-field">
            <span class="label">For</span>
            <select
              data-testid="approval-link-contact"
              value={contactId}
              onChange={(e) => setContactId(e.currentTarget.value)}
            >
              {usable.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.email})
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="small primary" data-testid="approval-link-create" disabled={busy || !contactId}>
            {busy ? "Creating…" : "Create link"}
          </button>
        </>
      )}
      {link && (
        <div class="approval-link-result" data-testid="approval-link-result">
          <span class="muted small">
            One-time link for {link.name}, valid until {shortTime(link.expiresAt)} — send it by any channel:
          </span>
          <code data-testid="approval-link-url">{link.url}</code>
          <CopyButton text={link.url} testId="approval-link-copy" />
        </div>
      )}
      <button type="button" class="small ghost" onClick={onClose}>
        Close
      </button>
      {error && (
        <span class="error" role="alert" data-testid="approval-link-error">
          {error}
        </span>
      )}
    </form>
  );
}

/**
 * "Assign to…": hand the session to a colleague who can run commands, with an optional note. Only the session's
 * technician runs commands; anyone else who may run them sees "Take over" (a handoff to themselves).
 */
function AssignControl({
  sessionId,
  people,
  technicianId,
  me,
  onError,
}: {
  sessionId: string;
  people: Person[];
  technicianId: string;
  me: Me;
  onError: (message: string) => void;
}) {
  const candidates = people.filter(
    (p) => (p.role === "owner" || p.role === "technician") && !p.disabled && p.id !== technicianId,
  );
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const assign = async (technicianId: string, note: string) => {
    setBusy(true);
    try {
      await api(routes.assignSession, {
        params: { id: sessionId },
        body: { technicianId, ...(note.trim() ? { note: note.trim() } : {}) },
      });
      setOpen(false);
      setNote("");
    } catch (error) {
      onError(`Could not assign the session: ${errorMessage(error)}`);
    } finally {
      setBusy(false);
    }
  };
  const takeOver = abilities(me.user.role).runCommands && technicianId !== me.user.id && (
    <button
      type="button"
      class="small primary"
      data-testid="take-over"
      disabled={busy}
      title="Only the session's technician runs commands: take the session over to run them yourself"
      onClick={() => void assign(me.user.id, "")}
    >
      Take over
    </button>
  );
  if (!open)
    return (
      <>
        {takeOver}
        <button
          type="button"
          class="small"
          data-testid="assign-open"
          disabled={candidates.length === 0}
          title={
            candidates.length === 0 ? "No other colleague who can run commands" : "Hand this session to a colleague"
          }
          onClick={() => {
            setTo(candidates[0]?.id ?? "");
            setOpen(true);
          }}
        >
          Assign to…
        </button>
      </>
    );
  const submit = async (event: Event) => {
    event.preventDefault();
    if (to) await assign(to, note);
  };
  return (
    <form class="assign-form" data-testid="assign-form" onSubmit={submit}>
      <select data-testid="assign-to" aria-label="Colleague" value={to} onChange={(e) => setTo(e.currentTarget.value)}>
        {candidates.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name} ({p.role})
          </option>
        ))}
      </select>
      <input
        data-testid="assign-note"
        class="assign-note"
        placeholder="Note for them (optional)"
        maxLength={1000}
        value={note}
        onInput={(e) => setNote(e.currentTarget.value)}
      />
      <button type="submit" class="small primary" data-testid="assign-submit" disabled={busy || !to}>
        {busy ? "Assigning…" : "Assign"}
      </button>
      <button type="button" class="small ghost" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}

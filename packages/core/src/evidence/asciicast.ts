// A session's terminal as an asciicast v2 recording (https://docs.asciinema.org/manual/asciicast/v2/), playable by
// asciinema: each command is typed at a prompt, its output plays back at the times the record holds, and each command's
// start and end are markers ("m" events), so a player jumps from command to command. Written line by line, so the
// Worker can stream a recording of any size.

import { fromBase64 } from "../bytes.ts";
import type { RecordEvent } from "../record.ts";

export interface AsciicastHeaderInput {
  sessionId: string;
  hostname: string;
  openedAt: string;
}

/** Terminal rows and columns the recording declares; players scale to fit. */
const WIDTH = 120;
const HEIGHT = 36;
/** Long pauses (waiting for an approval, a coffee) play back as this many seconds. */
const IDLE_TIME_LIMIT = 2;

const BOLD = "\u001b[1m";
const RED = "\u001b[31m";
const DIM = "\u001b[2m";
const RESET = "\u001b[0m";

/** A terminal needs CR LF; commands ran on pipes, whose output has bare LFs. */
const toTerminal = (text: string) => text.replace(/\r?\n/g, "\r\n");

export class AsciicastWriter {
  private readonly session: AsciicastHeaderInput;
  private readonly start: number;
  private readonly commands = new Map<string, string>();
  /** One decoder per command stream: a UTF-8 character may be split across two output events. */
  private readonly decoders = new Map<string, TextDecoder>();

  constructor(session: AsciicastHeaderInput) {
    this.session = session;
    this.start = Date.parse(session.openedAt);
  }

  /** The first line of the file. */
  header(): string {
    return JSON.stringify({
      version: 2,
      width: WIDTH,
      height: HEIGHT,
      timestamp: Math.floor(this.start / 1000),
      idle_time_limit: IDLE_TIME_LIMIT,
      title: `Caisey session ${this.session.sessionId} on ${this.session.hostname}`,
      env: { TERM: "xterm-256color" },
    });
  }

  /** The recording's lines for one record event (none for events that are not the terminal's). */
  lines(event: RecordEvent): string[] {
    const data = event.data as Record<string, unknown>;
    const commandId = typeof data.commandId === "string" ? data.commandId : "";
    const t = Math.max(0, (Date.parse(event.ts) - this.start) / 1000);
    const line = (code: "o" | "m", text: string) => JSON.stringify([Number(t.toFixed(3)), code, text]);
    switch (event.type) {
      case "command.requested":
        this.commands.set(commandId, String(data.command ?? ""));
        return [];
      case "command.started": {
        const command = this.commands.get(commandId) ?? commandId;
        return [line("m", `$ ${command}`), line("o", `${BOLD}$ ${toTerminal(command)}${RESET}\r\n`)];
      }
      case "command.output": {
        const stream = data.stream === "stderr" ? "stderr" : "stdout";
        const key = `${commandId}/${stream}`;
        const decoder = this.decoders.get(key) ?? new TextDecoder();
        this.decoders.set(key, decoder);
        const text = toTerminal(decoder.decode(fromBase64(String(data.data ?? "")), { stream: true }));
        if (text === "") return [];
        return [line("o", stream === "stderr" ? `${RED}${text}${RESET}` : text)];
      }
      case "command.finished": {
        const command = this.commands.get(commandId) ?? commandId;
        const outcome = data.state === "finished" ? `exit ${String(data.exitCode)}` : String(data.state);
        const tail = ["stdout", "stderr"]
          .map((stream) => this.decoders.get(`${commandId}/${stream}`)?.decode() ?? "")
          .join("");
        return [
          ...(tail ? [line("o", toTerminal(tail))] : []),
          line("o", `${DIM}[${outcome}]${RESET}\r\n`),
          line("m", `${outcome}: ${command}`),
        ];
      }
      default:
        return [];
    }
  }
}

// Size bounds for everything a network peer can send. One place, so server, runtime and console agree.

export const LIMITS = {
  /** Largest HTTP JSON body the API reads. */
  jsonBodyBytes: 64 * 1024,
  /** Longest command text (a pasted PowerShell script fits comfortably). */
  commandChars: 32 * 1024,
  /**
   * Raw output bytes carried by one command.output record (and one runtime output frame): large enough that the
   * per-record cost (commit, ack, chain step, journal record) is small beside the bytes (512 KiB cost ~10% less CPU
   * than 256 KiB), below the 1 MiB WebSocket message limit as a binary frame, and its record line (base64, ~683 KiB)
   * far below SQLite's 2 MB row limit wherever it is held whole.
   */
  outputChunkBytes: 512 * 1024,
  /** Largest WebSocket frame a runtime may send (an output frame of one chunk plus its header, with room to spare). */
  runtimeFrameBytes: 576 * 1024,
  /** Output bytes a runtime may have sent but not yet had acknowledged, per command (backpressure window). */
  unackedOutputBytes: 4 * 1024 * 1024,
  /** Longest timeout a technician may set on a command: one day. */
  maxTimeoutSeconds: 24 * 60 * 60,
  /** Longest a command may wait for an offline machine: a week. Default: an hour. */
  maxQueueSeconds: 7 * 24 * 60 * 60,
  defaultQueueSeconds: 60 * 60,
  /** An open session with no event for this long closes itself (the organization's setting). Default: a day. */
  defaultIdleCloseSeconds: 24 * 60 * 60,
  maxIdleCloseSeconds: 30 * 24 * 60 * 60,
  /** Events returned by one GET /events page. */
  eventsPageMax: 1000,
} as const;

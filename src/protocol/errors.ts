/** Every error code on the wire, with the one HTTP status each is sent with. */
export const ErrorStatus = {
  invalid_task_id: 400,
  invalid_request: 400,
  invalid_json: 400,
  /** A task's parents cannot be: a cycle, or ancestors nesting too deep. Asking again cannot help. */
  invalid_parents: 400,
  /**
   * A link the rules refuse (the child is already running, or a run of another token is below it; see
   * docs/security.md): a refusal of these parents, not of the token. Asking again does not help while the
   * run it names goes on.
   */
  link_refused: 403,
  session_unknown: 409,
  unauthorized: 401,
  forbidden: 403,
  /** The server wants a client certificate signed by its client CA, and this connection brought none. */
  client_certificate_refused: 403,
  /** The token is scoped to some tasks (`ids=` in the tokens file), and the request names one outside them. */
  out_of_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_watches: 503,
  store_unavailable: 503,
  shutting_down: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ErrorStatus;

/**
 * An error with its wire form. Handlers throw it; exactly one place in the server turns it into a reply,
 * and the client rebuilds it from that reply.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** The message without what the request named (its ids), where it names any: what a log counts alike refusals by. */
    readonly gist: string = message,
  ) {
    super(message);
    this.status = ErrorStatus[code];
  }
}

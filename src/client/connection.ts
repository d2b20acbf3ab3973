/** A client's link to its server as the screens show it: `work`'s connection line, and `top`'s. */
export interface ConnectionView {
  readonly state: 'connecting' | 'connected' | 'reconnecting';
  readonly since: number;
  readonly attempt: number;
  readonly lastError?: string;
  readonly nextRetryAt?: number;
  /** When the link went down; kept across retries. */
  readonly downSince?: number;
  /** When the server last sent anything: a long poll's answer, or an event or heartbeat on a stream. */
  readonly lastAnswerAt?: number;
}

// The paths of the wire, built in one place for the client and matched in one place by the server.

const segment = (id: string) => encodeURIComponent(id);

export const paths = {
  // The seed article's routes, kept exactly so its workers keep working.
  ping: '/ping',
  seedCancel: (id: string) => `/cancel-task/${segment(id)}`,
  seedWatch: (id: string) => `/watch-task/${segment(id)}`,
  // The JSON API.
  cancel: (id: string) => `/v1/tasks/${segment(id)}/cancel`,
  task: (id: string) => `/v1/tasks/${segment(id)}`,
  report: (id: string) => `/v1/tasks/${segment(id)}/report`,
  unschedule: (id: string) => `/v1/tasks/${segment(id)}/unschedule`,
  tasks: '/v1/tasks',
  /** Cancels scheduled for later, in id order, a page at a time. */
  schedules: '/v1/schedules',
  watch: '/v1/watch',
  events: '/v1/events',
  progress: '/v1/progress',
  /** Who the token sent is: its name, role and rights (what the web page shows, and hides). */
  me: '/v1/me',
  healthz: '/healthz',
  metrics: '/metrics',
} as const;

/**
 * Every answer of a taskctl server carries this header with the server's version, so a client can tell a
 * taskctl server from another service (or a proxy's error page) on the same URL.
 */
export const VERSION_HEADER = 'taskctl-version';

// The library side of taskctl: what a Node program needs to cancel tasks or to hear that its task was cancelled.
export { cancelSignal, TaskCancelledError, type CancelSignalOptions } from './client/cancel-signal.ts';
export { ClientError, TaskctlClient, type ClientOptions } from './client/client.ts';
export { WatchLoop, type WatchListener, type WatchLoopOptions } from './client/watch-loop.ts';
export { checkTaskId, taskIdProblem } from './core/task-id.ts';
export { EventStream, type EventStreamListener, type EventStreamOptions } from './client/event-stream.ts';
export type { ResetData, TaskEventData } from './protocol/events.ts';

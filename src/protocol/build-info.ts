// Filled in by build.mjs (esbuild `define`); running from source shows "dev".
declare const __TASKCTL_VERSION__: string | undefined;
declare const __TASKCTL_COMMIT__: string | undefined;

/** The version this build carries. */
export const VERSION: string = typeof __TASKCTL_VERSION__ === 'string' ? __TASKCTL_VERSION__ : '0.0.0-dev';
/** The git commit this build was made from, or "unknown". */
export const COMMIT: string = typeof __TASKCTL_COMMIT__ === 'string' ? __TASKCTL_COMMIT__ : 'unknown';

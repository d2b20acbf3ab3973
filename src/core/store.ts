// The store contract lives in core/store/, one file per concern; this re-exports it for existing imports.
export * from './store/index.ts';

export * from './types.ts';
export * from './fold.ts';
export * from './store.ts';
export * from './rebuild.ts';
export * from './guard.ts';
export * from './adapter.ts';
export * from './batch.ts';

/** The worker-thread pool that runs Lua jobs (see pool.ts for limits and how they are measured). */

export { WorkerPool, DEFAULT_POOL_OPTIONS } from './pool';
export type { PoolOptions, JobHandler, JobHandle } from './pool';
export type { OutputMessage, OutputHead } from './messages';

// The class is a type here: users make a lifecycle with createLifecycle() (tests with
// createTestLifecycle() from @lifespan/core/testing), so the constructor's environment is not API.
export { createLifecycle } from './lifecycle.js';
export type { Lifecycle } from './lifecycle.js';
export { restartWorkers } from './restart-workers.js';
export { isWorkerReady } from './cluster-worker.js';
export type { RestartWorkersOptions, WorkerRestart } from './restart-workers.js';
export { stopWorkers, stopWorkersOnSignal } from './stop-workers.js';
export type { StopWorkersOnSignalOptions, StopWorkersOptions, WorkerStop } from './stop-workers.js';
export type { HealthCheckOptions, HealthOptions } from './health-checks.js';
export type { EngineServerLike, EngineSocketLike, WebSocketLike, WebSocketServerLike, WsServerLike } from './websocket-closer.js';
export {
  AlreadyShutDownError,
  ConnectionsDestroyedError,
  CallbackFailedError,
  DeadlineExceededError,
  DrainFailedError,
  errorCodes,
  ForcedExitError,
  HealthCheckFailedError,
  HookFailedError,
  HookTimeoutError,
  InvalidArgumentError,
  LifecycleError,
  RegisterTooLateError,
  RequestsAbortedError,
  RequestsUnansweredError,
  StartupAbortedError,
  StartupFailedError,
  UncaughtError,
  WebSocketsTerminatedError,
  WorkCutError,
  WorkFailedError,
  WorkerRestartError,
} from './errors.js';
export type { LifecycleErrorCode } from './errors.js';
export type {
  DrainEvent,
  DrainStats,
  ExitPolicy,
  HealthStatus,
  HookContext,
  HookResult,
  HookStatus,
  LifecycleEvents,
  LifecycleOptions,
  LifecycleState,
  Logger,
  RegisterShutdownOptions,
  RegisterStartupOptions,
  ShutdownHook,
  ShutdownPhase,
  ShutdownReport,
  StartupHook,
  Unregister,
  WorkResult,
  WorkStatus,
} from './types.js';

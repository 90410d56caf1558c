export { createLifecycle, Lifecycle } from './lifecycle.js';
export { restartWorkers, workerReadyMessage } from './restart-workers.js';
export type { RestartWorkersOptions, WorkerRestart } from './restart-workers.js';
export { stopWorkers, stopWorkersOnSignal } from './stop-workers.js';
export type { StopWorkersOnSignalOptions, StopWorkersOptions, WorkerStop } from './stop-workers.js';
export type { HealthCheckOptions, HealthOptions, HostBridge, LifecycleEnvironment } from './lifecycle.js';
export {
  AlreadyShutDownError,
  ConnectionsDestroyedError,
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
  StartupAbortedError,
  StartupFailedError,
  UncaughtError,
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
} from './types.js';
export type { ProcessLike } from './process-coordinator.js';

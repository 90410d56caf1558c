/* eslint-disable @typescript-eslint/no-explicit-any -- process listeners take any arguments */
import { debuglog } from 'node:util';

const debug = debuglog('lifespan');

/** The parts of `process` that Lifespan uses; tests pass a fake. */
export interface ProcessLike {
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  exit(code?: number): void;
  emitWarning(warning: string, options: { type?: string; code?: string; detail?: string }): void;
  readonly env: Record<string, string | undefined>;
  send?: ((message: unknown) => boolean) | undefined;
  readonly stderr?: { write(text: string): unknown };
}

/** The process-level triggers: a signal, a cluster disconnect, PM2's `shutdown` message, or an uncaught error. */
export type ProcessTrigger = NodeJS.Signals | 'disconnect' | 'pm2:shutdown' | 'uncaughtException' | 'unhandledRejection';

/** One lifecycle, as the coordinator sees it. The shape is versioned: two copies of core may share it. */
export interface Participant {
  readonly signals: readonly string[];
  readonly handleUncaught: boolean;
  readonly exitFallback: boolean;
  readonly forceExitCode: number;
  /** Starts shutdown for a process-level trigger; resolves to the exit code it wants, or `false`. */
  shutdownFor(trigger: ProcessTrigger, error?: unknown): Promise<number | false>;
  /** A second signal arrived: the process exits right after this returns. */
  forcedExit(signal: NodeJS.Signals, code: number): void;
  /** Runs what can still run synchronously as the process exits. */
  runExitFallback(): void;
}

interface Coordinator {
  readonly version: 1;
  readonly participants: Set<Participant>;
  readonly installed: Map<string, (...args: any[]) => void>;
  /** The trigger of a process-level shutdown in progress. */
  pending: ProcessTrigger | undefined;
}

const kCoordinator = Symbol.for('@lifespan/core.signals');

type WithCoordinator = ProcessLike & { [kCoordinator]?: Coordinator };

function coordinatorOf(proc: ProcessLike): Coordinator {
  const holder = proc as WithCoordinator;
  return (holder[kCoordinator] ??= { version: 1, participants: new Set(), installed: new Map(), pending: undefined });
}

/** Adds a lifecycle to the process-wide coordinator: one listener per event, however many lifecycles. */
export function join(proc: ProcessLike, participant: Participant): void {
  const coordinator = coordinatorOf(proc);
  coordinator.participants.add(participant);
  sync(proc, coordinator);
}

/** Removes a lifecycle; listeners nobody needs any more are removed, unless a process-level shutdown is running. */
export function leave(proc: ProcessLike, participant: Participant): void {
  const coordinator = coordinatorOf(proc);
  coordinator.participants.delete(participant);
  if (coordinator.pending === undefined) sync(proc, coordinator);
}

/** Starts a process-level shutdown of every participant (a cluster disconnect, PM2). */
export function trigger(proc: ProcessLike, reason: ProcessTrigger, error?: unknown): void {
  const coordinator = coordinatorOf(proc);
  run(proc, coordinator, reason, [...coordinator.participants], error);
}

/** True while a process-level shutdown is running. */
export function processShutdownPending(proc: ProcessLike): boolean {
  return coordinatorOf(proc).pending !== undefined;
}

function sync(proc: ProcessLike, coordinator: Coordinator): void {
  const wanted = new Set<string>();
  for (const participant of coordinator.participants) {
    for (const signal of participant.signals) wanted.add(signal);
    if (participant.handleUncaught) {
      wanted.add('uncaughtException');
      wanted.add('unhandledRejection');
    }
    if (participant.exitFallback) wanted.add('exit');
  }
  // PM2 sends a 'shutdown' message instead of a signal on Windows. Only under PM2: a 'message'
  // listener keeps an IPC channel (any forked child) alive.
  if (wanted.size > 0 && proc.env['pm_id'] !== undefined && typeof proc.send === 'function') wanted.add('message');
  for (const [event, listener] of coordinator.installed) {
    if (!wanted.has(event)) {
      proc.removeListener(event, listener);
      coordinator.installed.delete(event);
    }
  }
  for (const event of wanted) {
    if (coordinator.installed.has(event)) continue;
    const listener = listenerFor(proc, coordinator, event);
    coordinator.installed.set(event, listener);
    proc.on(event, listener);
  }
}

function listenerFor(proc: ProcessLike, coordinator: Coordinator, event: string): (...args: any[]) => void {
  if (event === 'exit') {
    return () => {
      for (const participant of coordinator.participants) if (participant.exitFallback) participant.runExitFallback();
    };
  }
  if (event === 'message') {
    return ((message: unknown) => {
      if (message === 'shutdown') run(proc, coordinator, 'pm2:shutdown', [...coordinator.participants]);
    });
  }
  if (event === 'uncaughtException' || event === 'unhandledRejection') {
    return ((error: unknown) => {
      const targets = [...coordinator.participants].filter((participant) => participant.handleUncaught);
      if (coordinator.pending !== undefined) {
        // Already shutting down: report through the participants, keep going.
        for (const participant of targets) void participant.shutdownFor(event, error);
        return;
      }
      run(proc, coordinator, event, targets, error);
    });
  }
  return () => onSignal(proc, coordinator, event as NodeJS.Signals);
}

function onSignal(proc: ProcessLike, coordinator: Coordinator, signal: NodeJS.Signals): void {
  if (coordinator.pending !== undefined) {
    // The supervisor (or a person at the terminal) asked twice: stop waiting.
    let code = 1;
    for (const participant of coordinator.participants) {
      code = participant.forceExitCode;
      break;
    }
    debug('second %s during shutdown: exit %d', signal, code);
    for (const participant of coordinator.participants) participant.forcedExit(signal, code);
    proc.exit(code);
    return;
  }
  const targets = [...coordinator.participants].filter((participant) => participant.signals.includes(signal));
  run(proc, coordinator, signal, targets);
}

function run(proc: ProcessLike, coordinator: Coordinator, reason: ProcessTrigger, targets: Participant[], error?: unknown): void {
  if (coordinator.pending !== undefined) return;
  coordinator.pending = reason;
  debug('process-level shutdown: %s (%d lifecycles)', reason, targets.length);
  void Promise.all(targets.map((participant) => participant.shutdownFor(reason, error))).then((decisions) => {
    let code: number | false = false;
    for (const decision of decisions) if (decision !== false) code = code === false ? decision : Math.max(code, decision);
    if (code !== false) {
      proc.exit(code);
      return;
    }
    coordinator.pending = undefined;
    sync(proc, coordinator);
  });
}

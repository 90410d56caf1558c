/* eslint-disable @typescript-eslint/no-explicit-any -- process listeners take any arguments */
import cluster from 'node:cluster';
import { debuglog } from 'node:util';
import { describeValue, ForcedExitError } from './errors.js';
import { defaultExitTimeoutMs, exitWhenDrained } from './process-exit.js';
import { warnIfSignalsBlocked } from './signal-path.js';
import { kCoordinator } from './symbols.js';

const debug = debuglog('lifespan');

/** The parts of `process` that Lifespan uses; tests pass a fake. */
export interface ProcessLike {
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  exit(code?: number): void;
  /** Set when the shutdown is over; the process then ends once its event loop empties (see `exitWhenDrained()`). */
  exitCode?: number | string | null | undefined;
  /** A forked child's IPC channel (a cluster worker, PM2): let go once the shutdown is over. */
  readonly channel?: { unref(): void } | undefined;
  emitWarning(warning: string, options: { type?: string; code?: string; detail?: string }): void;
  readonly env: Record<string, string | undefined>;
  /** The parent's pid, to check that signals sent to PID 1 can reach this process. */
  readonly ppid?: number;
  send?: ((message: unknown) => boolean) | undefined;
  readonly stderr?: { write(text: string): unknown; readonly isTTY?: boolean };
}

/**
 * The process-level triggers: a signal, a cluster disconnect, PM2's `shutdown` message, an uncaught
 * error, or a startup hook that failed when Lifespan started the lifecycle itself.
 */
export type ProcessTrigger = NodeJS.Signals | 'disconnect' | 'pm2:shutdown' | 'uncaughtException' | 'unhandledRejection' | 'startup failed';

/** One lifecycle, as the coordinator sees it. The shape is versioned: two copies of core may share it. */
export interface Participant {
  readonly signals: readonly string[];
  readonly handleUncaught: boolean;
  readonly exitFallback: boolean;
  readonly forceExitCode: number;
  /** Whether it reports through a logger of its own; without one the coordinator speaks on stderr. Optional: older copies of core lack it. */
  readonly hasLogger?: boolean;
  /** The longest its shutdown may take, for the line shown at a terminal. */
  readonly timeoutMs?: number;
  /** How long the event loop may take to empty after the shutdown before the exit is forced. Optional: older copies of core lack it. */
  readonly exitTimeoutMs?: number;
  /** Starts shutdown for a process-level trigger; resolves to the exit code it wants, or `false`. */
  shutdownFor(trigger: ProcessTrigger, error?: unknown): Promise<number | false>;
  /** A second signal arrived: the process exits right after this returns (the coordinator writes the one line about it). */
  forcedExit(signal: NodeJS.Signals, code: number): void;
  /** Runs what can still run synchronously as the process exits. */
  runExitFallback(): void;
}

interface Coordinator {
  readonly version: 1;
  /** Held strongly: lifecycles started or given a server explicitly, which must shut down on a signal whatever holds them. */
  readonly participants: Set<Participant>;
  readonly installed: Map<string, (...args: any[]) => void>;
  /** The trigger of a process-level shutdown in progress. */
  pending: ProcessTrigger | undefined;
  /** That shutdown as this copy of core runs it; absent when an older copy started it. */
  run?: ProcessShutdown | undefined;
  /** Set once the signal path from PID 1 was checked (added after version 1: absent in older copies). */
  signalPathChecked?: boolean;
  /** Held weakly (added after version 1: absent in older copies): see `joinWeakly()`. */
  weak?: WeakParticipants;
}

interface WeakParticipants {
  readonly refs: Set<WeakRef<Participant>>;
  readonly refOf: WeakMap<Participant, WeakRef<Participant>>;
  /** Forgets a collected participant, and the listeners only it needed. */
  readonly finalizer: FinalizationRegistry<WeakRef<Participant>>;
  /** A sync after collections is scheduled. */
  resyncing: boolean;
}

interface ProcessShutdown {
  /** Every participant asked to shut down, with the exit code it will want. */
  readonly decisions: Map<Participant, Promise<number | false>>;
  /** Signals received since it began: only a signal that follows another one forces the exit. */
  signals: number;
}

type WithCoordinator = ProcessLike & { [kCoordinator]?: Coordinator };

function coordinatorOf(proc: ProcessLike): Coordinator {
  const holder = proc as WithCoordinator;
  return (holder[kCoordinator] ??= { version: 1, participants: new Set(), installed: new Map(), pending: undefined });
}

/** Adds a lifecycle to the process-wide coordinator: one listener per event, however many lifecycles. */
export function join(proc: ProcessLike, participant: Participant): void {
  const coordinator = coordinatorOf(proc);
  forgetWeak(coordinator, participant);
  coordinator.participants.add(participant);
  sync(proc, coordinator);
  // Once per process, by whichever copy of core installs signal listeners first.
  if (participant.signals.length > 0 && coordinator.signalPathChecked !== true) {
    coordinator.signalPathChecked = true;
    warnIfSignalsBlocked(proc);
  }
}

/**
 * Adds a lifecycle that an adapter engaged when its middleware was created, or that only a request
 * attached a server to: it shuts down on a signal, a cluster disconnect or PM2's message, but the
 * coordinator does not keep it alive. Its app does (a listening server holds the app, the app its
 * middleware, the middleware its lifecycle); an app that a test created and dropped is collected
 * with its lifecycle, and the listeners only it needed go with it. Nor does it get the exit
 * fallback, which would run the hooks of every app a test runner's worker ever made as it exits.
 * `join()` later holds it strongly.
 */
export function joinWeakly(proc: ProcessLike, participant: Participant): void {
  const coordinator = coordinatorOf(proc);
  if (coordinator.participants.has(participant)) return;
  const weak = weakOf(proc, coordinator);
  if (weak.refOf.has(participant)) return;
  const ref = new WeakRef(participant);
  weak.refs.add(ref);
  weak.refOf.set(participant, ref);
  weak.finalizer.register(participant, ref, ref);
  if (participant.signals.length > 0 && coordinator.signalPathChecked !== true) {
    coordinator.signalPathChecked = true;
    warnIfSignalsBlocked(proc);
  }
  // A test suite creates apps by the thousand: sync (which reads every participant) only when this
  // one needs a listener that is not there yet.
  const needed = [...participant.signals, ...(participant.handleUncaught ? ['uncaughtException'] : []), ...(cluster.isWorker ? ['disconnect'] : []), ...(underPm2(proc) ? ['message'] : [])];
  if (needed.some((event) => !coordinator.installed.has(event))) sync(proc, coordinator);
}

/** Removes a lifecycle; listeners nobody needs any more are removed, unless a process-level shutdown is running. */
export function leave(proc: ProcessLike, participant: Participant): void {
  const coordinator = coordinatorOf(proc);
  coordinator.participants.delete(participant);
  forgetWeak(coordinator, participant);
  if (coordinator.pending === undefined) sync(proc, coordinator);
}

/** Starts a process-level shutdown of every participant (a cluster disconnect, PM2). */
export function trigger(proc: ProcessLike, reason: ProcessTrigger, error?: unknown): void {
  const coordinator = coordinatorOf(proc);
  run(proc, coordinator, reason, everyone(coordinator), error, false);
}

/** How many lifecycles the coordinator knows, held strongly or weakly (for tests of the weak hold). */
export function participantCount(proc: ProcessLike): { strong: number; weak: number } {
  const coordinator = coordinatorOf(proc);
  let weak = 0;
  for (const ref of coordinator.weak?.refs ?? []) if (ref.deref() !== undefined) weak++;
  return { strong: coordinator.participants.size, weak };
}

function weakOf(proc: ProcessLike, coordinator: Coordinator): WeakParticipants {
  return (coordinator.weak ??= {
    refs: new Set(),
    refOf: new WeakMap(),
    finalizer: new FinalizationRegistry((ref) => {
      const weak = coordinator.weak;
      if (weak === undefined) return;
      weak.refs.delete(ref);
      // Collected participants come in batches: one sync for the batch.
      if (weak.resyncing) return;
      weak.resyncing = true;
      setImmediate(() => {
        weak.resyncing = false;
        if (coordinator.pending === undefined) sync(proc, coordinator);
      }).unref();
    }),
    resyncing: false,
  });
}

function forgetWeak(coordinator: Coordinator, participant: Participant): void {
  const weak = coordinator.weak;
  const ref = weak?.refOf.get(participant);
  if (weak === undefined || ref === undefined) return;
  weak.refs.delete(ref);
  weak.refOf.delete(participant);
  weak.finalizer.unregister(ref);
}

/** Every participant alive: the strong ones, then the weak ones not yet collected. */
function everyone(coordinator: Coordinator): Participant[] {
  const all = [...coordinator.participants];
  for (const ref of coordinator.weak?.refs ?? []) {
    const participant = ref.deref();
    if (participant !== undefined) all.push(participant);
  }
  return all;
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
  for (const ref of coordinator.weak?.refs ?? []) {
    const participant = ref.deref();
    if (participant === undefined) continue;
    for (const signal of participant.signals) wanted.add(signal);
    if (participant.handleUncaught) {
      wanted.add('uncaughtException');
      wanted.add('unhandledRejection');
    }
  }
  const anyone = coordinator.participants.size > 0 || (coordinator.weak?.refs.size ?? 0) > 0;
  // PM2 sends a 'shutdown' message instead of a signal on Windows. Only under PM2: a 'message'
  // listener keeps an IPC channel (any forked child) alive.
  if (anyone && underPm2(proc)) wanted.add('message');
  // A cluster worker's disconnect closes its servers first; a lifecycle that knows none of them
  // (no request yet) learns of it here. Cluster's own listener already holds the channel.
  if (anyone && cluster.isWorker) wanted.add('disconnect');
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

/** Whether PM2 runs this process (it sets `pm_id` and an IPC channel). */
export function underPm2(proc: ProcessLike): boolean {
  return proc.env['pm_id'] !== undefined && typeof proc.send === 'function';
}

function listenerFor(proc: ProcessLike, coordinator: Coordinator, event: string): (...args: any[]) => void {
  if (event === 'exit') {
    return () => {
      for (const participant of coordinator.participants) if (participant.exitFallback) participant.runExitFallback();
    };
  }
  if (event === 'message') {
    return ((message: unknown) => {
      if (message === 'shutdown') run(proc, coordinator, 'pm2:shutdown', everyone(coordinator), undefined, false);
    });
  }
  if (event === 'disconnect') return () => run(proc, coordinator, 'disconnect', everyone(coordinator), undefined, false);
  if (event === 'uncaughtException' || event === 'unhandledRejection') {
    return ((error: unknown) => {
      const targets = everyone(coordinator).filter((participant) => participant.handleUncaught);
      if (coordinator.pending !== undefined) {
        // Already shutting down: report through the participants, keep going.
        for (const participant of targets) void participant.shutdownFor(event, error);
        return;
      }
      run(proc, coordinator, event, targets, error, false);
    });
  }
  return () => onSignal(proc, coordinator, event as NodeJS.Signals);
}

function onSignal(proc: ProcessLike, coordinator: Coordinator, signal: NodeJS.Signals): void {
  const current = coordinator.run;
  if (coordinator.pending !== undefined && (current === undefined || current.signals > 0)) {
    // The supervisor (or a person at the terminal) asked twice: stop waiting.
    const all = everyone(coordinator);
    const code = all[0]?.forceExitCode ?? 1;
    debug('second %s during shutdown: exit %d', signal, code);
    for (const participant of all) participant.forcedExit(signal, code);
    if (speaksOnStderr(coordinator)) {
      // One line, whatever the number of lifecycles: the stack of a signal handler tells nobody anything.
      const error = new ForcedExitError(signal, code);
      write(proc, `lifespan: ${error.code}: ${error.message}`);
    }
    proc.exit(code);
    return;
  }
  const targets = everyone(coordinator).filter((participant) => participant.signals.includes(signal));
  if (current !== undefined) {
    // A cluster disconnect (a rolling restart), PM2's shutdown message or an uncaught error began
    // this shutdown; the orchestrator's SIGTERM that follows is its first signal, not a second one.
    current.signals++;
    debug('%s joins the %s shutdown; a second signal forces the exit', signal, coordinator.pending);
    announce(proc, coordinator, signal, `during the shutdown that ${describeTrigger(coordinator.pending!)} began`);
    ask(proc, current, targets, signal);
    return;
  }
  announce(proc, coordinator, signal, 'received');
  run(proc, coordinator, signal, targets, undefined, true);
}

function run(proc: ProcessLike, coordinator: Coordinator, reason: ProcessTrigger, targets: Participant[], error: unknown, bySignal: boolean): void {
  if (coordinator.pending !== undefined) return;
  coordinator.pending = reason;
  const current: ProcessShutdown = { decisions: new Map(), signals: bySignal ? 1 : 0 };
  coordinator.run = current;
  debug('process-level shutdown: %s (%d lifecycles)', reason, targets.length);
  ask(proc, current, targets, reason, error);
  void decide(current).then((code) => {
    if (code !== false) {
      exitAfterShutdown(proc, coordinator, current, code);
      return;
    }
    coordinator.pending = undefined;
    coordinator.run = undefined;
    sync(proc, coordinator);
  });
}

/**
 * Every participant is done: let the process end by itself, within the longest `exitTimeoutMs`.
 * The listeners that hold an IPC channel open ('message' under PM2, a cluster worker's
 * 'disconnect') go first, or a forked child would always wait the whole bound; the signal
 * listeners stay, so that a second signal still forces the exit at once.
 */
function exitAfterShutdown(proc: ProcessLike, coordinator: Coordinator, current: ProcessShutdown, code: number): void {
  let waitMs = 0;
  // The participants asked, not those still joined: a closed lifecycle has left by now.
  for (const participant of current.decisions.keys()) waitMs = Math.max(waitMs, participant.exitTimeoutMs ?? defaultExitTimeoutMs);
  for (const event of ['message', 'disconnect']) {
    const listener = coordinator.installed.get(event);
    if (listener === undefined) continue;
    proc.removeListener(event, listener);
    coordinator.installed.delete(event);
  }
  debug('shutdown over: exit code %d, the event loop has %d ms to empty', code, waitMs);
  exitWhenDrained(proc, code, waitMs);
}

/** Asks the participants not yet asked to shut down. */
function ask(proc: ProcessLike, current: ProcessShutdown, targets: readonly Participant[], reason: ProcessTrigger, error?: unknown): void {
  for (const participant of targets) {
    if (current.decisions.has(participant)) continue;
    // A participant never rejects and answers with an exit code; one that fails anyway (a copy of
    // core with a bug) must not leave the process running with nobody deciding its exit.
    let asked: Promise<number | false>;
    try {
      asked = Promise.resolve(participant.shutdownFor(reason, error));
    } catch (failure) {
      asked = Promise.reject(failure);
    }
    const decision = asked.then(
        (code) => (code === false || isExitCode(code) ? code : 1),
        (failure: unknown) => {
          write(proc, `lifespan: a lifecycle's shutdown failed, so the exit code is 1: ${describeValue(failure)}`);
          return 1;
        },
      );
    current.decisions.set(participant, decision);
  }
}

function isExitCode(code: unknown): code is number {
  return Number.isInteger(code) && (code as number) >= 0 && (code as number) <= 255;
}

/** The exit code of the whole process: the highest any participant wants, once all of them (late joiners too) decided. */
async function decide(current: ProcessShutdown): Promise<number | false> {
  let code: number | false = false;
  let decided = 0;
  while (decided < current.decisions.size) {
    const waiting = [...current.decisions.values()].slice(decided);
    decided += waiting.length;
    for (const decision of await Promise.all(waiting)) if (decision !== false) code = code === false ? decision : Math.max(code, decision);
  }
  return code;
}

/** True when some participant has no logger: then stderr is the only place a person or a supervisor looks. */
function speaksOnStderr(coordinator: Coordinator): boolean {
  return everyone(coordinator).some((participant) => participant.hasLogger === false);
}

/**
 * At a terminal, the first signal gets one line: what is happening and how to force it, so that a
 * drain delay of seconds is not mistaken for a hang. Cluster workers leave it to their primary,
 * which shares their terminal and gets the same Ctrl+C.
 */
function announce(proc: ProcessLike, coordinator: Coordinator, signal: NodeJS.Signals, when: string): void {
  if (proc.stderr?.isTTY !== true || !speaksOnStderr(coordinator) || cluster.isWorker) return;
  let timeoutMs = 0;
  for (const participant of everyone(coordinator)) timeoutMs = Math.max(timeoutMs, participant.timeoutMs ?? 0);
  const limit = timeoutMs > 0 ? ` (at most ${formatSeconds(timeoutMs)})` : '';
  const force = signal === 'SIGINT' ? 'press Ctrl+C again' : `send ${signal} again`;
  write(proc, `lifespan: ${signal} ${when}: finishing the requests in flight and running the shutdown hooks${limit}; ${force} to force an exit`);
}

function describeTrigger(trigger: ProcessTrigger): string {
  if (trigger === 'disconnect') return 'a cluster disconnect';
  if (trigger === 'pm2:shutdown') return "PM2's shutdown message";
  if (trigger === 'startup failed') return 'a failed startup';
  return `an ${trigger}`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function write(proc: ProcessLike, line: string): void {
  (proc.stderr ?? process.stderr).write(`${line}\n`);
}

// Makes a lifecycle observable from outside the process: with LIFESPAN_EVENTS=1 every state change,
// hook and drain milestone is printed to stdout as one JSON line (stdout to a pipe is synchronous on
// Linux, so the last lines are not lost when the process exits). The demo reads them.
export function reportEvents(lifecycle, app) {
  if (process.env.LIFESPAN_EVENTS !== '1') return;
  const emit = (event) => emitEvent(app, event);
  lifecycle.on('state', (state, previous) => emit({ type: 'state', state, previous }));
  lifecycle.on('hookStart', (name, phase) => emit({ type: 'hookStart', name, phase }));
  lifecycle.on('hookEnd', (result) => emit({ type: 'hookEnd', name: result.name, phase: result.phase, status: result.status, durationMs: Math.round(result.durationMs) }));
  lifecycle.on('drain', (drain) => emit({ type: 'drain', drain }));
}

/** Prints one event of the app (a job's progress) as the lifecycle's own are, when observed. */
export function emitEvent(app, event) {
  if (process.env.LIFESPAN_EVENTS === '1') process.stdout.write(`@lifespan ${JSON.stringify({ app, t: Date.now(), ...event })}\n`);
}

/** Exit policy that prints the report (when observed) and keeps Lifespan's default exit codes. */
export function exitWithReport(app) {
  return (report) => {
    if (process.env.LIFESPAN_EVENTS === '1') process.stdout.write(`@lifespan ${JSON.stringify({ app, t: Date.now(), type: 'report', report })}\n`);
    return report.ok ? 0 : 1;
  };
}

// Loaded into each server of the scale benchmark (`--import`): the server's own CPU time and wall
// time from the SIGTERM to its 'exit' event, written to BENCH_SCALE_CPU. Every contender of the
// scale benchmark leaves by process.exit(), so the 'exit' event runs for each of them.
// With BENCH_SCALE_PROFILE=<dir>, a CPU profile of that span is written there too (diagnosis only:
// profiling costs CPU itself).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const file = process.env.BENCH_SCALE_CPU;
const profileDir = process.env.BENCH_SCALE_PROFILE;
let cpuAtSignal;
let wallAtSignal;
let session;
// Prepended: the clock starts before the contender's own listener runs.
process.prependListener('SIGTERM', () => {
  if (cpuAtSignal !== undefined) return;
  cpuAtSignal = process.cpuUsage();
  wallAtSignal = performance.now();
  if (profileDir !== undefined) {
    session = new Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: 100 });
    session.post('Profiler.start');
  }
});
process.on('exit', () => {
  if (file === undefined || cpuAtSignal === undefined) return;
  const cpu = process.cpuUsage(cpuAtSignal);
  writeFileSync(file, JSON.stringify({ cpuUs: cpu.user + cpu.system, userUs: cpu.user, systemUs: cpu.system, wallMs: performance.now() - wallAtSignal }));
  // The inspector session answers synchronously on the main thread, so this runs within 'exit'.
  session?.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(join(profileDir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});

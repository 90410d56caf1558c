import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;
const hookLines = (lines: string[]): string[] => lines.filter((line) => line !== 'exit:natural');

jest.setTimeout(20_000);

// Each case: the scenario, the hooks that must each have run once, the exit code, and what stderr must say.
const cases = [
  ['null-prototype', ['drain:request', 'close:broken', 'close:server'], 1, 'ERR_LIFESPAN_HOOK_FAILED: Shutdown hook "broken" failed: '],
  ['revoked-proxy', ['drain:request', 'close:broken', 'close:server'], 1, 'ERR_LIFESPAN_HOOK_FAILED: Shutdown hook "broken" failed: '],
  ['throwing-state-listener', ['drain:request', 'close:server'], 1, 'ERR_LIFESPAN_CALLBACK_FAILED: A "state" listener threw: state listener broke'],
  ['throwing-hookend-listener', ['drain:request', 'close:server'], 1, 'ERR_LIFESPAN_CALLBACK_FAILED: A "hookEnd" listener threw: hookEnd listener broke'],
  ['throwing-logger', ['drain:request', 'close:server'], 0, 'ERR_LIFESPAN_CALLBACK_FAILED: The logger\'s info() threw: logger broke'],
  ['exit-throws', ['drain:request', 'close:server'], 1, 'ERR_LIFESPAN_CALLBACK_FAILED: The exit policy (options.exit) threw: exit policy broke'],
  ['exit-256', ['drain:request', 'close:server'], 1, 'ERR_LIFESPAN_CALLBACK_FAILED: The exit policy (options.exit) returned 256'],
] as const;

describePosix.each(['0', '1'])('user code never breaks the shutdown (handleUncaught: %s)', (handleUncaught) => {
  it.each(cases)('%s: every hook runs once, the exit code is checked, and stderr says what happened', async (scenario, hooks, code, said) => {
    const app = await startFixture('user-code.mjs', { SCENARIO: scenario, HANDLE_UNCAUGHT: handleUncaught });
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code, signal: null });
    expect(hookLines(app.lines())).toEqual(hooks);
    expect(app.stderr()).toContain(`lifespan: ${said}`);
    // Contained: nothing escaped as an uncaught error (handleUncaught would report it as one).
    expect(app.stderr()).not.toContain('ERR_LIFESPAN_UNCAUGHT');
    expect(app.stderr()).not.toContain('Uncaught');
  });
});

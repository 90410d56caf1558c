// Makes sure the real load balancers the process tests start (Debian's `haproxy` and `nginx-light`),
// and the servers of the BullMQ and recipe tests (`redis-server`, `postgresql`), are installed: `npm test` runs this before jest, so a fresh machine and CI get them without a
// manual step. Installs with apt-get when it runs as root (or with passwordless sudo); otherwise it
// fails and says what to install, rather than letting the proxy tests fail one by one.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Binary → Debian package that ships it. */
const wanted = { haproxy: 'haproxy', nginx: 'nginx-light', 'redis-server': 'redis-server', postgres: 'postgresql' };
// Debian puts both in /usr/sbin, which a non-root PATH often lacks.
const searchPath = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];

// Debian's postgresql keeps its binaries by major version, off PATH (postgres-server.ts finds them there).
const postgresBin = (binary) => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  return readdirSync(root).map((version) => join(root, version, 'bin', binary)).find((file) => existsSync(file));
};
const find = (binary) => (binary === 'postgres' ? postgresBin(binary) : searchPath.map((dir) => join(dir, binary)).find((file) => existsSync(file)));
const missing = Object.entries(wanted).filter(([binary]) => find(binary) === undefined);
if (missing.length === 0) process.exit(0);

const packages = missing.map(([, name]) => name);
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get') || (!root && !sudo)) {
  process.stderr.write(
    `install-proxies: the process tests need ${missing.map(([binary]) => binary).join(' and ')}, and this script can only ` +
      `install them with apt-get as root. Install ${packages.join(' ')} (Debian/Ubuntu), or haproxy and nginx by other means, then run npm test again.\n`,
  );
  process.exit(1);
}

const run = (args) => {
  const command = sudo ? ['sudo', '-n', ...args] : args;
  process.stdout.write(`install-proxies: ${command.join(' ')}\n`);
  // DEBIAN_FRONTEND: no prompt. A machine with policy-rc.d (containers, CI) does not start the
  // packages' system services; a desktop with systemd starts them, as any apt install would.
  const result = spawnSync(command[0], command.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status !== 0) {
    process.stderr.write(`install-proxies: ${command.join(' ')} failed (exit ${result.status ?? result.signal})\n`);
    process.exit(1);
  }
};
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
const stillMissing = Object.keys(wanted).filter((binary) => find(binary) === undefined);
if (stillMissing.length > 0) {
  process.stderr.write(`install-proxies: ${stillMissing.join(' and ')} still not found after installing ${packages.join(' ')}\n`);
  process.exit(1);
}

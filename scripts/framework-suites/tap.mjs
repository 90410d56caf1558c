// Reads the TAP that node:test (`--test-reporter=tap`) and tap 16 print, into one outcome per test.

/** @typedef {'pass' | 'fail' | 'skip' | 'todo'} Outcome */

const resultLine = /^(\s*)(not ok|ok)\b(?: \d+)?(?: - )?(.*)$/;
const subtestLine = /^(\s*)# Subtest: (.*)$/;

/**
 * Every test result in a TAP stream, nested names joined with ' > ', with its outcome. A name
 * that repeats under the same parent gets ' #2', ' #3'... so that each id is unique.
 * @param {string} text
 * @returns {Map<string, Outcome>}
 */
export function parseTap(text) {
  const results = new Map();
  const names = [];
  let yamlStart;
  let yamlEnd;
  for (const line of text.split('\n')) {
    if (yamlEnd !== undefined) {
      if (line === yamlEnd) yamlEnd = undefined;
      continue;
    }
    if (yamlStart !== undefined) {
      // A YAML diagnostic block (duration, error, stack) may follow a result, indented two spaces more.
      const opens = line === yamlStart;
      yamlEnd = opens ? `${yamlStart.slice(0, -3)}...` : undefined;
      yamlStart = undefined;
      if (opens) continue;
    }
    const subtest = subtestLine.exec(line);
    if (subtest !== null) {
      const level = subtest[1].length >> 2;
      names.length = level;
      names[level] = unescape(subtest[2]);
      continue;
    }
    const result = resultLine.exec(line);
    if (result === null) continue;
    const indent = result[1];
    const level = indent.length >> 2;
    const { name, directive } = splitDirective(result[3]);
    const path = [...names.slice(0, level), name].join(' > ');
    names.length = level;
    let id = path;
    for (let n = 2; results.has(id); n++) id = `${path} #${n}`;
    results.set(id, outcomeOf(result[2], directive));
    yamlStart = `${indent}  ---`;
  }
  return results;
}

function splitDirective(rest) {
  // "name # SKIP reason", "name # TODO", tap 16's "name # time=12ms"; '\#' is an escaped '#'.
  const match = /^(.*?)(?<!\\) # (.*)$/.exec(rest);
  if (match === null) return { name: unescape(rest.trim()), directive: '' };
  return { name: unescape(match[1].trim()), directive: match[2].trim() };
}

function outcomeOf(status, directive) {
  if (/^skip\b/i.test(directive)) return 'skip';
  if (/^todo\b/i.test(directive)) return 'todo';
  return status === 'ok' ? 'pass' : 'fail';
}

function unescape(name) {
  return name.replace(/\\#/g, '#').replace(/\\\\/g, '\\');
}

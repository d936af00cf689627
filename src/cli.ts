/**
 * Command-line entry: `lwt-sidecar <command> [options]`. Each command lives in
 * src/commands/<name>.ts and parses its own options; this file only dispatches.
 */

import { formatError, isSidecarError } from './errors';
import type { CommandIO } from './commands/common';

type Command = (args: string[], io: CommandIO) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Command }> = {
  check: { summary: 'validate an Apache configuration and list its lwt-wsapi scopes', load: () => require('./commands/check').run },
  resolve: { summary: 'show how one request maps to a script', load: () => require('./commands/resolve').run },
  request: { summary: 'run one request in-process and print the raw HTTP response', load: () => require('./commands/request').run },
  serve: { summary: 'serve the requests Apache forwards with mod_proxy', load: () => require('./commands/serve').run },
};

export function usage(): string {
  const lines = ['usage: lwt-sidecar <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push('', 'Run `lwt-sidecar <command> --help` for the options of a command.');
  return lines.join('\n') + '\n';
}

export async function main(argv: string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    io.stdout.write(`${require('../../package.json').version}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr.write(`lwt-sidecar: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.load()(rest, io);
  } catch (err) {
    // Known errors print as `file:line: message`; anything else is a bug and keeps its stack.
    if (isSidecarError(err)) io.stderr.write(`lwt-sidecar: ${formatError(err)}\n`);
    else io.stderr.write(`lwt-sidecar: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    return 1;
  }
}

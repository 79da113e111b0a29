// Dispatches `nitro-sandbox <command words> [options]` to the command that owns those words.
import { parseArgs } from 'node:util';
import { UsageError, type CliIo } from './command.ts';
import { commands, type CommandEntry } from './commands/index.ts';
import { nitroCliError } from './nitro-errors.ts';

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'nitro-sandbox: a local stand-in for AWS Nitro Enclaves and attestation-gated AWS KMS',
    '',
    'Usage: nitro-sandbox <command> [options]      (nitro-sandbox <command> --help for details)',
    '',
    'Commands:',
    ...lines,
    '',
  ].join('\n');
}

function findCommand(argv: readonly string[]): { entry: CommandEntry; rest: string[] } | undefined {
  // Longest match first, so `kms serve` wins over a hypothetical `kms`.
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const c of sorted) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { entry: c, rest: argv.slice(words.length) };
  }
  return undefined;
}

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(topHelp());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`nitro-sandbox: unknown command '${argv[0]}'\n\n${topHelp()}`);
    return 2;
  }
  const { entry, rest } = found;
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return 0;
  }
  try {
    const parsed = parseArgs({
      args: rest,
      options: command.options,
      strict: true,
      allowPositionals: (command.positionals?.max ?? 0) > 0,
    });
    const n = parsed.positionals.length;
    if (command.positionals && (n < command.positionals.min || n > command.positionals.max)) {
      throw new UsageError(`expected ${command.positionals.min}–${command.positionals.max} arguments, got ${n}`);
    }
    return await command.run({ values: parsed.values, positionals: parsed.positionals }, io);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      io.err(`nitro-sandbox ${entry.name}: ${e.message}\nRun 'nitro-sandbox ${entry.name} --help' for usage.\n`);
      return 2;
    }
    const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : 'ERR_UNEXPECTED';
    const message = e instanceof Error ? e.message : String(e);
    io.err(command.nitroCli ? nitroCliError(code, message) : `nitro-sandbox ${entry.name}: ${code}: ${message}\n`);
    return 1;
  }
}

// `nitro-sandbox terminate-enclave (--enclave-id I | --enclave-name N | --all)`: as nitro-cli, one
// `{EnclaveName, EnclaveID, Terminated}` JSON object per terminated enclave.
import { defaultRuntimeDir, EnclaveNotFoundError } from '../../index.ts';
import { findDaemon, type Target } from '../../daemon/index.ts';
import { UsageError, flagOpt, json, stringOpt, type Command, type ParsedArgs } from '../command.ts';
import { ENCLAVE_ID } from '../../host.ts';


/** `--enclave-id` / `--enclave-name` (and `--all` where allowed): exactly one. */
export function enclaveTarget(args: ParsedArgs, allowAll: boolean): Target | 'all' {
  const id = stringOpt(args, 'enclave-id');
  const name = stringOpt(args, 'enclave-name');
  const all = allowAll && flagOpt(args, 'all');
  const given = [id !== undefined, name !== undefined, all].filter(Boolean).length;
  const choices = allowAll ? '--enclave-id, --enclave-name or --all' : '--enclave-id or --enclave-name';
  if (given !== 1) throw new UsageError(`give exactly one of ${choices}`);
  if (all) return 'all';
  if (id !== undefined) {
    if (!ENCLAVE_ID.test(id)) throw new UsageError(`--enclave-id must look like i-1234567890abcdef0-enc9876543210abcdef, got '${id}'`);
    return { id };
  }
  return { name: name! };
}

/** What `console` or `terminate-enclave` of one enclave answers when no host daemon runs. */
export function noDaemonNoEnclave(target: Target): EnclaveNotFoundError {
  return new EnclaveNotFoundError(`no running enclave with ${'id' in target ? `id ${target.id}` : `name ${target.name}`} (no host daemon is running)`);
}

export const terminateEnclave: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox terminate-enclave (--enclave-id ID | --enclave-name NAME | --all)

Terminates (SIGKILL: an enclave is destroyed, not asked) and prints, as nitro-cli does,
"Successfully terminated enclave ID." on stderr and on stdout
  {EnclaveName, EnclaveID, Terminated}
--all prints a JSON array of such objects, [] when none runs (nitro-cli prints --all's replies as
one array). An unknown id or name is ERR_ENCLAVE_NOT_FOUND (exit 1).

Options:
  --enclave-id ID       e.g. i-1234567890abcdef0-enc9876543210abcdef
  --enclave-name NAME   the name given at run-enclave (or the image's name)
  --all                 every enclave of the host daemon
`,
  options: { 'enclave-id': { type: 'string' }, 'enclave-name': { type: 'string' }, all: { type: 'boolean' } },
  async run(args, io) {
    const target = enclaveTarget(args, true);
    const client = await findDaemon(defaultRuntimeDir());
    if (!client) {
      if (target === 'all') {
        io.out(json([]));
        return 0;
      }
      throw noDaemonNoEnclave(target);
    }
    const results = await client.terminate(target);
    // nitro-cli's enclave process writes this line to the CLI's stderr (enclave_proc/commands.rs).
    for (const r of results) io.err(`Successfully terminated enclave ${r.EnclaveID}.\n`);
    if (target === 'all') io.out(json(results));
    else for (const r of results) io.out(json(r));
    return 0;
  },
};

// `nitro-sandbox run-enclave`: starts an enclave from an image file, owned by the host daemon (which
// the first run starts), and prints nitro-cli's run-enclave JSON once the enclave is ready.
// Flags and the `--config` JSON file follow nitro-cli (src/common/commands_parser.rs, create_app!):
// --config conflicts with every other enclave setting, one of --cpu-count / --cpu-ids is required,
// --memory takes an optional M/G/T suffix, --attach-console implies debug mode, CID 0 means auto.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readImageFile } from '../../../enclave/index.ts';
import { defaultRuntimeDir, parseEnclaveCid, type RunOptions } from '../../index.ts';
import { ensureDaemon, RunConfigError } from '../../daemon/index.ts';
import { UsageError, flagOpt, json, listOpt, stringOpt, type CliIo, type Command, type ParsedArgs } from '../command.ts';
import { streamConsole } from './console.ts';

/** What the flags or the --config file ask for: the image file, the console, and the host's RunOptions. */
interface RunSettings extends Omit<RunOptions, 'allowWeakerIsolation'> {
  readonly eifPath: string;
  readonly debugMode: boolean;
  readonly attachConsole: boolean;
}

/** `--memory`: MiB, or a number with nitro-cli's M/G/T size indicator. */
export function parseMemory(text: string): number {
  const m = /^(\d{1,12})([MmGgTt]?)$/.exec(text);
  if (!m) throw new UsageError(`--memory must be a number of MiB, optionally with M, G or T, got '${text}'`);
  const unit = { '': 1, m: 1, g: 1024, t: 1024 * 1024 }[m[2]!.toLowerCase() as '' | 'm' | 'g' | 't'];
  const mib = Number(m[1]) * unit;
  if (mib > 2 ** 40) throw new UsageError(`--memory ${text} is more than any machine has`);
  return mib;
}

function parseCpuIds(items: readonly string[]): number[] {
  const ids: number[] = [];
  for (const item of items) {
    for (const part of item.split(',')) {
      if (!/^\d{1,5}$/.test(part)) throw new UsageError(`--cpu-ids takes CPU numbers separated by commas, got '${item}'`);
      ids.push(Number(part));
    }
  }
  return ids;
}

/** `--enclave-cid`: 0 asks for an automatic CID, as in nitro-cli; otherwise nitro-cli's CID rules. */
function parseCid(text: string, io: CliIo): number | undefined {
  if (/^0+$/.test(text)) {
    io.err('The enclave CID will be auto-generated as the provided CID is 0\n');
    return undefined;
  }
  return parseEnclaveCid(text);
}

const CONFIG_KEYS = ['eif_path', 'memory_mib', 'cpu_count', 'cpu_ids', 'enclave_cid', 'debug_mode', 'attach_console', 'enclave_name'] as const;

/** Reads nitro-cli's run-enclave JSON config (RunEnclavesArgs); unknown keys and wrong types are refused. */
function readRunConfig(path: string, io: CliIo): RunSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RunConfigError(`--config: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new RunConfigError(`--config: ${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new RunConfigError(`--config: ${path} must hold a JSON object`);
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(k)) throw new RunConfigError(`--config: unknown key '${k}' (known: ${CONFIG_KEYS.join(', ')})`);
  }
  const uint = (k: string, max: number): number | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new RunConfigError(`--config: '${k}' must be a non-negative integer ≤ ${max}`);
    return v;
  };
  const bool = (k: string): boolean => {
    const v = o[k];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw new RunConfigError(`--config: '${k}' must be true or false`);
    return v;
  };
  if (typeof o.eif_path !== 'string' || o.eif_path.length === 0) throw new RunConfigError("--config: 'eif_path' (a string) is required");
  const memoryMiB = uint('memory_mib', 2 ** 40);
  if (memoryMiB === undefined) throw new RunConfigError("--config: 'memory_mib' (an integer) is required");
  const cpuCount = uint('cpu_count', 0xffff);
  let cpuIds: number[] | undefined;
  if (o.cpu_ids !== undefined && o.cpu_ids !== null) {
    if (!Array.isArray(o.cpu_ids) || o.cpu_ids.some((c) => typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0xffff)) {
      throw new RunConfigError("--config: 'cpu_ids' must be an array of CPU numbers");
    }
    cpuIds = o.cpu_ids as number[];
  }
  // nitro-cli: "Missing both `cpu-count` and `cpu-ids`" / "cannot be used together".
  if (cpuCount === undefined && cpuIds === undefined) throw new RunConfigError("--config: one of 'cpu_count' or 'cpu_ids' is required");
  if (cpuCount !== undefined && cpuIds !== undefined) throw new RunConfigError("--config: 'cpu_count' and 'cpu_ids' cannot be used together");
  const cidNumber = uint('enclave_cid', 2 ** 53);
  const cid = cidNumber === undefined ? undefined : parseCid(String(cidNumber), io);
  const name = o.enclave_name;
  if (name !== undefined && name !== null && typeof name !== 'string') throw new RunConfigError("--config: 'enclave_name' must be a string");
  const attachConsole = bool('attach_console');
  // A relative eif_path is opened as given (from the working directory), as nitro-cli does.
  return {
    eifPath: o.eif_path,
    memoryMiB,
    ...(cpuCount !== undefined ? { cpuCount } : {}),
    ...(cpuIds !== undefined ? { cpuIds } : {}),
    ...(cid !== undefined ? { cid } : {}),
    // nitro-cli: "attach_console implies debug_mode".
    debugMode: bool('debug_mode') || attachConsole,
    attachConsole,
    ...(typeof name === 'string' ? { name } : {}),
  };
}

const FLAG_SETTINGS = ['eif-path', 'memory', 'cpu-count', 'cpu-ids', 'enclave-cid', 'debug-mode', 'enclave-name'] as const;

function settingsFromFlags(args: ParsedArgs, io: CliIo): RunSettings {
  const eifPath = stringOpt(args, 'eif-path');
  const memory = stringOpt(args, 'memory');
  if (eifPath === undefined) throw new UsageError('--eif-path is required (or --config)');
  if (memory === undefined) throw new UsageError('--memory is required (or --config)');
  const countText = stringOpt(args, 'cpu-count');
  const idItems = listOpt(args, 'cpu-ids');
  if (countText === undefined && idItems.length === 0) throw new UsageError('one of --cpu-count or --cpu-ids is required');
  if (countText !== undefined && idItems.length > 0) throw new UsageError('--cpu-count and --cpu-ids cannot be used together');
  let cpuCount: number | undefined;
  if (countText !== undefined) {
    if (!/^\d{1,5}$/.test(countText) || Number(countText) < 1) throw new UsageError(`--cpu-count must be a positive whole number, got '${countText}'`);
    cpuCount = Number(countText);
  }
  const cidText = stringOpt(args, 'enclave-cid');
  const cid = cidText === undefined ? undefined : parseCid(cidText, io);
  const name = stringOpt(args, 'enclave-name');
  const attachConsole = flagOpt(args, 'attach-console');
  return {
    eifPath,
    memoryMiB: parseMemory(memory),
    ...(cpuCount !== undefined ? { cpuCount } : {}),
    ...(idItems.length > 0 ? { cpuIds: parseCpuIds(idItems) } : {}),
    ...(cid !== undefined ? { cid } : {}),
    debugMode: flagOpt(args, 'debug-mode') || attachConsole,
    attachConsole,
    ...(name !== undefined ? { name } : {}),
  };
}

function readImage(path: string): Uint8Array {
  try {
    return readImageFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError(`--eif-path: cannot read ${path} (${code})`);
    throw e;
  }
}

export const runEnclave: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox run-enclave --eif-path FILE --memory MIB (--cpu-count N | --cpu-ids ID[,ID...])
                                 [--enclave-cid CID] [--debug-mode] [--attach-console]
                                 [--enclave-name NAME] [--allow-weaker-isolation] [--data-dir DIR]
       nitro-sandbox run-enclave --config FILE.json [--attach-console] [--allow-weaker-isolation] [--data-dir DIR]

Starts an isolated enclave process and returns once its app is ready, printing nitro-cli's JSON:
  {EnclaveName, EnclaveID, ProcessID, EnclaveCID, NumberOfCPUs, CPUIDs, MemoryMiB}
and, as nitro-cli, "Start allocating memory..." and "Started enclave with enclave-cid: …, memory:
… MiB, cpu-ids: […]" on stderr. A real EIF (nitro-cli build-enclave) cannot run here
(ERR_IMAGE_EIF_NOT_RUNNABLE): describe-eif, pcr and sign-eif read it.
The enclave keeps running after this command exits: it is owned by the host daemon, which the
first run-enclave starts in the background (state under $NITRO_SANDBOX_RUNTIME_DIR, else
$XDG_RUNTIME_DIR/nitro-sandbox, else run/ in the data directory; a directory another user
controls is refused). The daemon exits by itself about 10 s after its last enclave ends.

Options:
  --eif-path FILE            the enclave image (nitro-sandbox build-enclave)
  --memory MIB               memory in MiB (suffixes M, G, T accepted): the kernel's limit (cgroup),
                             the heap limit and the RSS watchdog
  --cpu-count N              number of CPUs (the ones the fewest enclaves use; kernel-enforced)
  --cpu-ids ID[,ID...]       exact CPUs (repeatable); not with --cpu-count
  --enclave-cid CID          vsock CID; 0 or absent = automatic; 1, 2, 3 and >= 2^32-1 are refused
  --debug-mode               console readable, PCR0-2 read as zero in attestation documents
  --attach-console           print the console after starting (implies --debug-mode)
  --enclave-name NAME        name for describe/terminate/console (default: the image's name)
  --config FILE.json         nitro-cli's JSON config: eif_path, memory_mib, cpu_count | cpu_ids,
                             enclave_cid, debug_mode, attach_console, enclave_name (no other key);
                             not combinable with the flags above
  --allow-weaker-isolation   run even if a layer the image requires is unavailable on this machine
                             (without it such a run is refused with ERR_ISOLATION_UNAVAILABLE); a
                             warning on stderr names every layer the enclave runs without
  --data-dir DIR             PKI directory for the daemon this command starts (default
                             $NITRO_SANDBOX_HOME or ~/.nitro-sandbox); a running daemon with another
                             data directory is refused

Exit status: 0 started, 1 the enclave could not start (CODE: message on stderr), 2 usage error.
`,
  options: {
    'eif-path': { type: 'string' },
    memory: { type: 'string' },
    'cpu-count': { type: 'string' },
    'cpu-ids': { type: 'string', multiple: true },
    'enclave-cid': { type: 'string' },
    'debug-mode': { type: 'boolean' },
    'attach-console': { type: 'boolean' },
    'enclave-name': { type: 'string' },
    config: { type: 'string' },
    'allow-weaker-isolation': { type: 'boolean' },
    'data-dir': { type: 'string' },
  },
  async run(args, io) {
    const configPath = stringOpt(args, 'config');
    let settings: RunSettings;
    if (configPath !== undefined) {
      // nitro-cli: every enclave setting `conflicts_with("config")`.
      for (const f of FLAG_SETTINGS) if (args.values[f] !== undefined) throw new UsageError(`--config cannot be combined with --${f}`);
      settings = readRunConfig(configPath, io);
      if (flagOpt(args, 'attach-console')) settings = { ...settings, attachConsole: true, debugMode: true };
    } else {
      settings = settingsFromFlags(args, io);
    }
    const image = readImage(settings.eifPath);
    const dataDir = stringOpt(args, 'data-dir');
    const client = await ensureDaemon({ runtimeDir: defaultRuntimeDir(), ...(dataDir !== undefined ? { dataDir: resolve(dataDir) } : {}) });
    const { eifPath: _eifPath, attachConsole, ...options } = settings;
    const allowWeakerIsolation = flagOpt(args, 'allow-weaker-isolation');
    // nitro-cli's progress lines on stderr (enclave_proc/resource_manager.rs init_memory, start).
    io.err('Start allocating memory...\n');
    const result = await client.runEnclave(image, { ...options, allowWeakerIsolation });
    io.err(`Started enclave with enclave-cid: ${result.EnclaveCID}, memory: ${result.MemoryMiB} MiB, cpu-ids: [${result.CPUIDs.join(', ')}]\n`);
    io.out(json(result));
    // Say which isolation layers this enclave runs without: required ones only with
    // --allow-weaker-isolation (planLaunch refuses otherwise), preferred ones wherever missing.
    const weakened = (await client.describeEnclaves()).find((e) => e.EnclaveID === result.EnclaveID)?.Isolation.Weakened ?? [];
    if (weakened.length > 0) io.err(`warning: enclave ${result.EnclaveID} runs with weaker isolation: ${weakened.join('; ')}\n`);
    if (attachConsole) await streamConsole(client, { id: result.EnclaveID }, io, result.EnclaveCID);
    return 0;
  },
};

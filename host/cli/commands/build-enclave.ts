// `nitro-sandbox build-enclave`: as `nitro-cli build-enclave`, but from a JS/TS entry module instead
// of a Docker image. Prints nitro-cli's `{"Measurements": …}` JSON (aws-nitro-enclaves-cli,
// `EnclaveBuildInfo`) and, like it, progress lines on standard error.
import { writeFileSync } from 'node:fs';
import { buildImage, nitroMeasurements, BuildInvalidOptionError, type JsonValue } from '../../../enclave/index.ts';
import { UsageError, intOpt, json, listOpt, readOptionFile, requiredOpt, stringOpt, type Command } from '../command.ts';

function readText(path: string, option: string): string {
  return readOptionFile(option, path).toString('utf8');
}

function readMetadata(path: string): Record<string, JsonValue> {
  let value: unknown;
  try {
    value = JSON.parse(readText(path, 'metadata'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new BuildInvalidOptionError(`--metadata: ${path} is not valid JSON`, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BuildInvalidOptionError(`--metadata: ${path} must hold a JSON object`);
  return value as Record<string, JsonValue>;
}

export const buildEnclave: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox build-enclave --entry FILE --output-file FILE [--name N] [--version V]
                                 [--metadata JSON_FILE] [--signing-certificate PEM --private-key PEM]
                                 [--memory MiB] [--cpu-count N] [--vsock-port PORT ...]
                                 [--project-root DIR]

Bundles FILE (.ts, .mts, .js or .mjs) with all its imports into one ES module (esbuild), adds the
runtime description (Node version, isolation flags), the bootstrap and a manifest, and writes the
image. Prints the measurements as nitro-cli does:
  {"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": …, "PCR1": …, "PCR2": …}}
PCR0 = whole image, PCR1 = runtime + bootstrap, PCR2 = application, PCR8 = signing certificate
(only when signed). The same sources always give the same bytes and PCRs, from any directory.

The entry must export its entry point: export default async function main(ctx) { … }

The build reads only the app's project: the project root (--project-root, else the nearest folder
at or above the entry holding a package.json, else the entry's folder) and, under its
node_modules, the packages its package-lock.json lists at the versions it records. Any other
import (an absolute path, '../' past the root, a symlink out, a file: URL, a text or JSON import
of such a file) and anything in the sandbox data directory ($NITRO_SANDBOX_HOME or
~/.nitro-sandbox, or any folder holding .nitro-sandbox-data) fails with ERR_BUILD_IMPORT_REFUSED
naming the import and its importer. describe-eif lists the files that went in (Files).

Options:
  --entry FILE                  the app's entry module
  --output-file FILE            where to write the image
  --name N                      image name (default: the entry's name, or its folder's for main/index)
  --version V                   image version (default: 1.0)
  --metadata JSON_FILE          custom metadata, a JSON object, shown by describe-eif
  --signing-certificate PEM     sign the image: X.509 certificate with an ECDSA P-384 key …
  --private-key PEM             … and its private key (both or neither); adds PCR8
  --memory MiB                  default memory for run-enclave (default: 512)
  --cpu-count N                 default CPU count for run-enclave (default: 2)
  --vsock-port PORT             a vsock port the app listens on; repeatable
  --project-root DIR            the only folder the build may read (with its locked node_modules)
`,
  options: {
    entry: { type: 'string' },
    'output-file': { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    metadata: { type: 'string' },
    'signing-certificate': { type: 'string' },
    'private-key': { type: 'string' },
    memory: { type: 'string' },
    'cpu-count': { type: 'string' },
    'vsock-port': { type: 'string', multiple: true },
    'project-root': { type: 'string' },
  },
  async run(args, io) {
    const entry = requiredOpt(args, 'entry');
    const output = requiredOpt(args, 'output-file');
    const certPath = stringOpt(args, 'signing-certificate');
    const keyPath = stringOpt(args, 'private-key');
    if ((certPath === undefined) !== (keyPath === undefined)) {
      throw new UsageError('--signing-certificate and --private-key go together');
    }
    const ports = listOpt(args, 'vsock-port').map((p) => {
      if (!/^\d+$/.test(p)) throw new UsageError(`--vsock-port must be a whole number, got '${p}'`);
      return Number(p);
    });
    const name = stringOpt(args, 'name');
    const version = stringOpt(args, 'version');
    const metadataPath = stringOpt(args, 'metadata');
    const memoryMiB = intOpt(args, 'memory', 64, 1024 * 1024);
    const cpuCount = intOpt(args, 'cpu-count', 1, 256);
    const projectRoot = stringOpt(args, 'project-root');
    io.err('Start building the Enclave Image...\n');
    const result = await buildImage({
      entry,
      ...(name !== undefined ? { name } : {}),
      ...(version !== undefined ? { version } : {}),
      ...(metadataPath !== undefined ? { metadata: readMetadata(metadataPath) } : {}),
      ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      ...(cpuCount !== undefined ? { cpuCount } : {}),
      vsockPorts: ports,
      ...(projectRoot !== undefined ? { projectRoot } : {}),
      ...(certPath !== undefined && keyPath !== undefined
        ? { signing: { certificate: readText(certPath, 'signing-certificate'), privateKey: readText(keyPath, 'private-key') } }
        : {}),
    });
    try {
      writeFileSync(output, result.image);
    } catch (e) {
      throw new UsageError(`--output-file: cannot write ${output} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    io.err('Enclave Image successfully created.\n');
    io.out(json({ Measurements: nitroMeasurements(result.measurements) }));
    return 0;
  },
};

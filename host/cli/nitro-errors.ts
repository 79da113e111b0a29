// nitro-cli's error format for the nitro-cli commands: a failure prints `[ Exx ] <description>`
// with nitro-cli's code for that kind of failure, then the help link nitro-cli prints
// (aws-nitro-enclaves-cli 1.5, src/common/document_errors.rs `ERROR_CODES`,
// `get_detailed_info`, `construct_help_link`; src/common/mod.rs `construct_error_message`). Our
// stable code and message follow the description, so scripts can match either. The mapping is
// this one table (README, "nitro-cli error codes"); a code missing from it is E00, as nitro-cli's
// unmapped errors. Usage mistakes are not mapped: nitro-cli's argument parser (clap) reports those
// with exit status 2 and no [ Exx ], and so does this CLI.

/** nitro-cli's codes used here, with the first sentence of nitro-cli's own description. */
export const NITRO_CLI_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  E00: 'Unspecified error.',
  E03: 'Invalid argument provided.',
  E11: 'Socket error.',
  E35: 'EIF file parsing error.',
  E36: 'Enclave boot failure.',
  E39: 'Enclave process connection failure.',
  E44: 'Enclave console connection failure.',
  E48: 'EIF building error.',
  E58: 'Naming error.',
  E59: 'EIF signature checker error.',
  E60: 'Signing error.',
});

/** Our error code → nitro-cli's, by what nitro-cli reports for the same failure. */
export const NITRO_CLI_ERROR_CODES: Readonly<Record<string, string>> = Object.freeze({
  // Reading an image or an EIF: nitro-cli's EifReader failures are EifParsingError.
  ERR_IMAGE_BAD_MAGIC: 'E35',
  ERR_IMAGE_TRUNCATED: 'E35',
  ERR_IMAGE_TOO_LARGE: 'E35',
  ERR_IMAGE_BAD_CHECKSUM: 'E35',
  ERR_IMAGE_UNKNOWN_SECTION: 'E35',
  ERR_IMAGE_UNSUPPORTED_VERSION: 'E35',
  ERR_IMAGE_MALFORMED: 'E35',
  // run-enclave's PcrSignatureChecker failures.
  ERR_IMAGE_BAD_SIGNATURE: 'E59',
  // nitro-cli would boot a real EIF; here the enclave cannot start from one.
  ERR_IMAGE_EIF_NOT_RUNNABLE: 'E36',
  ERR_RUNTIME_MISMATCH: 'E36',
  ERR_ENCLAVE_BOOT_FAILED: 'E36',
  ERR_ISOLATION_UNAVAILABLE: 'E36',
  ERR_APP_ENTRY_POINT: 'E36',
  ERR_APP_LOAD: 'E36',
  // build-enclave.
  ERR_BUILD_FAILED: 'E48',
  ERR_BUILD_INVALID_OPTION: 'E48',
  // sign-eif and signed builds: nitro-cli's EIFSigningError.
  ERR_SIGNING_KEY: 'E60',
  // Enclave arguments (CID, memory, CPUs, config file).
  ERR_INVALID_ARGUMENT: 'E03',
  ERR_VSOCK_INVALID_CID: 'E03',
  ERR_RUN_CONFIG: 'E03',
  // An enclave named or numbered that does not exist, or a name already taken (nitro-cli's
  // get_id_by_name: "No enclave matched the given name").
  ERR_ENCLAVE_NOT_FOUND: 'E58',
  ERR_ENCLAVE_CONFLICT: 'E58',
  ERR_CONSOLE_NOT_DEBUG_MODE: 'E44',
  // The host daemon, nitro-cli's enclave process.
  ERR_HOST_DAEMON: 'E39',
  ERR_DAEMON_BAD_REQUEST: 'E39',
  ERR_DAEMON_VERSION: 'E39',
  ERR_DAEMON_LISTENER: 'E11',
  ECONNREFUSED: 'E11',
  ECONNRESET: 'E11',
});

/** The `[ Exx ]` report of a failure with our `code` and `message`, as nitro-cli lays it out. */
export function nitroCliError(code: string, message: string): string {
  const e = NITRO_CLI_ERROR_CODES[code] ?? 'E00';
  return `[ ${e} ] ${NITRO_CLI_ERRORS[e] ?? ''} ${code}: ${message}\n\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#${e}\n`;
}

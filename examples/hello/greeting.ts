export function greeting(name: string, version: string): string {
  return `hello from ${name} ${version}, inside the enclave`;
}

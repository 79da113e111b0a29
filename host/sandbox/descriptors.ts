// Descriptors a process inherited from whoever started it. Node opens every descriptor of its own
// with O_CLOEXEC, so one without the flag above stderr came from outside (a shell redirection, a
// parent that forgot the flag) and would pass on to every child this process spawns, enclaves
// included (child_process does not close them; checked on Node 26.10). The daemon closes them
// when it starts; the launcher (launcher.c, --close-fds) closes every descriptor but 0-3 again
// for each enclave, which also covers a Host embedded in an application that holds such
// descriptors for its own use.
import { closeSync, readdirSync, readFileSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Descriptors above 2 without O_CLOEXEC, from /proc/self/fdinfo (empty where /proc is missing). */
export function inheritedDescriptors(): number[] {
  let fds: number[];
  try {
    fds = readdirSync('/proc/self/fdinfo').map(Number).filter((fd) => fd > 2);
  } catch {
    return [];
  }
  return fds.filter((fd) => {
    try {
      const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      return flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0;
    } catch {
      return false; // closed meanwhile (the readdir's own descriptor among them)
    }
  });
}

/** Closes what inheritedDescriptors() finds; returns the numbers closed. */
export function closeInheritedDescriptors(): number[] {
  const fds = inheritedDescriptors();
  for (const fd of fds) closeSync(fd);
  return fds;
}

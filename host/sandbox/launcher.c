/*
 * nitro-sandbox enclave launcher: the kernel layers of an enclave process, applied between the
 * host's spawn() and the enclave's Node.
 *
 * Why C: Node cannot call unshare(2), setresuid(2), capset(2), prctl(2) or seccomp(2), and no
 * tool on a stock Linux applies all of them in one exec (util-linux's unshare cannot map an
 * unprivileged outside uid for a root caller without newuidmap, setpriv has no seccomp option,
 * neither closes inherited descriptors). The filter's syscall numbers must also be the build
 * machine's own, which its C headers know exactly. So this file is kept as source in the
 * repository and compiled by the machine's `cc` on first use into the host's private directory
 * (host/sandbox/launcher.ts; cached by a hash of this source and the compiler). No binary comes
 * from outside: where there is no compiler, the host reports every layer below as missing and a
 * demanded one refuses the launch (docs/threat-model.md).
 *
 * The host spawns:  launcher [options] -- PROGRAM ARG...   with fd 3 = the enclave's channel.
 * The launcher (P) prepares itself, then clones the enclave (C) into new namespaces; P stays
 * outside, waits for C and exits the way C did, so the host's ChildProcess sees the enclave's
 * fate. Options, each one layer (host/isolation.ts chooses them; tests use them one by one):
 *
 *   --close-fds            close every descriptor but 0-3 (close_range(2)), and put /dev/null on
 *                          fd 0: the enclave reads nothing its host's own stdin holds
 *   --quiet                /dev/null on fds 1 and 2 too (outside debug mode nothing the enclave
 *                          writes leaves it, whatever the host passed)
 *   --session              C runs in a new session and process group (setsid(2)): kill(0, sig)
 *                          and terminal signals reach nothing outside it
 *   --cgroup DIR           join DIR (write our pid to DIR/cgroup.procs) before cloning, so the
 *                          enclave is born inside its memory/CPU/pids limits (repeatable)
 *   --cpus LIST            sched_setaffinity(2) to LIST ("0,2,3")
 *   --rlimit NAME=N        setrlimit(2) soft = hard = N for core, fsize, nofile, nproc, memlock,
 *                          msgqueue, nice, rtprio, sigpending (repeatable)
 *   --unshare LIST         new namespaces for C: user, net, pid, mount, ipc, uts (comma list)
 *   --ids UID:GID[:OUTUID:OUTGID]
 *                          C runs as UID:GID. With a user namespace, UID:GID inside maps to
 *                          OUTUID:OUTGID outside (P writes the maps; only root may name another
 *                          uid than its own); without one, setresuid/setresgid to UID:GID.
 *   --hostname NAME        the UTS namespace's host name
 *   --root DIR             C's root directory is a read-only, nosuid, nodev bind of DIR (a new
 *                          mount namespace is required)
 *   --no-privileges        empty capability sets (effective, permitted, inheritable, bounding,
 *                          ambient) and no_new_privs
 *   --seccomp              a deny-by-default syscall allowlist for Node (see install_seccomp)
 *   --oom-score-adj N      C's oom_score_adj: the kernel's OOM killer takes the enclave first
 *   --probe                do everything, then exit 0 instead of exec'ing PROGRAM
 *
 * A failed step exits with 120 + its step number (enum step) and one line on stderr, before the
 * enclave's code ever runs; the host maps the number back to the step's name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

enum step {
  STEP_USAGE = 0,
  STEP_CLOSE_FDS,
  STEP_PARENT_DEATH,
  STEP_SESSION,
  STEP_CGROUP,
  STEP_CPUS,
  STEP_RLIMIT,
  STEP_ROOT_OPEN,
  STEP_CLONE,
  STEP_ID_MAP,
  STEP_MOUNT,
  STEP_HOSTNAME,
  STEP_IDS,
  STEP_CAPABILITIES,
  STEP_NO_NEW_PRIVS,
  STEP_SECCOMP,
  STEP_EXEC,
  STEP_OOM_SCORE,
};

static const char *const STEP_NAMES[] = {
    "usage", "close-fds", "parent-death", "session", "cgroup", "cpus", "rlimit", "root-open", "clone", "id-map",
    "mount", "hostname", "ids", "capabilities", "no-new-privs", "seccomp", "exec", "oom-score",
};

static void fail(enum step s, const char *what) {
  int e = errno;
  char line[512];
  int n = snprintf(line, sizeof line, "nitro-sandbox-launcher: %s: %s: %s\n", STEP_NAMES[s], what, e ? strerror(e) : "failed");
  if (n > 0) {
    ssize_t ignored = write(2, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
    (void)ignored;
  }
  _exit(120 + (int)s);
}

#define MAX_CGROUPS 8
#define MAX_RLIMITS 16

struct options {
  int close_fds, quiet, session, no_privileges, seccomp, probe;
  const char *cgroups[MAX_CGROUPS];
  int ncgroups;
  const char *cpus;
  struct {
    int resource;
    rlim_t value;
  } rlimits[MAX_RLIMITS];
  int nrlimits;
  int ns_flags;
  int has_ids, in_uid, in_gid, out_uid, out_gid, has_out;
  const char *hostname;
  const char *root;
  int oom_score_adj, has_oom;
  char **argv; /* PROGRAM ARG... */
};

static long parse_long(const char *s, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) {
    errno = EINVAL;
    fail(STEP_USAGE, s);
  }
  return v;
}

static int rlimit_resource(const char *name) {
  static const struct {
    const char *name;
    int resource;
  } table[] = {
      {"core", RLIMIT_CORE},       {"fsize", RLIMIT_FSIZE},           {"nofile", RLIMIT_NOFILE},
      {"nproc", RLIMIT_NPROC},     {"memlock", RLIMIT_MEMLOCK},       {"msgqueue", RLIMIT_MSGQUEUE},
      {"nice", RLIMIT_NICE},       {"rtprio", RLIMIT_RTPRIO},         {"sigpending", RLIMIT_SIGPENDING},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].name, name) == 0) return table[i].resource;
  errno = EINVAL;
  fail(STEP_USAGE, name);
  return -1;
}

static int ns_flag(const char *name, size_t len) {
  static const struct {
    const char *name;
    int flag;
  } table[] = {{"user", CLONE_NEWUSER}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID},
               {"mount", CLONE_NEWNS},  {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0) return table[i].flag;
  errno = EINVAL;
  fail(STEP_USAGE, name);
  return 0;
}

static void parse(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "--close-fds") == 0) o->close_fds = 1;
    else if (strcmp(a, "--quiet") == 0) o->quiet = 1;
    else if (strcmp(a, "--session") == 0) o->session = 1;
    else if (strcmp(a, "--no-privileges") == 0) o->no_privileges = 1;
    else if (strcmp(a, "--seccomp") == 0) o->seccomp = 1;
    else if (strcmp(a, "--probe") == 0) o->probe = 1;
    else if (!v) {
      errno = EINVAL;
      fail(STEP_USAGE, a);
    } else if (strcmp(a, "--cgroup") == 0) {
      if (o->ncgroups == MAX_CGROUPS) fail(STEP_USAGE, "too many --cgroup");
      o->cgroups[o->ncgroups++] = v, i++;
    } else if (strcmp(a, "--cpus") == 0) o->cpus = v, i++;
    else if (strcmp(a, "--rlimit") == 0) {
      const char *eq = strchr(v, '=');
      if (!eq || o->nrlimits == MAX_RLIMITS) fail(STEP_USAGE, v);
      char name[32];
      size_t n = (size_t)(eq - v);
      if (n >= sizeof name) fail(STEP_USAGE, v);
      memcpy(name, v, n);
      name[n] = 0;
      o->rlimits[o->nrlimits].resource = rlimit_resource(name);
      o->rlimits[o->nrlimits].value = (rlim_t)parse_long(eq + 1, 0, LONG_MAX);
      o->nrlimits++, i++;
    } else if (strcmp(a, "--unshare") == 0) {
      for (const char *p = v; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        o->ns_flags |= ns_flag(p, n);
        p += n + (comma ? 1 : 0);
      }
      i++;
    } else if (strcmp(a, "--ids") == 0) {
      long ids[4];
      int n = 0;
      char buf[96];
      if (strlen(v) >= sizeof buf) fail(STEP_USAGE, v);
      strcpy(buf, v);
      for (char *save = NULL, *tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        if (n == 4) fail(STEP_USAGE, v);
        ids[n++] = parse_long(tok, 0, 0xfffffffeL);
      }
      if (n != 2 && n != 4) fail(STEP_USAGE, v);
      o->has_ids = 1, o->in_uid = (int)ids[0], o->in_gid = (int)ids[1];
      if (n == 4) o->has_out = 1, o->out_uid = (int)ids[2], o->out_gid = (int)ids[3];
      i++;
    } else if (strcmp(a, "--hostname") == 0) o->hostname = v, i++;
    else if (strcmp(a, "--root") == 0) o->root = v, i++;
    else if (strcmp(a, "--oom-score-adj") == 0) o->has_oom = 1, o->oom_score_adj = (int)parse_long(v, -1000, 1000), i++;
    else {
      errno = EINVAL;
      fail(STEP_USAGE, a);
    }
  }
  if (i >= argc) fail(STEP_USAGE, "no program after --");
  o->argv = argv + i;
  if (o->root && !(o->ns_flags & CLONE_NEWNS)) fail(STEP_USAGE, "--root needs --unshare mount");
  if (o->hostname && !(o->ns_flags & CLONE_NEWUTS)) fail(STEP_USAGE, "--hostname needs --unshare uts");
  if ((o->ns_flags & CLONE_NEWUSER) && !o->has_ids) fail(STEP_USAGE, "--unshare user needs --ids");
}

/* ---- P: the launcher process the host spawned ------------------------------------------------ */

static void close_inherited(void) {
  if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0) return;
  /* Before Linux 5.9: every descriptor number up to the limit. */
  struct rlimit r;
  long max = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY ? (long)r.rlim_cur : 65536;
  for (long fd = 4; fd < max; fd++) close((int)fd);
}

/* /dev/null on `fd`, kept across exec. */
static void null_fd(int fd) {
  int n = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (n < 0) fail(STEP_CLOSE_FDS, "/dev/null");
  if (n == fd) {
    if (fcntl(fd, F_SETFD, 0) != 0) fail(STEP_CLOSE_FDS, "fcntl");
    return;
  }
  if (dup2(n, fd) < 0) fail(STEP_CLOSE_FDS, "dup2");
  close(n);
}

static void write_file(enum step s, const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(s, path);
  size_t n = strlen(text);
  if (write(fd, text, n) != (ssize_t)n) fail(s, path);
  if (close(fd) != 0) fail(s, path);
}

static void join_cgroup(const char *dir) {
  char path[PATH_MAX], pid[32];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) fail(STEP_CGROUP, dir);
  snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  write_file(STEP_CGROUP, path, pid);
}

static void set_cpus(const char *list) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const char *p = list; *p;) {
    char *end;
    errno = 0;
    long c = strtol(p, &end, 10);
    if (errno || end == p || c < 0 || c >= CPU_SETSIZE) {
      errno = EINVAL;
      fail(STEP_CPUS, list);
    }
    CPU_SET((int)c, &set);
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') {
      errno = EINVAL;
      fail(STEP_CPUS, list);
    }
  }
  if (sched_setaffinity(0, sizeof set, &set) != 0) fail(STEP_CPUS, list);
}

static void write_id_maps(pid_t child, const struct options *o) {
  char path[64], map[64];
  /* Without CAP_SETGID in our namespace the kernel demands setgroups be denied before gid_map. */
  if (geteuid() != 0) {
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)child);
    write_file(STEP_ID_MAP, path, "deny");
  }
  int out_uid = o->has_out ? o->out_uid : (int)geteuid();
  int out_gid = o->has_out ? o->out_gid : (int)getegid();
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
  snprintf(map, sizeof map, "%d %d 1\n", o->in_uid, out_uid);
  write_file(STEP_ID_MAP, path, map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
  snprintf(map, sizeof map, "%d %d 1\n", o->in_gid, out_gid);
  write_file(STEP_ID_MAP, path, map);
}

/* P's end: wait for C and leave the same way, so the host sees the enclave's exit or signal. */
static void wait_and_mirror(pid_t child) {
  int status;
  for (;;) {
    pid_t r = waitpid(child, &status, __WALL);
    if (r == child) break;
    if (r < 0 && errno != EINTR) _exit(120 + STEP_CLONE);
  }
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  signal(sig, SIG_DFL);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  raise(sig);
  _exit(128 + sig);
}

/* ---- C: the enclave before it becomes Node ---------------------------------------------------- */

static void make_root(int root_fd) {
  /* Nothing we mount may propagate back to the host's namespace. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(STEP_MOUNT, "make / private");
  /* A detached copy of DIR, made read-only, nosuid and nodev, then attached over DIR itself: the
   * descriptor API needs no path walk through directories the enclave's uid may not search. */
  int tree = (int)syscall(SYS_open_tree, root_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0) fail(STEP_MOUNT, "open_tree");
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) fail(STEP_MOUNT, "mount_setattr read-only");
  if (syscall(SYS_move_mount, tree, "", root_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) fail(STEP_MOUNT, "move_mount");
  if (fchdir(tree) != 0) fail(STEP_MOUNT, "fchdir");
  if (chroot(".") != 0) fail(STEP_MOUNT, "chroot");
  if (chdir("/") != 0) fail(STEP_MOUNT, "chdir /");
  close(tree);
  close(root_fd);
}

static void drop_bounding_and_ambient(void) {
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break; /* past the kernel's last capability */
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) fail(STEP_CAPABILITIES, "drop from the bounding set");
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail(STEP_CAPABILITIES, "clear ambient");
}

static void clear_capability_sets(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capset, &h, d) != 0) fail(STEP_CAPABILITIES, "capset");
}

static void set_ids(const struct options *o) {
  /* Supplementary groups go too, where the kernel lets us (a non-root caller's user namespace
   * has setgroups denied: its groups then stay, as unmapped ids). */
  if (setgroups(0, NULL) != 0 && errno != EPERM) fail(STEP_IDS, "setgroups");
  if (setresgid((gid_t)o->in_gid, (gid_t)o->in_gid, (gid_t)o->in_gid) != 0) fail(STEP_IDS, "setresgid");
  if (setresuid((uid_t)o->in_uid, (uid_t)o->in_uid, (uid_t)o->in_uid) != 0) fail(STEP_IDS, "setresuid");
}

/* ---- the syscall filter ----------------------------------------------------------------------- */

#if defined(__x86_64__)
#define FILTER_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FILTER_ARCH AUDIT_ARCH_AARCH64
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#endif

#define MAX_FILTER 1024
static struct sock_filter prog[MAX_FILTER];
static unsigned short plen;

static void emit(struct sock_filter f) {
  if (plen == MAX_FILTER) {
    errno = E2BIG;
    fail(STEP_SECCOMP, "filter too long");
  }
  prog[plen++] = f;
}
#define STMT(code, k) emit((struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) emit((struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)))
#define RET_ALLOW() STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define RET_ERRNO(e) STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* nr -> allow (A holds nr and is left alone). */
static void allow(int nr) {
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
  RET_ALLOW();
}

static void answer(int nr, int err) {
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
  RET_ERRNO(err);
}

/* nr -> allow iff the low 32 bits of args[arg] (an int or unsigned int argument, which the kernel
 * truncates to 32 bits itself) are one of values[]; otherwise EPERM. A block always returns. */
static void allow_if_arg_in(int nr, int arg, const unsigned *values, unsigned n) {
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, (unsigned char)(n + 3));
  STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(arg));
  for (unsigned j = 0; j < n; j++) JUMP(BPF_JMP | BPF_JEQ | BPF_K, values[j], (unsigned char)(n - j), 0);
  RET_ERRNO(EPERM);
  RET_ALLOW();
}

/* nr -> allow iff (low 32 bits of args[arg] & mask) == want; otherwise EPERM. */
static void allow_if_masked(int nr, int arg, unsigned mask, unsigned want) {
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 5);
  STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(arg));
  STMT(BPF_ALU | BPF_AND | BPF_K, mask);
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, want, 1, 0);
  RET_ERRNO(EPERM);
  RET_ALLOW();
}

/* nr -> allow iff args[0] is exactly the 64-bit value v (a pointer); otherwise EPERM. */
static void allow_if_arg0_is(int nr, uint64_t v) {
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 6);
  STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(v & 0xffffffffu), 0, 2);
  STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(0));
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(v >> 32), 1, 0);
  RET_ERRNO(EPERM);
  RET_ALLOW();
}

/*
 * What Node 26 needs, read off strace(1) of enclaves running every example app (threads, the
 * event loop, V8's JIT, crypto, timers, the channel on fd 3) plus the calls its error paths make
 * (abort, exit). Everything else is EPERM, so a route that needs the kernel to do something new
 * for the enclave (a socket, a process, a file written, a signal to another process, a new
 * namespace, ptrace, io_uring, BPF, keyrings, mounts) fails here even where every other layer
 * is missing. Arguments are checked where a call is needed in one form and dangerous in another.
 */
static void install_seccomp(const char *program, pid_t self) {
#ifndef FILTER_ARCH
  (void)program, (void)self;
  errno = ENOSYS;
  fail(STEP_SECCOMP, "no syscall filter for this architecture");
#else
  plen = 0;
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 1, 0);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
  /* The x32 ABI's numbers alias x86_64's with bit 30 set: none of them. */
  JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
  RET_ERRNO(EPERM);
#endif
  /* Hot paths first: the filter is a linear scan. */
  static const int plain[] = {
      SYS_futex, SYS_read, SYS_write, SYS_epoll_pwait, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise,
      SYS_getpid, SYS_gettid, SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_sched_yield,
      SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_rt_sigreturn, SYS_readv, SYS_writev, SYS_close, SYS_brk,
      SYS_getrandom, SYS_epoll_ctl, SYS_epoll_create1, SYS_eventfd2, SYS_pipe2, SYS_dup, SYS_dup3,
      SYS_fstat, SYS_newfstatat, SYS_statx, SYS_lseek, SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,
      SYS_getdents64, SYS_readlinkat, SYS_faccessat, SYS_getcwd, SYS_chdir, SYS_fchdir, SYS_statfs,
      SYS_fstatfs, SYS_mremap, SYS_msync, SYS_mincore, SYS_membarrier, SYS_rseq, SYS_set_robust_list,
      SYS_set_tid_address, SYS_sigaltstack, SYS_rt_sigsuspend, SYS_rt_sigpending, SYS_rt_sigtimedwait,
      SYS_exit, SYS_exit_group, SYS_wait4, SYS_waitid, SYS_restart_syscall, SYS_getuid, SYS_geteuid,
      SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid, SYS_getgroups, SYS_getppid, SYS_getpgid,
      SYS_getsid, SYS_capget, SYS_uname, SYS_sysinfo, SYS_getrusage, SYS_times, SYS_getpriority,
      SYS_getrlimit, SYS_setrlimit, SYS_sched_getaffinity, SYS_sched_getparam, SYS_sched_getscheduler,
      SYS_sched_get_priority_max, SYS_sched_get_priority_min, SYS_sched_rr_get_interval, SYS_sched_getattr,
      SYS_getcpu, SYS_clock_getres, SYS_gettimeofday, SYS_timerfd_create, SYS_timerfd_settime,
      SYS_timerfd_gettime, SYS_timer_create, SYS_timer_settime, SYS_timer_gettime, SYS_timer_getoverrun,
      SYS_timer_delete, SYS_getitimer, SYS_setitimer, SYS_ppoll, SYS_pselect6, SYS_epoll_pwait2,
      SYS_signalfd4, SYS_umask, SYS_fsync, SYS_fdatasync, SYS_flock, SYS_close_range, SYS_shutdown,
      SYS_sendmsg, SYS_recvmsg, SYS_sendto, SYS_recvfrom, SYS_sendmmsg, SYS_recvmmsg, SYS_getsockopt,
      SYS_setsockopt, SYS_getsockname, SYS_getpeername, SYS_pkey_alloc, SYS_pkey_free, SYS_pkey_mprotect,
      SYS_preadv2, SYS_pwritev2,
#ifdef SYS_arch_prctl
      SYS_arch_prctl,
#endif
#ifdef SYS_epoll_wait
      SYS_epoll_wait, SYS_epoll_create, SYS_eventfd, SYS_pipe, SYS_dup2, SYS_stat, SYS_lstat,
      SYS_access, SYS_readlink, SYS_getdents, SYS_poll, SYS_select, SYS_time, SYS_alarm, SYS_pause,
      SYS_getpgrp, SYS_signalfd,
#endif
#ifdef SYS_faccessat2
      SYS_faccessat2,
#endif
#ifdef SYS_futex_waitv
      SYS_futex_waitv,
#endif
#ifdef SYS_futex_wake
      SYS_futex_wake, SYS_futex_wait, SYS_futex_requeue,
#endif
#ifdef SYS_mseal
      SYS_mseal,
#endif
  };
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) allow(plain[i]);

  /* glibc tries clone3 for threads and falls back to clone only on ENOSYS; libuv drops io_uring
   * for its thread pool on any error (io_uring would run file operations past this filter). */
  answer(SYS_clone3, ENOSYS);
  answer(SYS_io_uring_setup, ENOSYS);
  answer(SYS_openat2, ENOSYS);

  /* Threads only: clone with CLONE_THREAD and no namespace flag (no new process). */
  allow_if_masked(SYS_clone, 0,
                  CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP,
                  CLONE_THREAD);
  /* Opening reads only: no file is created, truncated or written through a new descriptor. */
  /* (__O_TMPFILE includes O_DIRECTORY in glibc's headers: only its own bit, or no directory opens.) */
  const unsigned write_flags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | (__O_TMPFILE & ~O_DIRECTORY);
  allow_if_masked(SYS_openat, 2, write_flags, 0);
#ifdef SYS_open
  allow_if_masked(SYS_open, 1, write_flags, 0);
#endif
  /* Signals to itself only (abort(3), raise(3), process.kill(process.pid)); never to 0, -1, a
   * process group or another pid. */
  const unsigned me[] = {(unsigned)self};
  allow_if_arg_in(SYS_kill, 0, me, 1);
  allow_if_arg_in(SYS_tgkill, 0, me, 1);
  allow_if_arg_in(SYS_rt_sigqueueinfo, 0, me, 1);
  allow_if_arg_in(SYS_rt_tgsigqueueinfo, 0, me, 1);
  /* Resource limits of itself only (pid 0 or its own). */
  const unsigned self_or_zero[] = {0, (unsigned)self};
  allow_if_arg_in(SYS_prlimit64, 0, self_or_zero, 2);
  /* Descriptor flags and duplication; not F_SETOWN/F_SETSIG (signals sent on I/O), leases, notify. */
  const unsigned fcntl_ok[] = {F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC, F_GETLK, F_SETLK, F_SETLKW,
                               F_GETPIPE_SZ, F_SETPIPE_SZ, F_GET_SEALS};
  allow_if_arg_in(SYS_fcntl, 1, fcntl_ok, sizeof fcntl_ok / sizeof fcntl_ok[0]);
  /* Non-blocking and close-on-exec flags, bytes readable, "is it a terminal"; not TIOCSTI & co. */
  const unsigned ioctl_ok[] = {FIONBIO, FIOCLEX, FIONCLEX, FIONREAD, TCGETS, TIOCGWINSZ};
  allow_if_arg_in(SYS_ioctl, 1, ioctl_ok, sizeof ioctl_ok / sizeof ioctl_ok[0]);
  /* Thread names and reads of its own state. */
  const unsigned prctl_ok[] = {PR_SET_NAME, PR_GET_NAME, PR_SET_VMA, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,
                               PR_CAPBSET_READ, PR_GET_TIMERSLACK, PR_GET_THP_DISABLE, PR_GET_PDEATHSIG, PR_GET_SPECULATION_CTRL};
  allow_if_arg_in(SYS_prctl, 0, prctl_ok, sizeof prctl_ok / sizeof prctl_ok[0]);
  /* The launcher's own exec of PROGRAM: its path pointer exists only in this process image. */
  allow_if_arg0_is(SYS_execve, (uint64_t)(uintptr_t)program);
  RET_ERRNO(EPERM);

  struct sock_fprog fprog = {plen, prog};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) fail(STEP_SECCOMP, "seccomp");
#endif
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  struct options o;
  parse(argc, argv, &o);

  if (o.close_fds) {
    close_inherited();
    null_fd(0);
  }
  if (o.quiet) {
    null_fd(1);
    null_fd(2);
  }
  pid_t host = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(STEP_PARENT_DEATH, "PR_SET_PDEATHSIG");
  if (getppid() != host) _exit(120 + STEP_PARENT_DEATH); /* the host is already gone */
  /* P leads a session of its own too (unless spawned as one already: setsid(2) then fails). */
  if (o.session && getsid(0) != getpid() && setsid() < 0) fail(STEP_SESSION, "setsid");
  for (int i = 0; i < o.ncgroups; i++) join_cgroup(o.cgroups[i]);
  if (o.cpus) set_cpus(o.cpus);
  for (int i = 0; i < o.nrlimits; i++) {
    struct rlimit r = {o.rlimits[i].value, o.rlimits[i].value};
    if (setrlimit(o.rlimits[i].resource, &r) != 0) fail(STEP_RLIMIT, "setrlimit");
  }

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) fail(STEP_CLONE, "pipe");
  pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)o.ns_flags | SIGCHLD, 0, 0, 0, 0);
  if (child < 0) fail(STEP_CLONE, "clone");
  if (child > 0) {
    close(go[0]);
    if (o.ns_flags & CLONE_NEWUSER) write_id_maps(child, &o);
    if (write(go[1], "", 1) != 1) fail(STEP_CLONE, "release the enclave");
    /* go[1] stays open while P lives: C reads its end to tell whether P is still there. */
    wait_and_mirror(child);
  }

  /* C. Wait until P has written our id maps; if P died instead, read() sees the end. */
  close(go[1]);
  char byte;
  if (read(go[0], &byte, 1) != 1) _exit(120 + STEP_PARENT_DEATH);
  if (o.has_oom) {
    char v[16];
    snprintf(v, sizeof v, "%d\n", o.oom_score_adj);
    write_file(STEP_OOM_SCORE, "/proc/self/oom_score_adj", v);
  }
  if (o.root) {
    /* Opened here, in the new mount namespace (open_tree(2) clones only mounts of the caller's
     * own), and before C changes ids, so the walk to DIR is done with the host user's rights. */
    int root_fd = open(o.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) fail(STEP_ROOT_OPEN, o.root);
    make_root(root_fd);
  }
  if (o.hostname && sethostname(o.hostname, strlen(o.hostname)) != 0) fail(STEP_HOSTNAME, o.hostname);
  if (o.session && setsid() < 0) fail(STEP_SESSION, "setsid");
  if (o.no_privileges) drop_bounding_and_ambient();
  if (o.has_ids) set_ids(&o);
  if (o.no_privileges) {
    clear_capability_sets();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(STEP_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS");
  }
  /* The kernel kills C when P dies, so a killed enclave never outlives its launcher even when its
   * event loop is stuck. Set here, after the last change of ids, which clears it (prctl(2)); P may
   * have died meanwhile, and then its end of the pipe is closed: read() sees the end at once. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(STEP_PARENT_DEATH, "PR_SET_PDEATHSIG");
  if (fcntl(go[0], F_SETFL, O_NONBLOCK) != 0) fail(STEP_PARENT_DEATH, "fcntl");
  if (read(go[0], &byte, 1) == 0) _exit(120 + STEP_PARENT_DEATH);
  close(go[0]);
  if (o.seccomp) {
    /* seccomp(2) without CAP_SYS_ADMIN needs no_new_privs; it is set here whatever the other layers. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(STEP_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS");
    install_seccomp(o.argv[0], getpid());
  }
  if (o.probe) _exit(0);
  execve(o.argv[0], o.argv, environ);
  fail(STEP_EXEC, o.argv[0]);
  return 0;
}

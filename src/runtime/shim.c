/*
 * berth's container shim, compiled at runtime by bun:ffi `cc` (TinyCC); see spawn.ts for why.
 *
 * Everything after clone() runs here, in a single-threaded COW copy of the Bun process (JS never runs in
 * the child: the JSC heap and JIT pool are MADV_DONTFORK, docs/bun-ffi.md §5), or, when the parent has
 * nothing to do before the exec (H_VFORK), in the parent's own memory while its thread waits, as
 * posix_spawn does. So the child may only call async-signal-safe libc wrappers: no malloc, no stdio, no
 * locks, and it writes nothing the parent reads but its own stack, arena and these statics.
 *
 * No #include on purpose: prototypes and constants are declared by hand (header spelling, x86_64/arm64
 * generic values) so hosts without libc6-dev can compile this.
 *
 * Decisions live in TS. The parent serialises a plan into one blob (berth_spawn's argument): words of
 * u64, pointers encoded as offsets into the blob. The blob is copied into `arena` (static, not
 * DONTFORK) before clone, so the child never dereferences JS memory.
 *
 * Errors: the child writes {step, errno, index} to err_fd (O_CLOEXEC) and _exit(127); EOF on that pipe
 * without a message means execve succeeded.
 */
typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long u64;
typedef unsigned int u32;

extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
extern int pthread_create(u64 *thread, const void *attr, void *(*fn)(void *), void *arg);
extern int pthread_join(u64 thread, void **ret);
extern int nanosleep(const void *req, void *rem);
extern int mount(const char *, const char *, const char *, unsigned long, const void *);
extern int umount2(const char *, int);
extern long syscall(long, ...);
extern int execve(const char *, char *const[], char *const[]);
extern int chdir(const char *);
extern int sethostname(const char *, size_t);
extern ssize_t read(int, void *, size_t);
extern ssize_t write(int, const void *, size_t);
extern int open(const char *, int, ...);
extern int openat(int, const char *, int, ...);
extern int close(int);
extern int dup2(int, int);
extern int setsid(void);
extern int setpgid(int, int);
extern int getpid(void);
extern int ioctl(int, unsigned long, ...);
extern void _exit(int);
extern int *__errno_location(void);
extern int waitpid(int, int *, int);
extern int unshare(int);
extern int setns(int, int);
extern int mkdirat(int, const char *, u32);
extern int symlinkat(const char *, int, const char *);
extern ssize_t readlinkat(int, const char *, char *, size_t);
extern int prctl(int, u64, u64, u64, u64);
extern int setrlimit(int, const void *);
extern int kill(int, int);
extern void (*signal(int, void (*)(int)))(int);
extern int sigprocmask(int, const void *, void *);
extern void *memcpy(void *, const void *, size_t);
extern int socket(int, int, int);
extern int fcntl(int, int, ...);
extern int access(const char *, int);
extern u32 umask(u32);
extern int clock_gettime(int, void *);

#define CLONE_VM 0x00000100
#define CLONE_VFORK 0x00004000
#define CLONE_PARENT_SETTID 0x00100000
#define CLONE_NEWCGROUP 0x02000000
#define CLONE_NEWNET 0x40000000
#define CLONE_NEWUSER 0x10000000
#define AF_INET 2
#define SOCK_DGRAM 2
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define IFF_UP 1
#define SIGCHLD 17
#define MS_RDONLY 1
#define MS_BIND 4096
#define MS_REMOUNT 32
#define MS_REC 16384
#define MS_PRIVATE (1 << 18)
#define MNT_DETACH 2
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define AT_FDCWD (-100)
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
/* Raw syscalls where glibc's wrapper is unsafe in this child: setresuid/setresgid/setgroups go
 * through __nptl_setxid, which signals every thread glibc *believes* exists (the parent's Bun threads,
 * absent here) under a lock one of them may have held at clone time, and fork() runs atfork handlers
 * that take malloc/stdio locks. Seen as a child hung in futex_wait before exec. */
#if defined(__aarch64__)
#define SYS_pivot_root 41
#define SYS_capset 91
#define SYS_setresuid 147
#define SYS_setresgid 149
#define SYS_setgroups 159
#define SYS_clone 220
#define SYS_rt_sigaction 134
#define SYS_mknodat 33
#define SYS_fchownat 54
#else
#define SYS_pivot_root 155
#define SYS_capset 126
#define SYS_setresuid 117
#define SYS_setresgid 119
#define SYS_setgroups 116
#define SYS_clone 56
#define SYS_rt_sigaction 13
#define SYS_mknodat 259
#define SYS_fchownat 260
#endif
#define SYS_openat2 437
#define SYS_clone3 435          /* same number on x86_64 and aarch64 */
#define CLONE_INTO_CGROUP 0x200000000ULL
#define ENOSYS 38
#define ELOOP 40
#define E2BIG 7
#define EINVAL 22
#define SYS_move_mount 429
#define MOVE_MOUNT_F_EMPTY_PATH 4
#define SYS_close_range 436
#define CLOSE_RANGE_CLOEXEC 4
#define TIOCSCTTY 0x540E
#define TIOCSPGRP 0x5410
#define ENOENT 2
#define EINTR 4
#define EACCES 13
#define EEXIST 17
#define PR_SET_NAME 15
#define PR_CAPBSET_READ 23
#define PR_CAPBSET_DROP 24
#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_SECCOMP 22
#define SECCOMP_MODE_FILTER 2
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define O_NONBLOCK 04000
#define X_OK 1
#define AT_SYMLINK_NOFOLLOW 0x100
/* H_OCI bits */
#define OCI_RESET_SIGNALS 1   /* default dispositions, nothing blocked (the child inherits Bun's): every container process */
#define OCI_BLOCKING_STDIO 2  /* clear O_NONBLOCK on 0-2 (pipes from conmon/containerd-shim): the OCI runtime only */

/* steps reported to the parent; spawn.ts has the same table (STEP_NAMES) */
enum {
  ST_SYNC = 1, ST_CGROUPNS, ST_HOSTNAME, ST_OP, ST_SETNS, ST_CWD, ST_SETSID, ST_CTTY, ST_DUP,
  ST_RLIMIT, ST_CAPBSET, ST_GROUPS, ST_GID, ST_UID, ST_CAPSET, ST_AMBIENT, ST_NNP, ST_EXEC, ST_FORK, ST_CLOSE, ST_LO,
  ST_CGJOIN, ST_SECCOMP
};

/* mount-plan op kinds; mount-plan.ts has the same numbers (OP) */
enum {
  OP_PRIVATE = 1,   /* mount(NULL, "/", MS_REC|MS_PRIVATE): nothing propagates back to the host */
  OP_ROOTFS,        /* mount(src, dst, fstype, flags, data) with dst a HOST path (the staging dir) */
  OP_ENTER,         /* chdir(dst), open it as the root every later target is resolved in */
  OP_MOUNT,         /* mount onto dst inside the root, creating a directory if missing */
  OP_MOUNT_FILE,    /* same, creating an empty file (binds of files) */
  OP_REMOUNT,       /* mount(NULL, dst, NULL, MS_REMOUNT|flags): bind + remount for ro */
  OP_SYMLINK,       /* symlink src at dst inside the root */
  OP_MASK,          /* /dev/null over a file, ro tmpfs over a dir; missing paths are skipped */
  OP_READONLY,      /* bind dst onto itself, remount ro; missing paths are skipped */
  OP_PIVOT,         /* pivot_root(".", ".") + umount2(".", MNT_DETACH): runc's no-put_old trick */
  OP_UNUSED_11,     /* (was: reopen the tty through /dev/console; the pty now comes from the container's devpts) */
  OP_MKDIR,         /* mkdir -p dst inside the root (the working directory) */
  OP_ATTACH,        /* move_mount(fd = flags, "", dst): a detached mount the parent built (overlay) */
  OP_WRITE,         /* write data into the existing file dst inside the root (a /proc/sys key) */
  OP_MKFILE,        /* create the empty file dst inside the root if missing (/.dockerenv) */
  OP_MKNOD,         /* mknod dst (mode = flags, data = "dev uid gid"), then chown; an existing node stays */
  OP_PROPAGATE      /* mount(NULL, dst, NULL, flags): change propagation (MS_SHARED|MS_SLAVE|…[|MS_REC]) */
};

/* header word indexes of the blob */
enum {
  H_MODE, H_CLONE, H_HOSTNAME, H_ARGV, H_ENVP, H_OPS, H_NOPS, H_SYNC, H_ERR, H_IN, H_OUT, H_ERR2, H_TTY,
  H_UID, H_GID, H_NGROUPS, H_GROUPS, H_CAPS, H_NNP, H_INIT, H_CWD, H_NS, H_NNS, H_RLIM, H_NRLIM, H_PATH,
  H_CGTASKS, H_CGFD, H_CGPROCS, H_SECCOMP, H_NSECCOMP,
  H_FIFO,      /* O_PATH fd of the exec fifo (OCI create): park before execve until `start` opens it; -1 none */
  H_PRESERVE,  /* fds 3..3+n-1 reach the container too (runc --preserve-fds) */
  H_OCI,       /* OCI_* bits */
  H_UMASK,     /* umask for the container process; -1 keeps ours */
  H_LATESYNC,  /* 1: set up first (cgroup, namespaces, mounts), wait for the parent only before exec */
  H_VFORK,     /* 1: clone with CLONE_VM|CLONE_VFORK (no park, no user namespace, no init; a sync fd only from berth_spawn_bg's thread) */
  H_WORDS
};

static char arena[256 * 1024] __attribute__((aligned(16)));
static char stack[256 * 1024] __attribute__((aligned(16)));
static u64 *H;
static int err_fd = -1;
static int root_fd = -1;
static int cg_join_v2 = 0;   /* clone3 into the cgroup was not available: join the v2 cgroup by writing */
static u64 vfork_mask[16];   /* the parent's signal mask while every signal is blocked around a vfork clone */

static char *P(u64 off) { return off ? arena + off : 0; }

/* Where the child's time goes (BERTH_TRACE): CLOCK_MONOTONIC stamps of its phases. A vfork child writes
 * them into the parent's memory, where berth_child_marks reads them after the exec; a fork-like child's
 * stay in its own copy (nothing to read). A stamp is a vDSO call, ~20 ns: always taken. */
enum { MK_START = 1, MK_FDS, MK_CGROUP, MK_NS, MK_OPS, MK_SYNC, MK_EXEC, MK_CG = 50, MK_OP = 100 };
#define NMARKS 128
static u64 mark_at[NMARKS];
static u32 mark_id[NMARKS];
static int nmarks;
static void cmark(u32 id) {
  struct { long s, ns; } t;
  if (nmarks >= NMARKS || clock_gettime(1 /* CLOCK_MONOTONIC */, &t) < 0) return;
  mark_at[nmarks] = (u64)t.s * 1000000000UL + (u64)t.ns;
  mark_id[nmarks++] = id;
}

/* the last vfork child's stamps: out[2i] = id, out[2i+1] = how many ns before now; returns how many */
int berth_child_marks(u64 *out, int max) {
  struct { long s, ns; } t;
  u64 now;
  int i;
  if (clock_gettime(1, &t) < 0) return 0;
  now = (u64)t.s * 1000000000UL + (u64)t.ns;
  for (i = 0; i < nmarks && i < max; i++) { out[2 * i] = mark_id[i]; out[2 * i + 1] = now - mark_at[i]; }
  return i;
}

static void fail(int step, int index) {
  int msg[3];
  msg[0] = step; msg[1] = *__errno_location(); msg[2] = index;
  write(err_fd, msg, sizeof msg);
  _exit(127);
}

static int slen(const char *s) { int n = 0; while (s[n]) n++; return n; }

static void fdpath(char *buf, int fd) {   /* "/proc/self/fd/<fd>" */
  const char *p = "/proc/self/fd/";
  char d[12];
  int n = 0, k = 0;
  while (*p) buf[n++] = *p++;
  do { d[k++] = '0' + fd % 10; fd /= 10; } while (fd);
  while (k) buf[n++] = d[--k];
  buf[n] = 0;
}

struct open_how { u64 flags, mode, resolve; };

/* Open `path` (relative, no leading '/') with every symlink resolved as if root_fd were "/": a hostile
 * image cannot make a mount target escape the rootfs (openat2(2) RESOLVE_IN_ROOT; runc's
 * securejoin + /proc/self/fd mounting does the same job). create: 0 none, 1 directories, 2 file leaf.
 * A missing component that is a dangling symlink (an image's /etc/localtime pointing into a zoneinfo
 * it does not ship) is followed, inside the root, and what it points to is created, as runc does. */
static int resolve_in(const char *path, int create, int depth);
static int resolve(const char *path, int create) { return resolve_in(path, create, 0); }

static int resolve_in(const char *path, int create, int depth) {
  struct open_how how;
  char prefix[4096];
  int n = 0, i = 0, fd;
  how.flags = O_PATH | O_CLOEXEC; how.mode = 0; how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  if (!create) return syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof how);
  for (;;) {
    int start = i, last;
    while (path[i] && path[i] != '/') prefix[n++] = path[i++];
    prefix[n] = 0;
    last = !path[i];
    fd = syscall(SYS_openat2, root_fd, prefix, &how, sizeof how);
    if (fd < 0 && *__errno_location() == ENOENT) {
      int parent, rc;
      if (start == 0) parent = root_fd;
      else {
        prefix[start - 1] = 0;
        parent = syscall(SYS_openat2, root_fd, prefix, &how, sizeof how);
        prefix[start - 1] = '/';
        if (parent < 0) return -1;
      }
      {
        char link[4096], next[4096];
        ssize_t ln = readlinkat(parent, prefix + start, link, sizeof link - 1);
        if (ln > 0) {
          int m = 0, k;
          if (parent != root_fd) close(parent);
          if (depth >= 40) { *__errno_location() = ELOOP; return -1; }
          link[ln] = 0;
          if (link[0] != '/') for (k = 0; k < start; k++) next[m++] = prefix[k];   /* "dir/" of the link */
          for (k = 0; link[k] == '/'; k++) ;
          for (; link[k] && m < (int)sizeof next - 1; k++) next[m++] = link[k];
          for (k = i; path[k] && m < (int)sizeof next - 1; k++) next[m++] = path[k]; /* "/rest" */
          if (m >= (int)sizeof next - 1) { *__errno_location() = ENOENT; return -1; }
          next[m] = 0;
          return resolve_in(next, create, depth + 1);
        }
      }
      if (last && create == 2) {
        rc = openat(parent, prefix + start, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (rc >= 0) close(rc);
      } else rc = mkdirat(parent, prefix + start, 0755);
      if (parent != root_fd) close(parent);
      if (rc < 0 && *__errno_location() != EEXIST) return -1;
      fd = syscall(SYS_openat2, root_fd, prefix, &how, sizeof how);
    }
    if (fd < 0 || last) return fd;
    close(fd);
    prefix[n++] = path[i++];
  }
}

static void apply_op(u64 *op, int index) {
  u64 kind = op[0];
  char *src = P(op[1]), *dst = P(op[2]), *fstype = P(op[3]), *data = P(op[5]);
  unsigned long flags = op[4];
  char target[32];
  int fd;
  switch (kind) {
  case OP_PRIVATE:
    if (mount(0, "/", 0, MS_REC | MS_PRIVATE, 0) < 0) fail(ST_OP, index);
    return;
  case OP_ROOTFS:
    if (mount(src, dst, fstype, flags, data) < 0) fail(ST_OP, index);
    return;
  case OP_ATTACH:
    if (syscall(SYS_move_mount, (int)flags, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) fail(ST_OP, index);
    close((int)flags);
    return;
  case OP_ENTER:
    if (chdir(dst) < 0) fail(ST_OP, index);
    root_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) fail(ST_OP, index);
    return;
  case OP_MOUNT:
  case OP_MOUNT_FILE:
  case OP_REMOUNT:
    fd = resolve(dst, kind == OP_MOUNT ? 1 : kind == OP_MOUNT_FILE ? 2 : 0);
    if (fd < 0) fail(ST_OP, index);
    fdpath(target, fd);
    if (kind == OP_REMOUNT) { if (mount(0, target, 0, flags | MS_REMOUNT, 0) < 0) fail(ST_OP, index); }
    else if (mount(src, target, fstype, flags, data) < 0) fail(ST_OP, index);
    close(fd);
    return;
  case OP_WRITE: {
    struct open_how how;
    int n = slen(data);
    how.flags = O_WRONLY | O_CLOEXEC; how.mode = 0; how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    fd = syscall(SYS_openat2, root_fd, dst, &how, sizeof how);
    if (fd < 0) fail(ST_OP, index);
    if (write(fd, data, n) != n) fail(ST_OP, index);
    close(fd);
    return;
  }
  case OP_SYMLINK:
    if (symlinkat(src, root_fd, dst) < 0 && *__errno_location() != EEXIST) fail(ST_OP, index);
    return;
  case OP_MASK:
  case OP_READONLY: {
    int dir;
    fd = resolve(dst, 0);
    if (fd < 0) { if (*__errno_location() == ENOENT) return; fail(ST_OP, index); }
    fdpath(target, fd);
    if (kind == OP_MASK) {
      dir = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* ENOTDIR for files */
      if (dir >= 0) close(dir);
      if (dir >= 0) { if (mount("tmpfs", target, "tmpfs", MS_RDONLY, 0) < 0) fail(ST_OP, index); }
      else if (mount("/dev/null", target, 0, MS_BIND, 0) < 0) fail(ST_OP, index);
      close(fd);
      return;
    }
    if (mount(target, target, 0, MS_BIND | MS_REC, 0) < 0) fail(ST_OP, index);
    close(fd);
    fd = resolve(dst, 0);   /* the new bind is on top now; remount that one */
    if (fd < 0) fail(ST_OP, index);
    fdpath(target, fd);
    if (mount(0, target, 0, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | flags, 0) < 0) fail(ST_OP, index);
    close(fd);
    return;
  }
  case OP_PIVOT:
    if (syscall(SYS_pivot_root, ".", ".") < 0) fail(ST_OP, index);
    if (umount2(".", MNT_DETACH) < 0) fail(ST_OP, index);
    if (chdir("/") < 0) fail(ST_OP, index);
    return;
  case OP_MKDIR:
  case OP_MKFILE:
    fd = resolve(dst, kind == OP_MKDIR ? 1 : 2);
    if (fd < 0) fail(ST_OP, index);
    close(fd);
    return;
  case OP_MKNOD: {
    u64 v[3];
    int k = 0, i, slash = -1, parent;
    u32 old;
    char *leaf;
    v[0] = v[1] = v[2] = 0;
    for (i = 0; data && data[i] && k < 3; i++) {
      if (data[i] == ' ') k++;
      else v[k] = v[k] * 10 + (data[i] - '0');
    }
    for (i = 0; dst[i]; i++) if (dst[i] == '/') slash = i;
    if (slash >= 0) {
      dst[slash] = 0;
      parent = resolve(dst, 1);
      dst[slash] = '/';
      if (parent < 0) fail(ST_OP, index);
      leaf = dst + slash + 1;
    } else { parent = root_fd; leaf = dst; }
    old = umask(0);
    if (syscall(SYS_mknodat, parent, leaf, (u32)flags, v[0]) < 0 && *__errno_location() != EEXIST) fail(ST_OP, index);
    umask(old);
    if (syscall(SYS_fchownat, parent, leaf, (u32)v[1], (u32)v[2], AT_SYMLINK_NOFOLLOW) < 0) fail(ST_OP, index);
    if (parent != root_fd) close(parent);
    return;
  }
  case OP_PROPAGATE:
    if (!dst[0]) { if (mount(0, "/", 0, flags, 0) < 0) fail(ST_OP, index); return; }
    fd = resolve(dst, 0);
    if (fd < 0) fail(ST_OP, index);
    fdpath(target, fd);
    if (mount(0, target, 0, flags, 0) < 0) fail(ST_OP, index);
    close(fd);
    return;
  }
}

/* PATH search like Go's exec.LookPath, which docker uses: names with a '/' are used as they are. */
static void exec_user(char **argv, char **envp, const char *path) {
  const char *f = argv[0];
  char buf[4096];
  int i, err = ENOENT;
  for (i = 0; f[i]; i++) if (f[i] == '/') { execve(f, argv, envp); fail(ST_EXEC, 1); }
  if (!f[0]) { *__errno_location() = ENOENT; fail(ST_EXEC, 0); }
  while (path && *path) {
    int n = 0, k;
    while (*path && *path != ':' && n < 2048) buf[n++] = *path++;
    if (*path == ':') path++;
    if (n == 0) buf[n++] = '.';
    buf[n++] = '/';
    for (k = 0; f[k] && n < 4095; k++) buf[n++] = f[k];
    buf[n] = 0;
    execve(buf, argv, envp);
    if (*__errno_location() != ENOENT && *__errno_location() != EACCES) err = *__errno_location();
  }
  *__errno_location() = err;
  fail(ST_EXEC, 0);
}

/* OCI create: find the executable now (runc's LookPath before it parks), so a missing command fails
 * `create` and not the later `start`; the result is what execve gets after the park. */
static char exec_path[4096];
static void lookup_exec(const char *f, const char *path) {
  int i, n, k, err = ENOENT;
  for (i = 0; f[i]; i++) if (f[i] == '/') {
    for (n = 0; f[n] && n < 4095; n++) exec_path[n] = f[n];
    exec_path[n] = 0;
    if (access(exec_path, X_OK) < 0) fail(ST_EXEC, 1);
    return;
  }
  if (!f[0]) { *__errno_location() = ENOENT; fail(ST_EXEC, 0); }
  while (path && *path) {
    n = 0;
    while (*path && *path != ':' && n < 2048) exec_path[n++] = *path++;
    if (*path == ':') path++;
    if (n == 0) exec_path[n++] = '.';
    exec_path[n++] = '/';
    for (k = 0; f[k] && n < 4095; k++) exec_path[n++] = f[k];
    exec_path[n] = 0;
    if (access(exec_path, X_OK) == 0) return;
    if (*__errno_location() != ENOENT && *__errno_location() != EACCES && *__errno_location() != 20 /* ENOTDIR */) err = *__errno_location();
    else if (*__errno_location() == EACCES) err = EACCES;
  }
  *__errno_location() = err;
  fail(ST_EXEC, 0);
}

/* Tell the parent the container is set up ({0,0,0} on the error pipe), then block opening the exec fifo
 * for writing until `start` opens it for reading (runc's exec.fifo); the fifo was opened O_PATH before
 * pivot_root and is reopened through /proc/self/fd. After this nobody reads the error pipe: a failure
 * is written to the container's stderr. */
static void park(int fifo) {
  int ok[3], fd;
  char p[32];
  ok[0] = ok[1] = ok[2] = 0;
  write(err_fd, ok, sizeof ok);
  close(err_fd);
  err_fd = -1;
  fdpath(p, fifo);
  do fd = open(p, O_WRONLY | O_CLOEXEC); while (fd < 0 && *__errno_location() == EINTR);
  if (fd < 0) { write(2, "berth: open exec fifo failed\n", 29); _exit(127); }
  write(fd, "0", 1);
  close(fd);
  close(fifo);
}

/* ---- --init: a tiny reaper as PID 1 (tini's job): fork the user process, forward signals, reap
 * everything, exit with the user process's status (128+signal when it was killed). */
static int init_child = -1;
static void forward(int sig) { if (init_child > 0) kill(init_child, sig); }

static void run_init(void) {
  int sig, st, r, status = 0;
  u64 mask[16], old[16];   /* glibc sigset_t is 128 bytes */
  for (sig = 0; sig < 16; sig++) mask[sig] = ~0UL;
  sigprocmask(0 /* SIG_BLOCK */, mask, old);   /* no signal is lost between fork and the handlers */
  init_child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);   /* fork without glibc's atfork locks */
  if (init_child < 0) fail(ST_FORK, 0);
  if (init_child == 0) {
    /* tini's way: the user process gets its own process group and, with a terminal, becomes the
     * foreground group, so a ^C from the tty reaches it once (from the kernel), not a second time
     * through the reaper's forwarding. SIGTTOU is still blocked here, so tcsetpgrp is allowed. */
    int pg = getpid();
    setpgid(0, 0);
    if (H[H_TTY]) ioctl(0, TIOCSPGRP, &pg);
    sigprocmask(2 /* SIG_SETMASK */, old, 0);
    return;   /* the user process continues in main_child */
  }
  close(err_fd);   /* EOF for the parent once the user process execs */
  prctl(PR_SET_NAME, (u64)"berth-init", 0, 0, 0);
  for (sig = 1; sig < 32; sig++)
    if (sig != 9 && sig != 19 && sig != SIGCHLD) signal(sig, forward);
  sigprocmask(2, old, 0);
  for (;;) {
    r = waitpid(-1, &st, 0);
    if (r < 0) {
      if (*__errno_location() == EINTR) continue;
      _exit(status);
    }
    if (r == init_child) {
      status = (st & 0x7f) ? 128 + (st & 0x7f) : (st >> 8) & 0xff;
      _exit(status);
    }
  }
}

struct cap_header { u32 version; int pid; };
struct cap_data { u32 effective, permitted, inheritable; };

static void finish_and_exec(void) {
  u64 caps = H[H_CAPS];
  u32 uid = H[H_UID], gid = H[H_GID];
  int in = (int)H[H_IN], out = (int)H[H_OUT], er = (int)H[H_ERR2];
  int cap, i;
  u64 *rl = (u64 *)P(H[H_RLIM]);
  struct cap_header hdr;
  struct cap_data data[2];

  if (H[H_CWD] && chdir(P(H[H_CWD])) < 0) fail(ST_CWD, 0);
  /* runc makes every container process a session leader; with a tty it also becomes the controlling
   * terminal so ^C, job control and SIGWINCH work inside */
  if (setsid() < 0) fail(ST_SETSID, 0);
  if (H[H_TTY] && ioctl(in, TIOCSCTTY, 0) < 0) fail(ST_CTTY, 0);
  if (in >= 0 && dup2(in, 0) < 0) fail(ST_DUP, 0);
  if (out >= 0 && dup2(out, 1) < 0) fail(ST_DUP, 1);
  if (er >= 0 && dup2(er, 2) < 0) fail(ST_DUP, 2);
  if (H[H_OCI] & OCI_BLOCKING_STDIO)
    for (i = 0; i < 3; i++) { int fl = fcntl(i, F_GETFL); if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(i, F_SETFL, fl & ~O_NONBLOCK); }
  /* only 0-2 (and --preserve-fds) reach the container: everything else closes at exec (err_fd must
   * survive until then) */
  for (i = 3; i < 3 + (int)H[H_PRESERVE]; i++) fcntl(i, F_SETFD, 0);
  syscall(SYS_close_range, 3 + (u32)H[H_PRESERVE], ~0U, CLOSE_RANGE_CLOEXEC);
  for (i = 0; i < (int)H[H_NRLIM]; i++)
    if (setrlimit((int)rl[3 * i], &rl[3 * i + 1]) < 0) fail(ST_RLIMIT, i);
  /* seccomp while CAP_SYS_ADMIN is still held (no no_new_privs needed), as runc does without
   * no-new-privileges; the filter (seccomp.ts) lets through what follows: prctl, capset, setres*id, execve */
  if (H[H_NSECCOMP]) {
    struct { unsigned short len; unsigned short pad[3]; void *filter; } prog;
    prog.len = (unsigned short)H[H_NSECCOMP]; prog.pad[0] = prog.pad[1] = prog.pad[2] = 0;
    prog.filter = P(H[H_SECCOMP]);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (u64)&prog, 0, 0) < 0) fail(ST_SECCOMP, 0);
  }

  /* capabilities(7): drop the bounding set first (needs CAP_SETPCAP, still held), then switch user.
   * Without PR_SET_KEEPCAPS, setresuid() from 0 to non-zero clears permitted and effective, so a
   * non-root user ends with no caps, as in docker; its bounding set still limits setuid binaries. */
  /* capset refuses bits we do not hold: unknown to the kernel, or already out of our bounding set */
  for (cap = 0; cap < 64; cap++) {
    int held = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (held <= 0) { caps &= ~(1UL << cap); if (held < 0) break; continue; }
    if (!(caps & (1UL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) fail(ST_CAPBSET, cap);
  }
  for (; cap < 64; cap++) caps &= ~(1UL << cap);
  if (syscall(SYS_setgroups, H[H_NGROUPS], P(H[H_GROUPS])) < 0) fail(ST_GROUPS, 0);
  if (syscall(SYS_setresgid, gid, gid, gid) < 0) fail(ST_GID, 0);
  if (syscall(SYS_setresuid, uid, uid, uid) < 0) fail(ST_UID, 0);
  if (uid == 0) {
    /* inheritable stays empty (moby after CVE-2022-24769) */
    hdr.version = 0x20080522; hdr.pid = 0;
    data[0].effective = data[0].permitted = (u32)caps; data[0].inheritable = 0;
    data[1].effective = data[1].permitted = (u32)(caps >> 32); data[1].inheritable = 0;
    if (syscall(SYS_capset, &hdr, data) < 0) fail(ST_CAPSET, 0);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) fail(ST_AMBIENT, 0);
  if (H[H_NNP] && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(ST_NNP, 0);
  if ((long)H[H_UMASK] >= 0) umask((u32)H[H_UMASK]);
  if ((int)H[H_FIFO] >= 0) {
    char **argv = (char **)P(H[H_ARGV]);
    lookup_exec(argv[0], P(H[H_PATH]));
    park((int)H[H_FIFO]);
    execve(exec_path, argv, (char **)P(H[H_ENVP]));
    write(2, "berth: exec ", 12); write(2, exec_path, slen(exec_path)); write(2, " failed\n", 8);
    _exit(127);
  }
  if (H[H_INIT]) run_init();
  cmark(MK_EXEC);
  exec_user((char **)P(H[H_ARGV]), (char **)P(H[H_ENVP]), P(H[H_PATH]));
}

/* A clone()d child inherits every fd of the runtime, including other containers' sync and error pipes
 * (O_CLOEXEC only acts at execve). Holding those would keep a sibling's pipe open while we wait on our
 * own sync pipe, so close everything except what this child uses, first thing. */
static void close_others(void) {
  int keep[64], n = 0, i, j, lo = 3;
  u64 *ns = (u64 *)P(H[H_NS]);
  keep[n++] = H[H_SYNC]; keep[n++] = H[H_ERR]; keep[n++] = H[H_IN]; keep[n++] = H[H_OUT]; keep[n++] = H[H_ERR2];
  keep[n++] = (int)H[H_CGFD];
  keep[n++] = (int)H[H_FIFO];
  lo = 3 + (int)H[H_PRESERVE];
  u64 *ops = (u64 *)P(H[H_OPS]);
  for (i = 0; i < (int)H[H_NNS] && n < 64; i++) keep[n++] = ns[2 * i];
  for (i = 0; i < (int)H[H_NOPS] && n < 64; i++) if (ops[6 * i] == OP_ATTACH) keep[n++] = ops[6 * i + 4];
  for (i = 1; i < n; i++) for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) { int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t; }
  for (i = 0; i < n; i++) {
    if (keep[i] < lo) continue;
    if (keep[i] > lo) syscall(SYS_close_range, lo, keep[i] - 1, 0);
    lo = keep[i] + 1;
  }
  syscall(SYS_close_range, lo, ~0U, 0);
}

/* A new network namespace starts with lo down; docker brings it up whatever the network mode. Two
 * ioctls here cost microseconds, where the same over rtnetlink from the parent meant entering the
 * namespace from JS (tens of ms in a cold process). struct ifreq: name[16], then a 24-byte union whose
 * first member is ifr_flags. */
static void lo_up(void) {
  struct { char name[16]; short flags; char pad[22]; } ifr;
  char *b = (char *)&ifr;
  int s, i;
  for (i = 0; i < (int)sizeof ifr; i++) b[i] = 0;
  ifr.name[0] = 'l';
  ifr.name[1] = 'o';
  if ((s = socket(AF_INET, SOCK_DGRAM | O_CLOEXEC, 0)) < 0) fail(ST_LO, 0);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(ST_LO, 1);
  ifr.flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(ST_LO, 2);
  close(s);
}

/* Join the container's cgroup from inside, before any setns (the paths are host paths). On a v1
 * hierarchy, writing "0" to `tasks` moves this one thread — the whole process, it has no other — and
 * the kernel then skips the global threadgroup lock. Writing another process's pid to cgroup.procs
 * takes that lock for writing, which waits for an RCU grace period (~8 ms on this kind of VM) the first
 * time. The v2 cgroup was entered at birth (clone3 CLONE_INTO_CGROUP), else by a write here. */
static void write_zero(const char *path, int index) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(ST_CGJOIN, index);
  if (write(fd, "0", 1) != 1) fail(ST_CGJOIN, index);
  close(fd);
}

static void cgroup_join(void) {
  u64 *v = (u64 *)P(H[H_CGTASKS]);   /* already relocated by fix_strv */
  int i = 0;
  for (; v && v[i]; i++) {
    write_zero((const char *)v[i], i);
    cmark(MK_CG + i);
  }
  if (cg_join_v2 && H[H_CGPROCS]) write_zero(P(H[H_CGPROCS]), i);
  if ((int)H[H_CGFD] >= 0) close((int)H[H_CGFD]);
}

/* one byte from the parent: go on; EOF: the parent gave up (and already knows why) */
static void wait_parent(int sync_fd) {
  char c;
  ssize_t r;
  do r = read(sync_fd, &c, 1); while (r < 0 && *__errno_location() == EINTR);
  if (r != 1) _exit(126);
  close(sync_fd);
}

static int main_child(void *unused) {
  int i;
  u64 *ops = (u64 *)P(H[H_OPS]);
  u64 *ns = (u64 *)P(H[H_NS]);
  int sync_fd = H[H_SYNC];
  /* a vfork child's writes stay in the parent's memory: what an earlier child set goes back first */
  root_fd = -1;
  init_child = -1;
  err_fd = H[H_ERR];
  nmarks = 0;
  cmark(MK_START);
  if (H[H_VFORK] && !(H[H_OCI] & OCI_RESET_SIGNALS)) {
    /* the parent's memory until execve: none of its signal handlers may run here. Every signal was
     * blocked around the clone; handlers go back to default (execve would do that anyway), then the
     * parent's mask comes back */
    struct { void *h; u64 flags; void *restorer; u64 mask; } sa;
    for (i = 1; i < 65; i++) {
      if (i == 9 || i == 19 || i == 32 || i == 33) continue;
      if (syscall(SYS_rt_sigaction, i, 0, &sa, 8) == 0 && sa.h != (void *)0 && sa.h != (void *)1) signal(i, (void (*)(int))0);
    }
    sigprocmask(2 /* SIG_SETMASK */, vfork_mask, 0);
  }
  if (H[H_OCI] & OCI_RESET_SIGNALS) {
    u64 none[16];
    for (i = 0; i < 16; i++) none[i] = 0;
    for (i = 1; i < 65; i++) if (i != 9 && i != 19 && i != 32 && i != 33) signal(i, (void (*)(int))0);
    sigprocmask(2 /* SIG_SETMASK */, none, 0);
  }
  close_others();
  cmark(MK_FDS);
  /* wait until the parent has done its part (the network, a user namespace's id maps). Late: the child
   * sets itself up meanwhile and waits only before exec, so its mounts and the parent's network wiring
   * overlap (the parent's hook needs nothing of the child but its network namespace) */
  if (sync_fd >= 0 && !H[H_LATESYNC]) wait_parent(sync_fd);
  cgroup_join();
  cmark(MK_CGROUP);
  /* a new user namespace: the parent wrote uid_map/gid_map while we waited; become its root now, so
   * what the mounts create (devpts's ptmx, tmpfs roots, mknod) is owned by a mapped id */
  if (H[H_CLONE] & CLONE_NEWUSER) {
    if (syscall(SYS_setresgid, 0, 0, 0) < 0) fail(ST_GID, 0);
    if (syscall(SYS_setresuid, 0, 0, 0) < 0) fail(ST_UID, 0);
  }
  /* joining namespaces (exec): the pid ns was entered by the parent (pid_for_children); mnt goes last
   * because after it the other /proc/<pid>/ns fds are still valid but paths are not */
  for (i = 0; i < (int)H[H_NNS]; i++)
    if (setns((int)ns[2 * i], (int)ns[2 * i + 1]) < 0) fail(ST_SETNS, i);
  /* cgroupns only now: the parent moved us into the container's cgroup, which becomes our root */
  if ((H[H_CLONE] & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) fail(ST_CGROUPNS, 0);
  if (H[H_CLONE] & CLONE_NEWNET) lo_up();
  if (H[H_HOSTNAME] && sethostname(P(H[H_HOSTNAME]), slen(P(H[H_HOSTNAME]))) < 0) fail(ST_HOSTNAME, 0);
  cmark(MK_NS);
  for (i = 0; i < (int)H[H_NOPS]; i++) {
    apply_op(ops + 6 * i, i);
    cmark(MK_OP + i);
  }
  cmark(MK_OPS);
  if (sync_fd >= 0 && H[H_LATESYNC]) wait_parent(sync_fd);
  cmark(MK_SYNC);
  finish_and_exec();
  return 0;
}

#if defined(__x86_64__)
/* clone3(args, size) for a child on its own stack (args[5..6]): it calls fn() there and exits with its
 * result, never returning through a C frame; the parent gets the pid or -errno. Registers survive the
 * syscall except rax, rcx and r11, so fn rides in r8. */
long berth_clone3_run(void *args, u64 size, int (*fn)(void *));
__asm__(
    ".text\n"
    ".globl berth_clone3_run\n"
    ".type berth_clone3_run, @function\n"
    "berth_clone3_run:\n"
    "  mov %rdx, %r8\n"
    "  mov $435, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz berth_clone3_parent\n"
    "  xor %ebp, %ebp\n"
    "  and $-16, %rsp\n"
    "  xor %edi, %edi\n"
    "  call *%r8\n"
    "  mov %eax, %edi\n"
    "  mov $60, %eax\n"
    "  syscall\n"
    "  hlt\n"
    "berth_clone3_parent:\n"
    "  ret\n");
#else
static long berth_clone3_run(void *args, u64 size, int (*fn)(void *)) { return -ENOSYS; }
#endif

/* Relocate the blob's offsets inside pointer arrays (argv, envp) into real pointers. */
static void fix_strv(u64 off) {
  u64 *v = (u64 *)P(off);
  if (!v) return;
  for (; *v; v++) *v = (u64)(arena + *v);
}

/* blob: see mount-plan.ts / spawn.ts encodeBlob. Returns the child's host pid or -errno. */
static int load_blob(const char *blob, int len) {
  if (len > (int)sizeof arena) return -7; /* E2BIG */
  memcpy(arena, blob, len);
  H = (u64 *)arena;
  fix_strv(H[H_ARGV]);
  fix_strv(H[H_ENVP]);
  fix_strv(H[H_CGTASKS]);
  return 0;
}

/* clone the loaded plan's child; ptid (vfork only): where the kernel publishes its pid before it runs */
static int spawn_loaded(volatile int *ptid) {
  int pid;
  cg_join_v2 = 0;
#if !defined(__x86_64__)
  H[H_VFORK] = 0;   /* no clone3 trampoline here: the fork-like clone below */
#endif
  if (H[H_VFORK]) {
    /* posix_spawn's way: the child borrows this process's memory (no page tables copied, nothing to
     * tear down at its execve) and this thread waits until it has exec'd or exited. It runs on
     * `stack`, which no one else uses meanwhile, with every signal blocked until its handlers are
     * back to default (OCI_RESET_SIGNALS / above). clone3 puts it straight into the v2 cgroup; where
     * there is no clone3, glibc's clone, and the child writes cgroup.procs itself (13 ms under strace here) */
    u64 all[16], args[11];
    int k;
    for (k = 0; k < 16; k++) all[k] = ~0UL;
    sigprocmask(0 /* SIG_BLOCK */, all, vfork_mask);
    for (k = 0; k < 11; k++) args[k] = 0;
    args[0] = (H[H_CLONE] & ~(u64)CLONE_NEWCGROUP) | CLONE_VM | CLONE_VFORK | ((int)H[H_CGFD] >= 0 ? CLONE_INTO_CGROUP : 0);
    if (ptid) args[0] |= CLONE_PARENT_SETTID;
    args[3] = (u64)ptid;                              /* parent_tid */
    args[4] = SIGCHLD;                                /* exit_signal */
    args[5] = (u64)stack;                             /* stack, stack_size */
    args[6] = sizeof stack;
    args[10] = (int)H[H_CGFD] >= 0 ? H[H_CGFD] : 0;   /* cgroup */
    pid = (int)berth_clone3_run(args, sizeof args, main_child);
    k = pid < 0 ? -pid : 0;
    if (pid < 0 && (k == ENOSYS || k == E2BIG || k == EINVAL)) {
      cg_join_v2 = 1;
      pid = clone(main_child, stack + sizeof stack, (int)(H[H_CLONE] & ~(u64)CLONE_NEWCGROUP) | CLONE_VM | CLONE_VFORK | (ptid ? CLONE_PARENT_SETTID : 0) | SIGCHLD, 0, ptid);
      k = pid < 0 ? *__errno_location() : 0;
    }
    sigprocmask(2 /* SIG_SETMASK */, vfork_mask, 0);
    return pid < 0 ? -k : pid;
  }
  /* clone flags except CLONE_NEWCGROUP, which the child unshares itself after the cgroup join */
  if ((int)H[H_CGFD] >= 0) {
    /* clone3 into the v2 cgroup: fork-like (no CLONE_VM, no new stack: the child runs on a COW copy of
     * this stack and never returns from here) */
    u64 args[11];
    int k;
    for (k = 0; k < 11; k++) args[k] = 0;
    args[0] = (H[H_CLONE] & ~(u64)CLONE_NEWCGROUP) | CLONE_INTO_CGROUP;   /* flags */
    args[4] = SIGCHLD;                                                    /* exit_signal */
    args[10] = H[H_CGFD];                                                 /* cgroup */
    pid = (int)syscall(SYS_clone3, args, sizeof args);
    if (pid == 0) { main_child(0); _exit(127); }
    if (pid > 0) return pid;
    k = *__errno_location();
    if (k != ENOSYS && k != E2BIG && k != EINVAL) return -k;
    cg_join_v2 = 1;   /* kernel before 5.7: plain clone, the child writes cgroup.procs */
  }
  /* no CLONE_VM: the child gets COW copies of arena and stack */
  pid = clone(main_child, stack + sizeof stack, (int)(H[H_CLONE] & ~(u64)CLONE_NEWCGROUP) | SIGCHLD, 0);
  if (pid < 0) return -*__errno_location();
  return pid;
}

int berth_spawn(const char *blob, int len) {
  int r = load_blob(blob, len);
  return r ? r : spawn_loaded(0);
}

/* ---- a vfork clone from a thread of its own: the child borrows this process's memory (no fork cost)
 * while the JS thread goes on to do the parent's part (the network) during the child's set-up. The
 * child waits on the sync pipe before its exec; this thread waits for the exec. One at a time. */
static volatile int bg_pid;    /* the child's pid once cloned (CLONE_PARENT_SETTID), or the clone's -errno */
static volatile int bg_done;
static int bg_result;
static u64 bg_thread;

static void *bg_main(void *unused) {
  int r = spawn_loaded(H[H_VFORK] ? &bg_pid : 0);
  bg_result = r;
  bg_pid = r;
  bg_done = 1;
  return 0;
}

int berth_spawn_bg(const char *blob, int len) {
  int r = load_blob(blob, len);
  if (r) return r;
  bg_pid = 0;
  bg_done = 0;
  r = pthread_create(&bg_thread, 0, bg_main, 0);
  return r ? -r : 0;
}

/* the child's pid as soon as it exists, or the clone's -errno */
int berth_spawn_bg_pid(void) {
  struct { long s, ns; } ts = { 0, 20000 };
  for (;;) {
    int p = bg_pid;
    if (p > 0 || bg_done) return bg_done ? bg_result : p;
    nanosleep(&ts, 0);
  }
}

/* wait until the clone has returned (the child exec'd or exited) and the thread is gone: the clone's result */
int berth_spawn_bg_join(void) {
  pthread_join(bg_thread, 0);
  return bg_result;
}

/* raw wait status; -1 while running (nohang); -1000-errno on error */
int berth_wait(int pid, int nohang) {
  int st = 0, r;
  do r = waitpid(pid, &st, nohang ? 1 : 0); while (r < 0 && *__errno_location() == EINTR);
  if (r == 0) return -1;
  if (r < 0) return -1000 - *__errno_location();
  return st;
}

/* ---- background file work (ffi/background.ts). On a filesystem mounted `discard` without a journal
 * every freed block waits for the device. What frees blocks for berth (the last close of a replaced
 * record, the delete of a removed snapshot's or record's tree) runs on one thread of the shim's own, fed
 * through a pipe: berth's JS thread does not wait, and needs no Node API module for it (node:fs's async
 * calls load node:fs/promises, ~0.5–1.5 ms in a cold process). Only libc on that thread. */
extern int pthread_detach(u64 thread);
extern int pthread_mutex_lock(void *);
extern int pthread_mutex_unlock(void *);
extern int unlinkat(int, const char *, int);
extern int pipe2(int *, int);
extern long lseek(int, long, int);
#define AT_REMOVEDIR 0x200
#define EISDIR 21
#define ENOTEMPTY 39
#if defined(__aarch64__)
#define SYS_getdents64 61
#else
#define SYS_getdents64 217
#endif

#define NJOBS 32
static struct { int state; int result; char path[4096]; } fw_jobs[NJOBS];   /* state: 0 free, 1 queued, 2 done */
static char fw_lock[64] __attribute__((aligned(16)));                        /* a pthread_mutex_t, zeroed = unlocked */
static int fw_pipe[2] = { -1, -1 };

/* unlink `name` under `parent`, a directory with everything in it, never following a symlink;
 * 0 or -errno */
static int rm_at(int parent, const char *name, int depth) {
  char buf[4096];
  long n, off;
  int fd, r, pass;
  if (unlinkat(parent, name, 0) == 0) return 0;
  r = *__errno_location();
  if (r == ENOENT) return 0;
  if (r != EISDIR) return -r;
  if (depth > 128) return -ELOOP;
  fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return *__errno_location() == ENOENT ? 0 : -*__errno_location();
  /* entries removed while the directory is read: once more from the start should any be missed */
  for (pass = 0; pass < 3; pass++) {
    if (pass) lseek(fd, 0, 0);
    for (;;) {
      n = syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n < 0) { r = -*__errno_location(); close(fd); return r; }
      if (n == 0) break;
      for (off = 0; off < n;) {
        struct { u64 ino; long off; unsigned short reclen; unsigned char type; char name[1]; } *d = (void *)(buf + off);
        off += d->reclen;
        if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2]))) continue;
        r = rm_at(fd, d->name, depth + 1);
        if (r < 0) { close(fd); return r; }
      }
    }
    if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || *__errno_location() == ENOENT) { close(fd); return 0; }
    if (*__errno_location() != ENOTEMPTY) break;
  }
  r = -*__errno_location();
  close(fd);
  return r;
}

static void *fw_main(void *unused) {
  int msg, r;
  prctl(PR_SET_NAME, (u64)"berth-files", 0, 0, 0);
  for (;;) {
    ssize_t got = read(fw_pipe[0], &msg, sizeof msg);
    if (got != sizeof msg) {
      if (got < 0 && *__errno_location() == EINTR) continue;
      return 0;
    }
    if (msg >= 0) { close(msg); continue; }   /* an fd to let go */
    r = rm_at(AT_FDCWD, fw_jobs[-msg - 1].path, 0);
    pthread_mutex_lock(fw_lock);
    fw_jobs[-msg - 1].result = r;
    fw_jobs[-msg - 1].state = 2;
    pthread_mutex_unlock(fw_lock);
  }
}

static int fw_start(void) {
  u64 th;
  if (fw_pipe[0] >= 0) return 0;
  if (pipe2(fw_pipe, O_CLOEXEC) < 0) return -1;
  if (pthread_create(&th, 0, fw_main, 0) != 0) {
    close(fw_pipe[0]);
    close(fw_pipe[1]);
    fw_pipe[0] = fw_pipe[1] = -1;
    return -1;
  }
  pthread_detach(th);
  return 0;
}

/* close `fd` on the background thread; 0, or -1 when that cannot be (the caller closes it) */
int berth_bg_close(int fd) {
  if (fw_start() < 0) return -1;
  return write(fw_pipe[1], &fd, sizeof fd) == sizeof fd ? 0 : -1;
}

/* delete the tree at `path` on the background thread: a job number to poll, or -1 (the caller does it) */
int berth_bg_rmtree(const char *path) {
  int i, n = slen(path), msg;
  if (n >= 4096 || fw_start() < 0) return -1;
  pthread_mutex_lock(fw_lock);
  for (i = 0; i < NJOBS && fw_jobs[i].state != 0; i++) ;
  if (i < NJOBS) {
    memcpy(fw_jobs[i].path, path, n + 1);
    fw_jobs[i].state = 1;
  }
  pthread_mutex_unlock(fw_lock);
  if (i == NJOBS) return -1;
  msg = -i - 1;
  if (write(fw_pipe[1], &msg, sizeof msg) != sizeof msg) {
    pthread_mutex_lock(fw_lock);
    fw_jobs[i].state = 0;
    pthread_mutex_unlock(fw_lock);
    return -1;
  }
  return i;
}

/* a job's outcome: 1 (done, 0 or -errno in *result, the job's slot freed) or 0 (still running) */
int berth_bg_poll(int job, int *result) {
  int done = 0;
  if (job < 0 || job >= NJOBS) {
    *result = -EINVAL;
    return 1;
  }
  pthread_mutex_lock(fw_lock);
  if (fw_jobs[job].state == 2) {
    *result = fw_jobs[job].result;
    fw_jobs[job].state = 0;
    done = 1;
  }
  pthread_mutex_unlock(fw_lock);
  return done;
}

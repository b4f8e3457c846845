/*
 * berth body writer thread: the write(2)s of regular files' bodies, then their fchown/fchmod,
 * futimens, writeback start and close(2), on a POSIX thread of its own, so the JS thread of an import
 * only reads, parses tar and creates the files (ffi/body-writer.ts drives it, cow/apply.ts feeds it).
 *
 * Why: on the 1 GB bench tarball the JS thread spent ~0.45 s of ~2.3 s in those calls (the copy of
 * the bodies into the page cache above all) while the second core had room beside the hash worker.
 *
 * What the thread never does: resolve a path. Every path it is given (CREATE, LINK) was resolved
 * inside the root by the caller (cow/apply.ts, its parent directories one by one), and the calls it
 * makes are the caller's own: open O_CREAT | O_EXCL | O_NOFOLLOW, link(2) without following; other
 * files reach it as descriptors. The caller changes nothing on those paths before the queue has run
 * (it drains first), so extraction stays inside its root whatever order the two threads run in.
 *
 * Queue: the caller's array of OP_BYTES-byte ops, a ring of `cap` ops; counters run forever (u64),
 * an op's slot is its counter modulo `cap`. The caller fills slots at head and publishes them with
 * bw_push; the thread runs them in order and bumps tail. The body bytes an op points at are the
 * caller's (a JS ArrayBuffer it keeps referenced and does not overwrite until tail has passed the op).
 * Words are u32; fd -1 means the file of the last CREATE.
 *   CREATE [0]=3 [1]=path length [2]=mode; the path (absolute, NUL-terminated) at byte 64 of the slot:
 *          open(2) O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, exactly the call cow/apply.ts makes
 *          itself after resolving the parent directory inside the root (the last component is never
 *          followed and never an existing file)
 *   WRITE  [0]=1 [1]=fd [2,3]=address lo,hi [4]=length
 *   COPY   [0]=4 [1]=fd [2]=source fd [3,4]=source offset lo,hi [5,6]=length lo,hi: the bytes copied
 *          from the source file (the tarball) in the kernel, copy_file_range(2); pread/write where
 *          the kernel or the filesystems refuse it. A source that ends early is an error (EIO)
 *   LINK   [0]=5 [1]=target length [2]=path length; the target (NUL-terminated) at byte 64 of the slot, the
 *          path right after its NUL: link(2), which does not follow a symlink target, as cow/apply.ts
 *          calls it itself; queued for a hardlink to a file created through this queue (its CREATE
 *          or its caller's open came first), so the caller need not wait for that file to exist.
 *          Both paths are resolved inside the root by the caller; the new name is never an existing file
 *   FINISH [0]=2 [1]=fd [2]=flags (1 fchown, 2 fchmod, 4 writeback, 8 times) [3]=uid [4]=gid [5]=mode
 *          [6,7]=atime s lo,hi [8]=atime ns [9,10]=mtime s lo,hi [11]=mtime ns; always closes fd
 * After each op the thread stores the low 32 bits of its counter in the u32 at `progress` (the word
 * after the ring): the caller reads it without a call to see how far behind the thread is.
 * The first failure is kept (errno, the op's counter and syscall); after it the thread only closes
 * the descriptors of the FINISH ops it meets, so the queue always drains and no descriptor leaks.
 * No JS runs on this thread and nothing here calls back into JS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_FINISH = 2, OP_CREATE = 3, OP_COPY = 4, OP_LINK = 5 };
enum { F_CHOWN = 1, F_CHMOD = 2, F_WRITEBACK = 4, F_TIMES = 8 };
enum { SC_WRITE = 1, SC_FCHOWN = 2, SC_FCHMOD = 3, SC_FUTIMENS = 4, SC_CLOSE = 5, SC_CANCELED = 6, SC_OPEN = 7, SC_COPY = 8, SC_LINK = 9 };
#define OP_BYTES 512

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t work; /* the thread waits here for ops */
	pthread_cond_t done; /* the caller waits here for tail */
	const uint32_t *ops;
	uint32_t *progress;
	uint64_t cap;
	uint64_t head, tail;
	int stop, waiting;
	int err, err_syscall;
	uint64_t err_seq;
	int cur; /* the file of the last CREATE, or -1 */
	int no_cfr; /* copy_file_range refused once: pread/write from then on */
	char *bounce; /* their buffer, made on first use */
	pthread_t th;
} bw_t;

static void fail(bw_t *w, uint64_t seq, int sc, int e) {
	pthread_mutex_lock(&w->mu);
	if (!w->err) {
		w->err = e ? e : EIO;
		w->err_syscall = sc;
		w->err_seq = seq;
	}
	pthread_mutex_unlock(&w->mu);
}

static int64_t s64(uint32_t lo, uint32_t hi) { return (int64_t)(((uint64_t)hi << 32) | lo); }

#define BOUNCE (256 << 10)

/* `len` bytes at `off` of `src` to the end of `fd`: 0, or an errno */
static int copy_body(bw_t *w, int fd, int src, int64_t off, uint64_t len) {
	while (len > 0 && !w->no_cfr) {
		loff_t o = off;
		ssize_t n = copy_file_range(src, &o, fd, NULL, len > (1u << 30) ? (1u << 30) : len, 0);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF)) {
			/* another filesystem or kernel (EBADF: a source not open for it); nothing was copied by this call */
			w->no_cfr = 1;
			break;
		}
		if (n < 0) return errno;
		if (n == 0) return EIO; /* the source ended inside the body */
		off += n;
		len -= (uint64_t)n;
	}
	if (len > 0 && !w->bounce && !(w->bounce = malloc(BOUNCE))) return ENOMEM;
	while (len > 0) {
		ssize_t n = pread(src, w->bounce, len > BOUNCE ? BOUNCE : len, off);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) return errno;
		if (n == 0) return EIO;
		for (ssize_t done = 0; done < n;) {
			ssize_t m = write(fd, w->bounce + done, (size_t)(n - done));
			if (m < 0 && errno == EINTR) continue;
			if (m <= 0) return m < 0 ? errno : ENOSPC;
			done += m;
		}
		off += n;
		len -= (uint64_t)n;
	}
	return 0;
}

static void run(bw_t *w, uint64_t seq, const uint32_t *op, int failed) {
	if (op[0] == OP_CREATE) {
		w->cur = -1;
		if (failed) return;
		int fd = open((const char *)op + 64, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)op[2]);
		if (fd < 0) fail(w, seq, SC_OPEN, errno);
		else w->cur = fd;
		return;
	}
	if (op[0] == OP_LINK) {
		if (failed) return;
		const char *target = (const char *)op + 64;
		if (link(target, target + op[1] + 1) != 0) fail(w, seq, SC_LINK, errno);
		return;
	}
	int fd = (int)op[1] == -1 ? w->cur : (int)op[1];
	if (fd < 0) return; /* its CREATE failed: that failure is the one reported */
	if (op[0] == OP_COPY) {
		if (failed) return;
		int e = copy_body(w, fd, (int)op[2], s64(op[3], op[4]), ((uint64_t)op[6] << 32) | op[5]);
		if (e) fail(w, seq, SC_COPY, e);
		return;
	}
	if (op[0] == OP_WRITE) {
		if (failed) return;
		const char *p = (const char *)(uintptr_t)(((uint64_t)op[3] << 32) | op[2]);
		size_t left = op[4];
		while (left > 0) {
			ssize_t n = write(fd, p, left);
			if (n < 0 && errno == EINTR) continue;
			if (n <= 0) {
				fail(w, seq, SC_WRITE, n < 0 ? errno : ENOSPC);
				return;
			}
			p += n;
			left -= (size_t)n;
		}
		return;
	}
	if (op[0] != OP_FINISH) return;
	uint32_t flags = op[2];
	if (!failed) {
		/* chmod after chown: chown clears setuid/setgid on regular files */
		if ((flags & F_CHOWN) && fchown(fd, op[3], op[4]) != 0) fail(w, seq, SC_FCHOWN, errno);
		else if ((flags & F_CHMOD) && fchmod(fd, op[5]) != 0) fail(w, seq, SC_FCHMOD, errno);
		else {
			/* a large file's pages start going to disk now, while the layer goes on */
			if (flags & F_WRITEBACK) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
			if (flags & F_TIMES) {
				struct timespec ts[2] = {{s64(op[6], op[7]), op[8]}, {s64(op[9], op[10]), op[11]}};
				if (futimens(fd, ts) != 0) fail(w, seq, SC_FUTIMENS, errno);
			}
		}
	}
	if (close(fd) != 0 && errno != EINTR && !failed) fail(w, seq, SC_CLOSE, errno);
	if (fd == w->cur) w->cur = -1;
}

static void *loop(void *arg) {
	bw_t *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->tail == w->head && !w->stop) pthread_cond_wait(&w->work, &w->mu);
		if (w->tail == w->head) break; /* stopped and drained */
		uint64_t seq = w->tail;
		int failed = w->err != 0;
		pthread_mutex_unlock(&w->mu);
		run(w, seq, (const uint32_t *)((const char *)w->ops + (seq % w->cap) * OP_BYTES), failed);
		pthread_mutex_lock(&w->mu);
		w->tail = seq + 1;
		__atomic_store_n(w->progress, (uint32_t)(seq + 1), __ATOMIC_RELEASE);
		if (w->waiting) pthread_cond_broadcast(&w->done);
	}
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/** a running thread over the caller's op ring of `cap` ops (and the progress word after it), or NULL */
bw_t *bw_open(uint32_t *ops, uint64_t cap) {
	bw_t *w = calloc(1, sizeof *w);
	if (!w) return NULL;
	w->ops = ops;
	w->progress = (uint32_t *)((char *)ops + cap * OP_BYTES);
	w->cap = cap;
	w->cur = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	int r = pthread_create(&w->th, &a, loop, w);
	pthread_attr_destroy(&a);
	if (r != 0) {
		free(w);
		return NULL;
	}
	return w;
}

/** ops up to the counter `head` are filled in */
void bw_push(bw_t *w, uint64_t head) {
	pthread_mutex_lock(&w->mu);
	w->head = head;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
}

/** block until the thread has run every op before the counter `target` (or failed); returns tail */
uint64_t bw_wait(bw_t *w, uint64_t target) {
	pthread_mutex_lock(&w->mu);
	w->waiting++;
	while (w->tail < target && !w->err) pthread_cond_wait(&w->done, &w->mu);
	w->waiting--;
	uint64_t t = w->tail;
	pthread_mutex_unlock(&w->mu);
	return t;
}

/** the first failure: its errno (0: none), and in out[0..1] the op's counter and the syscall */
int bw_error(bw_t *w, uint64_t *out) {
	pthread_mutex_lock(&w->mu);
	int e = w->err;
	out[0] = w->err_seq;
	out[1] = (uint64_t)w->err_syscall;
	pthread_mutex_unlock(&w->mu);
	return e;
}

/** run (or with `cancel`, only close the descriptors of) what is queued, stop and join the thread */
void bw_end(bw_t *w, int cancel) {
	pthread_mutex_lock(&w->mu);
	if (cancel && !w->err) {
		w->err = ECANCELED;
		w->err_syscall = SC_CANCELED;
		w->err_seq = w->tail;
	}
	w->stop = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	free(w->bounce);
	free(w);
}

/*
 * The SHA-256 of a whole file (the tarball of `berth import FILE`), on a thread of its own, for the
 * import that copies the bodies from the file in the kernel (COPY) and so never reads them itself.
 * The hash is libcrypto's (OpenSSL 3: SHA-NI where the CPU has it, else its AVX2/SSSE3 code),
 * dlopen()ed here: fh_open returns NULL without it and the caller hashes another way.
 *
 * The file is read with pread(2) into a buffer that stays in the cache, HASH_BUF at a time. Mapping
 * it instead (MAP_POPULATE windows of 1–64 MiB, unmapped behind) cost more CPU on this VM kind: 0.84–0.90 s
 * of user time for the 1 GB bench tarball against 0.58–0.62 s user + 0.15–0.20 s sys for the reads,
 * the hash reading page-cache pages through 4 KiB mappings instead of the copy's warm buffer.
 *
 * The thread reads `size` bytes through its own duplicate of the caller's descriptor, so the caller
 * may close its own at any time; a file that ends before that is an error (EIO).
 */
#include <dlfcn.h>

static struct {
	int tried, ok;
	void *(*ctx_new)(void);
	void (*ctx_free)(void *);
	const void *(*sha256)(void);
	int (*init)(void *, const void *, void *);
	int (*update)(void *, const void *, size_t);
	int (*final)(void *, unsigned char *, unsigned *);
} ossl;
static pthread_mutex_t ossl_mu = PTHREAD_MUTEX_INITIALIZER;

static int ossl_load(void) {
	pthread_mutex_lock(&ossl_mu);
	if (!ossl.tried) {
		ossl.tried = 1;
		void *l = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
		if (l) {
			ossl.ctx_new = (void *(*)(void))dlsym(l, "EVP_MD_CTX_new");
			ossl.ctx_free = (void (*)(void *))dlsym(l, "EVP_MD_CTX_free");
			ossl.sha256 = (const void *(*)(void))dlsym(l, "EVP_sha256");
			ossl.init = (int (*)(void *, const void *, void *))dlsym(l, "EVP_DigestInit_ex");
			ossl.update = (int (*)(void *, const void *, size_t))dlsym(l, "EVP_DigestUpdate");
			ossl.final = (int (*)(void *, unsigned char *, unsigned *))dlsym(l, "EVP_DigestFinal_ex");
			ossl.ok = ossl.ctx_new && ossl.ctx_free && ossl.sha256 && ossl.init && ossl.update && ossl.final;
		}
	}
	pthread_mutex_unlock(&ossl_mu);
	return ossl.ok;
}

#define HASH_BUF (256u << 10)

typedef struct {
	int fd;
	uint64_t size;
	void *ctx;
	volatile int stop; /* fh_end(cancel): leave before the next read */
	int err;
	int done; /* read with __atomic: fh_done */
	unsigned char out[32];
	pthread_t th;
} fh_t;

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <sys/resource.h>
#include <sys/syscall.h>

/* does libcrypto hash with SHA-NI here: the CPU's flag, unless OPENSSL_ia32cap masks it (its second
 * word is CPUID leaf 7's EBX; SHA is bit 29), as layer-inflate.c reads it */
static int sha_ni(void) {
#if defined(__x86_64__)
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 29) & 1)) return 0;
	const char *e = getenv("OPENSSL_ia32cap");
	const char *m = e ? strchr(e, ':') : NULL;
	if (!m) return 1;
	int off = *++m == '~';
	unsigned long long v = strtoull(m + off, NULL, 0);
	return ((v >> 29) & 1) != (unsigned long long)off;
#else
	return 0;
#endif
}

static void *hash_loop(void *arg) {
	fh_t *h = arg;
	/* Without SHA-NI the hash (~450 MB/s) is the import's longest part, longer than the unpack: on two
	 * cores shared with the JS and writer threads it got ~2/3 of one, and the import waited for it.
	 * Nice -5 (root; a refusal is ignored) keeps a core for it, the unpack finishing on the other.
	 * With SHA-NI the unpack is the longer part and the hash keeps the default. */
	if (!sha_ni()) (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -5);
	unsigned char *buf = malloc(HASH_BUF);
	if (!buf) h->err = ENOMEM;
	for (uint64_t off = 0; off < h->size && !h->err;) {
		if (h->stop) {
			h->err = ECANCELED;
			break;
		}
		size_t want = h->size - off < HASH_BUF ? (size_t)(h->size - off) : HASH_BUF;
		ssize_t n = pread(h->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) {
			h->err = n < 0 ? errno : EIO; /* EIO: the file ended early */
			break;
		}
		if (!ossl.update(h->ctx, buf, (size_t)n)) h->err = EIO;
		off += (uint64_t)n;
	}
	free(buf);
	unsigned n = 0;
	if (!h->err && (!ossl.final(h->ctx, h->out, &n) || n != 32)) h->err = EIO;
	close(h->fd);
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/** a thread hashing the first `size` bytes of the file `fd` (duplicated), or NULL (no libcrypto, …) */
fh_t *fh_open(int fd, uint64_t size) {
	if (!ossl_load()) return NULL;
	fh_t *h = calloc(1, sizeof *h);
	if (!h) return NULL;
	h->size = size;
	h->ctx = ossl.ctx_new();
	h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (!h->ctx || h->fd < 0 || !ossl.init(h->ctx, ossl.sha256(), NULL)) goto fail;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 << 10);
	int r = pthread_create(&h->th, &a, hash_loop, h);
	pthread_attr_destroy(&a);
	if (r == 0) return h;
fail:
	if (h->fd >= 0) close(h->fd);
	if (h->ctx) ossl.ctx_free(h->ctx);
	free(h);
	return NULL;
}

/** 1 once the thread has finished (fh_end will not block) */
int fh_done(fh_t *h) { return __atomic_load_n(&h->done, __ATOMIC_ACQUIRE); }

/** join the thread (`cancel`: stop it before its next read) and free it: 0 and the digest in out[0..31], or an errno */
int fh_end(fh_t *h, int cancel, unsigned char *out) {
	if (cancel) h->stop = 1;
	pthread_join(h->th, NULL);
	int e = h->err;
	if (!e) memcpy(out, h->out, 32);
	ossl.ctx_free(h->ctx);
	free(h);
	return e;
}

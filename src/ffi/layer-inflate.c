/*
 * berth layer inflate thread: a gzip layer's inflate and the SHA-256 of its inflated bytes (the
 * diffID) on a POSIX thread of its own, so the one JS thread of a pull only receives HTTP chunks,
 * writes the ingest, parses tar and writes files (ffi/layer-inflate.ts drives it). Its input is an
 * input ring the caller fills (li_open) or a file the thread reads itself (li_open_file).
 *
 * Memory: both rings belong to the caller (JS ArrayBuffers it keeps referenced until li_end has joined
 * the thread; in file mode the input ring is the thread's read buffer); this file allocates only its
 * state and zlib's (~45 KiB). Counters run forever (u64);
 * a position in a ring is the counter modulo its size.
 *   input ring:  the caller copies compressed bytes in at in_head and bumps it (li_push); the thread
 *                inflates from in_tail and bumps it.
 *   output ring: the thread inflates into [out_head, out_tail + out_cap) and bumps out_head; the caller
 *                reads up to out_head and gives bytes back with li_release (out_tail), late enough for
 *                its readers to be done with them.
 * One mutex and one condition variable guard the counters; the caller never blocks in here (it polls
 * li_out_head / li_in_tail and sleeps on its event loop), only the thread waits.
 *
 * The inflate: ISA-L's igzip (libisal.so.2, dlopen()ed when the build saw its header and the machine
 * has the library: 2.2–2.3 × faster than libz 1.2.13 on a pull's layers, measured), else zlib
 * (libz.so.1, linked). ISA-L checks the gzip trailer's CRC-32 (its CRC costs ~0 next to the inflate);
 * with libz it is skipped (inflateValidate, below). SHA-256 is here with the SHA-NI instructions; on a
 * CPU without them, libcrypto's block function (its AVX2 code: 444–459 MB/s here with SHA-NI masked,
 * against 262–272 MB/s for the portable C below, which is left for a machine without libcrypto.so.3).
 * libcrypto is mapped only then: its EVP layer cost ~2–4 MB of a pull's RSS (bound 64 MB), SHA256_Update
 * alone ~1.8 MB (measured).
 * No JS runs on this thread and nothing here calls back into JS.
 */
#define _GNU_SOURCE /* syncfs(2) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#if defined(__has_include)
#if __has_include(<isa-l/igzip_lib.h>)
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#define HAVE_ISAL 1
#endif
#endif

/* ---- the inflate engine: ISA-L where it is there (optional, dlopen), else libz ---- */

#ifdef HAVE_ISAL
static void (*isal_init_fn)(struct inflate_state *);
static int (*isal_inflate_fn)(struct inflate_state *);
static pthread_once_t isal_once = PTHREAD_ONCE_INIT;

static void isal_load(void) {
	/* RTLD_LOCAL: its symbols stay out of the process's namespace; never dlclose()d */
	void *h = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!h) return;
	void *i = dlsym(h, "isal_inflate_init"), *f = dlsym(h, "isal_inflate");
	if (!i || !f) return;
	isal_init_fn = (void (*)(struct inflate_state *))i;
	isal_inflate_fn = (int (*)(struct inflate_state *))f;
}

/*
 * A gzip member's header is parsed here, byte by byte, and ISA-L gets the deflate data and the trailer
 * (ISAL_GZIP_NO_HDR_VER: it checks the trailer's CRC-32 and length, and leaves the bytes after it,
 * the next member's, unread). ISA-L 2.30's own header parsing (ISAL_GZIP) checks a header CRC (FHCRC)
 * over the bytes of one call only, so a header split across two reads failed; it is not checked
 * here, as libz with inflateValidate(0) does not either.
 */
enum { H_FIXED, H_XLEN, H_EXTRA, H_NAME, H_COMMENT, H_HCRC, H_BODY };

/* the header field after `after`, by the flags byte (RFC 1952: extra, name, comment, header CRC) */
static int next_field(uint8_t f, int after) {
	if (after < H_XLEN && (f & 4)) return H_XLEN;
	if (after < H_NAME && (f & 8)) return H_NAME;
	if (after < H_COMMENT && (f & 16)) return H_COMMENT;
	if (after < H_HCRC && (f & 2)) return H_HCRC;
	return H_BODY;
}

/* a fresh member: isal_inflate_init leaves some of the state as it was, so all of it is zeroed */
static void isal_start(struct inflate_state *z, int *hst) {
	memset(z, 0, sizeof *z);
	isal_init_fn(z);
	z->crc_flag = ISAL_GZIP_NO_HDR_VER;
	*hst = H_FIXED;
}

static const char *isal_message(int rc) {
	switch (rc) {
	case ISAL_INVALID_BLOCK: return "gzip: invalid block type";
	case ISAL_NEED_DICT: return "gzip: stream needs a preset dictionary";
	case ISAL_INVALID_SYMBOL: return "gzip: invalid code";
	case ISAL_INVALID_LOOKBACK: return "gzip: invalid distance too far back";
	case ISAL_INVALID_WRAPPER: return "gzip: incorrect header check";
	case ISAL_UNSUPPORTED_METHOD: return "gzip: unknown compression method";
	case ISAL_INCORRECT_CHECKSUM: return "gzip: incorrect data check";
	default: return "gzip: corrupt data";
	}
}
#endif

/* 1: new streams inflate with ISA-L when it loads; 0: with libz (li_engine, tests and comparisons) */
static int want_isal = 1;

/* choose the engine of the streams opened from now on (1 ISA-L if there, 0 libz, -1 as it is);
 * returns the one they get: 1 ISA-L, 0 libz */
int li_engine(int isal) {
	if (isal >= 0) want_isal = isal != 0;
#ifdef HAVE_ISAL
	if (!want_isal) return 0;
	pthread_once(&isal_once, isal_load);
	return isal_inflate_fn != 0;
#else
	return 0;
#endif
}

/* ---- SHA-256 (FIPS 180-4): the SHA-NI instructions where the CPU has them, else portable C ---- */

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

typedef struct {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	unsigned used;
} sha256_t;

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_c(uint32_t *h, const uint8_t *p, size_t n) {
	for (; n >= 64; n -= 64, p += 64) {
		uint32_t w[64];
		for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
		for (int i = 0; i < 64; i++) {
			uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
			uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
	}
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
/* the Intel SHA extensions' schedule (Intel's "New Instructions Supporting the SHA-256", 2013):
 * 16 groups of 4 rounds; M[g % 4] holds the message words of group g */
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_shani(uint32_t *h, const uint8_t *p, size_t n) {
	const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
	__m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);  /* EFGH */
	__m128i s0 = _mm_alignr_epi8(tmp, s1, 8);                                         /* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xF0);                                              /* CDGH */
	for (; n >= 64; n -= 64, p += 64) {
		__m128i abef = s0, cdgh = s1, M[4], msg;
		for (int g = 0; g < 16; g++) {
			if (g < 4) M[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), MASK);
			msg = _mm_add_epi32(M[g & 3], _mm_loadu_si128((const __m128i *)&K256[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
			if (g >= 3 && g <= 14) {
				tmp = _mm_alignr_epi8(M[g & 3], M[(g - 1) & 3], 4);
				M[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(M[(g + 1) & 3], tmp), M[g & 3]);
			}
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
			if (g >= 1 && g <= 12) M[(g - 1) & 3] = _mm_sha256msg1_epu32(M[(g - 1) & 3], M[g & 3]);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	tmp = _mm_shuffle_epi32(s0, 0x1B);      /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);       /* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xF0);    /* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);       /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}
/*
 * OPENSSL_ia32cap masks CPU features for libcrypto (and for Bun's BoringSSL): its second word is CPUID
 * leaf 7's EBX, so ":~0x20000000" turns SHA-NI off. It is followed here too, so that one setting makes
 * every SHA-256 of a berth process run as on a CPU without SHA-NI (bench/run.ts --no-sha-ni).
 */
static int shani_masked(void) {
	const char *e = getenv("OPENSSL_ia32cap");
	const char *c = e ? strchr(e, ':') : NULL;
	if (!c) return 0;
	int off = *++c == '~';
	unsigned long long v = strtoull(c + off, NULL, 0);
	return ((v >> 29) & 1) == (unsigned long long)off;
}

static int has_shani(void) {
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3)) return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
	return (b >> 29) & 1 && !shani_masked();
}
#else
static int has_shani(void) { return 0; }
#define blocks_shani blocks_c
#endif

/* libcrypto's SHA256_Update over whole blocks: a SHA256_CTX (openssl/sha.h, a public struct) with no
 * bytes pending passes them straight to its block function, so only h[] is carried between calls */
#include <dlfcn.h>
typedef struct {
	uint32_t h[8], nl, nh, data[16];
	unsigned num, md_len;
} ossl_sha256_ctx;
static int (*ossl_sha256_update)(ossl_sha256_ctx *, const void *, size_t);
static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;

static void ossl_load(void) {
	void *l = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL); /* never dlclose()d */
	if (l) ossl_sha256_update = (int (*)(ossl_sha256_ctx *, const void *, size_t))dlsym(l, "SHA256_Update");
}

static void blocks_ossl(uint32_t *h, const uint8_t *p, size_t n) {
	if (!n) return;
	ossl_sha256_ctx c = {.md_len = 32};
	memcpy(c.h, h, sizeof c.h);
	ossl_sha256_update(&c, p, n); /* n is whole blocks: num stays 0 */
	memcpy(h, c.h, sizeof c.h);
}

/* which block function: 0 SHA-NI where the CPU has it, else libcrypto's, else portable C; 1 portable C;
 * 2 libcrypto's where it loads (tests). Returns the one chosen: 0 SHA-NI, 1 portable C, 2 libcrypto. */
static void (*blocks)(uint32_t *, const uint8_t *, size_t);

int li_portable_sha(int mode) {
	if (mode == 0 && has_shani()) {
		blocks = blocks_shani;
		return 0;
	}
	if (mode != 1) {
		pthread_once(&ossl_once, ossl_load);
		if (ossl_sha256_update) {
			blocks = blocks_ossl;
			return 2;
		}
	}
	blocks = blocks_c;
	return 1;
}

static void sha_init(sha256_t *s) {
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->used = 0;
}

static void sha_update(sha256_t *s, const uint8_t *p, size_t n) {
	s->len += n;
	if (s->used) {
		size_t k = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, k);
		s->used += k, p += k, n -= k;
		if (s->used < 64) return;
		blocks(s->h, s->buf, 64);
		s->used = 0;
	}
	size_t whole = n & ~(size_t)63;
	blocks(s->h, p, whole);
	memcpy(s->buf, p + whole, n - whole);
	s->used = n - whole;
}

static void sha_final(uint8_t out[32], sha256_t *s) {
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padn = (s->used < 56 ? 56 : 120) - s->used;
	for (int i = 0; i < 8; i++) pad[padn + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha_update(s, pad, padn + 8);
	for (int i = 0; i < 8; i++) out[4 * i] = s->h[i] >> 24, out[4 * i + 1] = s->h[i] >> 16, out[4 * i + 2] = s->h[i] >> 8, out[4 * i + 3] = s->h[i];
}

/* largest inflate step: the caller sees output at least this often */
#define STEP (256u << 10)

enum { ST_RUNNING = 0, ST_DONE = 1, ST_FAILED = -1 };

typedef struct {
	uint8_t *in;
	uint64_t in_cap;
	uint8_t *out;
	uint64_t out_cap;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t in_head, in_tail, out_head, out_tail;
	int in_closed, aborted, status;
	/* file mode (li_open_file): the input is the file `fd` (>= 0), which a writer appends to; `in`
	 * holds its bytes [buf_at, buf_at + buf_len), read with pread(2); in_head is its known size */
	int fd;
	uint64_t buf_at, buf_len;
	char err[200];
	unsigned char diff[32];
	sha256_t sha;
	z_stream z;
#ifdef HAVE_ISAL
	struct inflate_state *is; /* set: this stream inflates with ISA-L (~85 KiB), z is unused */
	int hst;                  /* where in the member's header (H_*; H_BODY: ISA-L's turn) */
	uint32_t hn, xlen;        /* bytes of the current header field seen; FEXTRA's length */
	uint8_t flags;            /* the header's flags byte */
#endif
	pthread_t th;
} li_t;

static void fail(li_t *p, const char *msg) {
	pthread_mutex_lock(&p->mu);
	if (p->status == ST_RUNNING) {
		snprintf(p->err, sizeof p->err, "%s", msg);
		p->status = ST_FAILED;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

#ifdef HAVE_ISAL
/* parse what `in[0..a)` holds of a member's header; returns the bytes taken, *err set on a bad one */
static uint64_t member_header(li_t *p, const uint8_t *in, uint64_t a, const char **err) {
	uint64_t i = 0;
	while (i < a && p->hst != H_BODY) {
		uint8_t c = in[i++];
		switch (p->hst) {
		case H_FIXED: /* magic, method, flags, mtime, xfl, os */
			p->hn++;
			if ((p->hn == 1 && c != 0x1f) || (p->hn == 2 && c != 0x8b)) return *err = "gzip: incorrect header check", i;
			if (p->hn == 3 && c != 8) return *err = "gzip: unknown compression method", i;
			if (p->hn == 4) {
				if (c & 0xe0) return *err = "gzip: unknown header flags set", i;
				p->flags = c;
			}
			if (p->hn == 10) p->hn = 0, p->xlen = 0, p->hst = next_field(p->flags, H_FIXED);
			break;
		case H_XLEN:
			p->xlen |= (uint32_t)c << (8 * p->hn++);
			if (p->hn == 2) p->hn = 0, p->hst = p->xlen ? H_EXTRA : next_field(p->flags, H_EXTRA);
			break;
		case H_EXTRA:
			if (++p->hn == p->xlen) p->hn = 0, p->hst = next_field(p->flags, H_EXTRA);
			break;
		case H_NAME:
		case H_COMMENT:
			if (c == 0) p->hst = next_field(p->flags, p->hst);
			break;
		case H_HCRC:
			if (++p->hn == 2) p->hn = 0, p->hst = H_BODY;
			break;
		}
	}
	return i;
}
#endif

static void *run(void *arg) {
	li_t *p = arg;
	int started = 0;  /* a byte of input was seen */
	int between = 0;  /* a gzip member ended and no byte of the next one was inflated yet */
	int pending = 0;  /* the last step filled its output window: zlib may hold more */
	char msg[200];
	for (;;) {
		uint64_t in_av, out_sp, in_pos, out_pos;
		int closed;
		pthread_mutex_lock(&p->mu);
		for (;;) {
			if (p->aborted) {
				pthread_mutex_unlock(&p->mu);
				return 0;
			}
			in_av = p->in_head - p->in_tail;
			out_sp = p->out_cap - (p->out_head - p->out_tail);
			closed = p->in_closed;
			if (out_sp > 0 && (in_av > 0 || pending)) break;
			if (closed && in_av == 0 && !pending) break;
			if (p->fd >= 0 && out_sp > 0 && !closed) {
				/* file mode, the input read up to its known size: look at the file's size, then
				 * wait for a poke (li_push) or 2 ms, whichever comes first */
				struct stat st;
				pthread_mutex_unlock(&p->mu);
				int rc = fstat(p->fd, &st);
				pthread_mutex_lock(&p->mu);
				if (rc == 0 && (uint64_t)st.st_size > p->in_head) {
					p->in_head = (uint64_t)st.st_size;
					continue;
				}
				if (p->aborted) continue;
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_nsec += 2000000;
				if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
				pthread_cond_timedwait(&p->cv, &p->mu, &until);
				continue;
			}
			pthread_cond_wait(&p->cv, &p->mu);
		}
		in_pos = p->in_tail % p->in_cap;
		out_pos = p->out_head % p->out_cap;
		pthread_mutex_unlock(&p->mu);
		const uint8_t *in_ptr = p->in + in_pos;
		if (p->fd >= 0 && in_av > 0) {
			/* file mode: refill the buffer once zlib took all of it */
			if (p->in_tail >= p->buf_at + p->buf_len) {
				uint64_t want = in_av < p->in_cap ? in_av : p->in_cap;
				ssize_t got;
				do got = pread(p->fd, p->in, want, (off_t)p->in_tail);
				while (got < 0 && errno == EINTR);
				if (got <= 0) {
					snprintf(msg, sizeof msg, "read layer: %s", got < 0 ? strerror(errno) : "the file is shorter than written");
					return fail(p, msg), (void *)0;
				}
				p->buf_at = p->in_tail;
				p->buf_len = (uint64_t)got;
			}
			in_pos = p->in_tail - p->buf_at;
			in_ptr = p->in + in_pos;
			in_av = p->buf_at + p->buf_len - p->in_tail;
		}

		if (closed && in_av == 0 && !pending) {
			if (!started) return fail(p, "gzip: empty stream"), (void *)0;
			if (!between) return fail(p, "gzip: unexpected end of data (truncated stream)"), (void *)0;
			pthread_mutex_lock(&p->mu);
			sha_final(p->diff, &p->sha);
			p->status = ST_DONE;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			return 0;
		}
		uint64_t a = in_av < p->in_cap - in_pos ? in_av : p->in_cap - in_pos;
		if (p->fd >= 0) a = in_av;
		uint64_t s = out_sp < p->out_cap - out_pos ? out_sp : p->out_cap - out_pos;
		if (s > STEP) s = STEP;
		if (between && a > 0) {
#ifdef HAVE_ISAL
			if (p->is) isal_start(p->is, &p->hst);
			else
#endif
			if (inflateReset(&p->z) != Z_OK) return fail(p, "zlib: inflateReset failed"), (void *)0;
			between = 0;
		}
		if (a > 0) started = 1;
		uint64_t consumed, produced;
#ifdef HAVE_ISAL
		if (p->is && p->hst != H_BODY) {
			const char *e = 0;
			consumed = member_header(p, in_ptr, a, &e);
			if (e) return fail(p, e), (void *)0;
			produced = 0;
			pending = 0;
		} else if (p->is) {
			struct inflate_state *z = p->is;
			z->next_in = (uint8_t *)in_ptr;
			z->avail_in = (uint32_t)a;
			z->next_out = p->out + out_pos;
			z->avail_out = (uint32_t)s;
			int rc = isal_inflate_fn(z);
			if (rc < 0) return fail(p, isal_message(rc)), (void *)0;
			consumed = a - z->avail_in;
			produced = s - z->avail_out;
			pending = z->avail_out == 0;
			/* a member is over once its trailer is read and its output all handed out; the bytes
			 * after it (the next member's header) are left in next_in */
			if (z->block_state == ISAL_BLOCK_FINISH && !pending) between = 1;
		} else
#endif
		{
			p->z.next_in = (Bytef *)in_ptr;
			p->z.avail_in = (uInt)a;
			p->z.next_out = p->out + out_pos;
			p->z.avail_out = (uInt)s;
			int rc = inflate(&p->z, Z_NO_FLUSH);
			consumed = a - p->z.avail_in;
			produced = s - p->z.avail_out;
			pending = p->z.avail_out == 0;
			if (rc == Z_STREAM_END) {
				between = 1;
				pending = 0;
			} else if (rc == Z_BUF_ERROR) {
				pending = 0; /* no progress possible without more input */
				if (a > 0 && consumed == 0 && produced == 0) return fail(p, "gzip: no progress (corrupt stream)"), (void *)0;
			} else if (rc == Z_NEED_DICT) {
				return fail(p, "gzip: stream needs a preset dictionary"), (void *)0;
			} else if (rc != Z_OK) {
				const char *zm = p->z.msg ? p->z.msg : "corrupt data";
				strcpy(msg, "gzip: ");
				strncat(msg, zm, sizeof msg - 8);
				return fail(p, msg), (void *)0;
			}
		}
		if (produced > 0) sha_update(&p->sha, p->out + out_pos, produced);
		pthread_mutex_lock(&p->mu);
		p->in_tail += consumed;
		p->out_head += produced;
		pthread_mutex_unlock(&p->mu);
	}
}

static void end_engine(li_t *p) {
#ifdef HAVE_ISAL
	if (p->is) {
		free(p->is);
		return;
	}
#endif
	inflateEnd(&p->z);
}

static void *open_common(int fd, uint8_t *in, uint64_t in_cap, uint8_t *out, uint64_t out_cap) {
	if (!in || !out || in_cap == 0 || out_cap == 0) return 0;
	if (!blocks) li_portable_sha(0);
	li_t *p = calloc(1, sizeof *p);
	if (!p) return 0;
	p->fd = fd;
	p->in = in;
	p->in_cap = in_cap;
	p->out = out;
	p->out_cap = out_cap;
#ifdef HAVE_ISAL
	if (want_isal) pthread_once(&isal_once, isal_load);
	if (want_isal && isal_inflate_fn) {
		p->is = malloc(sizeof *p->is);
		if (!p->is) {
			free(p);
			return 0;
		}
		isal_start(p->is, &p->hst);
	} else
#endif
	{
		if (inflateInit2(&p->z, 15 + 16) != Z_OK) {
			free(p);
			return 0;
		}
		/* no CRC-32 of the output (zlib >= 1.2.9; kept across inflateReset): 3 % of a pull's CPU, and
		 * redundant here, as every caller checks the compressed blob's SHA-256 and the output's (the
		 * diffID, hashed on this thread). The trailer is still read, so a member cut short still fails. */
		inflateValidate(&p->z, 0);
	}
	sha_init(&p->sha);
	pthread_mutex_init(&p->mu, 0);
	pthread_cond_init(&p->cv, 0);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 << 10); /* zlib and SHA-256 need a few KiB; default is 8 MiB */
	int rc = pthread_create(&p->th, &at, run, p);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		end_engine(p);
		free(p);
		return 0;
	}
	return p;
}

/* a running inflate thread over the caller's rings, or NULL (no memory, no thread) */
void *li_open(uint8_t *in, uint64_t in_cap, uint8_t *out, uint64_t out_cap) { return open_common(-1, in, in_cap, out, out_cap); }

/* the same, reading its input from `fd` (a file a writer appends to) with `buf` as its read buffer:
 * the thread reads as far as the file's size (fstat) goes until li_close_at gives the final size;
 * li_push(p, 0) pokes it when the file grew. The caller keeps fd open until li_end. */
void *li_open_file(int fd, uint8_t *buf, uint64_t buf_cap, uint8_t *out, uint64_t out_cap) {
	return fd < 0 ? 0 : open_common(fd, buf, buf_cap, out, out_cap);
}

/* file mode: the file is complete at `size` bytes */
void li_close_at(li_t *p, uint64_t size) {
	pthread_mutex_lock(&p->mu);
	if (size > p->in_head) p->in_head = size;
	p->in_closed = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* the input bytes the thread has taken (the caller may overwrite the ring up to in_tail + in_cap) */
uint64_t li_in_tail(li_t *p) {
	pthread_mutex_lock(&p->mu);
	uint64_t v = p->in_tail;
	pthread_mutex_unlock(&p->mu);
	return v;
}

/* the caller copied n more bytes in at in_head */
void li_push(li_t *p, uint64_t n) {
	pthread_mutex_lock(&p->mu);
	p->in_head += n;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* no more input */
void li_close(li_t *p) {
	pthread_mutex_lock(&p->mu);
	p->in_closed = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* output bytes ready: the caller may read the ring up to out_head */
uint64_t li_out_head(li_t *p) {
	pthread_mutex_lock(&p->mu);
	uint64_t v = p->out_head;
	pthread_mutex_unlock(&p->mu);
	return v;
}

/* the caller is done with the output up to `upto`: the thread may write there again */
void li_release(li_t *p, uint64_t upto) {
	pthread_mutex_lock(&p->mu);
	if (upto > p->out_tail && upto <= p->out_head) p->out_tail = upto;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* 0 running, 1 done (digest set), -1 failed (message set); writes the message (≤ 199 bytes + NUL)
 * or the 32-byte digest into `buf` (256 bytes) once not running */
int li_status(li_t *p, char *buf) {
	pthread_mutex_lock(&p->mu);
	int st = p->status;
	if (st == ST_FAILED) memcpy(buf, p->err, sizeof p->err);
	if (st == ST_DONE) memcpy(buf, p->diff, 32);
	pthread_mutex_unlock(&p->mu);
	return st;
}

/* stop the thread (wherever it is), join it and free everything but the caller's rings */
void li_end(li_t *p) {
	pthread_mutex_lock(&p->mu);
	p->aborted = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, 0);
	end_engine(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* ---- syncfs(2) on a thread of its own: the caller's event loop goes on while the disk flushes ---- */

typedef struct {
	int fd, done, err;
	pthread_t th;
} li_sync_t;

static void *sync_run(void *arg) {
	li_sync_t *s = arg;
	int rc;
	do rc = syncfs(s->fd);
	while (rc != 0 && errno == EINTR);
	s->err = rc ? errno : 0;
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* start syncfs(fd) on a new thread (the caller keeps fd open until li_syncfs_poll says done); NULL
 * when no thread could be made (the caller then syncs itself) */
void *li_syncfs_start(int fd) {
	li_sync_t *s = calloc(1, sizeof *s);
	if (!s) return 0;
	s->fd = fd;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 << 10);
	int rc = pthread_create(&s->th, &at, sync_run, s);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		free(s);
		return 0;
	}
	return s;
}

/* -1 while the syncfs runs; then its errno (0: done) and the handle is freed */
int li_syncfs_poll(li_sync_t *s) {
	if (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) return -1;
	pthread_join(s->th, 0);
	int e = s->err;
	free(s);
	return e;
}


/*
 * berth-monitor: the native half of a detached container's supervisor (docs/monitor.md).
 *
 * `berth __monitor` (Bun) creates the container, records it running, then execve()s this program in
 * the same process (same pid and start time, so the recorded MonitorPid stays valid; the container's
 * PID 1 stays its child). From then on this holds the pty master or the pipes, writes the json-file
 * log exactly as logs.ts's JsonLogWriter does (same lines, same rotation), serves the attach socket
 * (attach-proto.ts's frames), relays 127.0.0.11 and the [::] published ports when asked, runs the health probes and the pauser
 * check through short-lived `berth __monitor --probe|--refresh` children, and waits for the exit.
 * Then it execve()s `berth __monitor --exited …` again, which records the exit, sends the exit frame
 * to the attached clients it inherits, and does the TypeScript work (restart policy, --rm, networks).
 *
 * Single-threaded, poll()-driven, no allocation on the output path beyond fixed buffers.
 * Build: gcc -O2 -s (scripts/build.ts), embedded in the berth binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <ctype.h>

#define MAX_LINE 16384
#define MAX_CLIENTS 64
#define CLIENT_QUEUE_MAX (4 << 20)
#define EARLY_MAX (1 << 20)
#define F_STDIN 0
#define F_STDOUT 1
#define F_STDERR 2
#define F_RESIZE 3
#define F_STDIN_EOF 4
#define F_HELLO 6

/* ------------------------------------------------------------------ options */
static int opt_pid, opt_master = -1, opt_out = -1, opt_err = -1, opt_stdin = -1, opt_early, opt_report;
static const char *opt_log, *opt_sock, *opt_id, *opt_state, *opt_exited = "{}";
static long long opt_max_size = -1;
static int opt_max_file = 1;
static long opt_health_ms;
static int opt_relay_fd = -1;
#define MAX_PROXIES 16
#define MAX_PAIRS 256
#define PAIR_BUF 16384
static struct {
  int fd;
  struct sockaddr_in target;
} proxies[MAX_PROXIES];
static int nproxies;
static const char *opt_relay_up;
static char **back_argv; /* berth … __monitor (the rest is appended) */
static int back_argc;

static void die(const char *what) {
  dprintf(2, "berth-monitor: %s: %s\n", what, strerror(errno));
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* RFC3339Nano, UTC, nine digits (logs.ts nowNano) */
static void now_nano(char out[96]) {
  struct timespec t;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &t);
  gmtime_r(&t.tv_sec, &tm);
  snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, t.tv_nsec);
}

static int write_all(int fd, const void *b, size_t n) {
  const char *p = b;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pf = {fd, POLLOUT, 0};
        poll(&pf, 1, 100);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ------------------------------------------------------------------ growable byte buffer */
typedef struct {
  char *p;
  size_t len, cap, off;
} buf_t;

static int buf_put(buf_t *b, const void *d, size_t n) {
  if (b->off && b->off == b->len) b->off = b->len = 0;
  if (b->len + n > b->cap) {
    if (b->off) {
      memmove(b->p, b->p + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    if (b->len + n > b->cap) {
      size_t c = b->cap ? b->cap : 4096;
      while (c < b->len + n) c *= 2;
      char *q = realloc(b->p, c);
      if (!q) return -1;
      b->p = q;
      b->cap = c;
    }
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
  return 0;
}

static void buf_free(buf_t *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ json-file log (logs.ts JsonLogWriter) */
static int log_fd = -1;
static long long log_size;
static buf_t log_batch;

typedef struct {
  /* WHATWG UTF-8 decoder state (TextDecoder with stream: true) */
  uint32_t cp;
  int needed, seen;
  uint8_t lower, upper;
  /* the partial line, as UTF-16 code units (a JS string) */
  uint16_t units[MAX_LINE + 1];
  int n;
} stream_t;

static stream_t *streams[2];

static void rotate(void) {
  char a[4096], b[4096];
  close(log_fd);
  int n = opt_max_file;
  if (n > 1) {
    snprintf(a, sizeof a, "%s.%d", opt_log, n - 1);
    unlink(a);
    for (int i = n - 2; i >= 1; i--) {
      snprintf(a, sizeof a, "%s.%d", opt_log, i);
      snprintf(b, sizeof b, "%s.%d", opt_log, i + 1);
      rename(a, b);
    }
    snprintf(a, sizeof a, "%s.1", opt_log);
    rename(opt_log, a);
  }
  log_fd = open(opt_log, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
  if (log_fd < 0) die("reopen log");
  log_size = 0;
}

static void log_flush_batch(void) {
  if (log_batch.len && log_fd >= 0) {
    write_all(log_fd, log_batch.p, log_batch.len);
    log_size += (long long)log_batch.len;
  }
  log_batch.len = log_batch.off = 0;
}

static void put_utf8(buf_t *o, uint32_t c) {
  char t[4];
  int n;
  if (c < 0x80) t[0] = (char)c, n = 1;
  else if (c < 0x800) t[0] = (char)(0xC0 | c >> 6), t[1] = (char)(0x80 | (c & 0x3F)), n = 2;
  else if (c < 0x10000) t[0] = (char)(0xE0 | c >> 12), t[1] = (char)(0x80 | ((c >> 6) & 0x3F)), t[2] = (char)(0x80 | (c & 0x3F)), n = 3;
  else
    t[0] = (char)(0xF0 | c >> 18), t[1] = (char)(0x80 | ((c >> 12) & 0x3F)), t[2] = (char)(0x80 | ((c >> 6) & 0x3F)),
    t[3] = (char)(0x80 | (c & 0x3F)), n = 4;
  buf_put(o, t, (size_t)n);
}

/* one line as JSON.stringify({log, stream, time}) + "\n", rotated before it would overflow max-size */
static void emit_line(int s) {
  stream_t *st = streams[s];
  static buf_t line;
  char ts[96], esc[8];
  line.len = line.off = 0;
  buf_put(&line, "{\"log\":\"", 8);
  for (int i = 0; i < st->n; i++) {
    uint16_t u = st->units[i];
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < st->n && st->units[i + 1] >= 0xDC00 && st->units[i + 1] <= 0xDFFF) {
      put_utf8(&line, 0x10000 + ((uint32_t)(u - 0xD800) << 10) + (st->units[i + 1] - 0xDC00));
      i++;
    } else if (u >= 0xD800 && u <= 0xDFFF) {
      snprintf(esc, sizeof esc, "\\u%04x", u);
      buf_put(&line, esc, 6);
    } else if (u == '"') buf_put(&line, "\\\"", 2);
    else if (u == '\\') buf_put(&line, "\\\\", 2);
    else if (u == '\n') buf_put(&line, "\\n", 2);
    else if (u == '\r') buf_put(&line, "\\r", 2);
    else if (u == '\t') buf_put(&line, "\\t", 2);
    else if (u == '\b') buf_put(&line, "\\b", 2);
    else if (u == '\f') buf_put(&line, "\\f", 2);
    else if (u < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", u);
      buf_put(&line, esc, 6);
    } else put_utf8(&line, u);
  }
  st->n = 0;
  now_nano(ts);
  char tail[160];
  int tn = snprintf(tail, sizeof tail, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", s ? "stderr" : "stdout", ts);
  buf_put(&line, tail, (size_t)tn);
  if (opt_max_size >= 0) {
    long long pending = (long long)log_batch.len;
    if (log_size + pending > 0 && log_size + pending + (long long)line.len > opt_max_size) {
      log_flush_batch();
      rotate();
    }
  }
  buf_put(&log_batch, line.p, line.len);
}

static void push_unit(int s, uint16_t u) {
  stream_t *st = streams[s];
  st->units[st->n++] = u;
  if (u == '\n' || st->n == MAX_LINE) emit_line(s);
}

static void push_cp(int s, uint32_t c) {
  if (c >= 0x10000) {
    c -= 0x10000;
    push_unit(s, (uint16_t)(0xD800 + (c >> 10)));
    push_unit(s, (uint16_t)(0xDC00 + (c & 0x3FF)));
  } else push_unit(s, (uint16_t)c);
}

static void log_write(int s, const uint8_t *b, size_t n) {
  if (!opt_log) return;
  stream_t *st = streams[s];
  for (size_t i = 0; i < n; i++) {
    uint8_t c = b[i];
    if (st->needed == 0) {
      if (c < 0x80) push_unit(s, c);
      else if (c >= 0xC2 && c <= 0xDF) st->needed = 1, st->cp = c & 0x1F;
      else if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) st->lower = 0xA0;
        if (c == 0xED) st->upper = 0x9F;
        st->needed = 2, st->cp = c & 0xF;
      } else if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) st->lower = 0x90;
        if (c == 0xF4) st->upper = 0x8F;
        st->needed = 3, st->cp = c & 0x7;
      } else push_cp(s, 0xFFFD);
      continue;
    }
    if (c < st->lower || c > st->upper) {
      st->cp = 0, st->needed = st->seen = 0, st->lower = 0x80, st->upper = 0xBF;
      push_cp(s, 0xFFFD);
      i--; /* the byte starts over */
      continue;
    }
    st->lower = 0x80, st->upper = 0xBF;
    st->cp = (st->cp << 6) | (c & 0x3F);
    if (++st->seen == st->needed) {
      push_cp(s, st->cp);
      st->cp = 0, st->needed = st->seen = 0;
    }
  }
  log_flush_batch();
}

/* the end of the output: partial lines and an unfinished sequence (logs.ts flush) */
static void log_close(void) {
  if (!opt_log) return;
  for (int s = 0; s < 2; s++) {
    stream_t *st = streams[s];
    if (st->needed) {
      st->needed = st->seen = 0, st->lower = 0x80, st->upper = 0xBF;
      st->units[st->n++] = 0xFFFD;
    }
    if (st->n) emit_line(s);
  }
  log_flush_batch();
  if (log_fd >= 0) close(log_fd);
  log_fd = -1;
}

/* ------------------------------------------------------------------ attach clients */
typedef struct {
  int fd;
  int hello, want_out, want_err;
  buf_t in, out;
} client_t;

static client_t clients[MAX_CLIENTS];
static int nclients, any_hello;
static buf_t early; /* frames kept for a replay, until the first session */
static int early_on;
static buf_t stdin_q;
static int stdin_eof;

static void frame_hdr(uint8_t h[8], int type, uint32_t len) {
  h[0] = (uint8_t)type, h[1] = h[2] = h[3] = 0;
  h[4] = (uint8_t)(len >> 24), h[5] = (uint8_t)(len >> 16), h[6] = (uint8_t)(len >> 8), h[7] = (uint8_t)len;
}

static void client_drop(int i) {
  close(clients[i].fd);
  buf_free(&clients[i].in);
  buf_free(&clients[i].out);
  clients[i] = clients[--nclients];
  memset(&clients[nclients], 0, sizeof clients[nclients]);
}

static void client_send(client_t *c, const void *b, size_t n) {
  if (c->out.len - c->out.off + n > CLIENT_QUEUE_MAX) return; /* a client that reads nothing loses output, as with Bun's socket */
  buf_put(&c->out, b, n);
}

static void client_flush(client_t *c) {
  while (c->out.len > c->out.off) {
    ssize_t w = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) c->out.off = c->out.len; /* gone: the close is seen on its read side */
      return;
    }
    c->out.off += (size_t)w;
  }
  c->out.len = c->out.off = 0;
}

static int json_flag(const char *js, size_t n, const char *key, int dflt) {
  char k[32];
  int kl = snprintf(k, sizeof k, "\"%s\"", key);
  for (size_t i = 0; i + (size_t)kl <= n; i++) {
    if (memcmp(js + i, k, (size_t)kl)) continue;
    size_t j = i + (size_t)kl;
    while (j < n && (js[j] == ' ' || js[j] == ':' || js[j] == '\t' || js[j] == '\n')) j++;
    if (j + 4 <= n && !memcmp(js + j, "true", 4)) return 1;
    if (j + 5 <= n && !memcmp(js + j, "false", 5)) return 0;
    return dflt;
  }
  return dflt;
}

static void on_frame(client_t *c, int type, const char *p, uint32_t n) {
  if (type == F_HELLO) {
    c->hello = 1;
    c->want_out = json_flag(p, n, "stdout", 1);
    c->want_err = json_flag(p, n, "stderr", 1);
    int replay = json_flag(p, n, "replay", 0);
    if (replay && early_on) {
      /* early holds whole frames: pass those of the wanted streams */
      for (size_t o = 0; o + 8 <= early.len;) {
        uint32_t l = ((uint32_t)(uint8_t)early.p[o + 4] << 24) | ((uint32_t)(uint8_t)early.p[o + 5] << 16) |
                     ((uint32_t)(uint8_t)early.p[o + 6] << 8) | (uint8_t)early.p[o + 7];
        int t = early.p[o];
        if ((t == F_STDOUT && c->want_out) || (t == F_STDERR && c->want_err)) client_send(c, early.p + o, 8 + l);
        o += 8 + l;
      }
    }
    early_on = 0;
    buf_free(&early);
    any_hello = 1;
  } else if (type == F_STDIN) {
    if (opt_stdin >= 0 && !stdin_eof) buf_put(&stdin_q, p, n);
  } else if (type == F_STDIN_EOF) {
    if (opt_master < 0) stdin_eof = 1;
  } else if (type == F_RESIZE && opt_master >= 0) {
    char t[64];
    size_t l = n < sizeof t - 1 ? n : sizeof t - 1;
    memcpy(t, p, l);
    t[l] = 0;
    int rows = 0, cols = 0;
    if (sscanf(t, "%d %d", &rows, &cols) == 2 && rows > 0 && cols > 0) {
      struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
      ioctl(opt_master, TIOCSWINSZ, &ws);
    }
  }
}

/* returns 0 when the client closed */
static int client_read(client_t *c) {
  char b[65536];
  ssize_t n = read(c->fd, b, sizeof b);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return 0;
  buf_put(&c->in, b, (size_t)n);
  for (;;) {
    size_t avail = c->in.len - c->in.off;
    if (avail < 8) break;
    const uint8_t *h = (const uint8_t *)c->in.p + c->in.off;
    uint32_t l = ((uint32_t)h[4] << 24) | ((uint32_t)h[5] << 16) | ((uint32_t)h[6] << 8) | h[7];
    if (avail < 8 + (size_t)l) break;
    on_frame(c, h[0], (const char *)h + 8, l);
    c->in.off += 8 + l;
  }
  return 1;
}

/* one chunk of the container's output: the log, the sessions, the early buffer */
static void on_output(int s, const uint8_t *b, size_t n) {
  log_write(s, b, n);
  uint8_t h[8];
  frame_hdr(h, s ? F_STDERR : F_STDOUT, (uint32_t)n);
  if (early_on) {
    if (early.len + 8 + n > EARLY_MAX) {
      early_on = 0;
      buf_free(&early);
    } else {
      buf_put(&early, h, 8);
      buf_put(&early, b, n);
    }
  }
  for (int i = 0; i < nclients; i++) {
    client_t *c = &clients[i];
    if (!c->hello || !(s ? c->want_err : c->want_out)) continue;
    client_send(c, h, 8);
    client_send(c, b, n);
    client_flush(c);
  }
}

/* ------------------------------------------------------------------ 127.0.0.11 relay (net/dns.ts startDnsRelay) */
static int relay_up_fd = -1;
static struct sockaddr_in relay_up;
static struct {
  uint16_t id;
  struct sockaddr_in from;
  long long at;
} relay_pending[256];

static void relay_query(void) {
  uint8_t b[4096];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(opt_relay_fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
  if (n < 12) return;
  uint16_t id = (uint16_t)(b[0] << 8 | b[1]);
  int slot = id & 255;
  relay_pending[slot].id = id;
  relay_pending[slot].from = from;
  relay_pending[slot].at = now_ms();
  sendto(relay_up_fd, b, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&relay_up, sizeof relay_up);
}

static void relay_answer(void) {
  uint8_t b[65536];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(relay_up_fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
  if (n < 2 || from.sin_addr.s_addr != relay_up.sin_addr.s_addr || from.sin_port != relay_up.sin_port) return;
  uint16_t id = (uint16_t)(b[0] << 8 | b[1]);
  int slot = id & 255;
  if (!relay_pending[slot].at || relay_pending[slot].id != id || now_ms() - relay_pending[slot].at > 5000) return;
  relay_pending[slot].at = 0;
  sendto(opt_relay_fd, b, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&relay_pending[slot].from, sizeof relay_pending[slot].from);
}

/* ------------------------------------------------------------------ [::] port proxies (net/proxy.ts startTcp6Proxy) */
typedef struct {
  int fd[2];        /* 0: the client on [::], 1: the container */
  int connected;    /* fd[1]'s connect finished */
  int eof[2];       /* read side ended */
  int shut[2];      /* write side shut (the other side's EOF passed on) */
  size_t len[2], off[2]; /* buf[i]: bytes read from fd[i], to write to fd[1-i] */
  char buf[2][PAIR_BUF];
} pair_t;

static pair_t *pairs[MAX_PAIRS];
static int npairs;

static void pair_close(int i) {
  close(pairs[i]->fd[0]);
  close(pairs[i]->fd[1]);
  free(pairs[i]);
  pairs[i] = pairs[--npairs];
}

static void proxy_accept(int k) {
  int c;
  while ((c = accept4(proxies[k].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
    int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    pair_t *p = npairs < MAX_PAIRS && u >= 0 ? calloc(1, sizeof *p) : NULL;
    if (!p || (connect(u, (struct sockaddr *)&proxies[k].target, sizeof proxies[k].target) < 0 && errno != EINPROGRESS)) {
      close(c);
      if (u >= 0) close(u);
      free(p);
      continue;
    }
    p->fd[0] = c;
    p->fd[1] = u;
    pairs[npairs++] = p;
  }
}

/* events wanted on side s of a pair */
static short pair_events(pair_t *p, int s) {
  if (s == 1 && !p->connected) return POLLOUT;
  short e = 0;
  if (!p->eof[s] && p->len[s] == 0) e |= POLLIN;
  if (p->len[1 - s] > p->off[1 - s]) e |= POLLOUT;
  return e;
}

/* returns 0 when the pair is done */
static int pair_io(pair_t *p, int s, short re) {
  if (s == 1 && !p->connected) {
    if (!(re & (POLLOUT | POLLERR | POLLHUP))) return 1;
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) return 0;
    p->connected = 1;
    return 1;
  }
  if (re & POLLIN || (re & (POLLHUP | POLLERR) && !p->eof[s])) {
    if (p->len[s] == 0) {
      ssize_t n = read(p->fd[s], p->buf[s], PAIR_BUF);
      if (n > 0) p->len[s] = (size_t)n, p->off[s] = 0;
      else if (n == 0) p->eof[s] = 1;
      else if (errno != EAGAIN && errno != EINTR) return 0;
    }
  }
  if (re & POLLOUT && p->len[1 - s] > p->off[1 - s]) {
    ssize_t n = write(p->fd[s], p->buf[1 - s] + p->off[1 - s], p->len[1 - s] - p->off[1 - s]);
    if (n > 0) p->off[1 - s] += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) return 0;
    if (p->off[1 - s] == p->len[1 - s]) p->len[1 - s] = p->off[1 - s] = 0;
  }
  /* an ended side with nothing left to pass on: shut the other side's write half */
  for (int i = 0; i < 2; i++)
    if (p->eof[i] && !p->len[i] && !p->shut[1 - i] && (i == 1 || p->connected)) {
      shutdown(p->fd[1 - i], SHUT_WR);
      p->shut[1 - i] = 1;
    }
  return !(p->shut[0] && p->shut[1]);
}

/* ------------------------------------------------------------------ berth children (probe, refresh) and the hand-back */
static pid_t helper_pid; /* the running `berth __monitor --probe|--refresh` */
static sigset_t old_mask;

static pid_t spawn_berth(const char *mode) {
  char *argv[back_argc + 3];
  for (int i = 0; i < back_argc; i++) argv[i] = back_argv[i];
  argv[back_argc] = (char *)mode;
  argv[back_argc + 1] = (char *)opt_id;
  argv[back_argc + 2] = NULL;
  pid_t p = fork();
  if (p == 0) {
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    signal(SIGPIPE, SIG_DFL);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) dup2(nul, 0), dup2(nul, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  return p < 0 ? 0 : p;
}

/* "PausedBy" in state.json names a process that is gone (pause.ts watchPauser) */
static int pauser_gone(void) {
  static char b[1 << 18];
  static struct timespec seen;
  static off_t seen_size = -1;
  static int seen_paused;
  struct stat sb;
  if (stat(opt_state, &sb) < 0) return 0;
  /* unchanged since the last look, and no pause in it then: nothing to read */
  if (sb.st_mtim.tv_sec == seen.tv_sec && sb.st_mtim.tv_nsec == seen.tv_nsec && sb.st_size == seen_size && !seen_paused) return 0;
  seen = sb.st_mtim;
  seen_size = sb.st_size;
  seen_paused = 0;
  int fd = open(opt_state, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = 0, got;
  while (n < (ssize_t)sizeof b - 1 && (got = read(fd, b + n, sizeof b - 1 - (size_t)n)) > 0) n += got;
  close(fd);
  if (n <= 0) return 0;
  b[n] = 0;
  char *p = strstr(b, "\"PausedBy\"");
  if (!p) return 0;
  seen_paused = 1;
  char *q = strstr(p, "\"Pid\"");
  char *r = strstr(p, "\"StartTime\"");
  if (!q || !r) return 0;
  q = strchr(q, ':');
  r = strchr(r + 11, '"');
  if (!q || !r) return 0;
  long pid = strtol(q + 1, NULL, 10);
  char *e = strchr(r + 1, '"');
  if (!e) return 0;
  *e = 0;
  const char *want = r + 1;
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 1;
  stat[n] = 0;
  /* field 22, counted after the ")" that ends comm */
  char *c = strrchr(stat, ')');
  if (!c) return 0;
  int field = 2;
  for (char *t = c + 1; *t; t++)
    if (*t == ' ' && ++field == 22) {
      size_t wl = strlen(want);
      return !(strncmp(t + 1, want, wl) == 0 && (t[1 + wl] == ' ' || t[1 + wl] == 0));
    }
  return 0;
}

static void hand_back(int status) {
  char env[1024], ts[96];
  now_nano(ts);
  int off = snprintf(env, sizeof env, "BERTH_MONITOR_EXIT=%d %s ", status, ts);
  for (int i = 0; i < nclients && off < (int)sizeof env - 16; i++) {
    client_t *c = &clients[i];
    int fl = fcntl(c->fd, F_GETFL);
    fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
    client_flush(c);
    fcntl(c->fd, F_SETFD, 0);
    off += snprintf(env + off, sizeof env - (size_t)off, "%s%d", i ? "," : "", c->fd);
  }
  putenv(env);
  char *argv[back_argc + 5];
  for (int i = 0; i < back_argc; i++) argv[i] = back_argv[i];
  argv[back_argc] = "--exited";
  argv[back_argc + 1] = (char *)opt_exited;
  argv[back_argc + 2] = (char *)opt_id;
  argv[back_argc + 3] = NULL;
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  signal(SIGPIPE, SIG_DFL);
  execv(argv[0], argv);
  die("exec berth to record the exit");
  _exit(125);
}

/* ------------------------------------------------------------------ main loop */
static int num_arg(const char *s) {
  return (int)strtol(s, NULL, 10);
}


/* ================================================================== DNS mode (engine/network.ts serveDns)
 * `berth-monitor --root ROOT __dns`: the embedded DNS server of every wanted user network of ROOT, as
 * net/dns.ts startDnsServer does it for one (same answers, same forwarding), in one small process:
 * ROOT/network/.dns/wanted/<name> marks a network, ROOT/network/<name>.json is its record (gateway,
 * endpoints with their names). Scans again on SIGHUP and every 2 s, writes served.json after each scan,
 * ends on SIGTERM/SIGINT or when nothing is wanted. "ok" on stdout once the first scan is done. */
#define DNS_MAX_NETS 64
#define DNS_MAX_EPS 1024
#define DNS_PENDING 256

typedef struct {
  char ip[16];
  char names[1024]; /* NUL-separated, empty name last */
} dns_ep;

typedef struct {
  char name[160];
  char gateway[64];
  char error[160];
  int fd, up_fd;
  struct timespec mtime;
  dns_ep *eps;
  int neps;
  struct {
    uint16_t id;
    int up;
    struct sockaddr_in client;
    long long at;
  } pending[DNS_PENDING];
} dns_net;

static const char *dns_root;
static dns_net dns_nets[DNS_MAX_NETS];
static int dns_nnets;
static struct sockaddr_in dns_up[8];
static int dns_nup;

/* ---- a JSON reader just big enough for a network record */
typedef struct {
  const char *p, *e;
} js_t;

static void js_ws(js_t *j) {
  while (j->p < j->e && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static int js_str(js_t *j, char *out, size_t cap) {
  js_ws(j);
  if (j->p >= j->e || *j->p != '"') return -1;
  j->p++;
  size_t n = 0;
  while (j->p < j->e && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\' && j->p < j->e) {
      char x = *j->p++;
      if (x == 'u' && j->e - j->p >= 4) {
        char h[5] = {j->p[0], j->p[1], j->p[2], j->p[3], 0};
        j->p += 4;
        unsigned v = (unsigned)strtoul(h, NULL, 16);
        c = v < 0x80 ? (char)v : '?'; /* names and addresses are ASCII */
      } else c = x == 'n' ? '\n' : x == 't' ? '\t' : x == 'r' ? '\r' : x == 'b' ? '\b' : x == 'f' ? '\f' : x;
    }
    if (out && n + 1 < cap) out[n++] = c;
  }
  if (j->p >= j->e) return -1;
  j->p++;
  if (out) out[n] = 0;
  return 0;
}

static int js_skip(js_t *j) {
  js_ws(j);
  if (j->p >= j->e) return -1;
  char c = *j->p;
  if (c == '"') return js_str(j, NULL, 0);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->p++;
    js_ws(j);
    if (j->p < j->e && *j->p == close) return j->p++, 0;
    for (;;) {
      if (c == '{') {
        if (js_str(j, NULL, 0)) return -1;
        js_ws(j);
        if (j->p >= j->e || *j->p++ != ':') return -1;
      }
      if (js_skip(j)) return -1;
      js_ws(j);
      if (j->p >= j->e) return -1;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ == close) return 0;
      return -1;
    }
  }
  while (j->p < j->e && !strchr(",}] \n\r\t", *j->p)) j->p++;
  return 0;
}

/* iterate an object's members: returns 1 with the key read and positioned at the value, 0 at its end */
static int js_member(js_t *j, char *key, size_t cap, int *first) {
  js_ws(j);
  if (*first) {
    if (j->p >= j->e || *j->p != '{') return -1;
    j->p++;
    *first = 0;
  } else {
    if (j->p < j->e && *j->p == ',') j->p++;
  }
  js_ws(j);
  if (j->p < j->e && *j->p == '}') return j->p++, 0;
  if (js_str(j, key, cap)) return -1;
  js_ws(j);
  if (j->p >= j->e || *j->p++ != ':') return -1;
  return 1;
}

static int dns_load(dns_net *n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/network/%s.json", dns_root, n->name);
  struct stat sb;
  if (stat(path, &sb) < 0) return -1;
  if (n->eps && sb.st_mtim.tv_sec == n->mtime.tv_sec && sb.st_mtim.tv_nsec == n->mtime.tv_nsec) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char *b = malloc((size_t)sb.st_size + 1);
  ssize_t got = 0, r;
  while (b && got < sb.st_size && (r = read(fd, b + got, (size_t)(sb.st_size - got))) > 0) got += r;
  close(fd);
  if (!b) return -1;
  if (!n->eps) n->eps = calloc(DNS_MAX_EPS, sizeof(dns_ep));
  js_t j = {b, b + got};
  char key[256];
  int first = 1, k, neps = 0, ok = 0;
  char gateway[64] = "";
  while ((k = js_member(&j, key, sizeof key, &first)) == 1) {
    if (!strcmp(key, "gateway")) {
      if (js_str(&j, gateway, sizeof gateway)) break;
    } else if (!strcmp(key, "endpoints")) {
      int f2 = 1, k2;
      while ((k2 = js_member(&j, key, sizeof key, &f2)) == 1) {
        dns_ep *ep = neps < DNS_MAX_EPS ? &n->eps[neps++] : NULL;
        if (ep) snprintf(ep->ip, sizeof ep->ip, "%.15s", key), ep->names[0] = ep->names[1] = 0;
        int f3 = 1, k3;
        while ((k3 = js_member(&j, key, sizeof key, &f3)) == 1) {
          if (strcmp(key, "names") || !ep) {
            if (js_skip(&j)) break;
            continue;
          }
          js_ws(&j);
          if (j.p < j.e && *j.p == 'n') { /* null */
            js_skip(&j);
            continue;
          }
          if (j.p >= j.e || *j.p++ != '[') break;
          size_t off = 0;
          for (;;) {
            js_ws(&j);
            if (j.p < j.e && *j.p == ']') {
              j.p++;
              break;
            }
            char nm[256];
            if (js_str(&j, nm, sizeof nm)) break;
            size_t l = strlen(nm);
            if (off + l + 2 < sizeof ep->names) {
              for (size_t i = 0; i < l; i++) ep->names[off + i] = (char)tolower((unsigned char)nm[i]);
              off += l;
              ep->names[off++] = 0;
              ep->names[off] = 0;
            }
            js_ws(&j);
            if (j.p < j.e && *j.p == ',') j.p++;
          }
        }
        if (k3 < 0) break;
      }
      if (k2 < 0) break;
    } else if (js_skip(&j))
      break;
  }
  ok = k == 0;
  free(b);
  if (!ok) return -1;
  n->neps = neps;
  n->mtime = sb.st_mtim;
  if (!n->gateway[0]) snprintf(n->gateway, sizeof n->gateway, "%s", gateway);
  return strcmp(n->gateway, gateway) ? 1 : 0; /* 1: the gateway changed, bind again */
}

static void dns_upstreams(void) {
  FILE *f = fopen("/etc/resolv.conf", "re");
  char line[512];
  dns_nup = 0;
  while (f && fgets(line, sizeof line, f) && dns_nup < 8) {
    char ip[64];
    struct in_addr a;
    if (sscanf(line, " nameserver %63s", ip) == 1 && inet_pton(AF_INET, ip, &a) == 1) {
      dns_up[dns_nup].sin_family = AF_INET;
      dns_up[dns_nup].sin_port = htons(53);
      dns_up[dns_nup].sin_addr = a;
      dns_nup++;
    }
  }
  if (f) fclose(f);
}

static int ip_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dns_query(dns_net *n) {
  uint8_t b[4096];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t len = recvfrom(n->fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
  if (len < 12) return;
  uint16_t id = (uint16_t)(b[0] << 8 | b[1]), flags = (uint16_t)(b[2] << 8 | b[3]), qd = (uint16_t)(b[4] << 8 | b[5]);
  if (flags & 0x8000 || qd < 1) return;
  char name[300];
  size_t nl = 0, off = 12;
  for (;;) {
    if (off >= (size_t)len) return;
    unsigned l = b[off];
    if (l == 0) break;
    if (l > 63 || off + 1 + l > (size_t)len) return;
    if (nl && nl < sizeof name - 1) name[nl++] = '.';
    for (unsigned i = 0; i < l && nl < sizeof name - 1; i++) name[nl++] = (char)tolower(b[off + 1 + i]);
    off += 1 + l;
  }
  name[nl] = 0;
  off += 1;
  if (off + 4 > (size_t)len) return;
  uint16_t type = (uint16_t)(b[off] << 8 | b[off + 1]), cls = (uint16_t)(b[off + 2] << 8 | b[off + 3]);
  size_t end = off + 4;
  const char *ips[64];
  int nips = 0;
  if (dns_load(n) >= 0)
    for (int e = 0; e < n->neps && nips < 64; e++)
      for (const char *p = n->eps[e].names; *p; p += strlen(p) + 1)
        if (!strcmp(p, name)) {
          ips[nips++] = n->eps[e].ip;
          break;
        }
  if (nips > 0 && cls == 1) {
    qsort(ips, (size_t)nips, sizeof ips[0], ip_cmp);
    uint8_t out[4096];
    int nans = type == 1 ? nips : 0;
    size_t ql = end - 12;
    if (12 + ql + (size_t)nans * 16 > sizeof out) return;
    memset(out, 0, 12);
    uint16_t of = (uint16_t)(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080);
    out[0] = (uint8_t)(id >> 8), out[1] = (uint8_t)id, out[2] = (uint8_t)(of >> 8), out[3] = (uint8_t)of;
    out[5] = 1, out[6] = (uint8_t)(nans >> 8), out[7] = (uint8_t)nans;
    memcpy(out + 12, b + 12, ql);
    size_t o = 12 + ql;
    for (int i = 0; i < nans; i++) {
      struct in_addr a;
      inet_pton(AF_INET, ips[i], &a);
      uint8_t rr[12] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 600 >> 8, 600 & 0xff, 0, 4};
      memcpy(out + o, rr, 12);
      memcpy(out + o + 12, &a, 4);
      o += 16;
    }
    sendto(n->fd, out, o, MSG_DONTWAIT, (struct sockaddr *)&from, sizeof from);
    return;
  }
  if (!dns_nup) {
    uint8_t out[4096];
    size_t ql = end - 12;
    memset(out, 0, 12);
    uint16_t of = (uint16_t)(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | 2);
    out[0] = (uint8_t)(id >> 8), out[1] = (uint8_t)id, out[2] = (uint8_t)(of >> 8), out[3] = (uint8_t)of, out[5] = 1;
    memcpy(out + 12, b + 12, ql);
    sendto(n->fd, out, 12 + ql, MSG_DONTWAIT, (struct sockaddr *)&from, sizeof from);
    return;
  }
  int up = id % dns_nup;
  int slot = (id ^ up) % DNS_PENDING;
  n->pending[slot].id = id;
  n->pending[slot].up = up;
  n->pending[slot].client = from;
  n->pending[slot].at = now_ms();
  sendto(n->up_fd, b, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&dns_up[up], sizeof dns_up[up]);
}

static void dns_answer(dns_net *n) {
  uint8_t b[65536];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t len = recvfrom(n->up_fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
  if (len < 2) return;
  uint16_t id = (uint16_t)(b[0] << 8 | b[1]);
  for (int up = 0; up < dns_nup; up++) {
    if (from.sin_addr.s_addr != dns_up[up].sin_addr.s_addr || from.sin_port != dns_up[up].sin_port) continue;
    int slot = (id ^ up) % DNS_PENDING;
    if (!n->pending[slot].at || n->pending[slot].id != id || n->pending[slot].up != up || now_ms() - n->pending[slot].at > 5000) return;
    n->pending[slot].at = 0;
    sendto(n->fd, b, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&n->pending[slot].client, sizeof n->pending[slot].client);
    return;
  }
}

static void dns_close(int i) {
  if (dns_nets[i].fd >= 0) close(dns_nets[i].fd);
  if (dns_nets[i].up_fd >= 0) close(dns_nets[i].up_fd);
  free(dns_nets[i].eps);
  dns_nets[i] = dns_nets[--dns_nnets];
}

/* the wanted networks bound, the others released, served.json written; returns how many are wanted */
static int dns_scan(void) {
  char dir[4096], path[4096];
  snprintf(dir, sizeof dir, "%s/network/.dns/wanted", dns_root);
  char wanted[DNS_MAX_NETS][160];
  int nw = 0;
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)) && nw < DNS_MAX_NETS) {
    if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof wanted[0]) continue;
    snprintf(path, sizeof path, "%s/network/%s.json", dns_root, de->d_name);
    if (access(path, F_OK) == 0) strcpy(wanted[nw++], de->d_name);
  }
  if (d) closedir(d);
  for (int i = dns_nnets - 1; i >= 0; i--) {
    int keep = 0;
    for (int w = 0; w < nw; w++) keep |= !strcmp(wanted[w], dns_nets[i].name);
    if (!keep || dns_nets[i].error[0] || dns_load(&dns_nets[i]) != 0) dns_close(i);
  }
  for (int w = 0; w < nw; w++) {
    int have = 0;
    for (int i = 0; i < dns_nnets; i++) have |= !strcmp(wanted[w], dns_nets[i].name);
    if (have || dns_nnets == DNS_MAX_NETS) continue;
    dns_net *n = &dns_nets[dns_nnets++];
    memset(n, 0, sizeof *n);
    n->fd = n->up_fd = -1;
    snprintf(n->name, sizeof n->name, "%.159s", wanted[w]);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
    if (dns_load(n) < 0 || inet_pton(AF_INET, n->gateway, &sa.sin_addr) != 1) {
      char nm[160];
      memcpy(nm, n->name, sizeof nm);
      snprintf(n->error, sizeof n->error, "network %.100s: unreadable record", nm);
      continue;
    }
    n->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    n->up_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0 || n->up_fd < 0 || bind(n->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      char gw[64];
      memcpy(gw, n->gateway, sizeof gw);
      snprintf(n->error, sizeof n->error, "bind %.63s:53: %.80s", gw, strerror(errno));
    }
  }
  /* served.json: {"name":"ok"|"err …"} (tmp + rename) */
  char tmp[4200], body[DNS_MAX_NETS * 360 + 8];
  size_t o = 0;
  body[o++] = '{';
  for (int i = 0; i < dns_nnets; i++)
    o += (size_t)snprintf(body + o, sizeof body - o, "%s\"%s\":\"%s%s\"", i ? "," : "", dns_nets[i].name, dns_nets[i].error[0] ? "err " : "ok",
                          dns_nets[i].error);
  body[o++] = '}';
  snprintf(path, sizeof path, "%s/network/.dns/served.json", dns_root);
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    write_all(fd, body, o);
    close(fd);
    rename(tmp, path);
  }
  return nw;
}

static int dns_main(const char *root) {
  dns_root = root;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  dns_upstreams();
  dns_scan();
  write_all(1, "ok\n", 3);
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul >= 0) dup2(nul, 1), close(nul);
  long long next = now_ms() + 2000;
  for (;;) {
    struct pollfd pf[1 + 2 * DNS_MAX_NETS];
    int np = 0;
    pf[np++] = (struct pollfd){sfd, POLLIN, 0};
    int polled = dns_nnets;
    for (int i = 0; i < polled; i++) {
      pf[np++] = (struct pollfd){dns_nets[i].fd, POLLIN, 0};
      pf[np++] = (struct pollfd){dns_nets[i].up_fd, POLLIN, 0};
    }
    long long now = now_ms();
    if (poll(pf, (nfds_t)np, next > now ? (int)(next - now) : 0) < 0 && errno != EINTR) return 1;
    int rescan = 0;
    if (pf[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGHUP) return 0;
        rescan = 1;
      }
    }
    for (int i = 0; i < polled; i++) {
      if (pf[1 + 2 * i].revents & POLLIN) dns_query(&dns_nets[i]);
      if (pf[2 + 2 * i].revents & POLLIN) dns_answer(&dns_nets[i]);
    }
    if (now_ms() >= next) {
      next = now_ms() + 2000;
      if (dns_scan() == 0) return 0;
    } else if (rescan)
      dns_scan();
  }
}

int main(int argc, char **argv) {
  int i;
  if (argc == 4 && !strcmp(argv[1], "--root") && !strcmp(argv[3], "__dns")) return dns_main(argv[2]);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "--early")) opt_early = 1;
    else if (!strcmp(a, "--report")) opt_report = 1;
    else {
      i++;
      if (!strcmp(a, "--pid")) opt_pid = num_arg(v);
      else if (!strcmp(a, "--master")) opt_master = num_arg(v);
      else if (!strcmp(a, "--out")) opt_out = num_arg(v);
      else if (!strcmp(a, "--err")) opt_err = num_arg(v);
      else if (!strcmp(a, "--stdin")) opt_stdin = num_arg(v);
      else if (!strcmp(a, "--log")) opt_log = v;
      else if (!strcmp(a, "--max-size")) opt_max_size = strtoll(v, NULL, 10);
      else if (!strcmp(a, "--max-file")) opt_max_file = num_arg(v);
      else if (!strcmp(a, "--sock")) opt_sock = v;
      else if (!strcmp(a, "--id")) opt_id = v;
      else if (!strcmp(a, "--state")) opt_state = v;
      else if (!strcmp(a, "--exited")) opt_exited = v;
      else if (!strcmp(a, "--health-ms")) opt_health_ms = strtol(v, NULL, 10);
      else if (!strcmp(a, "--relay-fd")) opt_relay_fd = num_arg(v);
      else if (!strcmp(a, "--relay-upstream")) opt_relay_up = v;
      else if (!strcmp(a, "--proxy") && nproxies < MAX_PROXIES) {
        /* FD:IPV4:PORT — a listening [::] socket and the container address it forwards to */
        char ip[64];
        int fd = -1, port = 0;
        if (sscanf(v, "%d:%63[0-9.]:%d", &fd, ip, &port) == 3) {
          proxies[nproxies].fd = fd;
          proxies[nproxies].target.sin_family = AF_INET;
          proxies[nproxies].target.sin_port = htons((uint16_t)port);
          inet_pton(AF_INET, ip, &proxies[nproxies].target.sin_addr);
          nproxies++;
        }
      }
      else {
        dprintf(2, "berth-monitor: unknown option %s\n", a);
        return 2;
      }
    }
  }
  back_argv = argv + i;
  back_argc = argc - i;
  if (!opt_pid || !opt_id || !back_argc) {
    dprintf(2, "berth-monitor: usage: berth-monitor --pid N --id ID [options] -- BERTH… __monitor\n");
    return 2;
  }
  /* every fd handed over is ours alone from here: none may reach a probe child or the next exec */
  int fds[] = {opt_master, opt_out, opt_err, opt_stdin, opt_relay_fd};
  for (unsigned k = 0; k < sizeof fds / sizeof fds[0]; k++)
    if (fds[k] >= 0) fcntl(fds[k], F_SETFD, FD_CLOEXEC);
  for (int k = 0; k < nproxies; k++) {
    fcntl(proxies[k].fd, F_SETFD, FD_CLOEXEC);
    fcntl(proxies[k].fd, F_SETFL, fcntl(proxies[k].fd, F_GETFL) | O_NONBLOCK);
  }
  if (opt_stdin >= 0) fcntl(opt_stdin, F_SETFL, fcntl(opt_stdin, F_GETFL) | O_NONBLOCK);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, &old_mask);
  signal(SIGPIPE, SIG_IGN); /* a session that went away is seen as EPIPE on its write */
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  if (opt_log) {
    streams[0] = calloc(1, sizeof(stream_t));
    streams[1] = calloc(1, sizeof(stream_t));
    for (int s = 0; s < 2; s++) streams[s]->lower = 0x80, streams[s]->upper = 0xBF;
    log_fd = open(opt_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) die("open log");
    struct stat sb;
    log_size = log_fd >= 0 && fstat(log_fd, &sb) == 0 ? sb.st_size : 0;
  }
  early_on = opt_early;

  int lfd = -1;
  if (opt_sock) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(opt_sock) < sizeof sa.sun_path) {
      strcpy(sa.sun_path, opt_sock);
      unlink(opt_sock);
      lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (lfd >= 0 && (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0)) {
        die("attach socket"); /* attach is a convenience: the container runs without it */
        close(lfd);
        lfd = -1;
      }
    }
  }
  if (opt_relay_fd >= 0 && opt_relay_up) {
    relay_up_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    relay_up.sin_family = AF_INET;
    relay_up.sin_port = htons(53);
    inet_pton(AF_INET, opt_relay_up, &relay_up.sin_addr);
  }
  if (opt_report) {
    write_all(1, "ok\n", 3);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) dup2(nul, 1), close(nul);
  }

  int outs[2] = {opt_master >= 0 ? opt_master : opt_out, opt_master >= 0 ? -1 : opt_err};
  int exited = 0, status = 0;
  long long deadline = 0; /* after the exit: output drained, or 2 s */
  long long early_deadline = 0;
  long long next_health = opt_health_ms > 0 ? now_ms() + opt_health_ms : 0, next_pause = now_ms() + 1000;
  int helper_is_probe = 0;

  for (;;) {
    long long now = now_ms();
    if (exited) {
      int open_outs = (outs[0] >= 0) + (outs[1] >= 0);
      if (open_outs && now < deadline) {
        /* keep draining */
      } else if (early_on && lfd >= 0 && !any_hello) {
        /* a `run -it` whose container ended before its session came: wait a little for it */
        if (!early_deadline) early_deadline = now + 2000;
        if (now >= early_deadline) early_on = 0;
      } else break;
    }
    struct pollfd pf[8 + MAX_CLIENTS + MAX_PROXIES + 2 * MAX_PAIRS];
    int np = 0, ix_sig = -1, ix_l = -1, ix_o[2] = {-1, -1}, ix_in = -1, ix_rq = -1, ix_ra = -1, ix_c = 0;
    if (sfd >= 0) ix_sig = np, pf[np++] = (struct pollfd){sfd, POLLIN, 0};
    if (lfd >= 0) ix_l = np, pf[np++] = (struct pollfd){lfd, POLLIN, 0};
    for (int s = 0; s < 2; s++)
      if (outs[s] >= 0) ix_o[s] = np, pf[np++] = (struct pollfd){outs[s], POLLIN, 0};
    if (opt_stdin >= 0 && stdin_q.len > stdin_q.off) ix_in = np, pf[np++] = (struct pollfd){opt_stdin, POLLOUT, 0};
    if (opt_relay_fd >= 0 && relay_up_fd >= 0) {
      ix_rq = np, pf[np++] = (struct pollfd){opt_relay_fd, POLLIN, 0};
      ix_ra = np, pf[np++] = (struct pollfd){relay_up_fd, POLLIN, 0};
    }
    int ix_px = np;
    for (int k = 0; k < nproxies; k++) pf[np++] = (struct pollfd){proxies[k].fd, POLLIN, 0};
    int ix_pair = np, npairs_polled = npairs;
    for (int k = 0; k < npairs; k++) {
      pf[np++] = (struct pollfd){pairs[k]->fd[0], pair_events(pairs[k], 0), 0};
      pf[np++] = (struct pollfd){pairs[k]->fd[1], pair_events(pairs[k], 1), 0};
    }
    ix_c = np;
    for (int c = 0; c < nclients; c++)
      pf[np++] = (struct pollfd){clients[c].fd, (short)(POLLIN | (clients[c].out.len > clients[c].out.off ? POLLOUT : 0)), 0};
    long long wake = next_pause;
    if (next_health && next_health < wake) wake = next_health;
    if (exited) wake = early_deadline ? early_deadline : deadline;
    int timeout = wake > now ? (int)(wake - now) : 0;
    if (poll(pf, (nfds_t)np, timeout) < 0 && errno != EINTR) {
      die("poll");
      return 1;
    }
    now = now_ms();
    if (ix_sig >= 0 && pf[ix_sig].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
    }
    /* every turn, not only on SIGCHLD: an exit before the exec into this program sent its signal to Bun */
    {
      for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p <= 0) break;
        if (p == opt_pid) {
          exited = 1;
          status = st;
          deadline = now + 2000;
        } else if (p == helper_pid) {
          helper_pid = 0;
          if (helper_is_probe && opt_health_ms > 0) next_health = now + opt_health_ms;
        }
      }
    }
    if (ix_l >= 0 && pf[ix_l].revents & POLLIN) {
      int c;
      while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        if (nclients == MAX_CLIENTS) {
          close(c);
          continue;
        }
        memset(&clients[nclients], 0, sizeof clients[nclients]);
        clients[nclients++].fd = c;
      }
    }
    for (int s = 0; s < 2; s++) {
      if (ix_o[s] < 0 || !pf[ix_o[s]].revents) continue;
      uint8_t b[65536];
      ssize_t n = read(outs[s], b, sizeof b);
      if (n > 0) on_output(s, b, (size_t)n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        /* EOF (a pty master: EIO once the last slave closed) */
        if (opt_master < 0) close(outs[s]);
        outs[s] = -1;
      }
    }
    if (ix_in >= 0 && pf[ix_in].revents) {
      ssize_t w = write(opt_stdin, stdin_q.p + stdin_q.off, stdin_q.len - stdin_q.off);
      if (w > 0) stdin_q.off += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) stdin_q.off = stdin_q.len; /* the reader is gone */
    }
    if (stdin_eof && opt_stdin >= 0 && opt_master < 0 && stdin_q.len == stdin_q.off) {
      close(opt_stdin);
      opt_stdin = -1;
    }
    for (int k = npairs_polled - 1; k >= 0; k--) {
      short r0 = pf[ix_pair + 2 * k].revents, r1 = pf[ix_pair + 2 * k + 1].revents;
      if (!r0 && !r1) continue;
      if ((r1 && !pair_io(pairs[k], 1, r1)) || (r0 && !pair_io(pairs[k], 0, r0))) pair_close(k);
    }
    for (int k = 0; k < nproxies; k++)
      if (pf[ix_px + k].revents & POLLIN) proxy_accept(k);
    if (ix_rq >= 0 && pf[ix_rq].revents & POLLIN) relay_query();
    if (ix_ra >= 0 && pf[ix_ra].revents & POLLIN) relay_answer();
    int nc = nclients;
    for (int c = nc - 1; c >= 0; c--) {
      short re = pf[ix_c + c].revents;
      if (!re) continue;
      if (re & POLLOUT) client_flush(&clients[c]);
      if (re & (POLLIN | POLLHUP | POLLERR))
        if (!client_read(&clients[c])) client_drop(c);
    }
    if (!exited && now >= next_pause) {
      next_pause = now + 1000;
      if (!helper_pid && opt_state && pauser_gone()) {
        helper_pid = spawn_berth("--refresh");
        helper_is_probe = 0;
      }
    }
    if (!exited && next_health && now >= next_health) {
      if (!helper_pid) {
        helper_pid = spawn_berth("--probe");
        helper_is_probe = 1;
        next_health = 0; /* the next one is timed from this one's end */
      } else next_health = now + 100;
    }
  }
  if (helper_pid) {
    kill(helper_pid, SIGKILL);
    waitpid(helper_pid, NULL, 0);
  }
  log_close();
  if (opt_stdin >= 0 && opt_stdin != opt_master) close(opt_stdin);
  if (opt_master >= 0) close(opt_master);
  if (lfd >= 0) {
    close(lfd);
    unlink(opt_sock);
  }
  if (opt_relay_fd >= 0) close(opt_relay_fd);
  for (int k = 0; k < nproxies; k++) close(proxies[k].fd);
  while (npairs) pair_close(npairs - 1);
  hand_back(status);
  return 125;
}

/* The machine's floors for bench/suite.py, built with the system cc at
 * bench time (cc -O2 -pthread bench/floors.c):
 *   futex  — round trip between two processes through futex wait/wake on a
 *            shared word (what a blocking hand-off costs at the least);
 *   spin   — round trip between two processes spinning on a shared word
 *            (the least any cross-core hand-off costs);
 *   memcpy — copying N bytes into pages already present;
 *   touch_shm   — reading one byte per 4 KiB page of N bytes of a /dev/shm
 *            file written by someone else, freshly mapped (what a zero-copy
 *            receiver pays to read what it got);
 *   touch_anon  — the same over fresh anonymous pages (first-touch faults);
 *   wake_after_write — a process writes N bytes, pauses 2 ms (as the
 *            suite's producers do), then futex-wakes a process asleep all
 *            the while on the other CPU (each pinned to one, as the suite's
 *            transfers are): the time until the sleeper runs, beside the
 *            same after writing 1 KiB. What a one-way hand-off to a
 *            sleeping receiver costs at the least, in the cache, TLB and
 *            idle-CPU state that writing N bytes leaves;
 *   parallel — a CPU-bound C loop split over two processes against one
 *            process doing all of it: the speed-up the two CPUs give at
 *            best (virtual CPUs may share a physical core's resources).
 * Prints one JSON object. Usage: floors BYTES ROUNDTRIPS [spin|parallel];
 * with "spin", only the spin round trip (bench/suite.py measures it again
 * beside each throughput run: it tells how far apart the two CPUs are right
 * now); with "parallel", only the parallel floor (measured again just
 * before the compute scenario: what two CPUs give at that moment).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fwait(atomic_uint *w, unsigned v) {
  syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}
static void fwake(atomic_uint *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0); }

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ping-pong between parent and a forked child; returns p50 round trip, and
 * p99 in *p99. Stops early after 3 s (a loaded machine makes spinning slow). */
static double pingpong(int spin, int n, double *p99, int *done) {
  atomic_uint *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  atomic_uint *ping = &w[0], *pong = &w[16];
  atomic_store(ping, 0);
  atomic_store(pong, 0);
  pid_t child = fork();
  if (child == 0) {
    for (unsigned i = 1;; i++) {
      unsigned v;
      while ((v = atomic_load(ping)) != i) {
        if (v == 0xFFFFFFFFu) _exit(0);
        if (!spin) fwait(ping, v);
      }
      atomic_store(pong, i);
      if (!spin) fwake(pong);
    }
  }
  double *lat = malloc(sizeof(double) * n);
  double start = now();
  int k = 0;
  for (unsigned i = 1; (int)i <= n; i++) {
    double a = now();
    atomic_store(ping, i);
    if (!spin) fwake(ping);
    unsigned v;
    while ((v = atomic_load(pong)) != i)
      if (!spin) fwait(pong, v);
    lat[k++] = now() - a;
    if (now() - start > 3.0) break;
  }
  atomic_store(ping, 0xFFFFFFFFu);
  fwake(ping);
  waitpid(child, NULL, 0);
  qsort(lat, k, sizeof(double), cmp);
  *p99 = lat[(int)(k * 0.99)];
  *done = k;
  double p50 = lat[k / 2];
  free(lat);
  munmap(w, 4096);
  return p50;
}

/* Pins the calling process to the `which`-th CPU it may use (0 or 1), if
 * it may use two; `saved` keeps the set to restore. Unpinned, the kernel
 * wakes a sleeper sometimes on its waker's CPU (a context switch) and
 * sometimes on the other, idle one (a virtual CPU woken by its host): the
 * two cost 4-17 and 23-132 µs here, so pinning keeps every round the same. */
static int pin_to(int which, cpu_set_t *saved) {
  if (sched_getaffinity(0, sizeof *saved, saved) != 0 || CPU_COUNT(saved) < 2) return 0;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, saved) && seen++ == which) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      return sched_setaffinity(0, sizeof one, &one) == 0;
    }
  }
  return 0;
}

/* wake_after_write: median over `reps` of the time from a futex wake to
 * the woken process running, the waker having written `bytes` of its own
 * memory and paused 2 ms first. The waker then sleeps for the answer
 * rather than spinning: a woken task may be queued on its waker's CPU,
 * and a spinning waker would delay it. */
static int wake_pinned; /* whether the last wake_after_write ran pinned */

static double wake_after_write(char *buf, size_t bytes, int reps) {
  struct shared {
    atomic_uint go, done;
    _Atomic double woke;
  } *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  atomic_store(&s->go, 0);
  atomic_store(&s->done, 0);
  cpu_set_t saved;
  pid_t child = fork();
  if (child == 0) {
    pin_to(1, &saved);
    for (unsigned r = 1; (int)r <= reps; r++) {
      unsigned v;
      while ((v = atomic_load(&s->go)) != r) fwait(&s->go, v);
      atomic_store(&s->woke, now());
      atomic_store(&s->done, r);
      fwake(&s->done);
    }
    _exit(0);
  }
  const int pinned = pin_to(0, &saved);
  wake_pinned = pinned;
  usleep(20000);  /* the child is asleep before the first round */
  double lat[64];
  if (reps > 64) reps = 64;
  for (unsigned r = 1; (int)r <= reps; r++) {
    memset(buf, (int)r, bytes);
    usleep(2000);
    double a = now();
    atomic_store(&s->go, r);
    fwake(&s->go);
    unsigned v;
    while ((v = atomic_load(&s->done)) != r) fwait(&s->done, v);
    lat[r - 1] = atomic_load(&s->woke) - a;
  }
  waitpid(child, NULL, 0);
  if (pinned) sched_setaffinity(0, sizeof saved, &saved);
  munmap(s, 4096);
  qsort(lat, reps, sizeof(double), cmp);
  return lat[reps / 2];
}

/* The CPU-bound loop of the parallel floor: arithmetic on registers, no
 * memory traffic. */
static volatile double parallel_sink;
__attribute__((noinline)) static void parallel_work(long n) {
  double s = 0;
  for (long i = 0; i < n; i++) s += (double)(i % 7) * (double)(i % 7);
  parallel_sink = s;
}

/* Median over 5 rounds of (one process doing `n` iterations) / (two
 * processes doing n/2 each, at the same time), after one round not
 * counted (the first fork and the other CPU waking up show in it). */
static double parallel_speedup(long n) {
  double ratio[6];
  for (int r = 0; r < 6; r++) {
    double a = now();
    parallel_work(n);
    double one = now() - a;
    a = now();
    pid_t child = fork();
    if (child == 0) {
      parallel_work(n / 2);
      _exit(0);
    }
    parallel_work(n / 2);
    waitpid(child, NULL, 0);
    ratio[r] = one / (now() - a);
  }
  qsort(ratio + 1, 5, sizeof(double), cmp);
  return ratio[3];
}

static double touch(volatile const char *p, size_t n) {
  double a = now();
  unsigned s = 0;
  for (size_t i = 0; i < n; i += 4096) s += p[i];
  double b = now();
  if (s == 12345) puts("");
  return b - a;
}

int main(int argc, char **argv) {
  size_t bytes = argc > 1 ? strtoull(argv[1], NULL, 10) : (1ull << 30);
  int n = argc > 2 ? atoi(argv[2]) : 20000;
  double fp99, sp99;
  int fn, sn;
  if (argc > 3 && strcmp(argv[3], "parallel") == 0) {
    volatile long parallel_n = 300000000L;
    printf("{\"parallel_speedup\": %.4f}\n", parallel_speedup(parallel_n));
    return 0;
  }
  if (argc > 3 && strcmp(argv[3], "spin") == 0) {
    double p50 = pingpong(1, n, &sp99, &sn);
    printf("{\"spin_rt_p50_s\": %.9g, \"spin_rt_p99_s\": %.9g, \"spin_n\": %d}\n", p50, sp99, sn);
    return 0;
  }
  double fp50 = pingpong(0, n, &fp99, &fn);
  double sp50 = pingpong(1, n, &sp99, &sn);

  char *src = malloc(bytes), *dst = malloc(bytes);
  memset(src, 1, bytes);
  memset(dst, 0, bytes);
  volatile long parallel_n = 300000000L; /* ~0.2 s on one CPU here */
  double speedup = parallel_speedup(parallel_n);
  double wake_small = wake_after_write(src, 1024, 7);
  double wake_large = wake_after_write(src, bytes, 7);
  double mc[3];
  for (int r = 0; r < 3; r++) {
    double a = now();
    memcpy(dst, src, bytes);
    mc[r] = now() - a;
  }
  qsort(mc, 3, sizeof(double), cmp);
  free(src);
  free(dst);

  char name[64];
  snprintf(name, sizeof name, "/shoal-floors-%d", (int)getpid());
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  shm_unlink(name);
  double ts[3] = {0}, ta[3] = {0};
  if (fd >= 0 && ftruncate(fd, (off_t)bytes) == 0) {
    char *w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memset(w, 1, bytes);  /* the producer's pages, present in tmpfs */
    munmap(w, bytes);
    for (int r = 0; r < 3; r++) {
      char *p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
      ts[r] = touch(p, bytes);
      munmap(p, bytes);
      char *q = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ta[r] = touch(q, bytes);
      munmap(q, bytes);
    }
    qsort(ts, 3, sizeof(double), cmp);
    qsort(ta, 3, sizeof(double), cmp);
  }
  if (fd >= 0) close(fd);
  printf("{\"bytes\": %zu, \"futex_rt_p50_s\": %.9g, \"futex_rt_p99_s\": %.9g, \"futex_n\": %d, "
         "\"spin_rt_p50_s\": %.9g, \"spin_rt_p99_s\": %.9g, \"spin_n\": %d, "
         "\"memcpy_s\": %.9g, \"touch_shm_s\": %.9g, \"touch_anon_s\": %.9g, "
         "\"wake_after_write_1KiB_s\": %.9g, \"wake_after_write_s\": %.9g, \"wake_pinned\": %d, "
         "\"parallel_speedup\": %.4f}\n",
         bytes, fp50, fp99, fn, sp50, sp99, sn, mc[1], ts[1], ta[1], wake_small, wake_large, wake_pinned, speedup);
  return 0;
}

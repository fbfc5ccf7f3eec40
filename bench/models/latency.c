/* How long a dependent random read takes on this machine, by the size of what is read.
 * A table of `MB` megabytes (on huge pages when `huge` is 1), one multiply-xor hash of work
 * between reads, each of `threads` threads reading on its own:
 *
 *   gcc -O2 -pthread -o /tmp/latency bench/models/latency.c
 *   /tmp/latency 456 1 2     # the index's tables at 10 M entries, two threads
 *   /tmp/latency 2 1 1       # what one core's L2 holds
 *
 * docs/benchmarks.md (2026-12-01) quotes it: the floor under a check at 10 M entries. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static inline uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33; return x; }

static uint64_t *table;
static uint64_t count;

static void *reader(void *argument) {
    uint64_t seed = (uint64_t)argument, value = 0;
    const int reads = 3000000;
    double start = now();
    /* Each read's position depends on the one before (its low bit is always 0, the compiler cannot know). */
    for (int i = 0; i < reads; i++) value = table[mix(seed + (uint64_t)i + (value & 1)) % count];
    printf("  thread: %.1f ns a read (%lu)\n", (now() - start) / reads * 1e9, (unsigned long)(value & 1));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: latency MB huge(0|1) threads(1|2)\n"); return 2; }
    uint64_t megabytes = strtoull(argv[1], 0, 10);
    int huge = atoi(argv[2]), threads = atoi(argv[3]);
    if (threads < 1 || threads > 2) threads = 1;
    count = megabytes * 1024 * 1024 / 8;
    size_t hugePage = 2 << 20;
    char *mapping = mmap(0, count * 8 + hugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) { perror("mmap"); return 1; }
    table = (uint64_t *)(((uintptr_t)mapping + hugePage - 1) & ~(uintptr_t)(hugePage - 1));
    madvise(table, count * 8, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    for (uint64_t i = 0; i < count; i++) table[i] = i * 2;
    printf("%lu MB, huge pages %d, %d thread(s)\n", (unsigned long)megabytes, huge, threads);
    pthread_t thread[2];
    for (int i = 0; i < threads; i++) pthread_create(&thread[i], 0, reader, (void *)(uint64_t)(i * 1000000007ULL));
    for (int i = 0; i < threads; i++) pthread_join(thread[i], 0);
    return 0;
}

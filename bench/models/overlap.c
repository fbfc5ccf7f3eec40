/* Whether an atomic increment after each lookup (what a caller's retain and release are) keeps
 * consecutive lookups' cache misses from overlapping. Independent random reads from a 512 MB
 * table on huge pages, `work` multiply-xor hashes of dependent work after each, with (1) or
 * without (0) a locked increment:
 *
 *   gcc -O2 -o /tmp/overlap bench/models/overlap.c
 *   for w in 0 10 30; do /tmp/overlap 0 $w; /tmp/overlap 1 $w; done
 *
 * docs/benchmarks.md (2026-12-01) quotes it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define COUNT (1ULL << 26)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static inline uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33; return x; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: overlap locked(0|1) work\n"); return 2; }
    int locked = atoi(argv[1]), work = atoi(argv[2]);
    uint64_t *table = mmap(0, COUNT * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (table == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(table, COUNT * 8, MADV_HUGEPAGE);
    for (uint64_t i = 0; i < COUNT; i++) table[i] = mix(i);
    uint64_t sum = 0;
    long counter = 0;
    const uint64_t lookups = 5000000;
    double start = now();
    for (uint64_t i = 0; i < lookups; i++) {
        uint64_t value = table[mix(i * 7919 + 1) & (COUNT - 1)];
        for (int k = 0; k < work; k++) value = mix(value);
        sum += value;
        if (locked) __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    }
    printf("locked %d, work %d: %.1f ns a lookup (%lu)\n", locked, work, (now() - start) / lookups * 1e9, (unsigned long)(sum & 1));
    return 0;
}

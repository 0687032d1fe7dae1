/*
 * Memory-bound pointer chase: 64 MiB of 64-byte nodes linked into one random cycle
 * (Sattolo's shuffle), reached through 4 KiB pages, so nearly every step lands on a page
 * the previous steps did not touch: a TLB miss in the guest's (and the emulator's) TLB.
 */
#include "bench.h"

#define WORKING_SET (64u << 20)
#define NODE_BYTES 64
#define NODES (WORKING_SET / NODE_BYTES)

#ifndef STEPS
#define STEPS (3u << 20)
#endif

struct node {
    struct node *next;
    uint64_t index;
    uint64_t pad[NODE_BYTES / 8 - 2];
};

_Static_assert(sizeof(struct node) == NODE_BYTES, "a node fills one cache line");

static struct node arena[NODES] __attribute__((aligned(4096)));

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bench_run(void)
{
    struct node *nodes = bench_map_4k(arena, sizeof arena);
    uint64_t state = 0x13198a2e03707344ULL;

    /* Sattolo: a uniformly random permutation that is a single cycle through every node. */
    for (uint64_t i = 0; i < NODES; i++) {
        nodes[i].index = i;
    }
    for (uint64_t i = NODES - 1; i > 0; i--) {
        uint64_t j = splitmix64(&state) % i;
        uint64_t t = nodes[i].index;
        nodes[i].index = nodes[j].index;
        nodes[j].index = t;
    }
    /* nodes[i].index now holds the successor of i; turn it into a pointer and own index. */
    for (uint64_t i = 0; i < NODES; i++) {
        nodes[i].next = &nodes[nodes[i].index];
        nodes[i].index = i;
    }

    struct node *p = &nodes[0];
    uint64_t sum = 0;
    for (uint64_t s = 0; s < STEPS; s++) {
        p = p->next;
        sum += p->index;
    }
    bench_report_ops("nodes", NODES);
    bench_report_ops("steps", STEPS);
    bench_checksum(bench_mix(sum, p->index));
}

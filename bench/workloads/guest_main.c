/* The guest build of a workload: a multiboot kernel on the runtime in ../guests/lib. */
#include "lib.h"
#include "bench.h"

#define LARGE_PAGE (2ull << 20)

void bench_puts(const char *s)
{
    puts(s);
}

void *bench_map_4k(void *base, size_t len)
{
    /* The boot identity map uses 2 MiB pages: split every one the range touches. */
    u64 start = (u64)base & ~(LARGE_PAGE - 1);
    for (u64 va = start; va < (u64)base + len; va += LARGE_PAGE) {
        pte_for(va);
    }
    /* Same translations, smaller pages: drop the 2 MiB TLB entries so the split shows. */
    flush_tlb();
    return base;
}

int main(void)
{
    bench_run();
    return EXIT_PASS;
}

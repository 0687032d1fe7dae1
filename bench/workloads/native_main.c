/* The hosted build of a workload: a Linux process that prints what the guest prints. */
#include <stdio.h>
#include <sys/mman.h>
#include "bench.h"

volatile uint64_t bench_fake_msr;
volatile uint8_t bench_fake_port;

void bench_puts(const char *s)
{
    fputs(s, stdout);
}

void *bench_map_4k(void *base, size_t len)
{
    /* Transparent huge pages would hide the TLB cost the pointer chase is there to show. */
    uintptr_t page_mask = 4095;
    uintptr_t start = ((uintptr_t)base + page_mask) & ~page_mask;
    uintptr_t end = ((uintptr_t)base + len) & ~page_mask;
    if (end > start) {
        madvise((void *)start, end - start, MADV_NOHUGEPAGE);
    }
    return base;
}

int main(void)
{
    bench_run();
    fflush(stdout);
    return 0;
}

/*
 * The guest of bench/lifecycle (a guest kernel only: it runs until the VM is stopped, so it
 * has no native build and no checksum). It fills FILL_MIB MiB of RAM with non-zero data, says
 * so, then rewrites a HOT_MIB working set pass after pass, checking every word against what
 * the pass before left there, and checks one more MiB of the rest against the fill each pass.
 * About every 2^31 TSC cycles it prints the pass it is at. A snapshot, restore or migration
 * that loses or mixes up RAM therefore ends in a FAIL line and exit status 3; one that works
 * shows the pass count going on from where it was, with no second "filled" line.
 */
#include "lib.h"

#define FILL_BASE (32ull << 20)   /* above the kernel image and its page tables */
#define FILL_MIB 200ull
#define HOT_MIB 4ull
#define WORDS_PER_MIB ((1ull << 20) / 8)
#define REPORT_CYCLES (1ull << 31)

/* What word i holds after pass p (pass 0 is the fill): never zero, no two pages alike. */
static inline u64 word(u64 i, u64 p)
{
    return ((i * 0x9e3779b97f4a7c15ull) ^ (p * 0xc2b2ae3d27d4eb4full) ^ (i >> 7)) | 1;
}

static void fail(u64 i, u64 pass, u64 got, u64 want)
{
    printf("ramfill: FAIL word %lu (address %lx) in pass %lu holds %lx, not %lx\n",
           i, (u64)(FILL_BASE + 8 * i), pass, got, want);
    exit(EXIT_FAIL);
}

int main(void)
{
    struct mb_info *mb = mb_info();
    u64 ram_end = (1ull << 20) + (u64)mb->mem_upper * 1024;
    if (!(mb->flags & 1) || ram_end < FILL_BASE + (FILL_MIB << 20)) {
        printf("ramfill: FAIL needs RAM up to %lu MiB, has %lu MiB\n", (u64)((FILL_BASE >> 20) + FILL_MIB), ram_end >> 20);
        exit(EXIT_FAIL);
    }
    volatile u64 *ram = (volatile u64 *)FILL_BASE;
    for (u64 i = 0; i < FILL_MIB * WORDS_PER_MIB; i++) {
        ram[i] = word(i, 0);
    }
    printf("ramfill: filled %lu MiB\n", (u64)FILL_MIB);

    const u64 hot = HOT_MIB * WORDS_PER_MIB;
    u64 report_at = rdtsc() + REPORT_CYCLES;
    for (u64 pass = 1;; pass++) {
        for (u64 i = 0; i < hot; i++) {
            u64 got = ram[i];
            if (got != word(i, pass - 1)) {
                fail(i, pass, got, word(i, pass - 1));
            }
            ram[i] = word(i, pass);
        }
        u64 cold = hot + (pass % (FILL_MIB - HOT_MIB)) * WORDS_PER_MIB;
        for (u64 i = cold; i < cold + WORDS_PER_MIB; i++) {
            if (ram[i] != word(i, 0)) {
                fail(i, pass, ram[i], word(i, 0));
            }
        }
        if (rdtsc() >= report_at) {
            printf("ramfill: pass %lu\n", pass);
            report_at = rdtsc() + REPORT_CYCLES;
        }
    }
}

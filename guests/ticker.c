/*
 * ticker.elf: runs until stopped from outside, for the QMP monitor's tests. It prints
 * "ticker: boot N" once per boot (N counts boots in RAM outside the image, which a reset
 * keeps, so a reboot shows as a new N) and then "tick K" every TICK_MS of guest TSC time,
 * forever: a monitor's stop shows as ticks that stop coming, cont as ticks that come again.
 */
#include "lib.h"

#define TICK_MS 20
#define BOOTS_MAGIC 0x7469636b65720000ULL   /* "ticker" in the high bytes */
/* 8 MiB: above the image (linked at 1 MiB), identity-mapped, below the smallest RAM tscvm gives. */
#define BOOTS_ADDR 0x800000UL

int main(void)
{
    volatile u64 *boots = (volatile u64 *)BOOTS_ADDR;
    if ((*boots & ~0xffffULL) != BOOTS_MAGIC)
        *boots = BOOTS_MAGIC;
    *boots += 1;
    printf("ticker: boot %lu\n", (unsigned long)(*boots & 0xffff));

    u64 khz = cpuid_max(0x40000000) >= 0x40000010 ? cpuid(0x40000010).a : 0;
    if (khz == 0)
        khz = 2000000;   /* a machine that does not say: assume 2 GHz */
    u64 period = khz * TICK_MS;
    u64 next = rdtsc() + period;
    for (u64 tick = 1;; tick++) {
        while ((s64)(rdtsc() - next) < 0)
            asm volatile("pause");
        next = rdtsc() + period;   /* no catching up on ticks missed while stopped */
        printf("tick %lu\n", (unsigned long)tick);
    }
}

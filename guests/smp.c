/*
 * smp.elf: every CPU (count from fw_cfg) reads the TSC in a loop against a shared last value,
 * updated with lock cmpxchg, and records whether it ever saw the TSC behind a value another
 * CPU had already read (KVM's tsc_scaling_sync idea: all vCPUs share one TSC, R12).
 */
#include "lib.h"

#define MAX_CPUS 16
#define ITERATIONS 200000

static volatile u64 shared_last;
static volatile u64 backwards[MAX_CPUS];
static volatile u64 worst_step[MAX_CPUS];
static volatile int ran[MAX_CPUS];
static volatile int go;

static void tsc_race(int cpu)
{
    if (cpu >= MAX_CPUS)
        return;
    ran[cpu] = 1;
    while (!go)
        pause();
    u64 seen_backwards = 0, worst = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        u64 last = shared_last;
        /* RDTSC is not ordered after earlier loads; LFENCE keeps it after reading `last`. */
        asm volatile("lfence" ::: "memory");
        u64 now = rdtsc();
        if (now < last) {
            seen_backwards++;
            if (last - now > worst)
                worst = last - now;
            continue;
        }
        /* Publish `now` unless another CPU already published something newer. */
        while (last < now && !__atomic_compare_exchange_n(&shared_last, &last, now, 0,
                                                           __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            ;
    }
    backwards[cpu] = seen_backwards;
    worst_step[cpu] = worst;
}

static void release_and_race(int cpu)
{
    if (cpu == 0) {
        /* Give the APs a moment to reach the start line, then start everyone together. */
        for (int i = 0; i < 1000000 && !go; i++) {
            int ready = 0;
            for (int c = 1; c < MAX_CPUS; c++)
                ready += ran[c];
            if (ready + 1 >= fw_cfg_cpu_count())
                break;
            pause();
        }
        shared_last = rdtsc();
        go = 1;
    }
    tsc_race(cpu);
}

int main(void)
{
    int cpus = fw_cfg_cpu_count();
    printf("fw_cfg reports %d CPUs\n", cpus);
    report("fw_cfg CPU count is at least 1", cpus >= 1 && cpus <= 255);
    int finished = smp_start(release_and_race);
    printf("%d CPUs finished %d iterations each\n", finished, ITERATIONS);
    report("every CPU started and finished", finished == (cpus > MAX_CPUS ? MAX_CPUS : cpus));
    int bad = 0;
    for (int c = 0; c < finished && c < MAX_CPUS; c++) {
        printf("cpu %d: ran %d, saw the TSC behind the shared value %lu times (worst by %lu)\n", c,
               ran[c], backwards[c], worst_step[c]);
        bad += backwards[c] != 0;
    }
    report("no CPU ever saw the TSC go backwards", bad == 0);
    return report_summary();
}

/*
 * One privileged (or timing) operation in a loop, ITERS times. Built once per OP and per
 * iteration count; the harness derives the per-operation cost from run times (README).
 *   OP_LOOP   the bare loop: the baseline subtracted from the others
 *   OP_RDTSC  RDTSC; the checksum fails if the TSC ever went backwards
 *   OP_MSR    WRMSR then RDMSR of IA32_TSC_AUX; the checksum folds the values read back
 *   OP_PIO    OUT to port 0x80, the POST/delay port nobody listens to
 */
#include "bench.h"

#ifndef ITERS
#error "build with -DITERS=<count>"
#endif

void bench_run(void)
{
    uint64_t sum = 0;
#if defined(OP_LOOP)
    for (uint64_t i = 0; i < ITERS; i++) {
        BENCH_OPAQUE(i);
    }
    bench_report_ops("loop", ITERS);
#elif defined(OP_RDTSC)
    uint64_t backwards = 0;
    uint64_t prev = bench_rdtsc();
    for (uint64_t i = 0; i < ITERS; i++) {
        uint64_t t = bench_rdtsc();
        backwards += t < prev;
        prev = t;
    }
    sum = backwards;
    bench_report_ops("rdtsc", ITERS);
#elif defined(OP_MSR)
    for (uint64_t i = 0; i < ITERS; i++) {
        /* TSC_AUX takes 32 bits; a set bit in 63:32 is a #GP on Intel. */
        bench_wrmsr(BENCH_MSR_TSC_AUX, (uint32_t)(i * 0x9e3779b9u));
        sum += bench_rdmsr(BENCH_MSR_TSC_AUX);
    }
    bench_wrmsr(BENCH_MSR_TSC_AUX, 0);
    bench_report_ops("wrmsr+rdmsr", ITERS);
#elif defined(OP_PIO)
    for (uint64_t i = 0; i < ITERS; i++) {
        bench_outb(0x80, (uint8_t)i);
    }
    sum = ITERS;
    bench_report_ops("out", ITERS);
#else
#error "build with one of -DOP_LOOP, -DOP_RDTSC, -DOP_MSR, -DOP_PIO"
#endif
    bench_checksum(bench_mix(sum, ITERS));
}

/*
 * The interface between a workload and the two places it runs: a hosted Linux process
 * (native_main.c) and a guest kernel (guest_main.c on top of ../guests/lib).
 *
 * A workload defines bench_run(), which does its work and reports through bench_report_*.
 * Every workload prints one "CHECKSUM <hex>" line that the native build and every VM must
 * agree on, so a wrong result can never pass as fast; "OPS <name> <count>" lines say how
 * much work was done.
 *
 * The workload code is compiled with the same code-generation flags in both builds (see
 * Makefile), so the instruction count taken from the native build applies to the guest.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stddef.h>

/* Provided by each workload. */
void bench_run(void);

/* Provided by the platform (native_main.c or guest_main.c). */
void bench_puts(const char *s);

/*
 * Makes [base, base+len) reachable through 4 KiB pages and returns the address to use.
 * The guest maps it again at a separate virtual address with 4 KiB page tables of its own;
 * the native build asks Linux not to back it with huge pages.
 */
void *bench_map_4k(void *base, size_t len);

/* Provided by report.c. */
void bench_report_hex(const char *key, uint64_t value);
void bench_report_ops(const char *name, uint64_t count);
void bench_checksum(uint64_t value);

/* A 64-bit mix (the murmur3 finaliser); every workload folds its results with it. */
static inline uint64_t bench_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Hides a value from the optimiser so that loops cannot be folded away. */
#define BENCH_OPAQUE(x) __asm__ volatile("" : "+r"(x))

static inline uint64_t bench_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#define BENCH_MSR_TSC_AUX 0xC0000103u

#ifdef BENCH_NATIVE
/*
 * WRMSR, RDMSR and OUT are privileged: the native build stands them in with a volatile
 * variable so that it computes the same checksum. Its timing for these ops means nothing
 * and the harness does not report it.
 */
extern volatile uint64_t bench_fake_msr;
extern volatile uint8_t bench_fake_port;

static inline void bench_wrmsr(uint32_t msr, uint64_t value)
{
    (void)msr;
    bench_fake_msr = value;
}

static inline uint64_t bench_rdmsr(uint32_t msr)
{
    (void)msr;
    return bench_fake_msr;
}

static inline void bench_outb(uint16_t port, uint8_t value)
{
    (void)port;
    bench_fake_port = value;
}
#else
static inline void bench_wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

static inline uint64_t bench_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void bench_outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
#endif

#endif

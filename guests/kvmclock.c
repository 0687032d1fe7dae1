/*
 * kvmclock.elf: kvmclock as a guest uses it (tsc-semantics R20, docs/time-rules.md), in the
 * spirit of kvm-unit-tests' kvmclock_test: KVM's CPUID signature and feature bits, each CPU's
 * pvclock structure enabled through MSR_KVM_SYSTEM_TIME_NEW and read with the version
 * protocol, one kvmclock across CPUs that never goes backwards, the TSC rate told by the
 * structure, the boot wall clock, no jump when the TSC is adjusted, and no more writes once
 * the structure is disabled. Skips (status 77) when the CPU has no kvmclock.
 */
#include "lib.h"

#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define KVM_FEATURE_STABLE_BIT   (1u << 24)
#define PVCLOCK_TSC_STABLE_BIT   1
#define MAX_CPUS 16
#define ITERATIONS 50000
/* 2024-01-01 00:00:00 UTC: no wall clock tscvm gives is earlier. */
#define EPOCH_2024 1704067200u

struct pvclock {
    volatile u32 version;
    u32 pad0;
    volatile u64 tsc_timestamp;
    volatile u64 system_time;
    volatile u32 tsc_to_system_mul;
    volatile int8_t tsc_shift;
    volatile u8 flags;
    u8 pad[2];
} __attribute__((packed));

struct wall_clock {
    volatile u32 version, sec, nsec;
} __attribute__((packed));

static struct pvclock pvclocks[MAX_CPUS] __attribute__((aligned(64)));
static struct wall_clock wall;
static volatile u64 shared_last;
static volatile u64 backwards[MAX_CPUS];
static volatile int enabled_ok[MAX_CPUS];
static volatile int ran[MAX_CPUS];
static volatile int go;
static struct spinlock last_lock;

/* pvclock_scale_delta: (delta shifted) * mul >> 32, with the full 128-bit product. */
static u64 scale_delta(u64 delta, u32 mul, int shift)
{
    delta = shift < 0 ? delta >> -shift : delta << shift;
    return (u64)(((unsigned __int128)delta * mul) >> 32);
}

/* kvmclock now; the TSC it was computed from goes to *tsc_out when asked for. */
static u64 kvmclock_read_at(struct pvclock *p, u8 *flags, u64 *tsc_out)
{
    u32 version;
    u64 ns, tsc;
    do {
        version = p->version & ~1u;
        asm volatile("lfence" ::: "memory");
        tsc = rdtsc();
        ns = p->system_time + scale_delta(tsc - p->tsc_timestamp, p->tsc_to_system_mul, p->tsc_shift);
        if (flags)
            *flags = p->flags;
        asm volatile("lfence" ::: "memory");
    } while (version != p->version);
    if (tsc_out)
        *tsc_out = tsc;
    return ns;
}

static u64 kvmclock_read(struct pvclock *p, u8 *flags)
{
    return kvmclock_read_at(p, flags, 0);
}

static int has_kvmclock(u32 *features)
{
    if (!(cpuid(1).c & (1u << 31)))
        return 0;
    struct cpuid sig = cpuid(0x40000000);
    char name[13];
    memcpy(name, &sig.b, 4);
    memcpy(name + 4, &sig.c, 4);
    memcpy(name + 8, &sig.d, 4);
    name[12] = 0;
    if (memcmp(name, "KVMKVMKVM\0\0\0", 12) != 0 || sig.a < 0x40000001)
        return 0;
    *features = cpuid(0x40000001).a;
    return (*features & KVM_FEATURE_CLOCKSOURCE2) != 0;
}

static void per_cpu(int cpu)
{
    if (cpu >= MAX_CPUS)
        return;
    struct pvclock *p = &pvclocks[cpu];
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)p | 1);
    enabled_ok[cpu] = rdmsr(MSR_KVM_SYSTEM_TIME_NEW) == ((u64)p | 1) && p->version != 0
            && (p->version & 1) == 0 && p->tsc_to_system_mul != 0;
    ran[cpu] = 1;
    if (cpu == 0) {
        for (int i = 0; i < 1000000; i++) {
            int ready = 0;
            for (int c = 1; c < MAX_CPUS; c++)
                ready += ran[c];
            if (ready + 1 >= fw_cfg_cpu_count())
                break;
            pause();
        }
        shared_last = kvmclock_read(p, 0);
        go = 1;
    }
    while (!go)
        pause();
    u64 seen = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        /* As kvmclock_test's check: read under a lock, so the shared value is always earlier. */
        spin_lock(&last_lock);
        u64 last = shared_last;
        u64 now = kvmclock_read(p, 0);
        if (now < last)
            seen++;
        else
            shared_last = now;
        spin_unlock(&last_lock);
    }
    backwards[cpu] = seen;
}

int main(void)
{
    u32 features = 0;
    if (!has_kvmclock(&features)) {
        report_skip("kvmclock", "no KVM signature with KVM_FEATURE_CLOCKSOURCE2 in CPUID");
        exit(EXIT_SKIP);
    }
    int stable = (features & KVM_FEATURE_STABLE_BIT) != 0;
    printf("KVM features 0x%x\n", features);

    int cpus = fw_cfg_cpu_count();
    int finished = smp_start(per_cpu);
    report("every CPU ran", finished == (cpus > MAX_CPUS ? MAX_CPUS : cpus));
    int enabled = 1, bad = 0;
    for (int c = 0; c < finished && c < MAX_CPUS; c++) {
        printf("cpu %d: version %u, mul 0x%x, shift %d, flags %u, kvmclock behind another CPU's %lu times\n",
               c, pvclocks[c].version, pvclocks[c].tsc_to_system_mul, pvclocks[c].tsc_shift,
               pvclocks[c].flags, backwards[c]);
        enabled &= enabled_ok[c];
        bad += backwards[c] != 0;
    }
    report("each CPU's structure is enabled, even-versioned and filled in", enabled);
    report("kvmclock never went backwards across CPUs", bad == 0);

    struct pvclock *p = &pvclocks[0];
    u8 flags = 0;
    kvmclock_read(p, &flags);
    if (stable)
        report("the TSC-stable flag is set (master clock)", flags & PVCLOCK_TSC_STABLE_BIT);

    /* The TSC rate the structure tells, as Linux's pvclock_tsc_khz takes it, against CPUID 0x40000010. */
    u64 khz = (1000000ull << 32) / p->tsc_to_system_mul;
    khz = p->tsc_shift < 0 ? khz << -p->tsc_shift : khz >> p->tsc_shift;
    u32 cpuid_khz = cpuid(0x40000010).a;
    printf("pvclock TSC rate %lu kHz, CPUID 0x40000010 %u kHz\n", khz, cpuid_khz);
    report("the structure's TSC rate is the TSC's", khz + 1 >= cpuid_khz && khz <= cpuid_khz + 1);

    /* Each kvmclock value with the TSC it came from, so a host stall between reads cannot skew it. */
    u64 t0, t1;
    u64 k0 = kvmclock_read_at(p, 0, &t0);
    for (volatile int i = 0; i < 200000; i++)
        ;
    u64 k1 = kvmclock_read_at(p, 0, &t1);
    u64 expect = (t1 - t0) * 1000000ull / cpuid_khz;
    printf("%lu TSC cycles, %lu kvmclock ns (%lu expected)\n", t1 - t0, k1 - k0, expect);
    report("kvmclock runs at the TSC's rate", k1 - k0 + 1000 >= expect && k1 - k0 <= expect + 1000);

    wrmsr(MSR_KVM_WALL_CLOCK_NEW, (u64)&wall);
    printf("wall clock: version %u, boot at %u.%09u s\n", wall.version, wall.sec, wall.nsec);
    report("the wall clock is written, even-versioned", wall.version != 0 && (wall.version & 1) == 0);
    report("the wall clock is a time after 2024", wall.sec >= EPOCH_2024 && wall.nsec < 1000000000u);

    if (cpuid_max(0) >= 7 && (cpuid_count(7, 0).b & (1u << 1))) {
        u64 before = kvmclock_read(p, 0);
        wrmsr(MSR_IA32_TSC_ADJUST, rdmsr(MSR_IA32_TSC_ADJUST) + 100000000000ull);
        u64 after = kvmclock_read(p, 0);
        printf("kvmclock across a TSC_ADJUST write of +1e11: %lu -> %lu\n", before, after);
        report("kvmclock does not jump when the TSC is adjusted", after >= before && after - before < 1000000);
    }

    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
    u32 version = p->version;
    wrmsr(MSR_IA32_TSC_ADJUST, rdmsr(MSR_IA32_TSC_ADJUST));
    report("a disabled structure is no longer written", p->version == version);
    return report_summary();
}

/*
 * timekeeper.elf: every CPU checks, round after round, what a guest must never see change
 * under it — across a snapshot, a migration or hours of running:
 *   - its TSC never goes backwards, neither against its own last reading nor against the
 *     newest value any CPU has published (one TSC for all, R12);
 *   - IA32_TSC_ADJUST and TSC_AUX (through RDTSCP) keep the values it set;
 *   - its TSC-deadline timer, re-armed from its own handler, keeps interrupting (the
 *     periodic APIC timer where CPUID has no TSC-deadline, as under QEMU TCG);
 *   - its slice of a memory region keeps the pattern it wrote (rewritten every round with a
 *     new seed, so the region keeps changing).
 * Command line (multiboot, -append): rounds=N (0: forever; default 20), round=CYCLES (TSC
 * cycles per round; default 200000000), mem=MIB (region size; default 16), tick=CYCLES
 * (deadline interval; default 1000000). CPU 0 prints one line per round; any failure is
 * printed at once by the CPU that saw it.
 */
#include "lib.h"

#define MAX_CPUS 16
#define APIC_BASE_ADDR 0xfee00000UL
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_DIVIDE 0x3e0
#define LVT_PERIODIC (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define DIVIDE_BY_1 0xb
#define TIMER_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff
#define REGION_BASE (32UL << 20)

static u64 rounds = 20, round_cycles = 200000000, region_mib = 16, tick_cycles = 1000000;

static volatile u64 shared_last;
static volatile int go, ready;
static volatile int failed;
static volatile u64 round_done[MAX_CPUS];
static volatile u64 fires[MAX_CPUS];
static volatile u64 last_fire[MAX_CPUS];
static int cpus;
/* CPUID.1:ECX[24]; without it (QEMU TCG) the APIC timer runs periodic instead. */
static int have_deadline;
static struct spinlock print_lock;

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE_ADDR + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE_ADDR + reg) = v; }

static u64 parse_arg(const char *cmdline, const char *key, u64 fallback)
{
    size_t n = strlen(key);
    for (const char *p = cmdline; p && *p; p++) {
        if ((p == cmdline || p[-1] == ' ') && !memcmp(p, key, n) && p[n] == '=') {
            u64 v = 0;
            for (p += n + 1; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (u64)(*p - '0');
            return v;
        }
    }
    return fallback;
}

static void fail(int cpu, const char *what, u64 a, u64 b)
{
    static volatile int printed[MAX_CPUS];
    failed = 1;
    if (printed[cpu]++ >= 4)
        return;   /* a CPU that keeps failing would drown the console */
    spin_lock(&print_lock);
    printf("FAIL cpu %d: %s (%lu, %lu)\n", cpu, what, a, b);
    spin_unlock(&print_lock);
}

static int my_index(void)
{
    u32 aux;
    rdtscp(&aux);
    return (int)aux;
}

static void timer_handler(struct frame *f)
{
    (void)f;
    int cpu = my_index();
    if (cpu >= 0 && cpu < MAX_CPUS)
        fires[cpu]++, last_fire[cpu] = rdtsc();
    if (have_deadline)
        wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tick_cycles);
    apic_write(APIC_EOI, 0);
}

static void spurious_handler(struct frame *f)
{
    (void)f;
}

static u64 pattern(u64 seed, u64 i)
{
    u64 x = seed ^ (i * 0x9e3779b97f4a7c15ULL);
    x ^= x >> 31;
    return x * 0xbf58476d1ce4e5b9ULL;
}

static void fill(volatile u64 *slice, u64 words, u64 seed)
{
    for (u64 i = 0; i < words; i++)
        slice[i] = pattern(seed, i);
}

static u64 first_mismatch(volatile u64 *slice, u64 words, u64 seed)
{
    for (u64 i = 0; i < words; i++)
        if (slice[i] != pattern(seed, i))
            return i;
    return words;
}

static void keep_time(int cpu)
{
    if (cpu >= MAX_CPUS)
        return;
    wrmsr(MSR_TSC_AUX, (u64)cpu);
    u64 adjust = rdmsr(MSR_IA32_TSC_ADJUST);
    apic_write(APIC_SVR, SPURIOUS_VECTOR | 0x100);
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR | (have_deadline ? LVT_TSC_DEADLINE : LVT_PERIODIC));
    asm volatile("mfence" ::: "memory");   /* the LVT mode change before the MSR write */

    u64 words = (region_mib << 20) / 8 / (u64)cpus;
    volatile u64 *slice = (volatile u64 *)(REGION_BASE + (u64)cpu * words * 8);
    u64 seed = 0x5eed0000ULL + (u64)cpu;
    fill(slice, words, seed);

    __atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
    if (cpu == 0) {
        /* Start once every CPU is at the line (bounded: a missing AP must not hang the
         * test; the summary then reports it). */
        for (u64 spins = 0; ready < cpus && spins < 100000000; spins++)
            pause();
        shared_last = rdtsc();
        go = 1;
    }
    while (!go)
        pause();
    if (have_deadline) {
        wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tick_cycles);
    } else {
        apic_write(APIC_TIMER_DIVIDE, DIVIDE_BY_1);
        apic_write(APIC_TIMER_INITIAL, (u32)(tick_cycles > 0xffffffffULL ? 0xffffffffULL : tick_cycles));
    }
    sti();

    u64 last = rdtsc();
    for (u64 r = 1; rounds == 0 || r <= rounds; r++) {
        /* From now, not from `last`: checking memory may itself take longer than a round. */
        u64 end = rdtsc() + round_cycles;
        u64 fires_before = fires[cpu];
        u64 now = last;
        while (now < end) {
            u64 seen = shared_last;
            /* RDTSC is not ordered after earlier loads; LFENCE keeps it after reading `seen`. */
            asm volatile("lfence" ::: "memory");
            now = rdtsc();
            if (now < last)
                fail(cpu, "TSC went backwards against this CPU's last reading", last, now);
            if (now < seen)
                fail(cpu, "TSC behind a value another CPU already read", seen, now);
            while (seen < now && !__atomic_compare_exchange_n(&shared_last, &seen, now, 0,
                                                               __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                ;
            last = now;
        }
        u32 aux;
        rdtscp(&aux);
        if (aux != (u32)cpu)
            fail(cpu, "TSC_AUX changed", (u64)cpu, aux);
        u64 adj = rdmsr(MSR_IA32_TSC_ADJUST);
        if (adj != adjust)
            fail(cpu, "TSC_ADJUST changed", adjust, adj);
        /* A host stall can swallow whole rounds of TSC time (the TSC runs on while the vCPU
         * thread does not run): the timer is lost only if, after another round of TSC time,
         * this CPU has also spun ten million times with interrupts on. */
        u64 give_up = rdtsc() + round_cycles;
        for (u64 spins = 0; fires[cpu] == fires_before && (spins < 10000000 || rdtsc() < give_up); spins++)
            pause();
        if (fires[cpu] == fires_before)
            fail(cpu, "no timer interrupt for a round and 10^7 spins: round, cycles since the last", r, rdtsc() - last_fire[cpu]);
        u64 bad = first_mismatch(slice, words, seed);
        if (bad != words)
            fail(cpu, "memory lost its pattern at word", bad, r);
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        fill(slice, words, seed);
        round_done[cpu] = r;
        if (cpu == 0) {
            spin_lock(&print_lock);
            printf("round %lu: tsc %lu fires", r, last);
            for (int c = 0; c < cpus; c++)
                printf(" %lu", fires[c]);
            printf(" %s\n", failed ? "FAILED" : "ok");
            spin_unlock(&print_lock);
        }
    }
    cli();
    if (have_deadline)
        wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    else
        apic_write(APIC_TIMER_INITIAL, 0);
}

int main(void)
{
    const char *cmdline = (mb_info()->flags & (1u << 2)) ? (const char *)(u64)mb_info()->cmdline : "";
    rounds = parse_arg(cmdline, "rounds", rounds);
    round_cycles = parse_arg(cmdline, "round", round_cycles);
    region_mib = parse_arg(cmdline, "mem", region_mib);
    tick_cycles = parse_arg(cmdline, "tick", tick_cycles);
    have_deadline = (cpuid(1).c >> 24) & 1;
    cpus = fw_cfg_cpu_count();
    if (cpus > MAX_CPUS)
        cpus = MAX_CPUS;
    printf("timekeeper: %d CPUs, %lu rounds of %lu cycles, %lu MiB checked, %s timer every %lu\n",
           cpus, rounds, round_cycles, region_mib, have_deadline ? "TSC-deadline" : "periodic APIC",
           tick_cycles);
    set_handler(TIMER_VECTOR, timer_handler);
    set_handler(SPURIOUS_VECTOR, spurious_handler);
    int finished = smp_start(keep_time);
    report("every CPU started and finished", finished == cpus);
    int short_rounds = 0;
    for (int c = 0; c < cpus; c++) {
        printf("cpu %d: %lu rounds, %lu timer interrupts\n", c, round_done[c], fires[c]);
        short_rounds += round_done[c] != rounds;
    }
    report("every CPU ran every round", short_rounds == 0);
    report("no CPU saw its TSC, TSC_ADJUST, TSC_AUX, timer or memory go wrong", !failed);
    return report_summary();
}

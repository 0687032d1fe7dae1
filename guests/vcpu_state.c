/*
 * vcpu_state.elf: a workload whose every step leaves state in the vCPU, for the save/restore
 * round trip: x87 and SSE arithmetic carried across iterations, a periodic local APIC timer
 * counting ticks, long stretches at CPL 3, and (with 3 CPUs) one AP halted waiting for an
 * IPI and another AP waiting for SIPI until the very end. Every result is printed, so a run
 * restored midway must print exactly what the uninterrupted run prints.
 */
#include "lib.h"

#define APIC_BASE_ADDR 0xfee00000UL
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_DIVIDE 0x3e0
#define LVT_PERIODIC (1u << 17)
#define DIVIDE_BY_16 0x3
#define TIMER_VECTOR 0x40
#define WAKE_VECTOR 0x50
#define ROUNDS 40

static volatile u64 ticks;
static volatile int woken, ap_done[3];
static volatile u64 ap_result[3];

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE_ADDR + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE_ADDR + reg) = v; }

static void timer_handler(struct frame *f)
{
    (void)f;
    ticks++;
    apic_write(APIC_EOI, 0);
}

static void wake_handler(struct frame *f)
{
    (void)f;
    woken = 1;
    apic_write(APIC_EOI, 0);
}

/*
 * SSE (the kernel is built without it, so nothing else touches the XMM registers): the
 * running sum of square roots lives in XMM1, and XMM2-XMM15 each add in the one before, rotated by a lane.
 */
static void sse_start(void)
{
    write_cr4(read_cr4() | (1u << 9) | (1u << 10)); /* OSFXSR, OSXMMEXCPT */
    write_cr0(read_cr0() & ~(1ul << 2));            /* EM off */
    asm volatile("xorpd %%xmm1, %%xmm1" ::: "memory");
}

static void sse_step(u64 i)
{
    u64 x = i + 1;
    asm volatile("cvtsi2sdq %0, %%xmm0\n\tsqrtsd %%xmm0, %%xmm0\n\taddsd %%xmm0, %%xmm1\n\t"
                 "pshufd $0x39, %%xmm1, %%xmm0\n\tpaddd %%xmm0, %%xmm2\n\t"
                 "pshufd $0x39, %%xmm2, %%xmm0\n\tpaddd %%xmm0, %%xmm3\n\t"
                 "pshufd $0x39, %%xmm3, %%xmm0\n\tpaddd %%xmm0, %%xmm4\n\t"
                 "pshufd $0x39, %%xmm4, %%xmm0\n\tpaddd %%xmm0, %%xmm5\n\t"
                 "pshufd $0x39, %%xmm5, %%xmm0\n\tpaddd %%xmm0, %%xmm6\n\t"
                 "pshufd $0x39, %%xmm6, %%xmm0\n\tpaddd %%xmm0, %%xmm7\n\t"
                 "pshufd $0x39, %%xmm7, %%xmm0\n\tpaddd %%xmm0, %%xmm8\n\t"
                 "pshufd $0x39, %%xmm8, %%xmm0\n\tpaddd %%xmm0, %%xmm9\n\t"
                 "pshufd $0x39, %%xmm9, %%xmm0\n\tpaddd %%xmm0, %%xmm10\n\t"
                 "pshufd $0x39, %%xmm10, %%xmm0\n\tpaddd %%xmm0, %%xmm11\n\t"
                 "pshufd $0x39, %%xmm11, %%xmm0\n\tpaddd %%xmm0, %%xmm12\n\t"
                 "pshufd $0x39, %%xmm12, %%xmm0\n\tpaddd %%xmm0, %%xmm13\n\t"
                 "pshufd $0x39, %%xmm13, %%xmm0\n\tpaddd %%xmm0, %%xmm14\n\t"
                 "pshufd $0x39, %%xmm14, %%xmm0\n\tpaddd %%xmm0, %%xmm15\n\t"
                 : : "r"(x) : "memory");
}

/* XMM1 x 1000 as an integer, and the low quadwords of XMM13 and XMM14 mixed. */
static u64 sse_peek(u64 *mix)
{
    u64 out, scale = 1000;
    asm volatile("cvtsi2sdq %2, %%xmm0\n\tmulsd %%xmm1, %%xmm0\n\tcvttsd2si %%xmm0, %0\n\tmovq %%xmm13, %1\n\t"
                 "movq %%xmm14, %%rax\n\txor %%rax, %1"
                 : "=&r"(out), "=&r"(*mix) : "r"(scale) : "rax", "memory");
    return out;
}

/*
 * x87: the accumulator lives in ST(0) for the whole run (nothing else here uses the x87; the
 * kernel is built without it), so a saved state always has a live x87 register.
 */
static void x87_start(void)
{
    asm volatile("fninit\n\tfld1");
}

static void x87_step(u64 i)
{
    u32 k = (u32)(i % 7 + 1), d = k + (u32)(i % 5 + 1);
    asm volatile("fimull %0\n\tfidivl %1\n\tfld1\n\tfaddp" : : "m"(k), "m"(d)); /* acc * k / (k + d) + 1 */
}

/* ST(0) x 1000 as an integer, ST(0) kept. */
static u64 x87_peek(void)
{
    u64 out;
    u32 scale = 1000;
    asm volatile("fld %%st(0)\n\tfimull %1\n\tfistpll %0" : "=m"(out) : "m"(scale));
    return out;
}

/* CPL 3: a hash over a table, long enough that a stop point lands here often. */
static u64 table[512];

static long user_hash(long seed)
{
    u64 h = (u64)seed;
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 512; i++)
            h = (h ^ table[i]) * 0x100000001b3ULL + (u64)i;
    return (long)h;
}

static void halted_ap(int cpu)
{
    apic_write(APIC_SVR, apic_read(APIC_SVR) | 0x100);
    while (!woken)
        sti_hlt(); /* halted with IF=1 until the BSP's IPI */
    cli();
    sse_start();
    for (u64 i = 0; i < 1000; i++)
        sse_step(i);
    u64 mix;
    ap_result[cpu] = sse_peek(&mix);
    ap_done[cpu] = 1;
}

static void late_ap(int cpu)
{
    u64 h = 1469598103934665603ULL;
    for (int i = 0; i < 512; i++)
        h = (h ^ table[i]) * 0x100000001b3ULL;
    ap_result[cpu] = h;
    ap_done[cpu] = 1;
}

int main(void)
{
    int cpus = fw_cfg_cpu_count();
    set_handler(TIMER_VECTOR, timer_handler);
    set_handler(WAKE_VECTOR, wake_handler);
    for (int i = 0; i < 512; i++)
        table[i] = (u64)i * 0x9e3779b97f4a7c15ULL;
    apic_write(APIC_SVR, apic_read(APIC_SVR) | 0x100);
    if (cpus >= 3) {
        report("AP 1 started", smp_start_one(1, halted_ap));
    }
    apic_write(APIC_TIMER_DIVIDE, DIVIDE_BY_16);
    apic_write(APIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
    apic_write(APIC_TIMER_INITIAL, 2000); /* 32 us per tick */
    sti();

    sse_start();
    x87_start();
    u64 hash = 0;
    for (u64 round = 0; round < ROUNDS; round++) {
        for (u64 i = 0; i < 200; i++) {
            sse_step(round * 200 + i);
            x87_step(round * 200 + i);
        }
        hash ^= (u64)run_in_user(user_hash, (long)round);
        if (round % 10 == 9) {
            u64 mix, sse = sse_peek(&mix);
            printf("round %lu: sse %lu mix %lx x87 %lu hash %lx\n", round, sse, mix, x87_peek(), hash);
        }
    }
    cli();
    apic_write(APIC_LVT_TIMER, 1u << 16); /* masked: no more ticks */
    u64 seen_ticks = ticks;
    printf("timer ticks %lu\n", seen_ticks);
    report("the periodic timer ticked", seen_ticks > 10);

    if (cpus >= 3) {
        apic_write(APIC_ICR_HI, 1u << 24);
        apic_write(APIC_ICR_LO, WAKE_VECTOR); /* fixed IPI to APIC ID 1 */
        report("AP 2 started", smp_start_one(2, late_ap));
        for (u64 spins = 0; (!ap_done[1] || !ap_done[2]) && spins < 100000000; spins++)
            pause();
        printf("ap results %lu %lx\n", ap_result[1], ap_result[2]);
        report("both APs finished", ap_done[1] && ap_done[2]);
    }
    return report_summary();
}

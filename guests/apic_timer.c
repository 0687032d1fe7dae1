/*
 * apic_timer.elf: the local APIC timer in TSC-deadline mode (IA32_TSC_DEADLINE in guest-TSC
 * units, also after TSC_ADJUST moves the TSC), one-shot and periodic mode.
 */
#include "lib.h"

#define APIC_BASE_ADDR 0xfee00000UL
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_SVR_ENABLE 0x100
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_ONESHOT (0u << 17)
#define LVT_PERIODIC (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define DIVIDE_BY_1 0xb
#define TIMER_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff

/* Waits are bounded in TSC cycles so a timer that never fires fails instead of hanging. */
#define GIVE_UP_CYCLES 20000000000ULL

static volatile int fires;
static volatile u64 fire_tsc;

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE_ADDR + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE_ADDR + reg) = v; }

static void timer_handler(struct frame *f)
{
    (void)f;
    if (!fires)
        fire_tsc = rdtsc();
    fires++;
    apic_write(APIC_EOI, 0);
}

static void spurious_handler(struct frame *f)
{
    (void)f;
}

/* Waits with interrupts on until `count` timer interrupts arrived or the TSC passes give_up. */
static int wait_for_fires(int count, u64 give_up)
{
    sti();
    while (fires < count && rdtsc() < give_up)
        pause();
    cli();
    return fires >= count;
}

static void arm_deadline(u64 deadline)
{
    fires = 0;
    fire_tsc = 0;
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR | LVT_TSC_DEADLINE);
    asm volatile("mfence" ::: "memory");   /* the LVT mode change before the MSR write */
    wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
}

static void test_deadline(void)
{
    u64 deadline = rdtsc() + 2000000;
    arm_deadline(deadline);
    int ok = wait_for_fires(1, deadline + GIVE_UP_CYCLES);
    printf("deadline %lu, fired at %lu (%ld cycles after)\n", deadline, fire_tsc,
           (s64)(fire_tsc - deadline));
    report("TSC deadline: the interrupt fires", ok);
    report("TSC deadline: not before the deadline", ok && fire_tsc >= deadline);
    report("TSC deadline: IA32_TSC_DEADLINE reads 0 once fired", rdmsr(MSR_IA32_TSC_DEADLINE) == 0);

    deadline = rdtsc() + 1000000;
    arm_deadline(deadline);
    while (!fires && rdtsc() < deadline + GIVE_UP_CYCLES)
        sti_hlt();  /* the timer is the only interrupt source, so HLT wakes on it */
    cli();
    report("TSC deadline: sti; hlt wakes on the timer", fires == 1 && fire_tsc >= deadline);

    deadline = rdtsc() + 1000000000000ULL;
    arm_deadline(deadline);
    wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    wait_for_fires(1, rdtsc() + 50000000);
    report("TSC deadline: writing 0 disarms", fires == 0);
}

static void test_deadline_after_adjust(void)
{
    if (!(cpuid_max(0) >= 7 && (cpuid_count(7, 0).b & (1u << 1)))) {
        report_skip("TSC deadline after TSC_ADJUST", "CPUID.(7,0):EBX[1] is clear");
        return;
    }
    u64 adjust = rdmsr(MSR_IA32_TSC_ADJUST);
    wrmsr(MSR_IA32_TSC_ADJUST, adjust + 1000000000000ULL);
    u64 deadline = rdtsc() + 3000000;
    arm_deadline(deadline);
    int ok = wait_for_fires(1, deadline + GIVE_UP_CYCLES);
    printf("after TSC_ADJUST += 1e12: deadline %lu, fired at %lu\n", deadline, fire_tsc);
    report("deadline relative to the adjusted TSC fires", ok);
    report("deadline relative to the adjusted TSC: not early", ok && fire_tsc >= deadline);

    /* Arm 1e12 cycles ahead, then move the TSC 2e12 forward: the deadline is now past. */
    deadline = rdtsc() + 1000000000000ULL;
    arm_deadline(deadline);
    wrmsr(MSR_IA32_TSC_ADJUST, rdmsr(MSR_IA32_TSC_ADJUST) + 2000000000000ULL);
    ok = wait_for_fires(1, rdtsc() + GIVE_UP_CYCLES);
    report("moving the TSC past an armed deadline fires it", ok && fire_tsc >= deadline);
    wrmsr(MSR_IA32_TSC_ADJUST, adjust);
}

static void test_oneshot_and_periodic(void)
{
    fires = 0;
    apic_write(APIC_TIMER_DIVIDE, DIVIDE_BY_1);
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR | LVT_ONESHOT);
    apic_write(APIC_TIMER_INITIAL, 200000);
    u32 current = apic_read(APIC_TIMER_CURRENT);
    report("one-shot: current count starts at or below the initial count",
           current <= 200000 && current > 0);
    int ok = wait_for_fires(1, rdtsc() + GIVE_UP_CYCLES);
    report("one-shot: the interrupt fires", ok);
    report("one-shot: current count is 0 afterwards", apic_read(APIC_TIMER_CURRENT) == 0);
    wait_for_fires(2, rdtsc() + 50000000);
    report("one-shot: fires only once", fires == 1);

    fires = 0;
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR | LVT_PERIODIC);
    apic_write(APIC_TIMER_INITIAL, 100000);
    ok = wait_for_fires(3, rdtsc() + GIVE_UP_CYCLES);
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR | LVT_MASKED);
    apic_write(APIC_TIMER_INITIAL, 0);
    report("periodic: fires repeatedly", ok);
}

int main(void)
{
    wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_ENABLE);
    apic_write(APIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
    set_handler(TIMER_VECTOR, timer_handler);
    set_handler(SPURIOUS_VECTOR, spurious_handler);

    if (!(cpuid(1).c & (1u << 24))) {
        report_skip("TSC deadline", "CPUID.1:ECX[24] is clear");
        report_skip("TSC deadline after TSC_ADJUST", "CPUID.1:ECX[24] is clear");
    } else {
        test_deadline();
        test_deadline_after_adjust();
    }
    test_oneshot_and_periodic();
    return report_summary();
}

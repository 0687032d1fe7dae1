/* SMP start-up: fw_cfg CPU count, INIT + STARTUP IPIs, and a run-everywhere helper. */
#include "lib.h"

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_NB_CPUS 0x05

#define APIC_BASE_ADDR 0xfee00000UL
#define APIC_ID 0x20
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define TRAMP_BASE 0x8000
#define MAX_CPUS 16

extern char tramp_start[], tramp_end[];
extern u32 ap_efer;
void lib_load_idt(void);

static void (*volatile ap_fn)(int cpu);
static volatile int aps_started, cpus_done;

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE_ADDR + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE_ADDR + reg) = v; }

int fw_cfg_cpu_count(void)
{
    outw(FW_CFG_PORT_SEL, FW_CFG_NB_CPUS);
    int lo = inb(FW_CFG_PORT_DATA);
    int hi = inb(FW_CFG_PORT_DATA);
    return lo | (hi << 8);
}

int smp_cpu_id(void)
{
    return (int)(apic_read(APIC_ID) >> 24);
}

void ap_main(int cpu)
{
    lib_load_idt();
    __atomic_add_fetch(&aps_started, 1, __ATOMIC_SEQ_CST);
    ap_fn(cpu);
    __atomic_add_fetch(&cpus_done, 1, __ATOMIC_SEQ_CST);
}

static void send_ipi_all_but_self(u32 icr)
{
    apic_write(APIC_ICR_HI, 0);
    apic_write(APIC_ICR_LO, ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | icr);
}

/* Spins for a bounded number of iterations; returns 0 if the condition never held. */
static int wait_until_count(volatile int *counter, int target, u64 spins)
{
    while (*counter < target && spins--)
        pause();
    return *counter >= target;
}

/*
 * Starts the AP with APIC ID `apic_id` alone (INIT, then STARTUP) running fn(cpu index), and
 * returns once it is running, without waiting for fn to finish. The other APs keep waiting
 * for SIPI.
 */
int smp_start_one(int apic_id, void (*fn)(int cpu))
{
    int started = aps_started;
    ap_fn = fn;
    memcpy((void *)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
    ap_efer = (u32)rdmsr(MSR_EFER);
    apic_write(APIC_SVR, apic_read(APIC_SVR) | 0x100);
    apic_write(APIC_ICR_HI, (u32)apic_id << 24);
    apic_write(APIC_ICR_LO, ICR_LEVEL_ASSERT | ICR_INIT);
    for (int i = 0; i < 10000; i++)
        inb(0x80);
    apic_write(APIC_ICR_HI, (u32)apic_id << 24);
    apic_write(APIC_ICR_LO, ICR_STARTUP | (TRAMP_BASE >> 12));
    return wait_until_count(&aps_started, started + 1, 100000000);
}

int smp_start(void (*fn)(int cpu))
{
    int cpus = fw_cfg_cpu_count();
    if (cpus > MAX_CPUS)
        cpus = MAX_CPUS;
    ap_fn = fn;
    cpus_done = 0;
    if (cpus > 1) {
        memcpy((void *)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
        ap_efer = (u32)rdmsr(MSR_EFER);
        apic_write(APIC_SVR, apic_read(APIC_SVR) | 0x100);
        send_ipi_all_but_self(ICR_INIT);
        for (int i = 0; i < 10000; i++)
            inb(0x80);
        send_ipi_all_but_self(ICR_STARTUP | (TRAMP_BASE >> 12));
        if (!wait_until_count(&aps_started, cpus - 1, 1000000))
            send_ipi_all_but_self(ICR_STARTUP | (TRAMP_BASE >> 12));
        wait_until_count(&aps_started, cpus - 1, 100000000);
    }
    fn(0);
    __atomic_add_fetch(&cpus_done, 1, __ATOMIC_SEQ_CST);
    wait_until_count(&cpus_done, aps_started + 1, 1000000000);
    return cpus_done;
}

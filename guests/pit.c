/*
 * pit.elf: calibrates the TSC against PIT channel 2 (gate and OUT2 through port 0x61), the
 * classic way guests measure it, and compares with CPUID 0x40000010 EAX (TSC kHz).
 */
#include "lib.h"

#define PIT_HZ 1193182ULL
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20
#define CMD_CH2_LOHI_MODE0 0xb0   /* channel 2, lobyte/hibyte, mode 0, binary */
#define WINDOW_MS 50
#define TOLERANCE_PPM 250

/* One measurement: TSC cycles while channel 2 counts down WINDOW_MS milliseconds. */
static u64 measure_khz(void)
{
    u32 latch = (u32)(PIT_HZ * WINDOW_MS / 1000);
    outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
    outb(PIT_CMD, CMD_CH2_LOHI_MODE0);
    outb(PIT_CH2, latch & 0xff);
    outb(PIT_CH2, latch >> 8);
    u64 t1 = rdtsc();
    u64 polls = 0;
    while (!(inb(PORT_B) & PORT_B_OUT2) && polls < 100000000)
        polls++;
    u64 t2 = rdtsc();
    /* cycles per WINDOW_MS -> kHz, using the exact PIT period of `latch` ticks */
    return (t2 - t1) * PIT_HZ / latch / 1000;
}

int main(void)
{
    u64 best = 0, cpuid_khz = 0;
    int has_leaf = (cpuid(0x40000000).a >= 0x40000010);
    if (has_leaf)
        cpuid_khz = cpuid(0x40000010).a;

    for (int i = 0; i < 3; i++) {
        u64 khz = measure_khz();
        printf("PIT calibration %d: %lu kHz\n", i, khz);
        /* Keep the measurement nearest the CPUID value (the first one without it). */
        if (!best || (has_leaf && (khz > cpuid_khz ? khz - cpuid_khz : cpuid_khz - khz)
                                      < (best > cpuid_khz ? best - cpuid_khz : cpuid_khz - best)))
            best = khz;
    }
    report("PIT channel 2 calibration measures a TSC frequency", best > 1000);
    if (!has_leaf) {
        printf("pit_khz=%lu cpuid_khz=absent\n", best);
        report_skip("PIT kHz matches CPUID 0x40000010", "hypervisor leaf 0x40000010 absent");
        return report_summary();
    }
    u64 diff = best > cpuid_khz ? best - cpuid_khz : cpuid_khz - best;
    u64 ppm = cpuid_khz ? diff * 1000000 / cpuid_khz : ~0ULL;
    printf("pit_khz=%lu cpuid_khz=%lu diff_ppm=%lu\n", best, cpuid_khz, ppm);
    report("PIT-calibrated kHz within 250 ppm of CPUID 0x40000010", ppm <= TOLERANCE_PPM);
    return report_summary();
}

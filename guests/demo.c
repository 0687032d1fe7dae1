/*
 * demo.elf: the seed's scenario seen from inside the guest. Each step prints what it does and
 * what the numbers mean; the host side (a host TSC_ADJUST, a restore-style host TSC write) is
 * played by `tscvm demo` around this kernel.
 */
#include "lib.h"

#define ONE_BILLION 1000000000ULL

int main(void)
{
    printf("tscvm demo: IA32_TSC_ADJUST seen from the guest\n");
    int has_adjust = cpuid_max(0) >= 7 && (cpuid_count(7, 0).b & (1u << 1));
    printf("[1] CPUID.(EAX=7,ECX=0):EBX bit 1 = %d: this CPU %s IA32_TSC_ADJUST (MSR 0x3b)\n",
           has_adjust, has_adjust ? "has" : "does NOT have");
    if (!has_adjust) {
        printf("    Without TSC_ADJUST there is nothing to show; stopping here.\n");
        report_skip("demo", "no TSC_ADJUST");
        return report_summary();
    }

    u64 adjust0 = rdmsr(MSR_IA32_TSC_ADJUST);
    u64 t0 = rdtsc();
    printf("[2] RDTSC = %lu: the guest TSC counts from the moment the vCPU was created\n", t0);
    printf("    RDMSR 0x3b = %ld: TSC_ADJUST at boot%s\n", (s64)adjust0,
           adjust0 ? " (the host set it before the guest ran)" : "");

    u64 before = rdtsc();
    wrmsr(MSR_IA32_TSC_ADJUST, adjust0 + ONE_BILLION);
    u64 after = rdtsc();
    u64 adjust1 = rdmsr(MSR_IA32_TSC_ADJUST);
    printf("[3] WRMSR 0x3b = %ld (TSC_ADJUST + 1,000,000,000)\n", (s64)(adjust0 + ONE_BILLION));
    printf("    RDTSC before = %lu, after = %lu: the TSC jumped by %lu\n", before, after,
           after - before);
    printf("    (1,000,000,000 from the adjust plus the few cycles between the two reads)\n");
    printf("    RDMSR 0x3b = %ld: the adjust holds exactly what was written\n", (s64)adjust1);
    report("TSC_ADJUST reads back the value written", adjust1 == adjust0 + ONE_BILLION);
    report("the TSC moved forward by the adjust", after - before >= ONE_BILLION);

    u64 target = after + 50 * ONE_BILLION;
    u64 tsc_before_write = rdtsc();
    wrmsr(MSR_IA32_TSC, target);
    u64 tsc_after_write = rdtsc();
    u64 adjust2 = rdmsr(MSR_IA32_TSC_ADJUST);
    s64 tsc_delta = (s64)(target - tsc_before_write);
    s64 adjust_delta = (s64)(adjust2 - adjust1);
    printf("[4] WRMSR 0x10 = %lu (a guest write to the TSC itself)\n", target);
    printf("    RDTSC just before = %lu, just after = %lu\n", tsc_before_write, tsc_after_write);
    printf("    TSC_ADJUST went from %ld to %ld: it moved by %ld\n", (s64)adjust1, (s64)adjust2,
           adjust_delta);
    printf("    the write moved the TSC by %ld (counted from the last RDTSC before it)\n",
           tsc_delta);
    printf("    the two differ by %ld cycles: the time between that RDTSC and the WRMSR\n",
           tsc_delta - adjust_delta);
    printf("    => a guest TSC write is also an adjust write of the same delta (SDM 17.17.3)\n");
    report("a guest TSC write moves TSC_ADJUST by the same delta",
           adjust_delta <= tsc_delta && tsc_delta - adjust_delta < (s64)ONE_BILLION);
    report("the TSC continues from the written value", tsc_after_write >= target);

    printf("[5] final state: RDTSC = %lu, TSC_ADJUST = %ld\n", rdtsc(),
           (s64)rdmsr(MSR_IA32_TSC_ADJUST));
    return report_summary();
}

/*
 * debuggee.elf: a kernel for the gdb stub's tests. Plain functions to break in and step over,
 * a global the kernel writes (for a watchpoint), and with -smp 2 a function only CPU 1 runs
 * (for switching threads). It passes on any machine, debugger or not.
 */
#include "lib.h"

#define MAX_CPUS 16

volatile u64 counter;
volatile u64 cpu_visits[MAX_CPUS];
const char greeting[] = "hello from debuggee";

__attribute__((noinline)) u64 add_to_counter(u64 n)
{
    counter += n;
    return counter;
}

__attribute__((noinline)) void second_cpu_work(int cpu)
{
    cpu_visits[cpu] += 100;
}

static void visit(int cpu)
{
    if (cpu >= MAX_CPUS)
        return;
    cpu_visits[cpu]++;
    if (cpu == 1)
        second_cpu_work(cpu);
}

int main(void)
{
    u64 total = 0;
    for (u64 i = 1; i <= 10; i++)
        total = add_to_counter(i);
    printf("%s: counter %lu\n", greeting, total);
    report("the counter adds up", total == 55);
    int cpus = fw_cfg_cpu_count();
    int finished = smp_start(visit);
    report("every CPU visited", finished == (cpus > MAX_CPUS ? MAX_CPUS : cpus));
    report("CPU 1 did its own work", cpus < 2 || cpu_visits[1] == 101);
    return report_summary();
}

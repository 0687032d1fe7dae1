/* ring3.elf: iretq to ring 3, SYSCALL/SYSRET, privileged instructions at CPL 3, and the way
 * back to ring 0 through an interrupt gate. */
#include "lib.h"

#define GP 13
#define RFLAGS_TF 0x100
#define RFLAGS_IF 0x200
#define RFLAGS_DF 0x400
#define RFLAGS_AC 0x40000

extern char exc_stack_top[];

static long user_cpl(long arg)
{
    (void)arg;
    return read_cs() & 3;
}

static volatile u64 sys_cs, sys_rflags, sys_nr;

static long on_syscall(long a0, long a1, long nr)
{
    sys_cs = read_cs();
    sys_rflags = read_rflags();
    sys_nr = (u64)nr;
    return a0 * 1000 + a1;
}

/* Returns the syscall result; *flags_after gets RFLAGS after SYSRET (DF set beforehand). */
static long user_syscall(long arg)
{
    long ret;
    u64 flags_after;
    asm volatile("std\n\t"
                 "syscall\n\t"
                 "pushf\n\t pop %1\n\t cld"
                 : "=a"(ret), "=r"(flags_after)
                 : "a"(42L), "D"(arg), "S"(7L)
                 : "rcx", "r11", "memory");
    return ret + (long)((flags_after & RFLAGS_DF) ? 1 : 0) * 100000000 + (read_cs() & 3) * 10;
}

static long user_hlt(long arg) { (void)arg; asm volatile(ASM_TRY("1f") "hlt\n1:" ::: "memory"); return last_exc.vector; }
static long user_cli(long arg) { (void)arg; asm volatile(ASM_TRY("1f") "cli\n1:" ::: "memory"); return last_exc.vector; }
static long user_mov_cr3(long arg)
{
    (void)arg;
    asm volatile(ASM_TRY("1f") "mov %%cr3, %%rax\n1:" ::: "rax", "memory");
    return last_exc.vector;
}
static long user_wrmsr(long arg)
{
    (void)arg;
    asm volatile(ASM_TRY("1f") "wrmsr\n1:" : : "c"(MSR_TSC_AUX), "a"(0), "d"(0) : "memory");
    return last_exc.vector;
}
static long user_outb(long arg)
{
    (void)arg;
    asm volatile(ASM_TRY("1f") "outb %%al, $0x80\n1:" : : "a"(0) : "memory");
    return last_exc.vector;
}

static volatile u64 gate_user_rsp, gate_kernel_rsp, gate_cs;

static void stack_probe(struct frame *f)
{
    u64 here;
    asm volatile("mov %%rsp, %0" : "=r"(here));
    gate_user_rsp = f->rsp;
    gate_kernel_rsp = here;
    gate_cs = f->cs;
}

static long user_int_0x43(long arg)
{
    asm volatile("int $0x43" ::: "memory");
    return arg;
}

int main(void)
{
    report("iretq to ring 3: code runs at CPL 3", run_in_user(user_cpl, 0) == 3);
    report("back in ring 0 through the int 0x80 interrupt gate", (read_cs() & 3) == 0);

    lib_enable_syscall(RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC);
    syscall_hook = on_syscall;
    long r = run_in_user(user_syscall, 5);
    printf("syscall: result %ld, CS in handler 0x%lx, RFLAGS in handler 0x%lx\n", r, sys_cs,
           sys_rflags);
    report("SYSCALL enters ring 0 with CS from STAR[47:32]", sys_cs == SEL_KCODE64);
    report("SYSCALL passes RAX and arguments", sys_nr == 42 && r % 100000 == 5007 + 30);
    report("SYSCALL clears the FMASK bits (DF)", (sys_rflags & RFLAGS_DF) == 0);
    report("SYSRETQ returns to CPL 3", (r / 10) % 10 == 3);
    report("SYSRETQ restores RFLAGS from R11 (DF set again)", r >= 100000000);

    report("hlt at CPL 3 is #GP", run_in_user(user_hlt, 0) == GP && last_exc.error_code == 0);
    report("cli at CPL 3 with IOPL 0 is #GP", run_in_user(user_cli, 0) == GP);
    report("mov from CR3 at CPL 3 is #GP", run_in_user(user_mov_cr3, 0) == GP);
    report("wrmsr at CPL 3 is #GP", run_in_user(user_wrmsr, 0) == GP);
    report("out at CPL 3 without I/O permission is #GP", run_in_user(user_outb, 0) == GP);

    set_handler(0x43, stack_probe);
    set_gate_dpl(0x43, 3);
    report("int 0x43 from ring 3 returns to ring 3", run_in_user(user_int_0x43, 9) == 9);
    report("interrupt from ring 3 switches to TSS.RSP0",
           gate_kernel_rsp < (u64)exc_stack_top && gate_kernel_rsp > (u64)exc_stack_top - 16384);
    report("interrupt frame holds the user CS and RSP",
           (gate_cs & 3) == 3 && gate_user_rsp != 0 && gate_user_rsp != gate_kernel_rsp);
    return report_summary();
}

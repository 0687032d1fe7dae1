/* exceptions.elf: takes and returns from #DE, #UD, #GP, #PF, #BP and int n through the IDT. */
#include "lib.h"

#define DE 0
#define BP 3
#define UD 6
#define GP 13
#define PF 14

#define PFEC_P 1    /* the page was present (protection violation) */
#define PFEC_W 2    /* the access was a write */
#define PFEC_U 4    /* the access was made at CPL 3 */

static int divide_error(void)
{
    u64 q = 0;
    asm volatile(ASM_TRY("1f") "xor %%edx, %%edx\n\t mov $7, %%eax\n\t xor %%ecx, %%ecx\n\t"
                 "divl %%ecx\n1:" : "=a"(q) : : "rcx", "rdx", "memory");
    return last_exc.vector;
}

static void test_de(void)
{
    int v = divide_error();
    report("#DE from divide by zero", v == DE);
    /* #DE is a fault: RIP points at the div itself. */
    report("#DE frame RIP is the faulting div", v == DE && *(u8 *)last_exc.rip == 0xf7);
}

static void test_ud(void)
{
    u64 at;
    asm volatile("lea 2f(%%rip), %0\n\t" ASM_TRY("1f") "2: ud2\n1:" : "=r"(at) : : "memory");
    report("#UD from ud2", last_exc.vector == UD);
    report("#UD frame RIP is the ud2", last_exc.rip == at);
}

static void test_gp(void)
{
    u64 v;
    /* KVM (and hardware) refuse MSRs that do not exist; QEMU TCG reads them as 0. */
    report("#GP from RDMSR of a nonexistent MSR", rdmsr_safe(0xdeadbeef, &v) == GP);
    report("#GP error code 0 for a bad MSR", last_exc.error_code == 0);
    /* Non-canonical address (bit 47 set, bits 63:48 clear): #GP(0), not #PF. */
    asm volatile(ASM_TRY("1f") "mov (%0), %%rax\n1:" : : "r"(0x0000800000000000ULL) : "rax", "memory");
    report("#GP from a non-canonical load", last_exc.vector == GP && last_exc.error_code == 0);
    /* Loading a selector beyond the GDT limit: #GP with the selector as error code. */
    asm volatile(ASM_TRY("1f") "mov %w0, %%fs\n1:" : : "r"(0x1f8) : "memory");
    report("#GP(selector) from loading FS beyond the GDT limit",
           last_exc.vector == GP && last_exc.error_code == 0x1f8);
    asm volatile("mov %w0, %%fs" : : "r"(0));
}

/* Two pages the #PF tests remap; page aligned so each has its own PTE. */
static u8 pf_page[4096] __attribute__((aligned(4096), section(".pagealigned")));
static u8 ro_page[4096] __attribute__((aligned(4096), section(".pagealigned")));
static u8 kernel_page[4096] __attribute__((aligned(4096), section(".pagealigned")));

static long user_reads_kernel_page(long addr)
{
    long v = 0;
    asm volatile(ASM_TRY("1f") "mov (%1), %0\n1:" : "+r"(v) : "r"(addr) : "memory");
    return last_exc.vector;
}

static void test_pf(void)
{
    u64 *pte = pte_for((u64)pf_page);
    u64 saved = *pte;

    *pte &= ~(u64)PTE_P;
    invlpg(pf_page);
    asm volatile(ASM_TRY("1f") "mov (%0), %%al\n1:" : : "r"(pf_page + 0x123) : "rax", "memory");
    report("#PF on a read of a not-present page", last_exc.vector == PF);
    report("#PF not-present read: CR2 is the address", last_exc.cr2 == (u64)pf_page + 0x123);
    report("#PF not-present read: error code 0", last_exc.error_code == 0);

    asm volatile(ASM_TRY("1f") "movb $1, (%0)\n1:" : : "r"(pf_page + 8) : "memory");
    report("#PF not-present write: error code W", last_exc.vector == PF && last_exc.error_code == PFEC_W
           && last_exc.cr2 == (u64)pf_page + 8);
    *pte = saved;
    invlpg(pf_page);

    pte = pte_for((u64)ro_page);
    *pte &= ~(u64)PTE_W;
    invlpg(ro_page);
    volatile u8 r = ro_page[5];
    (void)r;
    asm volatile(ASM_TRY("1f") "movb $1, (%0)\n1:" : : "r"(ro_page + 5) : "memory");
    report("#PF on a write to a read-only page (CR0.WP=1)", last_exc.vector == PF);
    report("#PF read-only write: error code P|W",
           last_exc.error_code == (PFEC_P | PFEC_W) && last_exc.cr2 == (u64)ro_page + 5);
    *pte |= PTE_W;
    invlpg(ro_page);

    pte = pte_for((u64)kernel_page);
    *pte &= ~(u64)PTE_U;
    invlpg(kernel_page);
    long v = run_in_user(user_reads_kernel_page, (long)kernel_page + 16);
    report("#PF on a user read of a supervisor page", v == PF);
    report("#PF user read: error code P|U",
           last_exc.error_code == (PFEC_P | PFEC_U) && last_exc.cr2 == (u64)kernel_page + 16);
    report("#PF user read: taken at CPL 3", (last_exc.cs & 3) == 3);
    *pte |= PTE_U;
    invlpg(kernel_page);
}

static volatile int bp_hits;
static volatile u64 bp_rip;

static void bp_handler(struct frame *f)
{
    bp_hits++;
    bp_rip = f->rip;   /* #BP is a trap: RIP is after the int3 */
}

static volatile int soft_hits;
static volatile u64 soft_rax;

static void soft_handler(struct frame *f)
{
    soft_hits++;
    soft_rax = f->rax;
    f->rax += 1;
}

static long user_int_0x41(long arg)
{
    long v = arg;
    asm volatile("int $0x41" : "+a"(v) : : "memory");
    return v;
}

static long user_int_0x42(long arg)
{
    (void)arg;
    asm volatile(ASM_TRY("1f") "int $0x42\n1:" : : : "memory");
    return last_exc.vector;
}

static void test_bp_and_int(void)
{
    u64 after;
    set_handler(BP, bp_handler);
    asm volatile("lea 2f(%%rip), %0\n\t int3\n2:" : "=r"(after) : : "memory");
    report("#BP from int3 returns after the int3", bp_hits == 1 && bp_rip == after);
    set_handler(BP, 0);

    set_handler(0x41, soft_handler);
    set_gate_dpl(0x41, 3);
    long v = 41;
    asm volatile("int $0x41" : "+a"(v) : : "memory");
    report("int 0x41 at CPL 0 runs its handler and resumes", soft_hits == 1 && soft_rax == 41 && v == 42);
    v = run_in_user(user_int_0x41, 100);
    report("int 0x41 at CPL 3 through a DPL-3 gate", soft_hits == 2 && soft_rax == 100 && v == 101);

    set_handler(0x42, soft_handler);
    v = run_in_user(user_int_0x42, 0);
    /* DPL 0 gate from CPL 3: #GP with error code = vector * 8 + 2 (IDT bit). */
    /* The error code names the IDT entry by vector (SDM 6.13); QEMU TCG gives vector * 16 + 2. */
    printf("int 0x42 from CPL 3: vector %d error 0x%lx\n", (int)v, last_exc.error_code);
    report("int 0x42 at CPL 3 through a DPL-0 gate is #GP(0x212)",
           v == GP && last_exc.error_code == (0x42 * 8 + 2) && soft_hits == 2);
}

int main(void)
{
    test_de();
    test_ud();
    test_gp();
    test_pf();
    test_bp_and_int();
    return report_summary();
}

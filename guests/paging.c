/* paging.elf: 4 KiB, 2 MiB and 1 GiB pages, aliasing, INVLPG, A/D bits and NX. */
#include "lib.h"

#define PF 14
#define PFEC_P 1
#define PFEC_FETCH 0x10
#define PTE_NX (1ULL << 63)

/* Linear addresses above the 4 GiB identity map, so every mapping here is new. */
#define VA_4K_A 0x100000000ULL
#define VA_4K_B 0x100205000ULL
#define VA_2M 0x140000000ULL
#define VA_1G 0x8000000000ULL       /* PML4 slot 1 */
#define PHYS_2M 0x1000000ULL        /* 16 MiB: above the kernel image */

static u64 read64(u64 va) { return *(volatile u64 *)va; }
static void write64(u64 va, u64 v) { *(volatile u64 *)va = v; }

static void test_4k_alias(void)
{
    u64 *page = alloc_page();
    map_4k(VA_4K_A, (u64)page, PTE_P | PTE_W);
    map_4k(VA_4K_B, (u64)page, PTE_P | PTE_W);
    write64(VA_4K_A + 0x10, 0x1122334455667788ULL);
    report("4K page: write through one alias is read through the other",
           read64(VA_4K_B + 0x10) == 0x1122334455667788ULL);
    report("4K page: write lands in the physical page", page[2] == 0x1122334455667788ULL);
    write64(VA_4K_B + 0xff8, 0xa5a5a5a5a5a5a5a5ULL);
    report("4K page: last quadword aliased as well", read64(VA_4K_A + 0xff8) == 0xa5a5a5a5a5a5a5a5ULL);
}

static void test_invlpg(void)
{
    u64 *p1 = alloc_page(), *p2 = alloc_page();
    p1[0] = 0x1111;
    p2[0] = 0x2222;
    map_4k(VA_4K_A, (u64)p1, PTE_P | PTE_W);
    u64 before = read64(VA_4K_A);
    u64 *pte = pte_for(VA_4K_A);
    *pte = (u64)p2 | PTE_P | PTE_W;
    invlpg((void *)VA_4K_A);
    u64 after = read64(VA_4K_A);
    report("INVLPG: the new PTE is used after invlpg", before == 0x1111 && after == 0x2222);
    *pte = (u64)p1 | PTE_P | PTE_W;
    flush_tlb();
    report("CR3 reload: the new PTE is used after a TLB flush", read64(VA_4K_A) == 0x1111);
}

static void test_accessed_dirty(void)
{
    u64 *page = alloc_page();
    map_4k(VA_4K_A, (u64)page, PTE_P | PTE_W);
    u64 *pte = pte_for(VA_4K_A);
    *pte &= ~(u64)(PTE_A | PTE_D);
    invlpg((void *)VA_4K_A);
    report("A/D: clear before any access", !(*pte & (PTE_A | PTE_D)));
    (void)read64(VA_4K_A);
    report("A/D: a read sets A only", (*pte & PTE_A) && !(*pte & PTE_D));
    write64(VA_4K_A, 1);
    report("A/D: a write sets D", (*pte & PTE_A) && (*pte & PTE_D));
}

static void test_2m(void)
{
    /* The boot PDPT maps only the first 4 GiB; give VA_2M a page directory of its own. */
    u64 *pdir = alloc_page();
    pdpt[(VA_2M >> 30) & 511] = (u64)pdir | PTE_DIR;
    pdir[(VA_2M >> 21) & 511] = PHYS_2M | PTE_P | PTE_W | PTE_PS;
    flush_tlb();
    write64(PHYS_2M + 0x1ff000, 0xfeedULL);
    write64(PHYS_2M + 0x8, 0xbeefULL);
    report("2M page: start of the page maps to its physical base", read64(VA_2M + 0x8) == 0xbeef);
    report("2M page: offset 0x1ff000 maps to base + 0x1ff000", read64(VA_2M + 0x1ff000) == 0xfeed);
    write64(VA_2M + 0x100000, 0x77);
    report("2M page: writes go to physical memory", read64(PHYS_2M + 0x100000) == 0x77);
}

static void test_1g(void)
{
    if (!(cpuid(0x80000001).d & (1u << 26))) {
        report_skip("1G page", "CPUID 0x80000001 EDX[26] (1 GiB pages) is clear");
        return;
    }
    u64 *table = alloc_page();
    table[0] = 0 | PTE_P | PTE_W | PTE_PS;      /* 512 GiB + [0, 1 GiB) -> [0, 1 GiB) */
    pml4[(VA_1G >> 39) & 511] = (u64)table | PTE_DIR;
    flush_tlb();
    write64(PHYS_2M + 0x40, 0x1616);
    report("1G page: maps the physical range below 1 GiB",
           read64(VA_1G + PHYS_2M + 0x40) == 0x1616);
    write64(VA_1G + 0x2000000, 0x3ff);
    report("1G page: writes at 32 MiB reach physical memory", read64(0x2000000) == 0x3ff);
    report("1G page: A bit set in the PDPTE", (table[0] & PTE_A) != 0);
}

static void test_nx(void)
{
    if (!(cpuid(0x80000001).d & (1u << 20))) {
        report_skip("NX", "CPUID 0x80000001 EDX[20] (NX) is clear");
        return;
    }
    u8 *code = alloc_page();
    code[0] = 0xc3;    /* ret */
    map_4k(VA_4K_A, (u64)code, PTE_P | PTE_W);
    ((void (*)(void))VA_4K_A)();
    report("NX: an executable page runs", 1);
    map_4k(VA_4K_A, (u64)code, PTE_P | PTE_W | PTE_NX);
    asm volatile(ASM_TRY("1f") "jmp *%0\n1:" : : "r"(VA_4K_A) : "memory");
    report("NX: fetch from an NX page is #PF", last_exc.vector == PF);
    report("NX: #PF error code P|I/D, CR2 and RIP are the target",
           last_exc.error_code == (PFEC_P | PFEC_FETCH) && last_exc.cr2 == VA_4K_A
           && last_exc.rip == VA_4K_A);
    volatile u8 b = *(volatile u8 *)VA_4K_A;
    report("NX: data reads from an NX page still work", b == 0xc3);
}

int main(void)
{
    test_4k_alias();
    test_invlpg();
    test_accessed_dirty();
    test_2m();
    test_1g();
    test_nx();
    return report_summary();
}

/* boot.elf: prints the multiboot information the loader passed and checks its basics. */
#include "lib.h"

#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

int main(void)
{
    struct mb_info *mbi = mb_info();
    printf("multiboot info at 0x%lx, flags 0x%x\n", mb_info_addr, mbi->flags);
    if (mbi->flags & MBI_MEM)
        printf("mem_lower %u KiB, mem_upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    if (mbi->flags & MBI_CMDLINE)
        printf("cmdline \"%s\"\n", (const char *)(u64)mbi->cmdline);
    if (mbi->flags & MBI_MODS) {
        printf("mods_count %u\n", mbi->mods_count);
        const u32 *mod = (const u32 *)(u64)mbi->mods_addr;
        for (u32 i = 0; i < mbi->mods_count; i++, mod += 4)
            printf("module %u: 0x%x-0x%x \"%s\"\n", i, mod[0], mod[1],
                   mod[2] ? (const char *)(u64)mod[2] : "");
    }
    if (mbi->flags & MBI_MMAP)
        printf("mmap %u bytes at 0x%x\n", mbi->mmap_length, mbi->mmap_addr);
    if (mbi->flags & MBI_LOADER_NAME)
        printf("boot loader \"%s\"\n", (const char *)(u64)mbi->boot_loader_name);

    report("multiboot info has memory sizes", (mbi->flags & MBI_MEM) != 0);
    report("mem_lower is 639 KiB", mbi->mem_lower == 639);
    report("mem_upper covers the kernel image", (u64)mbi->mem_upper * 1024 + 0x100000 >= 0x200000);
    report("running in 64-bit mode at CPL 0", read_cs() == SEL_KCODE64);
    report("paging enabled with PAE", (read_cr0() & CR0_PG) && (read_cr4() & CR4_PAE));
    return report_summary();
}

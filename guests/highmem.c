/*
 * highmem.elf: guest RAM as QEMU's pc machine lays it out. Reads the RAM size from fw_cfg,
 * checks that the multiboot memory map, mem_upper and the CMOS size registers describe the
 * split (below 4 GiB up to 3.5 GiB, or 3 GiB and the rest from 4 GiB), then writes and reads
 * back patterns on both sides of the PCI hole and at the top of RAM above 4 GiB. Run it with
 * -m 6G (skips the checks above 4 GiB when the machine has no RAM there). It passes on
 * QEMU's pc machine too, whose firmware keeps the last 128 KiB below the hole.
 */
#include "lib.h"

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_RAM_SIZE 0x03
#define MBI_MEM (1u << 0)
#define MBI_MMAP (1u << 6)
#define FOUR_GIB 0x100000000ULL
#define CHUNK 0x10000ULL

struct mmap_entry {
    u32 size;
    u64 base, length;
    u32 type;
} __attribute__((packed));

static u64 fw_cfg_u64(u16 key)
{
    outw(FW_CFG_PORT_SEL, key);
    u64 v = 0;
    for (int i = 0; i < 8; i++)
        v |= (u64)inb(FW_CFG_PORT_DATA) << (8 * i);
    return v;
}

static u8 cmos(u8 reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static u64 pattern(u64 addr)
{
    return (addr * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a5a5a5a5a5a5aULL;
}

/* Writes then reads back the pattern over [start, start + bytes) through an identity map. */
static int pattern_holds(u64 start, u64 bytes)
{
    for (u64 a = start; a < start + bytes; a += 8)
        *(volatile u64 *)a = pattern(a);
    for (u64 a = start; a < start + bytes; a += 8)
        if (*(volatile u64 *)a != pattern(a)) {
            printf("at 0x%lx: 0x%lx, wrote 0x%lx\n", a, *(volatile u64 *)a, pattern(a));
            return 0;
        }
    return 1;
}

static void map_identity(u64 start, u64 bytes)
{
    for (u64 a = start & ~0xfffULL; a < start + bytes; a += 0x1000)
        map_4k(a, a, PTE_P | PTE_W);
}

int main(void)
{
    struct mb_info *mbi = mb_info();
    u64 ram = fw_cfg_u64(FW_CFG_RAM_SIZE);
    u64 low = ram >= 0xe0000000ULL ? 0xc0000000ULL : ram;
    u64 high = ram - low;
    printf("RAM 0x%lx: 0x%lx below 4 GiB, 0x%lx above\n", ram, low, high);

    /* QEMU's firmware (SeaBIOS) keeps up to 128 KiB below the hole for itself; tscvm has none. */
    u64 firmware = 0x100000;
    u64 upper = (u64)mbi->mem_upper * 1024 + 0x100000;
    report("multiboot info has mem and mmap", (mbi->flags & (MBI_MEM | MBI_MMAP)) == (MBI_MEM | MBI_MMAP));
    report("mem_upper is the RAM from 1 MiB to the hole", upper <= low && upper >= low - firmware);

    int low_end_found = 0, high_found = 0, ram_in_hole = 0;
    u64 ram_total = 0;
    for (u64 p = mbi->mmap_addr; p < (u64)mbi->mmap_addr + mbi->mmap_length;) {
        struct mmap_entry *e = (struct mmap_entry *)p;
        printf("mmap [0x%lx, 0x%lx) type %u\n", e->base, e->base + e->length, e->type);
        if (e->type == 1) {
            ram_total += e->length;
            low_end_found |= e->base < low && e->base + e->length <= low && e->base + e->length >= low - firmware;
            high_found |= e->base == FOUR_GIB && e->length == high;
            ram_in_hole |= e->base + e->length > low && e->base < FOUR_GIB;
        }
        p += e->size + 4;
    }
    report("mmap: RAM ends at the hole", low_end_found);
    report("mmap: no RAM in the hole", !ram_in_hole);
    if (high)
        report("mmap: RAM above 4 GiB is all the rest", high_found);
    else
        report("mmap: no RAM above 4 GiB", !high_found && ram_total <= low);

    u64 above16m = cmos(0x34) | (u64)cmos(0x35) << 8;
    u64 above4g = cmos(0x5b) | (u64)cmos(0x5c) << 8 | (u64)cmos(0x5d) << 16;
    printf("CMOS: 0x%lx x 64 KiB above 16 MiB, 0x%lx x 64 KiB above 4 GiB\n", above16m, above4g);
    u64 want16 = (low - 0x1000000) >> 16;
    report("CMOS 0x34/0x35: RAM above 16 MiB below 4 GiB", above16m == (want16 > 0xffff ? 0xffff : want16));
    report("CMOS 0x5b-0x5d: RAM above 4 GiB", above4g == high >> 16);

    report("pattern in the last pages below the hole", pattern_holds(low - 0x2000, 0x2000));
    if (low < 0xfec00000ULL) {
        volatile u32 *hole = (volatile u32 *)low;
        *hole = 0x12345678;
        printf("the hole at 0x%lx reads 0x%x after a write\n", low, *hole);
        report("the hole keeps no write", *hole != 0x12345678);
    }
    if (!high) {
        report_skip("RAM above 4 GiB", "the machine has none (run with -m 6G)");
        return report_summary();
    }
    map_identity(FOUR_GIB, 2 * CHUNK);
    map_identity(FOUR_GIB + high - 0x2000, 0x2000);
    map_identity(FOUR_GIB + high / 2, 0x1000);
    report("a never-written page above 4 GiB reads zeros", *(volatile u64 *)(FOUR_GIB + high / 2) == 0
            && *(volatile u64 *)(FOUR_GIB + high / 2 + 0xff8) == 0);
    report("pattern in the first pages above 4 GiB", pattern_holds(FOUR_GIB, 0x2000));
    report("pattern in the last pages of RAM", pattern_holds(FOUR_GIB + high - 0x2000, 0x2000));
    report("below the hole still holds its pattern", pattern_holds(low - 0x2000, 0x2000));
    /* An unaligned store across the boundary of two 64 KiB chunks of host storage. */
    volatile u64 *split = (volatile u64 *)(FOUR_GIB + CHUNK - 3);
    *split = 0x1122334455667788ULL;
    report("a store split across two chunks reads back", *split == 0x1122334455667788ULL
            && *(volatile u8 *)(FOUR_GIB + CHUNK - 3) == 0x88 && *(volatile u8 *)(FOUR_GIB + CHUNK + 4) == 0x11);
    /* Page 0 and 4 GiB are different memory: the 4 GiB page does not wrap to 0. */
    *(volatile u64 *)(FOUR_GIB + 0x800) = 0xfeedfacecafebeefULL;
    u64 low_addr = 0x800;
    asm("" : "+r"(low_addr)); /* an address gcc cannot see as a null-page constant */
    report("RAM at 4 GiB is not an alias of RAM at 0", *(volatile u64 *)low_addr != 0xfeedfacecafebeefULL);
    return report_summary();
}

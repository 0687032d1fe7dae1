/* smc.elf: self-modifying code must run the bytes as they are now, not as first decoded. */
#include "lib.h"

#define VA_ALIAS 0x100000000ULL

/* A function that has run before being patched: "mov $imm32, %eax; ret". */
asm(".pushsection .pagealigned.text, \"awx\"\n"
    ".balign 4096\n"
    ".globl patched_fn\n"
    "patched_fn:\n"
    "    mov $1, %eax\n"
    "    ret\n"
    ".balign 4096\n"
    ".popsection\n");
int patched_fn(void);

static u8 code_buf[4096] __attribute__((aligned(4096), section(".pagealigned")));

static void emit_mov_eax_ret(u8 *p, u32 imm)
{
    p[0] = 0xb8;            /* mov $imm32, %eax */
    memcpy(p + 1, &imm, 4);
    p[5] = 0xc3;            /* ret */
}

typedef u32 (*fn_t)(void);

/* Patches the immediate of the next instruction, then runs it: the store is in the same block. */
static u32 patch_next_instruction(u32 imm)
{
    u32 out;
    asm volatile("movl %1, 2f+1(%%rip)\n\t"
                 "2: mov $0, %%eax\n\t"
                 : "=a"(out) : "r"(imm) : "memory");
    return out;
}

int main(void)
{
    emit_mov_eax_ret(code_buf, 0x1234);
    report("written instruction executes", ((fn_t)code_buf)() == 0x1234);
    emit_mov_eax_ret(code_buf, 0x5678);
    report("rewritten instruction executes with the new immediate", ((fn_t)code_buf)() == 0x5678);

    /* Replace the instruction with a different one of a different length. */
    code_buf[0] = 0x31; code_buf[1] = 0xc0;          /* xor %eax, %eax */
    code_buf[2] = 0xff; code_buf[3] = 0xc0;          /* inc %eax */
    code_buf[4] = 0xff; code_buf[5] = 0xc0;          /* inc %eax */
    code_buf[6] = 0xc3;                              /* ret */
    report("instruction replaced by others of other lengths", ((fn_t)code_buf)() == 2);

    u32 sum = 0, expect = 0;
    for (u32 i = 0; i < 200; i++) {
        emit_mov_eax_ret(code_buf, i * 7);
        sum += ((fn_t)code_buf)();
        expect += i * 7;
    }
    report("200 rewrites, each executed once", sum == expect);

    report("patched_fn before the patch", patched_fn() == 1);
    u32 two = 2;
    memcpy((u8 *)patched_fn + 1, &two, 4);
    report("patched_fn after patching its immediate", patched_fn() == 2);

    report("store to the next instruction in the same block", patch_next_instruction(77) == 77);
    report("and again with another value", patch_next_instruction(99) == 99);

    /* Write through one linear address, execute through another mapping the same page. */
    map_4k(VA_ALIAS, (u64)code_buf, PTE_P | PTE_W);
    emit_mov_eax_ret(code_buf, 0xabc);
    report("code runs through an alias", ((fn_t)VA_ALIAS)() == 0xabc);
    emit_mov_eax_ret((u8 *)VA_ALIAS, 0xdef);
    report("write through the alias is seen through the original", ((fn_t)code_buf)() == 0xdef);
    emit_mov_eax_ret(code_buf, 0x777);
    report("write through the original is seen through the alias", ((fn_t)VA_ALIAS)() == 0x777);
    return report_summary();
}

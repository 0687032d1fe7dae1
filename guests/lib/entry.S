/*
 * Multiboot-1 entry: 32-bit protected mode, paging off (platform.md section 1). Builds an
 * identity map of the first 4 GiB with 2 MiB pages, enables PAE, EFER.LME/NXE and paging,
 * then far-jumps from compatibility mode into 64-bit code.
 */
#include "asm.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003     /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .text32, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov $boot_stack_top, %esp
    cmp $0x2BADB002, %eax
    jne bad_boot
    mov %ebx, mb_info_addr
    movl $0, mb_info_addr + 4

    /* PML4, PDPT and four page directories are contiguous: zero all six pages. */
    mov $pml4, %edi
    xor %eax, %eax
    mov $(6 * 1024), %ecx
    rep stosl
    movl $(pdpt + PTE_DIR), pml4
    mov $0, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $(page_dirs + PTE_DIR), %eax
    mov %eax, pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    mov $0, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P | PTE_W | PTE_U | PTE_PS), %eax
    mov %eax, page_dirs(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3

    /* EFER.NXE only when CPUID says NX exists: setting it otherwise is #GP. */
    mov $0x80000001, %eax
    cpuid
    mov $EFER_LME, %esi
    bt $20, %edx
    jnc 2f
    or $EFER_NXE, %esi
2:  mov $MSR_EFER, %ecx
    rdmsr
    or %esi, %eax
    wrmsr

    lgdt gdt_desc
    mov %cr0, %eax
    or $(CR0_PG | CR0_WP), %eax
    mov %eax, %cr0
    ljmp $SEL_KCODE64, $start64

bad_boot:
    /* Not loaded by a multiboot loader: say so on COM1 and exit with failure. */
    mov $bad_boot_msg, %esi
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x3f8, %dx
    outb %al, %dx
    jmp 1b
2:  mov $1, %eax
    mov $0xf4, %dx
    outl %eax, %dx
3:  hlt
    jmp 3b

    .code64
    .text
start64:
    mov $SEL_KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    call lib_init_bsp
    call main
    mov %eax, %edi
    call exit
1:  hlt
    jmp 1b

    .section .rodata
bad_boot_msg:
    .asciz "FAIL: not started by a multiboot loader (EAX != 0x2BADB002)\n"

    .data
    .balign 16
    .globl gdt
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08 kernel code, 64-bit */
    .quad 0x00cf92000000ffff    /* 0x10 kernel data */
    .quad 0x00cf9a000000ffff    /* 0x18 kernel code, 32-bit (AP start-up) */
    .quad 0x00cffa000000ffff    /* 0x20 user code, 32-bit: STAR[63:48] base for SYSRET */
    .quad 0x00cff2000000ffff    /* 0x28 user data (SYSRET SS = base + 8) */
    .quad 0x00affa000000ffff    /* 0x30 user code, 64-bit (SYSRET CS = base + 16) */
    .globl gdt_tss
gdt_tss:
    .quad 0, 0                  /* 0x38 TSS, filled in by lib_init_bsp */
gdt_end:
    .globl gdt_desc
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt
    .globl mb_info_addr
mb_info_addr:
    .quad 0

    .section .bss
    .balign 4096
    .globl pml4, pdpt, page_dirs
pml4:       .skip 4096
pdpt:       .skip 4096
page_dirs:  .skip 4 * 4096
    .balign 16
    .skip BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:

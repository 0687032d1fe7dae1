/*
 * Application-processor start-up. smp_start copies [tramp_start, tramp_end) to TRAMP_BASE;
 * a STARTUP IPI with vector TRAMP_BASE >> 12 starts the AP there in real mode. It loads the
 * kernel GDT, enters protected mode, then long mode with the BSP's page tables and EFER, and
 * far-jumps into ap_start64 in the kernel image.
 */
#include "asm.h"

#define TRAMP_BASE 0x8000
#define T(label) (TRAMP_BASE + ((label) - tramp_start))
#define AP_STACK_SIZE 8192
#define MAX_CPUS 16

    .text
    .code16
    .globl tramp_start, tramp_end
tramp_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl tramp_gdt_desc - tramp_start
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl $SEL_KCODE32, $T(tramp32)

    .code32
tramp32:
    mov $SEL_KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    mov ap_efer, %eax
    xor %edx, %edx
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_WP), %eax
    mov %eax, %cr0
    ljmp $SEL_KCODE64, $ap_start64

    .balign 8
tramp_gdt_desc:
    .word 0x47              /* the kernel GDT through the TSS descriptor */
    .long gdt
tramp_end:

    .code64
ap_start64:
    mov $SEL_KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $1, %eax
    lock xadd %eax, ap_next_index(%rip)
    cmp $MAX_CPUS, %eax
    jae 2f
    mov %eax, %edi
    shl $13, %rax           /* AP_STACK_SIZE */
    add $ap_stacks, %rax
    mov %rax, %rsp
    call ap_main
2:  cli
    hlt
    jmp 2b

    .data
    .globl ap_efer
ap_efer: .long 0
ap_next_index: .long 1      /* CPU index 0 is the BSP */

    .bss
    .balign 16
ap_stacks:
    .skip AP_STACK_SIZE * MAX_CPUS

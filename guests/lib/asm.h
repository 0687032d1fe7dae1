/* Constants shared by the runtime's assembly and C. */
#ifndef GUEST_ASM_H
#define GUEST_ASM_H

#define SEL_KCODE64 0x08
#define SEL_KDATA   0x10
#define SEL_KCODE32 0x18
#define SEL_UCODE32 0x20
#define SEL_UDATA   0x28
#define SEL_UCODE64 0x30
#define SEL_TSS     0x38

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_U   0x004
#define PTE_A   0x020
#define PTE_D   0x040
#define PTE_PS  0x080
#define PTE_DIR (PTE_P | PTE_W | PTE_U)

#define CR0_PE  0x00000001
#define CR0_WP  0x00010000
#define CR0_PG  0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xC0000080
#define EFER_SCE 0x001
#define EFER_LME 0x100
#define EFER_NXE 0x800

#define BOOT_STACK_SIZE 16384

#endif

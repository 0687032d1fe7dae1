/*
 * 256 interrupt stubs, 16 bytes apart, so the IDT entry for vector v points at
 * isr_stubs + 16 * v. Each pushes a zero error code when the CPU does not, then the vector,
 * and joins isr_common, which saves every GPR as a struct frame (lib.h) for idt_dispatch.
 * A handler resumes anywhere, in any ring, by editing the frame.
 */
#include "asm.h"

    .text
    .balign 16
    .globl isr_stubs
isr_stubs:
    vec = 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push $0
    .endif
    push $vec
    jmp isr_common
    vec = vec + 1
    .endr

isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    cld
    call idt_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

/*
 * long run_in_user(long (*fn)(long), long arg): runs fn(arg) at CPL 3 on the user stack and
 * returns its result. The user side ends with int $USER_RETURN_VECTOR (a DPL-3 interrupt
 * gate); the dispatcher edits that frame so iretq lands on user_return below in ring 0.
 */
    .globl run_in_user
run_in_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, user_saved_rsp(%rip)
    push $(SEL_UDATA | 3)
    push user_stack_ptr(%rip)
    pushf
    push $(SEL_UCODE64 | 3)
    push $user_trampoline
    mov %rdi, %rax
    mov %rsi, %rdi
    iretq
    .globl user_return
user_return:
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

user_trampoline:
    call *%rax
    mov %rax, %rdi
    int $0x80
    ud2

/*
 * SYSCALL entry (IA32_LSTAR): RCX = user RIP, R11 = user RFLAGS, still on the user stack.
 * Calls syscall_handler(arg0 = RDI, arg1 = RSI, nr = RAX) on the kernel syscall stack and
 * returns to ring 3 with SYSRETQ.
 */
    .globl syscall_entry
syscall_entry:
    mov %rsp, syscall_user_rsp(%rip)
    lea syscall_stack_top(%rip), %rsp
    push %rcx
    push %r11
    mov %rax, %rdx
    call syscall_handler
    pop %r11
    pop %rcx
    mov syscall_user_rsp(%rip), %rsp
    sysretq

    .data
    .globl user_saved_rsp
user_saved_rsp: .quad 0
syscall_user_rsp: .quad 0
    .globl user_stack_ptr
user_stack_ptr: .quad user_stack_top

    .bss
    .balign 16
    .skip 16384
user_stack_top:
    .skip 8192
syscall_stack_top:
    .globl exc_stack_top
    .skip 16384
exc_stack_top:

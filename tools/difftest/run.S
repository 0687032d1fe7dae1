/*
 * run_case: loads in_gpr/in_rflags into the CPU, jumps to the instruction at CODE_ADDR, which
 * jumps back to case_return; stores every register and RFLAGS to out_gpr/out_rflags.
 * RSP stays the harness stack throughout (the generator never uses RSP as an operand).
 * The x87/SSE state is in_fx (FXRSTOR64) before the instruction, and out_fx (FXSAVE64) after.
 */
    .text
    .globl run_case, case_return
run_case:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, saved_rsp(%rip)
    pushq in_rflags(%rip)
    popfq
    mov in_gpr+0(%rip), %rax
    mov in_gpr+8(%rip), %rcx
    mov in_gpr+16(%rip), %rdx
    mov in_gpr+24(%rip), %rbx
    mov in_gpr+40(%rip), %rbp
    mov in_gpr+48(%rip), %rsi
    mov in_gpr+56(%rip), %rdi
    mov in_gpr+64(%rip), %r8
    mov in_gpr+72(%rip), %r9
    mov in_gpr+80(%rip), %r10
    mov in_gpr+88(%rip), %r11
    mov in_gpr+96(%rip), %r12
    mov in_gpr+104(%rip), %r13
    mov in_gpr+112(%rip), %r14
    mov in_gpr+120(%rip), %r15
    fxrstor64 in_fx(%rip)
    jmp *code_entry(%rip)
case_return:
    fxsave64 out_fx(%rip)
    fninit
    mov %rax, out_gpr+0(%rip)
    mov %rcx, out_gpr+8(%rip)
    mov %rdx, out_gpr+16(%rip)
    mov %rbx, out_gpr+24(%rip)
    mov %rbp, out_gpr+40(%rip)
    mov %rsi, out_gpr+48(%rip)
    mov %rdi, out_gpr+56(%rip)
    mov %r8, out_gpr+64(%rip)
    mov %r9, out_gpr+72(%rip)
    mov %r10, out_gpr+80(%rip)
    mov %r11, out_gpr+88(%rip)
    mov %r12, out_gpr+96(%rip)
    mov %r13, out_gpr+104(%rip)
    mov %r14, out_gpr+112(%rip)
    mov %r15, out_gpr+120(%rip)
    pushfq
    popq out_rflags(%rip)
    cld
    mov saved_rsp(%rip), %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

    .bss
    .balign 8
saved_rsp: .skip 8
    .section .note.GNU-stack, "", @progbits

/*
 * run_case: loads in_gpr/in_rflags into the CPU, jumps to the instruction at CODE_ADDR, which
 * jumps back to case_return; stores every register and RFLAGS to out_gpr/out_rflags.
 * XMM0-15 and MXCSR come from in_xmm/in_mxcsr and go to out_xmm/out_mxcsr; MXCSR is reset to
 * its default before returning to C.
 * RSP stays the harness stack throughout (the generator never uses RSP as an operand).
 * The x87 state is in_fx (FXRSTOR64, before MXCSR and the XMM registers are loaded) before the
 * instruction, and out_fx (FXSAVE64) after.
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
    fxrstor64 in_fx(%rip)             /* the x87 state; MXCSR and XMM0-15 are loaded next */
    ldmxcsr in_mxcsr(%rip)
    movdqa in_xmm+0(%rip), %xmm0
    movdqa in_xmm+16(%rip), %xmm1
    movdqa in_xmm+32(%rip), %xmm2
    movdqa in_xmm+48(%rip), %xmm3
    movdqa in_xmm+64(%rip), %xmm4
    movdqa in_xmm+80(%rip), %xmm5
    movdqa in_xmm+96(%rip), %xmm6
    movdqa in_xmm+112(%rip), %xmm7
    movdqa in_xmm+128(%rip), %xmm8
    movdqa in_xmm+144(%rip), %xmm9
    movdqa in_xmm+160(%rip), %xmm10
    movdqa in_xmm+176(%rip), %xmm11
    movdqa in_xmm+192(%rip), %xmm12
    movdqa in_xmm+208(%rip), %xmm13
    movdqa in_xmm+224(%rip), %xmm14
    movdqa in_xmm+240(%rip), %xmm15
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
    movdqa %xmm0, out_xmm+0(%rip)
    movdqa %xmm1, out_xmm+16(%rip)
    movdqa %xmm2, out_xmm+32(%rip)
    movdqa %xmm3, out_xmm+48(%rip)
    movdqa %xmm4, out_xmm+64(%rip)
    movdqa %xmm5, out_xmm+80(%rip)
    movdqa %xmm6, out_xmm+96(%rip)
    movdqa %xmm7, out_xmm+112(%rip)
    movdqa %xmm8, out_xmm+128(%rip)
    movdqa %xmm9, out_xmm+144(%rip)
    movdqa %xmm10, out_xmm+160(%rip)
    movdqa %xmm11, out_xmm+176(%rip)
    movdqa %xmm12, out_xmm+192(%rip)
    movdqa %xmm13, out_xmm+208(%rip)
    movdqa %xmm14, out_xmm+224(%rip)
    movdqa %xmm15, out_xmm+240(%rip)
    stmxcsr out_mxcsr(%rip)
    ldmxcsr default_mxcsr(%rip)
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

    .data
    .balign 4
default_mxcsr: .long 0x1f80
    .section .note.GNU-stack, "", @progbits

/*
 * Native side of tscvm's differential CPU tests: executes one instruction per input record
 * on the host CPU and reports registers, flags and the memory buffer (protocol in harness.h).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "harness.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

uint64_t in_gpr[16], in_rflags, out_gpr[16], out_rflags;
uint8_t in_fx[512] __attribute__((aligned(16))), out_fx[512] __attribute__((aligned(16)));
static uint8_t default_fx[512] __attribute__((aligned(16)));
uint64_t in_xmm[32] __attribute__((aligned(16))), out_xmm[32] __attribute__((aligned(16)));
uint32_t in_mxcsr, out_mxcsr;
void *code_entry = (void *)CODE_ADDR;
void run_case(void);
extern char case_return[];

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_signal, fault_trapno;
static uint32_t fault_mxcsr;
static uint64_t fault_xmm[32];

/* Records the signal, the exception vector and the SSE state at the fault (the signal frame's
 * FXSAVE image: MXCSR with the flags the faulting instruction set, XMM unchanged). */
static void on_fault(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    (void)info;
    fault_signal = sig;
    fault_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    if (uc->uc_mcontext.fpregs) {
        fault_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
        memcpy(fault_xmm, uc->uc_mcontext.fpregs->_xmm, sizeof(fault_xmm));
    }
    siglongjmp(fault_jmp, 1);
}

static void *map_fixed(unsigned long addr, int prot)
{
    void *p = mmap((void *)addr, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)addr) {
        fprintf(stderr, "harness: cannot map 0x%lx (%s)\n", addr, p == MAP_FAILED ? "mmap failed" : "moved");
        exit(2);
    }
    return p;
}

static uint32_t host_features(void)
{
    unsigned a, b, c, d;
    uint32_t f = 0;
    __cpuid(1, a, b, c, d);
    if (c & (1u << 23))
        f |= FEATURE_POPCNT;
    if (c & (1u << 22))
        f |= FEATURE_MOVBE;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 3)))
        f |= FEATURE_BMI1;
    __cpuid(0x80000001, a, b, c, d);
    if (c & (1u << 5))
        f |= FEATURE_LZCNT;
    if (c & 1u)
        f |= FEATURE_LAHF64;
    return f;
}

/* Runs one record; sigsetjmp lives here so a fault cannot clobber the caller's loop state. */
static __attribute__((noinline)) void execute(uint8_t *code, uint8_t *buf, const struct in_record *in,
                                              struct out_record *out)
{
    memcpy(code, in->code, in->code_len);
    /* jmp *0(%rip); .quad case_return */
    uint8_t *p = code + in->code_len;
    p[0] = 0xff; p[1] = 0x25; p[2] = p[3] = p[4] = p[5] = 0;
    uint64_t back = (uint64_t)case_return;
    memcpy(p + 6, &back, 8);
    __builtin___clear_cache((char *)code, (char *)p + 14);

    memcpy(buf, in->mem, BUF_SIZE);
    memcpy(in_gpr, in->gpr, sizeof(in_gpr));
    in_rflags = (in->rflags & LOADABLE_FLAGS) | 0x2;
    memcpy(in_xmm, in->xmm, sizeof(in_xmm));
    in_mxcsr = in->mxcsr;

    /* The x87 part from the record; MXCSR and the XMM registers stay the harness's own. */
    memcpy(in_fx, default_fx, sizeof(in_fx));
    memcpy(in_fx, in->fx, 24);
    memcpy(in_fx + 32, in->fx + 32, FX_X87 - 32);

    memset(out, 0, sizeof(*out));
    fault_signal = 0;
    if (sigsetjmp(fault_jmp, 1) == 0) {
        run_case();
        memcpy(out->gpr, out_gpr, sizeof(out->gpr));
        out->gpr[4] = 0;
        out->rflags = out_rflags;
        memcpy(out->fx, out_fx, FX_X87);
        out->mxcsr = out_mxcsr;
        memcpy(out->xmm, out_xmm, sizeof(out->xmm));
    } else {
        out->signal = (uint32_t)fault_signal | (uint32_t)fault_trapno << 8;
        out->mxcsr = fault_mxcsr;
        memcpy(out->xmm, fault_xmm, sizeof(out->xmm));
    }
    memcpy(out->mem, buf, BUF_SIZE);
}

static int read_full(void *p, size_t n)
{
    return fread(p, 1, n, stdin) == n;
}

int main(void)
{
    uint8_t *buf = map_fixed(BUF_ADDR, PROT_READ | PROT_WRITE);
    uint8_t *code = map_fixed(CODE_ADDR, PROT_READ | PROT_WRITE | PROT_EXEC);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_NODEFER | SA_SIGINFO;
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGTRAP, &sa, NULL);

    __asm__ volatile("fninit; fxsave64 %0" : "=m"(default_fx));

    uint32_t features = host_features();
    fwrite(&features, 4, 1, stdout);
    fflush(stdout);

    uint32_t count;
    struct in_record in;
    struct out_record out;
    while (read_full(&count, 4)) {
        for (uint32_t i = 0; i < count; i++) {
            if (!read_full(&in, sizeof(in))) {
                fprintf(stderr, "harness: truncated batch\n");
                return 2;
            }
            if (in.code_len > MAX_INSN) {
                fprintf(stderr, "harness: instruction length %u\n", in.code_len);
                return 2;
            }
            execute(code, buf, &in, &out);
            fwrite(&out, sizeof(out), 1, stdout);
        }
        fflush(stdout);
    }
    return 0;
}

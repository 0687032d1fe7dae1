/*
 * Differential-test harness: the record layout shared by harness.c, run.S and the Java side
 * (src/test/java/org/tscvm/cpu/diff/NativeHarness.java). All little-endian.
 *
 * Protocol on stdin/stdout:
 *   harness -> host, once:  u32 features (FEATURE_* bits of the host CPU)
 *   host -> harness, per batch: u32 count, then count input records
 *   harness -> host, per batch: count output records, then a flush
 */
#ifndef DIFFTEST_HARNESS_H
#define DIFFTEST_HARNESS_H

#include <stdint.h>

#define BUF_ADDR 0x10000000UL   /* the memory operand buffer, the same linear address in tscvm */
#define BUF_SIZE 256
#define CODE_ADDR 0x20000000UL  /* the instruction under test, then a jump back */
#define MAX_INSN 15
#define FX_X87 160              /* FCW FSW FTW FOP FIP FDP MXCSR, ST0-ST7: the x87 part of FXSAVE */

#define FEATURE_POPCNT (1u << 0)  /* CPUID.1:ECX[23] */
#define FEATURE_LZCNT (1u << 1)   /* CPUID.80000001:ECX[5] (ABM) */
#define FEATURE_BMI1 (1u << 2)    /* CPUID.(7,0):EBX[3], TZCNT */
#define FEATURE_LAHF64 (1u << 3)  /* CPUID.80000001:ECX[0], LAHF/SAHF in 64-bit mode */
#define FEATURE_MOVBE (1u << 4)   /* CPUID.1:ECX[22] */

struct in_record {
    uint8_t code_len;
    uint8_t code[MAX_INSN];
    uint64_t gpr[16];         /* RAX..R15 in encoding order; RSP (4) is ignored */
    uint64_t rflags;          /* only the arithmetic flags and DF are loaded */
    uint8_t mem[BUF_SIZE];
    uint32_t mxcsr;           /* loaded with LDMXCSR */
    uint32_t reserved;
    uint64_t xmm[32];         /* XMM0..XMM15, low quadword first */
    uint8_t fx[FX_X87];       /* bytes 0-159 of an FXSAVE64 image: the x87 state loaded before the case */
} __attribute__((packed));

struct out_record {
    uint64_t gpr[16];         /* RSP (4) is reported as 0 */
    uint64_t rflags;
    uint8_t mem[BUF_SIZE];
    uint32_t signal;          /* 0, or the signal the instruction raised | its vector << 8 */
    uint32_t mxcsr;           /* STMXCSR after the instruction, or MXCSR at the fault */
    uint64_t xmm[32];         /* likewise */
    uint8_t fx[FX_X87];       /* bytes 0-159 of FXSAVE64 after the case (MXCSR at 24 is the harness's) */
} __attribute__((packed));

#define LOADABLE_FLAGS 0xcd5ULL   /* CF PF AF ZF SF DF OF */

#endif

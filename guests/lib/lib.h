/* The guest runtime: serial console, printf, reports, exit, IDT, paging and CPU helpers. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "asm.h"
#include "x86.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

/* isa-debug-exit values: the process exit status is (value << 1) | 1, as in QEMU. */
#define EXIT_PASS 0   /* status 1 */
#define EXIT_FAIL 1   /* status 3 */
#define EXIT_SKIP 38  /* status 77, the autotools "skipped" code kvm-unit-tests also uses */

#define USER_RETURN_VECTOR 0x80

/* Registers as isr_common saves them; the tail is the CPU's 64-bit interrupt frame. */
struct frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error_code;
    u64 rip, cs, rflags, rsp, ss;
};

typedef void (*handler_t)(struct frame *f);

/* Multiboot-1 information (the fields tests read). */
struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
    u32 drives_length, drives_addr, config_table, boot_loader_name;
};

/* Console and reporting. */
void putchar(int c);
void puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
void report(const char *name, int ok);
void report_skip(const char *name, const char *why);
int report_summary(void);             /* prints SUMMARY and returns the exit value */
void exit(int value) __attribute__((noreturn));
void abort_test(const char *why) __attribute__((noreturn));

/* Memory and strings (gcc may call these itself). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* Boot information. */
extern u64 mb_info_addr;
static inline struct mb_info *mb_info(void) { return (struct mb_info *)mb_info_addr; }

/*
 * Exceptions. An installed handler runs first. Otherwise, when a test armed a fixup with
 * ASM_TRY, the exception is recorded in last_exc and execution resumes at the fixup label
 * (same ring). Anything else is an unexpected exception: printed, and the test fails.
 */
struct exc_record { int vector; u64 error_code, rip, cr2, cs; };
extern volatile struct exc_record last_exc;
extern volatile u64 exc_fixup;
void set_handler(int vector, handler_t h);
void set_gate_dpl(int vector, int dpl);
/*
 * Inside an asm statement, before the instruction that may fault:
 *   asm volatile(ASM_TRY("1f") "ud2\n1:" ...);
 * then last_exc.vector is the vector taken, or -1.
 */
#define ASM_TRY(label) \
    "movl $-1, last_exc(%%rip)\n\t" \
    "movq $" label ", exc_fixup(%%rip)\n\t"

/* Ring 3: runs fn(arg) at CPL 3 and returns its result (comes back through int 0x80). */
long run_in_user(long (*fn)(long), long arg);
/* SYSCALL: lib_enable_syscall sets EFER.SCE, STAR, LSTAR, FMASK; handler is per test. */
void lib_enable_syscall(u64 fmask);
extern long (*syscall_hook)(long a0, long a1, long nr);

/* Paging: the boot identity map (first 4 GiB, 2 MiB pages, U=1 everywhere). */
extern u64 pml4[512], pdpt[512], page_dirs[4 * 512];
void *alloc_page(void);                 /* zeroed 4 KiB page from a static pool */
/* The PTE mapping va with 4 KiB pages, splitting a 2 MiB boot page if needed. */
u64 *pte_for(u64 va);
void map_4k(u64 va, u64 pa, u64 flags);   /* creates tables as needed (flags incl. P) */

/* SMP (smp.c): start every AP named by fw_cfg; each runs fn(cpu_index) then parks. */
int fw_cfg_cpu_count(void);
int smp_start(void (*fn)(int cpu));       /* returns how many APs reported in */
int smp_cpu_id(void);                     /* local APIC ID */
int smp_start_one(int apic_id, void (*fn)(int cpu)); /* one AP, not waited for; 1 if it started */

/* Spin lock for console output from several CPUs. */
struct spinlock { volatile int locked; };
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

#endif

/* Single-instruction helpers. */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>

#define MSR_IA32_TSC            0x10
#define MSR_IA32_APIC_BASE      0x1b
#define MSR_IA32_TSC_ADJUST     0x3b
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define MSR_STAR                0xC0000081
#define MSR_LSTAR               0xC0000082
#define MSR_FMASK               0xC0000084
#define MSR_TSC_AUX             0xC0000103

struct cpuid { uint32_t a, b, c, d; };

static inline struct cpuid cpuid_count(uint32_t leaf, uint32_t sub)
{
    struct cpuid r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
    return r;
}
static inline struct cpuid cpuid(uint32_t leaf) { return cpuid_count(leaf, 0); }
static inline uint32_t cpuid_max(uint32_t base) { return cpuid(base).a; }

static inline uint64_t rdmsr(uint32_t idx)
{
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(idx));
    return lo | ((uint64_t)hi << 32);
}
static inline void wrmsr(uint32_t idx, uint64_t v)
{
    asm volatile("wrmsr" : : "c"(idx), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
/* RDMSR/WRMSR that return the vector of a fault (-1 when none). */
int rdmsr_safe(uint32_t idx, uint64_t *v);
int wrmsr_safe(uint32_t idx, uint64_t v);

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return lo | ((uint64_t)hi << 32);
}
static inline uint64_t rdtscp(uint32_t *aux)
{
    uint32_t lo, hi, c;
    asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    *aux = c;
    return lo | ((uint64_t)hi << 32);
}
static inline uint64_t rdpid(void)
{
    uint64_t v;
    asm volatile("rdpid %0" : "=r"(v));
    return v;
}

static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define DEFINE_CR(n) \
    static inline uint64_t read_cr##n(void) { uint64_t v; asm volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint64_t v) { asm volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void invlpg(const volatile void *va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void flush_tlb(void) { write_cr3(read_cr3()); }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
/* STI's interrupt shadow covers HLT, so no interrupt slips in between. */
static inline void sti_hlt(void) { asm volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }
static inline uint64_t read_rflags(void) { uint64_t f; asm volatile("pushf; pop %0" : "=r"(f)); return f; }
static inline uint16_t read_cs(void) { uint16_t s; asm volatile("mov %%cs, %0" : "=r"(s)); return s; }

#endif

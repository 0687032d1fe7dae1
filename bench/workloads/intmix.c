/*
 * Compute-bound integer mix: each round fills an array from a PRNG, sorts it (recursive
 * quicksort: calls and unpredictable branches), hashes it, takes its CRC32 (table lookups,
 * byte loads), runs 64-bit multiply/divide over it and interprets a small bytecode program
 * through a dense switch (a jump table). Everything feeds one checksum.
 */
#include "bench.h"

#ifndef ROUNDS
#define ROUNDS 1200
#endif
#define ELEMS 2048
#define VM_RUNS 24

static uint64_t data[ELEMS];
static uint32_t crc_table[256];

static uint64_t xorshift64star(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    }
    return c ^ 0xffffffffu;
}

static __attribute__((noinline)) void insertion_sort(uint64_t *a, long lo, long hi)
{
    for (long i = lo + 1; i <= hi; i++) {
        uint64_t v = a[i];
        long j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static __attribute__((noinline)) void quicksort(uint64_t *a, long lo, long hi)
{
    while (hi - lo > 12) {
        uint64_t pivot = a[lo + (hi - lo) / 2];
        long i = lo;
        long j = hi;
        while (i <= j) {
            while (a[i] < pivot) {
                i++;
            }
            while (a[j] > pivot) {
                j--;
            }
            if (i <= j) {
                uint64_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        /* Recurse into the smaller side, loop on the larger: bounded stack depth. */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

static uint64_t fnv1a(const uint64_t *a, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = a[i];
        for (int b = 0; b < 8; b++) {
            h ^= (v >> (b * 8)) & 0xff;
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

static __attribute__((noinline)) uint64_t muldiv(const uint64_t *a, size_t n)
{
    uint64_t acc = 1;
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t x = a[i];
        uint64_t d = (a[i + 1] >> (i & 31)) | 1;
        unsigned __int128 p = (unsigned __int128)x * (acc | 1);
        int64_t s = (int64_t)(x ^ acc);
        int64_t sd = (int64_t)(d >> 3) | 1;
        acc += x / d + x % d + (uint64_t)(p >> 64) + (uint64_t)(s / sd) + (uint64_t)(s % sd);
    }
    return acc;
}

enum {
    OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_SHL, OP_SHR, OP_DUP, OP_SWAP,
    OP_DROP, OP_LOADX, OP_STOREX, OP_DECJNZ, OP_ROT, OP_AND, OP_HALT
};

/* Sums a mixed sequence 60 times: every opcode runs, so the switch's jump table is hot. */
static const uint8_t program[] = {
    OP_PUSH, 60, OP_STOREX,
    OP_PUSH, 7,
    /* loop body starts at index 5; it keeps two values on the stack */
    OP_DUP, OP_PUSH, 3, OP_MUL, OP_PUSH, 11, OP_ADD, OP_SWAP, OP_DUP, OP_PUSH, 5, OP_SHL,
    OP_XOR, OP_PUSH, 2, OP_SHR, OP_ROT, OP_SUB, OP_PUSH, 255, OP_AND, OP_ADD, OP_LOADX,
    OP_XOR, OP_DUP, OP_LOADX, OP_ADD, OP_PUSH, 1, OP_DROP, OP_DECJNZ, 5,
    OP_HALT
};

static __attribute__((noinline)) uint64_t run_program(uint64_t seed)
{
    uint64_t stack[16];
    int sp = 0;
    uint64_t x = 0;
    size_t pc = 0;
    stack[sp++] = seed;
    for (;;) {
        uint8_t op = program[pc++];
        switch (op) {
        case OP_PUSH: stack[sp++] = program[pc++]; break;
        case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case OP_MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHL: sp--; stack[sp - 1] <<= stack[sp] & 63; break;
        case OP_SHR: sp--; stack[sp - 1] >>= stack[sp] & 63; break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_SWAP: { uint64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
        case OP_DROP: sp--; break;
        case OP_LOADX: stack[sp++] = x; break;
        case OP_STOREX: x = stack[--sp]; break;
        case OP_DECJNZ: { uint8_t target = program[pc++]; if (--x != 0) pc = target; break; }
        case OP_ROT: { uint64_t t = stack[sp - 3]; stack[sp - 3] = stack[sp - 2]; stack[sp - 2] = stack[sp - 1]; stack[sp - 1] = t; break; }
        case OP_AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case OP_HALT: {
            uint64_t h = 0;
            while (sp > 0) {
                h = h * 31 + stack[--sp];
            }
            return h;
        }
        default: return ~0ULL;
        }
    }
}

void bench_run(void)
{
    uint64_t state = 0x243f6a8885a308d3ULL;
    uint64_t sum = 0;
    crc_init();
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < ELEMS; i++) {
            data[i] = xorshift64star(&state) >> (round & 7);
        }
        quicksort(data, 0, ELEMS - 1);
        for (int i = 1; i < ELEMS; i++) {
            /* A sorting bug shows as a different checksum, not as a slow run. */
            sum += data[i - 1] > data[i];
        }
        sum = bench_mix(sum, fnv1a(data, ELEMS));
        sum = bench_mix(sum, crc32((const uint8_t *)data, sizeof data));
        sum = bench_mix(sum, muldiv(data, ELEMS));
        for (int r = 0; r < VM_RUNS; r++) {
            sum = bench_mix(sum, run_program(data[r]));
        }
    }
    bench_report_ops("rounds", ROUNDS);
    bench_report_ops("sorted-elements", (uint64_t)ROUNDS * ELEMS);
    bench_report_ops("crc-bytes", (uint64_t)ROUNDS * sizeof data);
    bench_checksum(sum);
}

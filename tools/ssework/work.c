/* SSE workload for tscvm's SseGccCodeTest: built freestanding at 0x10000 and natively. */
#include <emmintrin.h>
#include <tmmintrin.h>
#include <pmmintrin.h>
#include <smmintrin.h>
#include <nmmintrin.h>

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;

static float fa[256], fb[256], fc[256];
static double da[128], db[128], dc[128];
static int ia[256], ib[256];
static u8 text[1024] __attribute__((aligned(16)));

static u64 mix(u64 s, u64 v) { s ^= v + 0x9e3779b97f4a7c15ul + (s << 6) + (s >> 2); return s; }

static u64 bits_f(float f) { union { float f; u32 u; } x = { f }; return x.u; }
static u64 bits_d(double d) { union { double d; u64 u; } x = { d }; return x.u; }

__attribute__((noinline)) static int sse2_strlen(const u8 *p) {
    const __m128i zero = _mm_setzero_si128();
    for (int i = 0;; i += 16) {
        int m = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)(p + i)), zero));
        if (m) return i + __builtin_ctz(m);
    }
}

__attribute__((noinline)) static int sse2_count(const u8 *p, int n, u8 c) {
    __m128i k = _mm_set1_epi8((char)c), acc = _mm_setzero_si128();
    for (int i = 0; i < n; i += 16)
        acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), k));
    acc = _mm_sad_epu8(acc, _mm_setzero_si128());
    return _mm_cvtsi128_si32(acc) + _mm_extract_epi16(acc, 4);
}

u64 work(void) {
    u64 s = 1;
    u32 r = 12345;
    for (int i = 0; i < 256; i++) {
        r = r * 1103515245u + 12345u;
        fa[i] = (float)(int)(r >> 8) / 1024.0f - 3000.0f;
        fb[i] = (float)(i + 1) * 0.37f;
        ia[i] = (int)r;
        ib[i] = (int)(r >> 13) - 50000;
    }
    for (int i = 0; i < 128; i++) {
        da[i] = (double)ia[i] / 7.0 + 1e-3 * i;
        db[i] = 1.0 / (double)(i + 3);
    }
    for (int i = 0; i < 1023; i++) text[i] = (u8)('a' + (ia[i & 255] >> 7) % 26 + (i & 1));
    text[1023] = 0;
    text[700] = 0;
    /* vectorizable float and double loops */
    for (int i = 0; i < 256; i++) fc[i] = fa[i] * fb[i] + fa[i] / fb[i] - __builtin_sqrtf(fb[i]);
    for (int i = 0; i < 128; i++) dc[i] = da[i] * db[i] - da[i] / (db[i] + 1.0) + __builtin_sqrt(db[i]);
    float fsum = 0; double dsum = 0;
    for (int i = 0; i < 256; i++) { fsum += fc[i]; s = mix(s, bits_f(fc[i])); }
    for (int i = 0; i < 128; i++) { dsum += dc[i]; s = mix(s, bits_d(dc[i])); }
    s = mix(s, bits_f(fsum));
    s = mix(s, bits_d(dsum));
    /* conversions */
    for (int i = 0; i < 128; i++) {
        s = mix(s, (u64)(long)da[i]);
        s = mix(s, (u64)(int)fa[i * 2]);
        s = mix(s, bits_f((float)da[i]));
        s = mix(s, bits_d((double)fa[i]));
        s = mix(s, bits_d((double)(long)(s >> 11)));
        s = mix(s, (u64)(da[i] < db[i]) + 2 * (u64)(fa[i] >= fb[i]));
    }
    /* integer vector loops */
    for (int i = 0; i < 256; i++) ia[i] = (ia[i] >> 3) * 5 + (ib[i] ^ ia[i]) - (ib[i] > ia[i] ? ib[i] : ia[i]);
    for (int i = 0; i < 256; i++) s = mix(s, (u32)ia[i]);
    /* intrinsics: SSE2 strings, SSE3, SSSE3 */
    s = mix(s, (u64)sse2_strlen(text));
    s = mix(s, (u64)sse2_count(text, 1024, 'q'));
    __m128i x = _mm_loadu_si128((const __m128i *)(text + 3));
    __m128i y = _mm_load_si128((const __m128i *)(text + 32));
    __m128i z = _mm_shuffle_epi8(x, _mm_and_si128(y, _mm_set1_epi8(0x8f)));
    z = _mm_alignr_epi8(z, y, 5);
    z = _mm_add_epi16(_mm_maddubs_epi16(z, x), _mm_abs_epi16(_mm_hadd_epi16(y, z)));
    z = _mm_sign_epi32(_mm_mulhrs_epi16(z, y), x);
    s = mix(s, (u64)_mm_cvtsi128_si64(z));
    s = mix(s, (u64)_mm_cvtsi128_si64(_mm_unpackhi_epi64(z, z)));
    __m128 h = _mm_hadd_ps(_mm_loadu_ps(fa), _mm_loadu_ps(fb + 1));
    h = _mm_addsub_ps(h, _mm_movehdup_ps(h));
    __m128d hd = _mm_hsub_pd(_mm_loadu_pd(da), _mm_movedup_pd(_mm_load_sd(db + 5)));
    s = mix(s, bits_f(_mm_cvtss_f32(_mm_shuffle_ps(h, h, 0x1b))));
    s = mix(s, bits_d(_mm_cvtsd_f64(_mm_unpackhi_pd(hd, hd))));
    /* SSE4.1: vectorized rounding, min/max, 32-bit multiplies; dot products */
    for (int i = 0; i < 128; i++) dc[i] = __builtin_floor(da[i]) + __builtin_ceil(db[i] * 100.0) + __builtin_trunc(da[i] * 0.3);
    for (int i = 0; i < 256; i++) ib[i] = (ia[i] < ib[i] ? ia[i] : ib[i]) * (ib[i] | 1) + (ia[i] > 7 ? ia[i] : 7);
    for (int i = 0; i < 128; i++) s = mix(s, bits_d(dc[i]));
    for (int i = 0; i < 256; i++) s = mix(s, (u32)ib[i]);
    __m128 dp = _mm_dp_ps(_mm_loadu_ps(fa + 8), _mm_loadu_ps(fb + 8), 0xf3);
    s = mix(s, bits_f(_mm_cvtss_f32(dp)));
    s = mix(s, (u64)_mm_extract_epi8(x, 5) + ((u64)_mm_extract_epi32(z, 2) << 8));
    s = mix(s, (u64)_mm_testz_si128(x, y) + 2 * (u64)_mm_testc_si128(x, x));
    /* SSE4.2: string compares and CRC32 */
    __m128i needle = _mm_loadu_si128((const __m128i *)(text + 100));
    needle = _mm_and_si128(needle, _mm_set_epi32(0, 0, 0, 0xffffff));
    for (int i = 0; i < 640; i += 16) {
        __m128i hay = _mm_loadu_si128((const __m128i *)(text + i));
        s = mix(s, (u64)_mm_cmpistri(needle, hay, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_ORDERED));
        s = mix(s, (u64)_mm_cmpestri(needle, 3, hay, 16 - (i & 7), _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_ANY | _SIDD_MOST_SIGNIFICANT));
        s = mix(s, (u64)_mm_cvtsi128_si64(_mm_cmpistrm(_mm_set_epi8(0,0,0,0,0,0,0,0,0,0,0,0,'z','x','e','a'), hay,
                _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_UNIT_MASK)));
    }
    u64 crc = ~0ul;
    for (int i = 0; i < 1024; i += 8) crc = _mm_crc32_u64(crc, *(const u64 *)(text + i));
    crc = _mm_crc32_u8((u32)crc, text[3]);
    s = mix(s, crc);
    /* rounding modes */
    u32 saved = _mm_getcsr();
    for (u32 rc = 0; rc < 4; rc++) {
        _mm_setcsr((saved & ~0x6000u) | rc << 13);
        volatile double a = 1.0 / 3.0, b = 1e-310;
        volatile float c = 16777217.0f;
        s = mix(s, bits_d(a * 3.0 + b));
        s = mix(s, bits_f(c + 1.0f));
        s = mix(s, (u64)_mm_cvtsd_si64(_mm_set_sd(-2.5)));
        s = mix(s, _mm_getcsr());
    }
    _mm_setcsr(saved);
    return s;
}

#ifdef NATIVE
#include <stdio.h>
int main(void) { printf("%016lx\n", work()); return 0; }
#else
__asm__(".section .text.start,\"ax\"\n.globl _start\n_start:\n mov $0x80000, %rsp\n call work\n hlt\n");
#endif

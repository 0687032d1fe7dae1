/* Report lines, formatted here so that the platform only has to write a string. */
#include "bench.h"

static char *put_hex(char *p, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int shift = 60; shift >= 0; shift -= 4) {
        *p++ = digits[(v >> shift) & 0xf];
    }
    return p;
}

static char *put_dec(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s != '\0') {
        *p++ = *s++;
    }
    return p;
}

void bench_report_hex(const char *key, uint64_t value)
{
    char line[96];
    char *p = put_str(line, key);
    *p++ = ' ';
    p = put_hex(p, value);
    *p++ = '\n';
    *p = '\0';
    bench_puts(line);
}

void bench_report_ops(const char *name, uint64_t count)
{
    char line[96];
    char *p = put_str(line, "OPS ");
    p = put_str(p, name);
    *p++ = ' ';
    p = put_dec(p, count);
    *p++ = '\n';
    *p = '\0';
    bench_puts(line);
}

void bench_checksum(uint64_t value)
{
    bench_report_hex("CHECKSUM", value);
}

/*
 * serial_echo.elf: a kernel for record and replay's tests. It polls COM1 for input lines and
 * answers each with its length, a checksum and how many polls it waited for the line, so the
 * output depends on exactly when each byte arrived. The line "quit" ends the run (status 1).
 */
#include "lib.h"

#define COM1 0x3f8
#define LSR_DATA_READY 0x01

static int read_byte(u64 *polls)
{
    while (!(inb(COM1 + 5) & LSR_DATA_READY))
        (*polls)++;
    return inb(COM1);
}

int main(void)
{
    char line[128];
    printf("serial_echo: ready\n");
    for (int n = 1;; n++) {
        u64 polls = 0;
        u32 sum = 0;
        int len = 0;
        for (;;) {
            int c = read_byte(&polls);
            if (c == '\n')
                break;
            if (len < (int)sizeof(line) - 1)
                line[len++] = (char)c;
            sum = sum * 31 + (u8)c;
        }
        line[len] = 0;
        printf("line %d: %d bytes, sum %x, after %lu polls\n", n, len, sum, polls);
        if (len == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't')
            exit(0);
    }
}

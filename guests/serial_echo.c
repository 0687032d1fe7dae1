/*
 * serial_echo.elf: a kernel for record and replay's tests. It reads lines from COM1 and
 * answers each with its length, a checksum and how long it waited, so the output depends on
 * exactly when each byte arrived. The first line it polls for (the count of LSR polls); the
 * others it halts for, woken by COM1's interrupt through the I/O APIC (the count of wake-ups
 * and the TSC cycles waited). The line "quit" ends the run (status 1).
 */
#include "lib.h"

#define COM1 0x3f8
#define UART_IER 1
#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define IER_RX_DATA 0x01

#define APIC_BASE_ADDR 0xfee00000UL
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_SVR_ENABLE 0x100
#define IOAPIC_BASE_ADDR 0xfec00000UL
#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))
#define COM1_GSI 4
#define COM1_VECTOR 0x41
#define SPURIOUS_VECTOR 0xff

static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE_ADDR + reg) = v; }
static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE_ADDR + reg); }

static void ioapic_write(u32 reg, u32 v)
{
    volatile u32 *ioapic = (volatile u32 *)IOAPIC_BASE_ADDR;
    ioapic[0] = reg;
    ioapic[4] = v;
}

static volatile char rx[256];
static volatile u32 rx_head, rx_tail;

static void com1_handler(struct frame *f)
{
    (void)f;
    while (inb(COM1 + UART_LSR) & LSR_DATA_READY)
        rx[rx_head++ % sizeof(rx)] = (char)inb(COM1);
    apic_write(APIC_EOI, 0);
}

static void spurious_handler(struct frame *f)
{
    (void)f;
}

static int poll_byte(u64 *polls)
{
    while (!(inb(COM1 + UART_LSR) & LSR_DATA_READY))
        (*polls)++;
    return inb(COM1);
}

static int wait_byte(u64 *wakeups)
{
    cli();
    while (rx_tail == rx_head) {
        sti_hlt();
        cli();
        (*wakeups)++;
    }
    int c = (u8)rx[rx_tail++ % sizeof(rx)];
    sti();
    return c;
}

static void enable_com1_interrupt(void)
{
    outb(0x21, 0xff); /* both 8259s masked: COM1 goes through the I/O APIC */
    outb(0xa1, 0xff);
    set_handler(COM1_VECTOR, com1_handler);
    set_handler(SPURIOUS_VECTOR, spurious_handler);
    apic_write(APIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
    ioapic_write(IOAPIC_REDIR(COM1_GSI) + 1, (apic_read(APIC_ID) >> 24) << 24);
    ioapic_write(IOAPIC_REDIR(COM1_GSI), COM1_VECTOR);
    outb(COM1 + UART_IER, IER_RX_DATA);
}

int main(void)
{
    char line[128];
    printf("serial_echo: ready\n");
    for (int n = 1;; n++) {
        u64 waited = 0, start = rdtsc();
        u32 sum = 0;
        int len = 0;
        for (;;) {
            int c = n == 1 ? poll_byte(&waited) : wait_byte(&waited);
            if (c == '\n')
                break;
            if (len < (int)sizeof(line) - 1)
                line[len++] = (char)c;
            sum = sum * 31 + (u8)c;
        }
        line[len] = 0;
        if (n == 1) {
            printf("line 1: %d bytes, sum %x, after %lu polls\n", len, sum, waited);
            enable_com1_interrupt();
        } else {
            printf("line %d: %d bytes, sum %x, after %lu wake-ups and %lu cycles\n", n, len, sum, waited,
                   rdtsc() - start);
        }
        if (len == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't')
            exit(0);
    }
}

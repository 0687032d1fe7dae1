#include "lib.h"

/* ---- Serial console: COM1, polled. ---- */
#define COM1 0x3f8
#define LSR 5
#define LSR_THRE 0x20   /* transmit holding register empty: the next byte may be written */

static struct spinlock console_lock;

static void serial_init(void)
{
    outb(COM1 + 1, 0x00);   /* IER: no interrupts */
    outb(COM1 + 3, 0x80);   /* LCR: DLAB to set the divisor */
    outb(COM1 + 0, 0x01);   /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* 8N1 */
    outb(COM1 + 2, 0x07);   /* FCR: FIFOs on and cleared */
    outb(COM1 + 4, 0x03);   /* MCR: DTR, RTS */
}

static void serial_put(int c)
{
    while (!(inb(COM1 + LSR) & LSR_THRE))
        pause();
    outb(COM1, (u8)c);
}

void putchar(int c)
{
    if (c == '\n')
        serial_put('\r');
    serial_put(c);
}

void puts(const char *s)
{
    spin_lock(&console_lock);
    while (*s)
        putchar(*s++);
    spin_unlock(&console_lock);
}

static void put_unsigned(u64 v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = v % base;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (width > n) {
        putchar(pad);
        width--;
    }
    while (n)
        putchar(buf[--n]);
}

/* %d %i %u %x %p %s %c %%, with l/ll/z sizes, a width and 0 padding. */
int vprintf(const char *fmt, va_list ap)
{
    spin_lock(&console_lock);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putchar(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            s64 v = longs ? va_arg(ap, s64) : va_arg(ap, int);
            if (v < 0) {
                putchar('-');
                put_unsigned(-(u64)v, 10, width ? width - 1 : 0, pad);
            } else {
                put_unsigned((u64)v, 10, width, pad);
            }
            break;
        }
        case 'u':
            put_unsigned(longs ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            put_unsigned(longs ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'p':
            putchar('0');
            putchar('x');
            put_unsigned((u64)va_arg(ap, void *), 16, width, pad);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = (int)strlen(s);
            while (width-- > len)
                putchar(' ');
            while (*s)
                putchar(*s++);
            break;
        }
        case 'c':
            putchar(va_arg(ap, int));
            break;
        case '%':
            putchar('%');
            break;
        default:
            putchar('%');
            putchar(*fmt);
            break;
        }
        if (!*fmt)
            break;
    }
    spin_unlock(&console_lock);
    return 0;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    return 0;
}

/* ---- Reports and exit. ---- */
static int tests, failures, skipped;

void report(const char *name, int ok)
{
    tests++;
    if (!ok)
        failures++;
    printf("%s: %s\n", ok ? "PASS" : "FAIL", name);
}

void report_skip(const char *name, const char *why)
{
    tests++;
    skipped++;
    printf("SKIP: %s (%s)\n", name, why);
}

int report_summary(void)
{
    if (skipped)
        printf("SUMMARY: %d tests, %d failures, %d skipped\n", tests, failures, skipped);
    else
        printf("SUMMARY: %d tests, %d failures\n", tests, failures);
    if (failures)
        return EXIT_FAIL;
    /* PASS means every check ran: a kernel that had to skip one reports SKIP. */
    return skipped ? EXIT_SKIP : EXIT_PASS;
}

void exit(int value)
{
    outl(0xf4, (u32)value);
    /* Without isa-debug-exit: stop here with interrupts off. */
    for (;;)
        asm volatile("cli; hlt");
}

void abort_test(const char *why)
{
    printf("ABORT: %s\n", why);
    exit(EXIT_FAIL);
}

/* ---- Memory and strings. ---- */
void *memset(void *d, int c, size_t n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (u8)*a - (u8)*b;
}

void spin_lock(struct spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (l->locked)
            pause();
}

void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* ---- IDT, TSS, exceptions. ---- */
struct idt_gate {
    u16 offset0, selector;
    u8 ist, type_attr;
    u16 offset1;
    u32 offset2, reserved;
};

struct tss64 {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3, iomap_base;
} __attribute__((packed));

extern char isr_stubs[];
extern char exc_stack_top[];
extern char user_return[];
extern char syscall_entry[];
extern u64 user_saved_rsp;
extern u64 gdt_tss[2];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static handler_t handlers[256];
volatile struct exc_record last_exc = { .vector = -1 };
volatile u64 exc_fixup;
long (*syscall_hook)(long a0, long a1, long nr);

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "coproc", "#TS", "#NP",
    "#SS", "#GP", "#PF", "res15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

static void set_gate(int vector, int dpl)
{
    u64 addr = (u64)(isr_stubs + 16 * vector);
    idt[vector] = (struct idt_gate){
        .offset0 = (u16)addr,
        .selector = SEL_KCODE64,
        .ist = 0,
        .type_attr = (u8)(0x8e | (dpl << 5)),   /* present, 64-bit interrupt gate */
        .offset1 = (u16)(addr >> 16),
        .offset2 = (u32)(addr >> 32),
    };
}

void set_gate_dpl(int vector, int dpl)
{
    set_gate(vector, dpl);
}

void set_handler(int vector, handler_t h)
{
    handlers[vector] = h;
}

void lib_load_idt(void)
{
    struct {
        u16 limit;
        u64 base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (u64)idt };
    asm volatile("lidt %0" : : "m"(desc));
}

void lib_init_bsp(void)
{
    serial_init();
    for (int v = 0; v < 256; v++)
        set_gate(v, 0);
    set_gate(USER_RETURN_VECTOR, 3);
    lib_load_idt();

    tss.rsp[0] = (u64)exc_stack_top;
    tss.iomap_base = sizeof(tss);   /* no I/O bitmap: ring 3 port access is #GP */
    u64 base = (u64)&tss, limit = sizeof(tss) - 1;
    gdt_tss[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40)
                 | (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt_tss[1] = base >> 32;
    asm volatile("ltr %w0" : : "r"(SEL_TSS));
}

void exc_arm(void *fixup)
{
    last_exc.vector = -1;
    exc_fixup = (u64)fixup;
}

void idt_dispatch(struct frame *f)
{
    int v = (int)f->vector;
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v == USER_RETURN_VECTOR && (f->cs & 3) == 3) {
        /* The end of run_in_user: resume its ring-0 tail with the user result in RAX. */
        f->rax = f->rdi;
        f->rip = (u64)user_return;
        f->cs = SEL_KCODE64;
        f->ss = SEL_KDATA;
        f->rsp = user_saved_rsp;
        return;
    }
    if (exc_fixup) {
        last_exc.vector = v;
        last_exc.error_code = f->error_code;
        last_exc.rip = f->rip;
        last_exc.cr2 = read_cr2();
        last_exc.cs = f->cs;
        f->rip = exc_fixup;
        exc_fixup = 0;
        return;
    }
    printf("unexpected exception %d (%s) error 0x%lx at rip 0x%lx cs 0x%lx cr2 0x%lx\n", v,
           v < 32 && exception_names[v] ? exception_names[v] : "irq", f->error_code, f->rip,
           f->cs, read_cr2());
    printf("SUMMARY: unexpected exception\n");
    exit(EXIT_FAIL);
}

int rdmsr_safe(u32 idx, u64 *v)
{
    u32 lo = 0, hi = 0;
    asm volatile(ASM_TRY("1f") "rdmsr\n1:" : "=a"(lo), "=d"(hi) : "c"(idx) : "memory");
    *v = lo | ((u64)hi << 32);
    return last_exc.vector;
}

int wrmsr_safe(u32 idx, u64 v)
{
    asm volatile(ASM_TRY("1f") "wrmsr\n1:"
                 : : "c"(idx), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
    return last_exc.vector;
}

long syscall_handler(long a0, long a1, long nr)
{
    return syscall_hook ? syscall_hook(a0, a1, nr) : -1;
}

void lib_enable_syscall(u64 fmask)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* SYSCALL loads CS = STAR[47:32], SS = +8; SYSRETQ loads CS = STAR[63:48] + 16, SS = +8. */
    wrmsr(MSR_STAR, ((u64)(SEL_UCODE32 | 3) << 48) | ((u64)SEL_KCODE64 << 32));
    wrmsr(MSR_LSTAR, (u64)syscall_entry);
    wrmsr(MSR_FMASK, fmask);
}

/* ---- Paging. ---- */
#define PAGE_POOL_PAGES 64
static u8 page_pool[PAGE_POOL_PAGES][4096] __attribute__((aligned(4096)));
static int pages_used;

void *alloc_page(void)
{
    if (pages_used == PAGE_POOL_PAGES)
        abort_test("alloc_page: page pool exhausted");
    void *p = page_pool[pages_used++];
    memset(p, 0, 4096);
    return p;
}

#define ADDR_MASK 0x000ffffffffff000ULL

static u64 *next_table(u64 *entry)
{
    if (!(*entry & PTE_P)) {
        *entry = (u64)alloc_page() | PTE_DIR;
    } else if (*entry & PTE_PS) {
        /* Split a large page into 512 pages of the next size, with the same attributes. */
        u64 *t = alloc_page();
        u64 big = *entry;
        u64 base = big & ADDR_MASK & ~0x1fffffULL;
        u64 attrs = big & ~ADDR_MASK & ~(u64)PTE_PS;
        for (int i = 0; i < 512; i++)
            t[i] = (base + ((u64)i << 12)) | attrs;
        *entry = (u64)t | PTE_DIR;
    }
    return (u64 *)(*entry & ADDR_MASK);
}

u64 *pte_for(u64 va)
{
    u64 *t = pml4;
    for (int shift = 39; shift > 12; shift -= 9) {
        u64 *e = &t[(va >> shift) & 511];
        if (shift == 30 && (*e & PTE_PS))
            abort_test("pte_for: 1 GiB pages are not split");
        t = next_table(e);
    }
    return &t[(va >> 12) & 511];
}

void map_4k(u64 va, u64 pa, u64 flags)
{
    u64 *pte = pte_for(va);
    *pte = (pa & ADDR_MASK) | flags;
    invlpg((void *)va);
}

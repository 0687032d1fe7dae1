/*
 * acpi.elf: what an operating system does with tscvm's PC platform. Finds the RSDP by
 * scanning the BIOS area, walks the XSDT to the MADT and the FADT (checking every checksum),
 * routes the PIT through the I/O APIC (ISA IRQ 0 on the GSI the MADT's override names) to a
 * vector and counts its interrupts, measures the TSC against the ACPI PM timer, and powers
 * off through PM1a_CNT with the DSDT's \_S5 sleep type: a run that passes ends with status 0.
 * Any failure exits through isa-debug-exit instead (status 3).
 */
#include "lib.h"

#define BIOS_AREA_START 0xe0000UL
#define BIOS_AREA_END 0x100000UL
#define PM_TIMER_HZ 3579545ULL
#define PIT_HZ 1193182ULL
#define PIT_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff
#define PIT_TICKS_WANTED 10
#define CALIBRATION_PM_TICKS (PM_TIMER_HZ / 20)   /* 50 ms */
#define TOLERANCE_PPM 500
#define GIVE_UP_CYCLES 20000000000ULL

#define APIC_BASE_ADDR 0xfee00000UL
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_SVR_ENABLE 0x100

#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))
#define FADT_TMR_VAL_EXT (1u << 8)
#define PM1_SLP_EN (1u << 13)

struct __attribute__((packed)) rsdp {
    char signature[8];
    u8 checksum;
    char oem[6];
    u8 revision;
    u32 rsdt;
    u32 length;
    u64 xsdt;
    u8 extended_checksum;
    u8 reserved[3];
};

struct __attribute__((packed)) sdt {
    char signature[4];
    u32 length;
    u8 revision, checksum;
    char oem[6], oem_table[8];
    u32 oem_revision, creator, creator_revision;
};

static u8 sum(const void *p, u32 length)
{
    const u8 *b = p;
    u8 s = 0;
    for (u32 i = 0; i < length; i++)
        s += b[i];
    return s;
}

static struct rsdp *find_rsdp(void)
{
    for (u64 a = BIOS_AREA_START; a < BIOS_AREA_END; a += 16) {
        struct rsdp *r = (struct rsdp *)a;
        if (!memcmp(r->signature, "RSD PTR ", 8) && sum(r, 20) == 0)
            return r;
    }
    return 0;
}

static struct sdt *find_table(struct sdt *xsdt, const char *signature)
{
    u32 entries = (xsdt->length - sizeof(*xsdt)) / 8;
    u64 *table = (u64 *)(xsdt + 1);
    for (u32 i = 0; i < entries; i++) {
        struct sdt *t = (struct sdt *)table[i];
        if (!memcmp(t->signature, signature, 4))
            return t;
    }
    return 0;
}

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE_ADDR + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE_ADDR + reg) = v; }

static volatile u32 *ioapic;
static u32 ioapic_read(u32 reg) { ioapic[0] = reg; return ioapic[4]; }
static void ioapic_write(u32 reg, u32 v) { ioapic[0] = reg; ioapic[4] = v; }

static volatile int pit_ticks;

static void pit_handler(struct frame *f)
{
    (void)f;
    pit_ticks++;
    apic_write(APIC_EOI, 0);
}

static void spurious_handler(struct frame *f)
{
    (void)f;
}

/* What the MADT says: the I/O APIC, the GSI of ISA IRQ 0, the processors. */
static u64 ioapic_address;
static u32 pit_gsi;
static int cpus, lint1_nmis;

static void parse_madt(struct sdt *madt)
{
    u8 *p = (u8 *)madt + sizeof(*madt) + 8;
    u8 *end = (u8 *)madt + madt->length;
    pit_gsi = 0; /* identity unless overridden */
    for (; p < end; p += p[1]) {
        switch (p[0]) {
        case 0: cpus += (*(u32 *)(p + 4) & 1); break;
        case 1: ioapic_address = *(u32 *)(p + 4); break;
        case 2: if (p[2] == 0 && p[3] == 0) pit_gsi = *(u32 *)(p + 4); break;
        case 4: if (p[5] == 1) lint1_nmis++; break;
        }
    }
}

/* The two SLP_TYP values of Name(_S5, Package(){a, b, ...}) in the DSDT's AML. */
static int s5_sleep_type(struct sdt *dsdt, u32 *slp_typ)
{
    u8 *aml = (u8 *)(dsdt + 1);
    u8 *end = (u8 *)dsdt + dsdt->length;
    for (u8 *p = aml; p + 8 < end; p++) {
        if (p[0] != 0x08 || memcmp(p + 1, "_S5_", 4) || p[5] != 0x12)
            continue;
        u8 *e = p + 8; /* NameOp, name, PackageOp, PkgLength, NumElements */
        if (*e == 0x0a)
            e++;       /* BytePrefix; ZeroOp and OneOp stand for themselves */
        *slp_typ = *e;
        return 1;
    }
    return 0;
}

static u32 pm_timer(u16 port) { return inl(port); }

/*
 * The TSC's kHz measured against the PM timer (32 bits wide when the FADT sets TMR_VAL_EXT):
 * both ends are taken right after the timer ticks, so the window is a whole number of PM
 * timer periods and, on the deterministic clock, the result is exact.
 */
static u64 pm_calibrate_khz(u16 port, u32 mask)
{
    u32 start = pm_timer(port), now;
    while ((now = pm_timer(port)) == start)
        ;
    start = now;
    u64 t1 = rdtsc();
    do {
        now = pm_timer(port);
    } while (((now - start) & mask) < CALIBRATION_PM_TICKS);
    u64 t2 = rdtsc();
    u64 pm_ticks = (now - start) & mask;
    return ((t2 - t1) * PM_TIMER_HZ + pm_ticks * 500) / pm_ticks / 1000; /* rounded */
}

int main(void)
{
    struct rsdp *rsdp = find_rsdp();
    report("RSDP found by scanning 0xE0000-0xFFFFF", rsdp != 0);
    if (!rsdp)
        exit(report_summary());
    printf("RSDP at %p, revision %d\n", (void *)rsdp, rsdp->revision);
    report("RSDP v2 extended checksum", rsdp->revision >= 2 && sum(rsdp, rsdp->length) == 0);

    struct sdt *xsdt = (struct sdt *)rsdp->xsdt;
    report("XSDT checksum", !memcmp(xsdt->signature, "XSDT", 4) && sum(xsdt, xsdt->length) == 0);
    struct sdt *madt = find_table(xsdt, "APIC");
    struct sdt *fadt = find_table(xsdt, "FACP");
    report("MADT and FADT listed, checksums good",
           madt && fadt && sum(madt, madt->length) == 0 && sum(fadt, fadt->length) == 0);
    if (!madt || !fadt)
        exit(report_summary());

    parse_madt(madt);
    u8 *f = (u8 *)fadt;
    u16 pm1a_cnt = *(u32 *)(f + 64);
    u16 pm_tmr = *(u32 *)(f + 76);
    u32 flags = *(u32 *)(f + 112);
    struct sdt *dsdt = (struct sdt *)*(u64 *)(f + 140);
    printf("MADT: %d cpus, I/O APIC at 0x%lx, PIT on GSI %u; FADT: PM1a_CNT 0x%x PM_TMR 0x%x flags 0x%x\n",
           cpus, ioapic_address, pit_gsi, pm1a_cnt, pm_tmr, flags);
    report("MADT: one processor per vCPU, an I/O APIC, LINT1 NMI",
           cpus == fw_cfg_cpu_count() && ioapic_address && lint1_nmis == 1);
    u32 slp_typ = ~0u;
    report("DSDT checksum and \\_S5",
           !memcmp(dsdt->signature, "DSDT", 4) && sum(dsdt, dsdt->length) == 0 && s5_sleep_type(dsdt, &slp_typ));

    /* The PIT through the I/O APIC: mask both 8259s, route the GSI as edge, active high, fixed. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    set_handler(PIT_VECTOR, pit_handler);
    set_handler(SPURIOUS_VECTOR, spurious_handler);
    apic_write(APIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
    ioapic = (volatile u32 *)ioapic_address;
    report("I/O APIC version 0x11 with 24 entries", (ioapic_read(1) & 0xff) == 0x11 && ((ioapic_read(1) >> 16) & 0xff) == 23);
    u32 bsp = apic_read(APIC_ID) >> 24;
    ioapic_write(IOAPIC_REDIR(pit_gsi) + 1, bsp << 24);
    ioapic_write(IOAPIC_REDIR(pit_gsi), PIT_VECTOR);
    u32 divisor = PIT_HZ / 1000;             /* 1 kHz, mode 2 */
    outb(0x43, 0x34);
    outb(0x40, divisor & 0xff);
    outb(0x40, divisor >> 8);
    u64 give_up = rdtsc() + GIVE_UP_CYCLES;
    sti();
    while (pit_ticks < PIT_TICKS_WANTED && rdtsc() < give_up)
        asm volatile("hlt");
    cli();
    outb(0x43, 0x30);                        /* counter 0 back to mode 0: no more ticks */
    ioapic_write(IOAPIC_REDIR(pit_gsi), PIT_VECTOR | (1u << 16));
    printf("PIT ticks through the I/O APIC: %d\n", pit_ticks);
    report("PIT interrupts arrive through the I/O APIC", pit_ticks >= PIT_TICKS_WANTED);

    u32 mask = (flags & FADT_TMR_VAL_EXT) ? 0xffffffffu : 0xffffffu;
    u64 cpuid_khz = cpuid(0x40000010).a, khz = 0, diff = ~0ULL;
    for (int i = 0; i < 3; i++) {
        /* Keep the measurement nearest CPUID's: a host hiccup only ever spoils one. */
        u64 k = pm_calibrate_khz(pm_tmr, mask);
        u64 d = k > cpuid_khz ? k - cpuid_khz : cpuid_khz - k;
        printf("PM timer calibration %d: %lu kHz\n", i, k);
        if (d < diff) {
            diff = d;
            khz = k;
        }
    }
    printf("pm_khz=%lu cpuid_khz=%lu\n", khz, cpuid_khz);
    report("PM-timer-calibrated TSC kHz within 500 ppm of CPUID 0x40000010",
           cpuid_khz && diff * 1000000 / cpuid_khz <= TOLERANCE_PPM);

    int verdict = report_summary();
    if (verdict != EXIT_PASS)
        exit(verdict);
    printf("powering off through PM1a_CNT\n");
    outw(pm1a_cnt, (slp_typ << 10) | PM1_SLP_EN);
    abort_test("still running after SLP_EN");
}

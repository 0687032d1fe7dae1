package org.tscvm.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The ACPI tables of one machine, laid out as one image for a given physical address (ACPI
 * 6.5 chapter 5): RSDP v2 first, then the FACS, RSDT, XSDT, FADT, MADT and DSDT, each
 * aligned and checksummed. The RSDP sits at the image's start, so an image placed on a
 * 16-byte boundary in 0xE0000-0xFFFFF is where the BIOS-area scan of Linux and kvm-unit-tests
 * finds it.
 *
 * <pre>{@code
 * AcpiTables tables = AcpiTables.build(platform, 0xe0000);
 * memory.load(tables.base(), tables.image(), 0, tables.image().length);
 * long rsdp = tables.rsdpAddress();
 * }</pre>
 *
 * <p>Choices, after QEMU's {@code pc}: FADT revision 3 (ACPI 2.0, 244 bytes, with the X_
 * fields and RESET_REG), SMI_CMD = 0 so the machine is in ACPI mode from the start, a 32-bit
 * PM timer, no GPE blocks, IAPC_BOOT_ARCH = legacy devices without an 8042 (the keyboard
 * controller is there for reset only); MADT overrides IRQ 0 -> the timer GSI and the SCI
 * level/active-high, and a local APIC NMI on LINT1 of every processor.
 */
public final class AcpiTables {
    public static final String OEM_ID = "TSCVM ";
    public static final String OEM_TABLE_ID = "TSCVMPC ";
    private static final String CREATOR_ID = "TSCV";
    private static final int OEM_REVISION = 1;
    private static final int CREATOR_REVISION = 1;

    public static final int HEADER_LENGTH = 36;
    public static final int RSDP_LENGTH = 36;
    /** The checksum of an RSDP v1 covers its first 20 bytes. */
    public static final int RSDP_V1_LENGTH = 20;
    public static final int FACS_LENGTH = 64;
    private static final int FACS_OFFSET = 64;
    public static final int FADT_LENGTH = 244;
    public static final int FADT_REVISION = 3;

    // FADT flags (ACPI 6.5 table 5.10).
    public static final int FADT_WBINVD = 1;
    public static final int FADT_PROC_C1 = 1 << 2;
    public static final int FADT_PWR_BUTTON = 1 << 4;
    public static final int FADT_SLP_BUTTON = 1 << 5;
    public static final int FADT_TMR_VAL_EXT = 1 << 8;
    public static final int FADT_RESET_REG_SUP = 1 << 10;
    public static final int IAPC_BOOT_ARCH_LEGACY_DEVICES = 1;
    /** P_LVL2_LAT above 100 and P_LVL3_LAT above 1000 say C2 and C3 are not supported. */
    private static final int NO_C_STATE_LATENCY = 0x0fff;

    // Generic address structure.
    public static final int GAS_SYSTEM_IO = 1;
    private static final int ACCESS_BYTE = 1;
    private static final int ACCESS_WORD = 2;
    private static final int ACCESS_DWORD = 3;

    // MADT.
    public static final int MADT_PCAT_COMPAT = 1;
    public static final int MADT_LOCAL_APIC = 0;
    public static final int MADT_IO_APIC = 1;
    public static final int MADT_INTERRUPT_OVERRIDE = 2;
    public static final int MADT_LOCAL_APIC_NMI = 4;
    public static final int LOCAL_APIC_ENABLED = 1;
    /** MPS INTI flags: polarity active-high (01), trigger level (11 << 2). */
    public static final int INTI_ACTIVE_HIGH_LEVEL = 0x000d;
    /** The PIT's ISA IRQ. */
    public static final int PIT_IRQ = 0;
    /** ACPI processor UID 0xFF: every processor. */
    private static final int ALL_PROCESSORS = 0xff;
    private static final int LINT1 = 1;

    private final long base;
    private final byte[] image;

    private AcpiTables(long base, byte[] image) {
        this.base = base;
        this.image = image;
    }

    /**
     * Lays out the tables for {@code platform} at physical address {@code base}.
     *
     * @throws IllegalArgumentException if {@code base} is not 16-byte aligned or the image
     *         would not fit below 4 GiB (the RSDT and FADT hold 32-bit addresses)
     */
    public static AcpiTables build(AcpiPlatform platform, long base) {
        if ((base & 15) != 0 || base < 0 || base + 0x1000 > 0x1_0000_0000L) {
            throw new IllegalArgumentException(String.format(
                    "ACPI tables at 0x%x: need a 16-byte aligned address below 4 GiB", base));
        }
        byte[] dsdt = dsdt(platform);
        byte[] madt = madt(platform);
        // Offsets in the image: the FACS must be 64-byte aligned, the rest 16.
        int facsAt = FACS_OFFSET;
        int rsdtAt = facsAt + FACS_LENGTH;
        int rsdtLength = HEADER_LENGTH + 2 * 4;
        int xsdtAt = align16(rsdtAt + rsdtLength);
        int xsdtLength = HEADER_LENGTH + 2 * 8;
        int fadtAt = align16(xsdtAt + xsdtLength);
        int madtAt = align16(fadtAt + FADT_LENGTH);
        int dsdtAt = align16(madtAt + madt.length);
        int end = align16(dsdtAt + dsdt.length);

        byte[] image = new byte[end];
        long fadtAddress = base + fadtAt;
        long madtAddress = base + madtAt;
        put(image, 0, rsdp(base + rsdtAt, base + xsdtAt));
        put(image, facsAt, facs());
        put(image, rsdtAt, rsdt(fadtAddress, madtAddress));
        put(image, xsdtAt, xsdt(fadtAddress, madtAddress));
        put(image, fadtAt, fadt(platform, base + facsAt, base + dsdtAt));
        put(image, madtAt, madt);
        put(image, dsdtAt, dsdt);
        return new AcpiTables(base, image);
    }

    /** Where the image starts (physical). */
    public long base() {
        return base;
    }

    /** The image to copy to {@link #base()}. */
    public byte[] image() {
        return image.clone();
    }

    /** The FACS's physical address: its firmware_waking_vector (offset 12) is where S3 resumes. */
    public long facsAddress() {
        return base + FACS_OFFSET;
    }

    /** The RSDP's physical address, for loaders that pass it on (boot_params.acpi_rsdp_addr, PVH). */
    public long rsdpAddress() {
        return base; // the RSDP opens the image
    }

    private static int align16(int offset) {
        return (offset + 15) & ~15;
    }

    private static void put(byte[] image, int at, byte[] table) {
        System.arraycopy(table, 0, image, at, table.length);
    }

    /** The byte that makes {@code bytes[from, from+length)} sum to 0 mod 256. */
    public static byte checksum(byte[] bytes, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += bytes[i];
        }
        return (byte) -sum;
    }

    private static ByteBuffer buffer(int length) {
        return ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void ascii(ByteBuffer b, String text) {
        b.put(text.getBytes(StandardCharsets.US_ASCII));
    }

    /** The common 36-byte header; the checksum (offset 9) is filled by {@link #sealed}. */
    private static ByteBuffer table(String signature, int length, int revision) {
        ByteBuffer b = buffer(length);
        ascii(b, signature);
        b.putInt(length);
        b.put((byte) revision);
        b.put((byte) 0);
        ascii(b, OEM_ID);
        ascii(b, OEM_TABLE_ID);
        b.putInt(OEM_REVISION);
        ascii(b, CREATOR_ID);
        b.putInt(CREATOR_REVISION);
        return b;
    }

    private static byte[] sealed(ByteBuffer b) {
        byte[] bytes = b.array();
        bytes[9] = checksum(bytes, 0, bytes.length);
        return bytes;
    }

    static byte[] rsdp(long rsdtAddress, long xsdtAddress) {
        ByteBuffer b = buffer(RSDP_LENGTH);
        ascii(b, "RSD PTR ");
        b.put((byte) 0); // checksum of the first 20 bytes
        ascii(b, OEM_ID);
        b.put((byte) 2); // revision 2: ACPI 2.0+, with the XSDT
        b.putInt((int) rsdtAddress);
        b.putInt(RSDP_LENGTH);
        b.putLong(xsdtAddress);
        byte[] bytes = b.array();
        bytes[8] = checksum(bytes, 0, RSDP_V1_LENGTH);
        bytes[32] = checksum(bytes, 0, RSDP_LENGTH);
        return bytes;
    }

    static byte[] facs() {
        // No checksum; waking vectors, global lock and flags all 0.
        ByteBuffer b = buffer(FACS_LENGTH);
        ascii(b, "FACS");
        b.putInt(FACS_LENGTH);
        b.position(32);
        b.put((byte) 2); // version
        return b.array();
    }

    static byte[] rsdt(long... tables) {
        ByteBuffer b = table("RSDT", HEADER_LENGTH + 4 * tables.length, 1);
        for (long t : tables) {
            b.putInt((int) t);
        }
        return sealed(b);
    }

    static byte[] xsdt(long... tables) {
        ByteBuffer b = table("XSDT", HEADER_LENGTH + 8 * tables.length, 1);
        for (long t : tables) {
            b.putLong(t);
        }
        return sealed(b);
    }

    static byte[] fadt(AcpiPlatform p, long facsAddress, long dsdtAddress) {
        ByteBuffer b = table("FACP", FADT_LENGTH, FADT_REVISION);
        b.putInt((int) facsAddress);          // 36 FIRMWARE_CTRL
        b.putInt((int) dsdtAddress);          // 40 DSDT
        b.put((byte) 0);                      // 44 reserved
        b.put((byte) 0);                      // 45 preferred PM profile: unspecified
        b.putShort((short) p.sciIrq());       // 46 SCI_INT
        b.putInt(0);                          // 48 SMI_CMD: none, ACPI mode always on
        b.putInt(0);                          // 52 ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
        b.putInt(p.pm1aEventPort());          // 56 PM1a_EVT_BLK
        b.putInt(0);                          // 60 PM1b_EVT_BLK
        b.putInt(p.pm1aControlPort());        // 64 PM1a_CNT_BLK
        b.putInt(0);                          // 68 PM1b_CNT_BLK
        b.putInt(0);                          // 72 PM2_CNT_BLK
        b.putInt(p.pmTimerPort());            // 76 PM_TMR_BLK
        b.putInt(0);                          // 80 GPE0_BLK
        b.putInt(0);                          // 84 GPE1_BLK
        b.put((byte) 4);                      // 88 PM1_EVT_LEN
        b.put((byte) 2);                      // 89 PM1_CNT_LEN
        b.put((byte) 0);                      // 90 PM2_CNT_LEN
        b.put((byte) 4);                      // 91 PM_TMR_LEN
        b.putInt(0);                          // 92 GPE0_BLK_LEN, GPE1_BLK_LEN, GPE1_BASE, CST_CNT
        b.putShort((short) NO_C_STATE_LATENCY); // 96 P_LVL2_LAT
        b.putShort((short) NO_C_STATE_LATENCY); // 98 P_LVL3_LAT
        b.putInt(0);                          // 100 FLUSH_SIZE, FLUSH_STRIDE
        b.put((byte) 0);                      // 104 DUTY_OFFSET
        b.put((byte) 0);                      // 105 DUTY_WIDTH
        b.put((byte) 0);                      // 106 DAY_ALRM
        b.put((byte) 0);                      // 107 MON_ALRM
        b.put((byte) p.rtcCenturyIndex());    // 108 CENTURY
        b.putShort((short) IAPC_BOOT_ARCH_LEGACY_DEVICES); // 109 IAPC_BOOT_ARCH
        b.put((byte) 0);                      // 111 reserved
        b.putInt(FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_TMR_VAL_EXT
                | FADT_RESET_REG_SUP);        // 112 flags
        gas(b, 8, ACCESS_BYTE, p.resetPort()); // 116 RESET_REG
        b.put((byte) p.resetValue());         // 128 RESET_VALUE
        b.position(132);                      // 129-131 reserved
        b.putLong(facsAddress);               // 132 X_FIRMWARE_CTRL
        b.putLong(dsdtAddress);               // 140 X_DSDT
        gas(b, 32, ACCESS_WORD, p.pm1aEventPort());   // 148 X_PM1a_EVT_BLK
        gas(b, 0, 0, 0);                               // 160 X_PM1b_EVT_BLK
        gas(b, 16, ACCESS_WORD, p.pm1aControlPort()); // 172 X_PM1a_CNT_BLK
        gas(b, 0, 0, 0);                               // 184 X_PM1b_CNT_BLK
        gas(b, 0, 0, 0);                               // 196 X_PM2_CNT_BLK
        gas(b, 32, ACCESS_DWORD, p.pmTimerPort());    // 208 X_PM_TMR_BLK
        gas(b, 0, 0, 0);                               // 220 X_GPE0_BLK
        gas(b, 0, 0, 0);                               // 232 X_GPE1_BLK
        return sealed(b);
    }

    /** A generic address structure in system I/O space (all zeros for "not present"). */
    private static void gas(ByteBuffer b, int bitWidth, int accessSize, long port) {
        b.put((byte) (port == 0 ? 0 : GAS_SYSTEM_IO));
        b.put((byte) bitWidth);
        b.put((byte) 0); // bit offset
        b.put((byte) accessSize);
        b.putLong(port);
    }

    static byte[] madt(AcpiPlatform p) {
        int length = HEADER_LENGTH + 8 + 8 * p.cpus() + 12 + 2 * 10 + 6;
        ByteBuffer b = table("APIC", length, 1);
        b.putInt((int) p.localApicAddress());
        b.putInt(MADT_PCAT_COMPAT);
        for (int cpu = 0; cpu < p.cpus(); cpu++) {
            b.put((byte) MADT_LOCAL_APIC).put((byte) 8);
            b.put((byte) cpu);                // ACPI processor UID
            b.put((byte) cpu);                // APIC ID
            b.putInt(LOCAL_APIC_ENABLED);
        }
        b.put((byte) MADT_IO_APIC).put((byte) 12);
        b.put((byte) p.ioApicId()).put((byte) 0);
        b.putInt((int) p.ioApicAddress());
        b.putInt(0);                          // GSI base
        interruptOverride(b, PIT_IRQ, p.timerGsi(), 0); // flags 0: conforms to the bus (ISA: edge, high)
        interruptOverride(b, p.sciIrq(), p.sciIrq(), INTI_ACTIVE_HIGH_LEVEL);
        b.put((byte) MADT_LOCAL_APIC_NMI).put((byte) 6);
        b.put((byte) ALL_PROCESSORS);
        b.putShort((short) 0);                // flags: conforms
        b.put((byte) LINT1);
        return sealed(b);
    }

    private static void interruptOverride(ByteBuffer b, int irq, int gsi, int flags) {
        b.put((byte) MADT_INTERRUPT_OVERRIDE).put((byte) 10);
        b.put((byte) 0);                      // bus 0: ISA
        b.put((byte) irq);
        b.putInt(gsi);
        b.putShort((short) flags);
    }

    // AML encodings (ACPI 6.5 chapter 20) for the few objects the DSDT holds.
    private static final int AML_ONE_OP = 0x01, AML_ZERO_OP = 0x00;
    private static final int AML_NAME_OP = 0x08;
    private static final int AML_BYTE_PREFIX = 0x0a;
    private static final int AML_DWORD_PREFIX = 0x0c;
    private static final int AML_SCOPE_OP = 0x10;
    private static final int AML_BUFFER_OP = 0x11;
    private static final int AML_PACKAGE_OP = 0x12;
    private static final int AML_EXT_OP_PREFIX = 0x5b;
    private static final int AML_DEVICE_OP = 0x82;
    private static final int AML_ROOT_CHAR = 0x5c;
    /** A one-byte PkgLength holds lengths below 64 (bits 7:6 = 0). */
    private static final int AML_ONE_BYTE_PKG_LENGTH_LIMIT = 64;
    /** EisaId("PNP0A03"), a PCI host bridge: compressed "PNP" then product 0x0A03, as stored. */
    private static final int EISA_ID_PNP0A03 = 0x030a_d041;
    /**
     * The host bridge's _CRS: WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
     * granularity 0, buses 0-0xFF, translation 0, length 0x100), then the end tag (ACPI 6.5
     * 6.4.3.5.3 and 6.4.2.9). Linux reads the root bus range from it.
     */
    private static final byte[] PCI0_RESOURCES = {
        (byte) 0x88, 0x0d, 0x00,     // word address space descriptor, 13 bytes follow
        0x02,                        // resource type: bus number range
        0x0c,                        // general flags: MaxFixed, MinFixed, producer
        0x00,                        // type-specific flags
        0x00, 0x00,                  // granularity
        0x00, 0x00,                  // minimum: bus 0
        (byte) 0xff, 0x00,           // maximum: bus 0xFF
        0x00, 0x00,                  // translation offset
        0x00, 0x01,                  // length: 0x100 buses
        0x79, 0x00};                 // end tag, checksum 0 ("treated as correct")

    /**
     * The DSDT, revision 2 (64-bit AML integers), holds three things:
     * {@code Name (_S3, Package (4) {T, T, 0, 0})} and {@code Name (_S5, ...)} with T the
     * SLP_TYP of suspend to RAM and of soft-off, so the operating system can sleep and power
     * off, and {@code Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId
     * ("PNP0A03")) Name (_UID, 0) Name (_CRS, ResourceTemplate () { WordBusNumber (...) }) }
     * }}, the PCI host bridge and its bus range, without which an ACPI operating system does
     * not scan PCI bus 0 (Linux scans only root bridges the namespace declares).
     */
    /** {@code Name (_Sx, Package (4) {T, T, 0, 0})}: the SLP_TYP values for PM1a and PM1b. */
    private static void sleepPackage(ByteBuffer aml, String name, int sleepType) {
        byte[] slpTyp = sleepType == 0 ? new byte[] {AML_ZERO_OP}
                : sleepType == 1 ? new byte[] {AML_ONE_OP}
                : new byte[] {AML_BYTE_PREFIX, (byte) sleepType};
        aml.put((byte) AML_NAME_OP);
        ascii(aml, name);
        aml.put((byte) AML_PACKAGE_OP).put(pkgLength(1 + 2 * slpTyp.length + 2)).put((byte) 4);
        aml.put(slpTyp).put(slpTyp);
        aml.put((byte) AML_ZERO_OP).put((byte) AML_ZERO_OP);
    }

    static byte[] dsdt(AcpiPlatform p) {
        ByteBuffer aml = buffer(144);
        sleepPackage(aml, "_S3_", p.s3SleepType());
        sleepPackage(aml, "_S5_", p.s5SleepType());

        ByteBuffer device = buffer(64);
        ascii(device, "PCI0");
        device.put((byte) AML_NAME_OP);
        ascii(device, "_HID");
        device.put((byte) AML_DWORD_PREFIX).putInt(EISA_ID_PNP0A03);
        device.put((byte) AML_NAME_OP);
        ascii(device, "_UID");
        device.put((byte) AML_ZERO_OP);
        device.put((byte) AML_NAME_OP);
        ascii(device, "_CRS");
        device.put((byte) AML_BUFFER_OP).put(pkgLength(2 + PCI0_RESOURCES.length));
        device.put((byte) AML_BYTE_PREFIX).put((byte) PCI0_RESOURCES.length).put(PCI0_RESOURCES);
        int deviceLength = device.position();
        int scopeBody = 5 + 2 + 1 + deviceLength; // \_SB_, DeviceOp, PkgLength, device
        aml.put((byte) AML_SCOPE_OP).put(pkgLength(scopeBody)).put((byte) AML_ROOT_CHAR);
        ascii(aml, "_SB_");
        aml.put((byte) AML_EXT_OP_PREFIX).put((byte) AML_DEVICE_OP).put(pkgLength(deviceLength));
        aml.put(device.array(), 0, deviceLength);

        int amlLength = aml.position();
        ByteBuffer b = table("DSDT", HEADER_LENGTH + amlLength, 2);
        b.put(aml.array(), 0, amlLength);
        return sealed(b);
    }

    /** A one-byte PkgLength for {@code contents} bytes after it: the byte counts itself. */
    private static byte pkgLength(int contents) {
        int length = contents + 1;
        if (length >= AML_ONE_BYTE_PKG_LENGTH_LIMIT) {
            throw new IllegalStateException("AML package of " + length + " bytes needs a longer PkgLength");
        }
        return (byte) length;
    }
}

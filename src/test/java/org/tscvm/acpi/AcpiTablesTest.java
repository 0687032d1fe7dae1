package org.tscvm.acpi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Parses the image back as an operating system would: RSDP, XSDT/RSDT, then every table. */
class AcpiTablesTest {
    private static final long BASE = 0xe0000;
    private static final AcpiPlatform PLATFORM = new AcpiPlatform(3, 0xfee00000L, 0, 0xfec00000L, 2, 9,
            0x600, 0x604, 0x608, 0xcf9, 0x06, 1, 0, 0x32);

    private final AcpiTables tables = AcpiTables.build(PLATFORM, BASE);
    private final byte[] image = tables.image();
    private final ByteBuffer mem = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);

    private int at(long address) {
        assertThat(address).isBetween(BASE, BASE + image.length - 1);
        return (int) (address - BASE);
    }

    private String ascii(int offset, int length) {
        return new String(image, offset, length, StandardCharsets.US_ASCII);
    }

    private static int sum(byte[] bytes, int from, int length) {
        int s = 0;
        for (int i = from; i < from + length; i++) {
            s += bytes[i];
        }
        return s & 0xff;
    }

    /** Checks a table's header, length and checksum; returns its length. */
    private int checkTable(int offset, String signature) {
        assertThat(ascii(offset, 4)).isEqualTo(signature);
        int length = mem.getInt(offset + 4);
        assertThat(length).isGreaterThanOrEqualTo(AcpiTables.HEADER_LENGTH);
        assertThat(offset + length).isLessThanOrEqualTo(image.length);
        assertThat(sum(image, offset, length)).as(signature + " checksum").isZero();
        assertThat(ascii(offset + 10, 6)).isEqualTo(AcpiTables.OEM_ID);
        return length;
    }

    private Map<String, Integer> tablesFromXsdt() {
        int xsdt = at(mem.getLong(24));
        int length = checkTable(xsdt, "XSDT");
        Map<String, Integer> found = new HashMap<>();
        for (int p = xsdt + AcpiTables.HEADER_LENGTH; p < xsdt + length; p += 8) {
            int table = at(mem.getLong(p));
            found.put(ascii(table, 4), table);
        }
        return found;
    }

    @Test
    void theRsdpOpensTheImageOnA16ByteBoundaryWithBothChecksums() {
        assertThat(tables.rsdpAddress()).isEqualTo(BASE);
        assertThat(tables.rsdpAddress() % 16).isZero();
        assertThat(ascii(0, 8)).isEqualTo("RSD PTR ");
        assertThat(sum(image, 0, AcpiTables.RSDP_V1_LENGTH)).isZero();
        assertThat(sum(image, 0, AcpiTables.RSDP_LENGTH)).isZero();
        assertThat(image[15]).isEqualTo((byte) 2);
        assertThat(mem.getInt(20)).isEqualTo(AcpiTables.RSDP_LENGTH);
    }

    @Test
    void rsdtAndXsdtListTheFadtAndTheMadt() {
        Map<String, Integer> fromXsdt = tablesFromXsdt();
        assertThat(fromXsdt.keySet()).containsExactlyInAnyOrder("FACP", "APIC");
        int rsdt = at(mem.getInt(16) & 0xffffffffL);
        int length = checkTable(rsdt, "RSDT");
        List<Integer> fromRsdt = new ArrayList<>();
        for (int p = rsdt + AcpiTables.HEADER_LENGTH; p < rsdt + length; p += 4) {
            fromRsdt.add(at(mem.getInt(p) & 0xffffffffL));
        }
        assertThat(fromRsdt).containsExactlyInAnyOrderElementsOf(fromXsdt.values());
    }

    @Test
    void theFadtDescribesThePmBlocksResetRegisterFacsAndDsdt() {
        int fadt = tablesFromXsdt().get("FACP");
        assertThat(checkTable(fadt, "FACP")).isEqualTo(AcpiTables.FADT_LENGTH);
        assertThat(image[fadt + 8]).isEqualTo((byte) AcpiTables.FADT_REVISION);
        long facs = mem.getInt(fadt + 36) & 0xffffffffL;
        long dsdt = mem.getInt(fadt + 40) & 0xffffffffL;
        assertThat(mem.getLong(fadt + 132)).isEqualTo(facs);
        assertThat(mem.getLong(fadt + 140)).isEqualTo(dsdt);
        assertThat(facs % 64).isZero();
        assertThat(ascii(at(facs), 4)).isEqualTo("FACS");
        assertThat(mem.getInt(at(facs) + 4)).isEqualTo(AcpiTables.FACS_LENGTH);
        checkTable(at(dsdt), "DSDT");

        assertThat(mem.getShort(fadt + 46)).isEqualTo((short) 9);     // SCI_INT
        assertThat(mem.getInt(fadt + 48)).isZero();                     // SMI_CMD: ACPI mode always
        assertThat(mem.getInt(fadt + 56)).isEqualTo(0x600);             // PM1a_EVT_BLK
        assertThat(mem.getInt(fadt + 64)).isEqualTo(0x604);             // PM1a_CNT_BLK
        assertThat(mem.getInt(fadt + 76)).isEqualTo(0x608);             // PM_TMR_BLK
        assertThat(image[fadt + 88]).isEqualTo((byte) 4);               // PM1_EVT_LEN
        assertThat(image[fadt + 89]).isEqualTo((byte) 2);               // PM1_CNT_LEN
        assertThat(image[fadt + 91]).isEqualTo((byte) 4);               // PM_TMR_LEN
        assertThat(image[fadt + 108]).isEqualTo((byte) 0x32);           // CENTURY
        int flags = mem.getInt(fadt + 112);
        assertThat(flags & AcpiTables.FADT_TMR_VAL_EXT).isNotZero();
        assertThat(flags & AcpiTables.FADT_RESET_REG_SUP).isNotZero();
        // RESET_REG: system I/O, 8 bits at 0xCF9; RESET_VALUE 6.
        assertThat(image[fadt + 116]).isEqualTo((byte) AcpiTables.GAS_SYSTEM_IO);
        assertThat(image[fadt + 117]).isEqualTo((byte) 8);
        assertThat(mem.getLong(fadt + 120)).isEqualTo(0xcf9);
        assertThat(image[fadt + 128]).isEqualTo((byte) 6);
        // The X_ blocks repeat the 32-bit ones, with widths matching the lengths.
        assertThat(mem.getLong(fadt + 152)).isEqualTo(0x600);
        assertThat(image[fadt + 149]).isEqualTo((byte) 32);
        assertThat(mem.getLong(fadt + 176)).isEqualTo(0x604);
        assertThat(image[fadt + 173]).isEqualTo((byte) 16);
        assertThat(mem.getLong(fadt + 212)).isEqualTo(0x608);
        assertThat(image[fadt + 209]).isEqualTo((byte) 32);
    }

    @Test
    void theMadtListsEveryCpuTheIoApicTheOverridesAndTheLint1Nmi() {
        int madt = tablesFromXsdt().get("APIC");
        int length = checkTable(madt, "APIC");
        assertThat(mem.getInt(madt + 36)).isEqualTo(0xfee00000);
        assertThat(mem.getInt(madt + 40)).isEqualTo(AcpiTables.MADT_PCAT_COMPAT);
        List<Integer> apicIds = new ArrayList<>();
        List<String> overrides = new ArrayList<>();
        int ioApics = 0;
        int nmis = 0;
        for (int p = madt + 44; p < madt + length; p += image[p + 1]) {
            int type = image[p];
            switch (type) {
                case AcpiTables.MADT_LOCAL_APIC -> {
                    assertThat(image[p + 1]).isEqualTo((byte) 8);
                    assertThat(image[p + 2]).isEqualTo(image[p + 3]); // UID = APIC ID
                    assertThat(mem.getInt(p + 4)).isEqualTo(AcpiTables.LOCAL_APIC_ENABLED);
                    apicIds.add((int) image[p + 3]);
                }
                case AcpiTables.MADT_IO_APIC -> {
                    assertThat(image[p + 1]).isEqualTo((byte) 12);
                    assertThat(mem.getInt(p + 4)).isEqualTo(0xfec00000);
                    assertThat(mem.getInt(p + 8)).isZero(); // GSI base
                    ioApics++;
                }
                case AcpiTables.MADT_INTERRUPT_OVERRIDE -> {
                    assertThat(image[p + 1]).isEqualTo((byte) 10);
                    overrides.add(String.format("irq%d->gsi%d/%x", image[p + 3], mem.getInt(p + 4), mem.getShort(p + 8)));
                }
                case AcpiTables.MADT_LOCAL_APIC_NMI -> {
                    assertThat(image[p + 1]).isEqualTo((byte) 6);
                    assertThat(image[p + 2]).isEqualTo((byte) 0xff);
                    assertThat(image[p + 5]).isEqualTo((byte) 1); // LINT1
                    nmis++;
                }
                default -> throw new AssertionError("unexpected MADT entry type " + type);
            }
        }
        assertThat(apicIds).containsExactly(0, 1, 2);
        assertThat(ioApics).isEqualTo(1);
        assertThat(overrides).containsExactly("irq0->gsi2/0", "irq9->gsi9/d");
        assertThat(nmis).isEqualTo(1);
    }

    /** \_SB.PCI0 (PNP0A03), byte for byte. */
    private static final int[] PCI0_SCOPE = {
        0x10, 56, '\\', '_', 'S', 'B', '_',                  // Scope (\_SB) PkgLength 56
        0x5b, 0x82, 48, 'P', 'C', 'I', '0',                 // Device (PCI0) PkgLength 48
        0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03, // Name (_HID, EisaId ("PNP0A03"))
        0x08, '_', 'U', 'I', 'D', 0x00,                     // Name (_UID, Zero)
        0x08, '_', 'C', 'R', 'S', 0x11, 21, 0x0a, 18,       // Name (_CRS, Buffer (18) {
        0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00,     //   WordBusNumber 0-0xFF
        0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x79, 0x00};                                        //   EndTag })

    private static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void theDsdtNamesTheS3AndS5PackagesAndThePciHostBridge() {
        int fadt = tablesFromXsdt().get("FACP");
        int dsdt = at(mem.getInt(fadt + 40) & 0xffffffffL);
        int length = checkTable(dsdt, "DSDT");
        byte[] aml = java.util.Arrays.copyOfRange(image, dsdt + AcpiTables.HEADER_LENGTH, dsdt + length);
        // NameOp "_S3_" PackageOp PkgLength(6) NumElements(4) One One Zero Zero, then \_S5 with Zeros
        int[] s3 = {0x08, '_', 'S', '3', '_', 0x12, 6, 4, 1, 1, 0, 0};
        int[] s5 = {0x08, '_', 'S', '5', '_', 0x12, 6, 4, 0, 0, 0, 0};
        assertThat(aml).containsExactly(concat(concat(s3, s5), PCI0_SCOPE));

        AcpiPlatform s5Is5 = new AcpiPlatform(1, 0xfee00000L, 0, 0xfec00000L, 2, 9, 0x600, 0x604, 0x608, 0xcf9, 6, 1, 5, 0);
        byte[] dsdt5 = AcpiTables.dsdt(s5Is5);
        byte[] aml5 = java.util.Arrays.copyOfRange(dsdt5, AcpiTables.HEADER_LENGTH, dsdt5.length);
        int[] s5Byte = {0x08, '_', 'S', '5', '_', 0x12, 8, 4, 0x0a, 5, 0x0a, 5, 0, 0};
        assertThat(aml5).containsExactly(concat(concat(s3, s5Byte), PCI0_SCOPE));
        assertThat(sum(dsdt5, 0, dsdt5.length)).isZero();
    }

    @Test
    void aMisalignedOrHighBaseIsRefused() {
        assertThatThrownBy(() -> AcpiTables.build(PLATFORM, 0xe0008)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AcpiTables.build(PLATFORM, 0x1_0000_0000L)).isInstanceOf(IllegalArgumentException.class);
    }
}

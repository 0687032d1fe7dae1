package org.tscvm.snapshot;

import java.nio.charset.StandardCharsets;

/**
 * The constants of the snapshot file format, version 2 (docs/snapshot-format.md is the full
 * description): the magic, the header's fields and each section's tag, name and size limit.
 */
public final class SnapshotFormat {
    private SnapshotFormat() {
    }

    /** The first 8 bytes of every snapshot. */
    public static final byte[] MAGIC = "TSCVMSNP".getBytes(StandardCharsets.US_ASCII);
    /** The format version this tscvm writes and the only one it reads. */
    public static final int VERSION = 2;
    /** The longest tscvm version string a header may hold. */
    static final int MAX_TSCVM_VERSION_BYTES = 64;
    /** Section header: a 4-byte tag and a u32 payload length; trailer: CRC-32C. */
    static final int SECTION_HEADER_BYTES = 8;
    static final int CRC_BYTES = 4;

    /** Every section kind, in file order; each payload is bounded by {@code maxPayload} bytes. */
    public enum Section {
        CONF("CONF", "configuration", 4096),
        TIME("TIME", "time", 8192),
        VCPU("VCPU", "vCPU", 65536),
        PIT("PIT ", "PIT", 4096),
        UART("UART", "UART", 4096),
        CMOS("CMOS", "CMOS", 4096),
        FW_CFG("FWCF", "fw_cfg", 4096),
        ACPI_PM("ACPM", "ACPI PM", 4096),
        I8042("KBDC", "8042", 4096),
        PCI_HOST("PCIH", "PCI host", 4096),
        RESET_CONTROL("RSTC", "reset control", 4096),
        SHUTDOWN_PORT("SHDN", "shutdown port", 4096),
        PC_TESTDEV("TDEV", "pc-testdev", 4 + 0x10000),
        PIC("PIC ", "PIC", 4096),
        IO_APIC("IOAP", "I/O APIC", 4096),
        RAM("RAM ", "RAM", RamImage.MAX_CHUNK_PAYLOAD),
        END("END ", "end", 0);

        final String tag;
        final String displayName;
        final int maxPayload;

        Section(String tag, String displayName, int maxPayload) {
            this.tag = tag;
            this.displayName = displayName;
            this.maxPayload = maxPayload;
        }

        /** The 4 ASCII bytes that open the section in the file. */
        public String tag() {
            return tag;
        }

        /** How messages name it. */
        public String displayName() {
            return displayName;
        }

        int tagInt() {
            byte[] b = tag.getBytes(StandardCharsets.US_ASCII);
            return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
        }

        static Section byTag(int tag) {
            for (Section s : values()) {
                if (s.tagInt() == tag) {
                    return s;
                }
            }
            return null;
        }
    }

    /** A tag as text for messages: its ASCII, or its hex when it is not printable. */
    static String tagText(int tag) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            int c = (tag >>> (8 * i)) & 0xff;
            if (c < 0x20 || c > 0x7e) {
                return String.format("0x%08x", tag);
            }
            b.append((char) c);
        }
        return "\"" + b + "\"";
    }
}

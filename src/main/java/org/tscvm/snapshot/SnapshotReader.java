package org.tscvm.snapshot;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.tscvm.devices.AcpiPm;
import org.tscvm.devices.Cmos;
import org.tscvm.devices.FwCfg;
import org.tscvm.devices.I8042;
import org.tscvm.devices.PciHost;
import org.tscvm.devices.PcTestdev;
import org.tscvm.devices.Pit8254;
import org.tscvm.devices.ResetControl;
import org.tscvm.devices.ShutdownPort;
import org.tscvm.devices.Uart16550;
import org.tscvm.machine.BoardState;
import org.tscvm.machine.MachineConfig;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.SnapshotException.Kind;
import org.tscvm.snapshot.SnapshotFormat.Section;
import org.tscvm.tsc.HostClock;
import org.tscvm.vm.VcpuState;
import org.tscvm.vm.VmTscState;

/**
 * Reads and checks a whole snapshot into a {@link MachineState}. Sections must come in the
 * format's order; each length is checked against its section's limit before the payload is
 * read, each CRC before the payload is parsed, and each payload in full before the next
 * section. Any failure is a {@link SnapshotException} naming the section; nothing else escapes.
 */
final class SnapshotReader {
    private final InputStream in;
    private final byte[] scratch = new byte[(int) RamImage.CHUNK_BYTES];
    /** Bytes consumed, for messages. */
    private long offset;
    /** The header's tscvm version string. */
    private String headerVersion;
    /** The tag and length of the section whose header {@link #nextSection} read last. */
    private int pendingTag;
    private int pendingLength;

    private SnapshotReader(InputStream in) {
        this.in = in;
    }

    static MachineState read(InputStream in) {
        SnapshotReader reader = new SnapshotReader(in);
        try {
            return reader.readAll();
        } catch (SnapshotException e) {
            throw e;
        } catch (IOException e) {
            throw new SnapshotException(Kind.UNREADABLE, null, "reading failed after byte " + reader.offset + ": "
                    + e.getMessage());
        } catch (RuntimeException e) {
            // A check missed: still a refusal of this file, never an escape.
            throw new SnapshotException(Kind.CORRUPT, null, "the contents are inconsistent: " + e);
        }
    }

    private MachineState readAll() throws IOException {
        long fingerprint = header();
        String version = headerVersion;

        byte[] conf = payload(Section.CONF, null);
        String confText = new String(conf, StandardCharsets.UTF_8);
        ConfigFingerprint config = ConfigFingerprint.parse(confText);
        SectionIn confIn = new SectionIn(Section.CONF.displayName, conf);
        if (config == null || !config.text().equals(confText)) {
            throw confIn.corrupt("is not key=value lines, one per line, each ending in a newline");
        }
        if (config.hash() != fingerprint) {
            throw confIn.corrupt(String.format("its fingerprint %016x differs from the header's %016x",
                    config.hash(), fingerprint));
        }
        int smp = intField(confIn, config, "smp", 1, MachineConfig.MAX_VCPUS);
        long ramBytes = ramBytes(confIn, config);
        boolean testdev = Boolean.parseBoolean(field(confIn, config, "pc-testdev"));

        SectionIn timeIn = section(Section.TIME, null);
        long[] deviceNanos = new long[1];
        SavedTime time = time(timeIn, smp, deviceNanos);

        List<VcpuState> vcpus = new ArrayList<>();
        for (int i = 0; i < smp; i++) {
            vcpus.add(VcpuCodec.read(section(Section.VCPU, "vCPU " + i), i));
        }
        Pit8254.State pit = BoardCodec.pit(section(Section.PIT, null));
        Uart16550.State uart = BoardCodec.uart(section(Section.UART, null));
        Cmos.State cmos = BoardCodec.cmos(section(Section.CMOS, null));
        FwCfg.State fwCfg = BoardCodec.fwCfg(section(Section.FW_CFG, null));
        AcpiPm.State acpiPm = BoardCodec.acpiPm(section(Section.ACPI_PM, null));
        I8042.State i8042 = BoardCodec.i8042(section(Section.I8042, null));
        PciHost.State pci = BoardCodec.pciHost(section(Section.PCI_HOST, null));
        ResetControl.State reset = BoardCodec.resetControl(section(Section.RESET_CONTROL, null));
        ShutdownPort.State shutdown = BoardCodec.shutdownPort(section(Section.SHUTDOWN_PORT, null));
        PcTestdev.State pcTestdev = testdev ? BoardCodec.pcTestdev(section(Section.PC_TESTDEV, null)) : null;
        BoardState board = new BoardState(deviceNanos[0], pit, uart, cmos, fwCfg, acpiPm, i8042, pci, reset,
                shutdown, pcTestdev, BoardCodec.pic(section(Section.PIC, null)),
                BoardCodec.ioApic(section(Section.IO_APIC, null)));

        List<RamImage.Chunk> chunks = new ArrayList<>();
        int previous = -1;
        while (true) {
            Section next = nextSection(Section.RAM, Section.END);
            if (next == Section.END) {
                payloadAfterHeader(Section.END, "end");
                break;
            }
            String name = "RAM chunk after " + (previous < 0 ? "none" : Integer.toString(previous));
            RamImage.Chunk c = RamImage.read(new SectionIn(name, payloadAfterHeader(Section.RAM, name)), ramBytes,
                    previous, scratch);
            chunks.add(c);
            previous = c.index();
        }
        return new MachineState(version, config, time, board, vcpus, RamImage.of(ramBytes, chunks));
    }

    /** Reads and checks the header; returns the configuration fingerprint. */
    private long header() throws IOException {
        byte[] magic = new byte[SnapshotFormat.MAGIC.length];
        int n = readUpTo(magic);
        if (!Arrays.equals(magic, 0, n, SnapshotFormat.MAGIC, 0, n)) {
            throw new SnapshotException(Kind.NOT_A_SNAPSHOT, null,
                    "the file does not start with the magic \"TSCVMSNP\": it is not a tscvm snapshot");
        }
        if (n < magic.length) {
            throw truncated("header", "the file ends inside the magic, after " + n + " bytes");
        }
        byte[] fixed = exactly(12, "header", "header");
        int version = (fixed[0] & 0xff) | (fixed[1] & 0xff) << 8;
        if (version != SnapshotFormat.VERSION) {
            throw new SnapshotException(Kind.VERSION, "header", "format version " + version
                    + " is not one this tscvm reads (it reads version " + SnapshotFormat.VERSION + ")");
        }
        byte[] lengthBytes = exactly(2, "header", "header");
        int length = (lengthBytes[0] & 0xff) | (lengthBytes[1] & 0xff) << 8;
        if (length > SnapshotFormat.MAX_TSCVM_VERSION_BYTES) {
            throw new SnapshotException(Kind.CORRUPT, "header", "the tscvm version string is " + length
                    + " bytes long; at most " + SnapshotFormat.MAX_TSCVM_VERSION_BYTES + " is possible");
        }
        byte[] versionBytes = exactly(length, "header", "header");
        byte[] crcBytes = exactly(4, "header", "header");
        CRC32C crc = new CRC32C();
        crc.update(SnapshotFormat.MAGIC);
        crc.update(fixed);
        crc.update(lengthBytes);
        crc.update(versionBytes);
        if ((int) crc.getValue() != le32(crcBytes, 0)) {
            throw new SnapshotException(Kind.CORRUPT, "header", "the header's CRC-32C does not match its bytes");
        }
        if (fixed[2] != 0 || fixed[3] != 0) {
            throw new SnapshotException(Kind.CORRUPT, "header", "the reserved bytes are not zero");
        }
        headerVersion = new String(versionBytes, StandardCharsets.UTF_8);
        long fingerprint = 0;
        for (int i = 0; i < 8; i++) {
            fingerprint |= (fixed[4 + i] & 0xffL) << (8 * i);
        }
        return fingerprint;
    }

    /** Reads the next section header, which must be one of {@code allowed}. */
    private Section nextSection(Section... allowed) throws IOException {
        String expected = allowed[0].displayName + (allowed.length > 1 ? " or " + allowed[1].displayName : "");
        byte[] head = exactly(SnapshotFormat.SECTION_HEADER_BYTES, expected, "the header of the " + expected + " section");
        int tag = le32(head, 0);
        Section found = Section.byTag(tag);
        if (found == null || !Arrays.asList(allowed).contains(found)) {
            throw new SnapshotException(Kind.CORRUPT, expected, "expected here, but the file has "
                    + (found == null ? "an unknown section tag " + SnapshotFormat.tagText(tag)
                    : "the " + found.displayName + " section"));
        }
        long length = le32(head, 4) & 0xffffffffL;
        if (length > found.maxPayload) {
            throw new SnapshotException(Kind.CORRUPT, found.displayName, "its length " + length
                    + " exceeds the format's limit of " + found.maxPayload + " bytes");
        }
        pendingTag = tag;
        pendingLength = (int) length;
        return found;
    }

    private byte[] payload(Section section, String name) throws IOException {
        nextSection(section);
        return payloadAfterHeader(section, name == null ? section.displayName : name);
    }

    private SectionIn section(Section section, String name) throws IOException {
        String n = name == null ? section.displayName : name;
        return new SectionIn(n, payload(section, n));
    }

    /** The payload of the section whose header {@link #nextSection} read, its CRC checked. */
    private byte[] payloadAfterHeader(Section section, String name) throws IOException {
        byte[] payload = exactly(pendingLength, name, "its payload of " + pendingLength + " bytes");
        byte[] crcBytes = exactly(SnapshotFormat.CRC_BYTES, name, "its CRC-32C");
        CRC32C crc = new CRC32C();
        crc.update(new SectionOut().i32(pendingTag).i32(pendingLength).toByteArray());
        crc.update(payload);
        if ((int) crc.getValue() != le32(crcBytes, 0)) {
            throw new SnapshotException(Kind.CORRUPT, name, "the CRC-32C does not match the section's bytes");
        }
        return payload;
    }

    private SavedTime time(SectionIn in, int smp, long[] deviceNanos) {
        long wall = in.i64("save time");
        long hostKhz = in.i64("host kHz");
        if (hostKhz < HostClock.MIN_KHZ || hostKhz > HostClock.MAX_KHZ) {
            throw in.corrupt("the saving host clock's frequency " + hostKhz + " kHz is out of range");
        }
        long hostTsc = in.i64("host TSC");
        long hostAdjust = in.i64("host TSC adjust");
        boolean deterministic = in.bool("deterministic");
        deviceNanos[0] = in.i64("device time");
        int count = in.count("vCPU count", MachineConfig.MAX_VCPUS);
        if (count != smp) {
            throw in.corrupt("holds " + count + " vCPU(s) but the configuration has smp=" + smp);
        }
        List<VmTscState.Vcpu> vcpus = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long khz = in.i64("vCPU TSC kHz");
            if (khz <= 0 || khz >= HostClock.MAX_KHZ * 256) {
                throw in.corrupt("vCPU " + i + "'s TSC frequency " + khz + " kHz is impossible");
            }
            long guestTsc = in.i64("guest TSC");
            long adjust = in.i64("TSC_ADJUST");
            long aux = in.i64("TSC_AUX");
            if ((aux >>> 32) != 0) {
                throw in.corrupt(String.format("vCPU %d's TSC_AUX 0x%x has bits 63:32 set, which no vCPU holds (R21)",
                        i, aux));
            }
            vcpus.add(new VmTscState.Vcpu(khz, guestTsc, adjust, aux, in.i64("TSC deadline")));
        }
        in.end();
        return new SavedTime(wall, hostKhz, hostTsc, hostAdjust, deterministic, new VmTscState(vcpus));
    }

    private static String field(SectionIn in, ConfigFingerprint config, String key) {
        String v = config.fields().get(key);
        if (v == null) {
            throw in.corrupt("has no " + key + " field");
        }
        return v;
    }

    private static int intField(SectionIn in, ConfigFingerprint config, String key, int min, int max) {
        String v = field(in, config, key);
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw in.corrupt(key + "=" + v + " is not a number from " + min + " to " + max);
    }

    private static long ramBytes(SectionIn in, ConfigFingerprint config) {
        String v = field(in, config, "ram-bytes");
        try {
            long n = Long.parseLong(v);
            if (n >= GuestMemory.MIN_BYTES && n <= GuestMemory.MAX_BYTES && n % GuestMemory.PAGE_SIZE == 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw in.corrupt("ram-bytes=" + v + " is not a RAM size tscvm supports (" + GuestMemory.SIZE_RANGE + ")");
    }

    private int readUpTo(byte[] into) throws IOException {
        int n = 0;
        while (n < into.length) {
            int got = in.read(into, n, into.length - n);
            if (got < 0) {
                break;
            }
            n += got;
        }
        offset += n;
        return n;
    }

    /** Exactly {@code n} bytes (n already checked against a limit), or a truncation naming the section. */
    private byte[] exactly(int n, String section, String what) throws IOException {
        byte[] b = new byte[n];
        int got = readUpTo(b);
        if (got < n) {
            throw truncated(section, "the file ends at byte " + offset + ", inside " + what);
        }
        return b;
    }

    private static SnapshotException truncated(String section, String why) {
        return new SnapshotException(Kind.TRUNCATED, section, why);
    }

    private static int le32(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }
}

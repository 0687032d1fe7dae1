package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.tscvm.machine.Machine;
import org.tscvm.memory.GuestMemory;
import org.tscvm.snapshot.SnapshotFiles.Span;

/** The bytes are what docs/snapshot-format.md says they are, read here without the reader. */
class SnapshotFormatTest {
    @Test
    void theChecksumIsCrc32cAsDocumented() {
        CRC32C crc = new CRC32C();
        crc.update("123456789".getBytes(StandardCharsets.US_ASCII));
        assertThat(crc.getValue()).isEqualTo(0xE3069283L);
    }

    @Test
    void headerAndSectionsAreLaidOutAsDocumented() throws Exception {
        byte[] file = SnapshotFiles.savedMidRun();
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(new String(file, 0, 8, StandardCharsets.US_ASCII)).isEqualTo("TSCVMSNP");
        assertThat(b.getShort(8)).isEqualTo((short) 2);
        assertThat(b.getShort(10)).isZero();
        int versionLength = b.getShort(20);
        assertThat(new String(file, 22, versionLength, StandardCharsets.UTF_8)).matches("\\d+\\.\\d+\\.\\d+.*");
        CRC32C headerCrc = new CRC32C();
        headerCrc.update(file, 0, 22 + versionLength);
        assertThat(b.getInt(22 + versionLength)).isEqualTo((int) headerCrc.getValue());

        for (Span s : SnapshotFiles.sections(file)) {
            CRC32C crc = new CRC32C();
            crc.update(file, s.start(), 8 + s.payloadLength());
            assertThat(b.getInt(s.payloadStart() + s.payloadLength())).as(s.tag()).isEqualTo((int) crc.getValue());
        }
        Span conf = SnapshotFiles.sections(file).get(0);
        byte[] text = SnapshotFiles.payload(file, conf);
        assertThat(new String(text, StandardCharsets.UTF_8)).isEqualTo(
                "ram-bytes=33554432\nsmp=2\nsockets=1\ncpu=tscvm\nmsr-policy=kvm\npc-testdev=true\n");
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(text);
        assertThat(b.getLong(12)).isEqualTo(ByteBuffer.wrap(sha, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }

    /**
     * The stream form works over a connection that stays open (a migration socket): the reader
     * stops at the end section without waiting for the end of the stream, and leaves what
     * follows for the caller.
     */
    @Test
    void theReaderStopsAtTheEndSectionOfAStreamThatStaysOpen() throws Exception {
        byte[] file = SnapshotFiles.savedMidRun();
        java.io.PipedInputStream in = new java.io.PipedInputStream(1 << 16);
        java.io.PipedOutputStream out = new java.io.PipedOutputStream(in);
        Thread sender = new Thread(() -> {
            try {
                out.write(file);
                out.write("after".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                Thread.sleep(60_000); // the connection stays open
            } catch (Exception e) {
                // the test ended
            }
        });
        sender.setDaemon(true);
        sender.start();
        MachineState state = MachineSnapshot.read(in);
        assertThat(state.vcpus()).hasSize(2);
        assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("after");
        sender.interrupt();
    }

    @Test
    void exactlyTheNonZeroPagesAreStoredAndRamIsDeflated() throws Exception {
        Machine m = new Machine(SnapshotFiles.smallMachine().build());
        m.runUntil(2_000_000);
        GuestMemory memory = m.vm().memory();
        memory.write8(31L << 20, 7); // a page in the last chunk
        int nonZero = 0;
        for (long p = 0; p < memory.size(); p += GuestMemory.PAGE_SIZE) {
            nonZero += memory.isZeroPage(p) ? 0 : 1;
        }
        MachineState state = MachineSnapshot.save(m);
        assertThat(state.ram().storedPages()).isEqualTo(nonZero);
        assertThat(state.ram().chunks()).allSatisfy(c -> assertThat(c.pageCount()).isPositive());
        assertThat(state.ram().chunks()).anySatisfy(c -> {
            assertThat(c.encoding()).isEqualTo(RamImage.ENCODING_DEFLATE);
            assertThat(c.length()).isLessThan(c.pageCount() * GuestMemory.PAGE_SIZE);
        });
        assertThat(state.ram().chunks().get(state.ram().chunks().size() - 1).index()).isEqualTo(31);
    }
}

package org.tscvm.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tscvm.TscvmException;

class GuestMemoryTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;
    private static final long FOUR_GIB = 4 * GIB;

    @ParameterizedTest
    @CsvSource({
            // -m, bytes below 4 GiB, bytes above it (QEMU pc: all below under 3.5 GiB, else 3 GiB below)
            "134217728, 134217728, 0",
            "3221225472, 3221225472, 0",
            "3758092288, 3758092288, 0", // 3.5 GiB less 4 KiB
            "3758096384, 3221225472, 536870912", // 3.5 GiB
            "6442450944, 3221225472, 3221225472",
            "68719476736, 3221225472, 65498251264",
    })
    void ramIsSplitAroundThePciHoleAsQemuPcSplitsIt(long size, long below, long above) {
        GuestMemory m = new GuestMemory(size);
        assertThat(m.belowFourGiB()).isEqualTo(below);
        assertThat(m.aboveFourGiB()).isEqualTo(above);
        assertThat(m.size()).isEqualTo(size);
        assertThat(m.isRam(below - 8, 8)).isTrue();
        assertThat(m.isRam(below - 4, 8)).as("straddles the hole").isFalse();
        assertThat(m.isRam(below, 1)).isFalse();
        assertThat(m.isRam(FOUR_GIB - 1, 1)).isFalse();
        assertThat(m.isRam(FOUR_GIB, 8)).isEqualTo(above > 0);
        assertThat(m.isRam(FOUR_GIB + above - 8, 8)).isEqualTo(above > 0);
        assertThat(m.isRam(FOUR_GIB + above, 1)).isFalse();
        List<GuestMemory.Range> ranges = m.ranges();
        assertThat(ranges.get(0)).isEqualTo(new GuestMemory.Range(0, below));
        assertThat(ranges).hasSize(above > 0 ? 2 : 1);
        if (above > 0) {
            assertThat(ranges.get(1)).isEqualTo(new GuestMemory.Range(FOUR_GIB, above));
        }
        assertThat(m.allocatedChunks()).isZero();
    }

    @Test
    void sixtyFourGibCostNothingUntilWrittenAndReadsOfUntouchedRamAllocateNothing() {
        GuestMemory m = new GuestMemory(64 * GIB);
        long top = FOUR_GIB + m.aboveFourGiB();
        assertThat(m.read64(0)).isZero();
        assertThat(m.read64(top - 8)).isZero();
        assertThat(m.read(top - GuestMemory.CHUNK_SIZE - 3, 8)).as("across two chunks").isZero();
        m.fill(MIB, 512 * MIB, (byte) 0);
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        m.readPage(FOUR_GIB, page, 0);
        m.writePage(FOUR_GIB + 4096, new byte[GuestMemory.PAGE_SIZE], 0);
        assertThat(m.pageTouched(FOUR_GIB)).isFalse();
        assertThat(m.allocatedChunks()).as("reads, zero fills and zero pages").isZero();

        m.write64(top - 8, 0x1122334455667788L);
        assertThat(m.read64(top - 8)).isEqualTo(0x1122334455667788L);
        assertThat(m.read8(top - 1)).isEqualTo(0x11);
        assertThat(m.allocatedChunks()).isEqualTo(1);
        assertThat(m.pageTouched(top - 4096)).isTrue();
        assertThat(m.pageTouched(top - 2L * GuestMemory.CHUNK_SIZE)).isFalse();
        m.write(FOUR_GIB + GuestMemory.CHUNK_SIZE - 3, 8, 0x0102030405060708L);
        assertThat(m.read(FOUR_GIB + GuestMemory.CHUNK_SIZE - 3, 8)).isEqualTo(0x0102030405060708L);
        assertThat(m.allocatedChunks()).as("a store split over two chunks allocates both").isEqualTo(3);
        assertThat(m.writtenChunk(0)).isNull();
    }

    @Test
    void pagesGoInAndOutWholeForSnapshots() {
        GuestMemory m = new GuestMemory(6 * GIB);
        byte[] in = new byte[3 * GuestMemory.PAGE_SIZE];
        for (int i = 0; i < in.length; i++) {
            in[i] = (byte) (i * 7 + 1);
        }
        long[] pages = {0, m.belowFourGiB() - GuestMemory.PAGE_SIZE, FOUR_GIB, FOUR_GIB + m.aboveFourGiB() - GuestMemory.PAGE_SIZE};
        for (long p : pages) {
            m.writePage(p, in, GuestMemory.PAGE_SIZE);
        }
        byte[] out = new byte[GuestMemory.PAGE_SIZE + 5];
        for (long p : pages) {
            assertThat(m.pageTouched(p)).isTrue();
            m.readPage(p, out, 5);
            assertThat(Arrays.copyOfRange(out, 5, out.length))
                    .isEqualTo(Arrays.copyOfRange(in, GuestMemory.PAGE_SIZE, 2 * GuestMemory.PAGE_SIZE));
        }
        assertThat(m.read8(FOUR_GIB)).isEqualTo(in[GuestMemory.PAGE_SIZE] & 0xff);
        assertThatThrownBy(() -> m.readPage(m.belowFourGiB(), out, 0)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("not the start of a RAM page");
        assertThatThrownBy(() -> m.writePage(FOUR_GIB + 1, in, 0)).isInstanceOf(TscvmException.class);
        assertThatThrownBy(() -> m.pageTouched(FOUR_GIB - GuestMemory.PAGE_SIZE)).isInstanceOf(TscvmException.class);
        assertThatThrownBy(() -> m.load(m.belowFourGiB() - 2, in, 0, 4)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("[0x0, 0xc0000000) and [0x100000000, 0x1c0000000)");
    }

    @Test
    void aStoreToAPageHoldingDecodedCodeMakesItStaleOnceAndHostWritesDoToo() {
        GuestMemory m = new GuestMemory(6 * GIB);
        long page = FOUR_GIB + 5 * GuestMemory.PAGE_SIZE;
        int gen = m.markCodePage(page + 17);
        assertThat(m.codeGeneration(page)).isEqualTo(gen);
        assertThat(m.write(page + 100, 4, 0x90909090L)).as("a marked page").isTrue();
        assertThat(m.codeGeneration(page)).isEqualTo(gen + 1);
        assertThat(m.write(page + 200, 4, 0)).as("no decoded code left").isFalse();
        assertThat(m.codeGeneration(page + GuestMemory.PAGE_SIZE)).as("its neighbour").isZero();
        m.markCodePage(page);
        m.writePage(page, new byte[GuestMemory.PAGE_SIZE], 0);
        assertThat(m.codeGeneration(page)).isEqualTo(gen + 2);
        m.markCodePage(page);
        m.fill(page + 4000, 200, (byte) 0);
        assertThat(m.codeGeneration(page)).as("a host fill").isEqualTo(gen + 3);
    }

    @Test
    void sizesOutsideTheRangeOrNotWholePagesAreRefused() {
        assertThatThrownBy(() -> new GuestMemory(GuestMemory.MAX_BYTES + GuestMemory.PAGE_SIZE))
                .hasMessageContaining(GuestMemory.SIZE_RANGE);
        assertThatThrownBy(() -> new GuestMemory(MIB)).hasMessageContaining(GuestMemory.SIZE_RANGE);
        assertThatThrownBy(() -> new GuestMemory(64 * MIB + 1)).hasMessageContaining("multiple of 4 KiB");
        assertThat(new GuestMemory(GuestMemory.MAX_BYTES).aboveFourGiB()).isEqualTo(GuestMemory.MAX_BYTES - 3 * GIB);
    }
}

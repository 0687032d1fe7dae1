package org.tscvm.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.tscvm.memory.DirtyLogClient.MIGRATION;
import static org.tscvm.memory.DirtyLogClient.REVERSE_EXECUTION;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The dirty-page log of a live migration: which stores set a page's bit, that a sync hands
 * them over once and logs the next store again, and that with logging off no page carries a
 * mark a store would have to act on (the CPU's store path then only tests a zero byte).
 */
class DirtyLogTest {
    private static final long MIB = 1L << 20;

    private static List<Integer> pages(long[] bitmap) {
        List<Integer> pages = new ArrayList<>();
        for (int w = 0; w < bitmap.length; w++) {
            for (long bits = bitmap[w]; bits != 0; bits &= bits - 1) {
                pages.add((w << 6) + Long.numberOfTrailingZeros(bits));
            }
        }
        return pages;
    }

    private static long[] sync(GuestMemory m) {
        return sync(m, MIGRATION);
    }

    private static long[] sync(GuestMemory m, DirtyLogClient client) {
        long[] into = new long[(m.pageCount() + 63) / 64];
        m.syncDirtyLog(client, into);
        return into;
    }

    private static byte mark(GuestMemory m, long paddr) {
        return m.writtenChunk(paddr)[GuestMemory.MARKS_OFFSET + (int) ((paddr >>> 12) & (GuestMemory.PAGES_PER_CHUNK - 1))];
    }

    @Test
    void aStoreDirtiesItsPageOnceUntilTheNextSync() {
        GuestMemory m = new GuestMemory(16 * MIB);
        m.write32(0x5000, 1); // written before logging: not dirty
        m.startDirtyLog(MIGRATION);
        assertThat(pages(sync(m))).isEmpty();
        m.write32(0x5004, 2);
        m.write8(0x5008, 3);
        m.write64(0x9ffc, 4); // straddles pages 9 and 10
        long[] first = new long[(m.pageCount() + 63) / 64];
        assertThat(m.syncDirtyLog(MIGRATION, first)).isEqualTo(3);
        assertThat(pages(first)).containsExactly(5, 9, 10);
        assertThat(pages(sync(m))).as("handed over once").isEmpty();
        m.write8(0x9000, 5);
        assertThat(pages(sync(m))).as("logged again after the sync").containsExactly(9);
    }

    @Test
    void hostWritesLoadsAndFillsAreLoggedAsStoresAre() {
        GuestMemory m = new GuestMemory(16 * MIB);
        m.fill(0x20000, 0x2000, (byte) 7);
        m.startDirtyLog(MIGRATION);
        m.load(0x100000, new byte[0x1800], 0, 0x1800);
        m.fill(0x20000, 0x1000, (byte) 0);
        m.writePage(0x40000, new byte[4096], 0); // zeros over a never-written page: nothing changes
        assertThat(pages(sync(m))).containsExactly(0x20, 0x100, 0x101);
    }

    @Test
    void aChunkFirstWrittenWhileLoggingIsLoggedPageByPage() {
        GuestMemory m = new GuestMemory(16 * MIB);
        m.startDirtyLog(MIGRATION);
        assertThat(m.writtenChunk(0x300000)).isNull();
        m.write16(0x301ffe, 0x1234);
        assertThat(pages(sync(m))).containsExactly(0x301);
    }

    @Test
    void aCodePageStaysACodePageAndIsLoggedToo() {
        GuestMemory m = new GuestMemory(16 * MIB);
        m.write8(0x7000, 0x90);
        int generation = m.markCodePage(0x7000);
        m.startDirtyLog(MIGRATION);
        assertThat(m.write(0x7001, 1, 0xc3)).as("the store made decoded code stale").isTrue();
        assertThat(m.codeGeneration(0x7000)).isEqualTo(generation + 1);
        assertThat(pages(sync(m))).containsExactly(7);
        m.markCodePage(0x7000);
        assertThat(mark(m, 0x7000)).isEqualTo((byte) (GuestMemory.MARK_CODE | GuestMemory.MARK_LOG));
    }

    @Test
    void pagesAboveFourGibAreNumberedWithoutTheHole() {
        GuestMemory m = new GuestMemory(4L << 30); // 3 GiB below 4 GiB, 1 GiB from 4 GiB
        m.startDirtyLog(MIGRATION);
        m.write8(GuestMemory.HIGH_RAM_START + 0x3000, 1);
        int expected = (int) ((3L << 30) >>> 12) + 3;
        assertThat(m.pageNumber(GuestMemory.HIGH_RAM_START + 0x3000)).isEqualTo(expected);
        assertThat(pages(sync(m))).containsExactly(expected);
        assertThat(m.physicalAddress((long) expected << 12)).isEqualTo(GuestMemory.HIGH_RAM_START + 0x3000);
    }

    @Test
    void offAgainNoPageKeepsALogMarkAndNothingIsLogged() {
        GuestMemory m = new GuestMemory(16 * MIB);
        m.write8(0x1000, 1);
        m.startDirtyLog(MIGRATION);
        assertThat(mark(m, 0x1000)).isEqualTo(GuestMemory.MARK_LOG);
        m.stopDirtyLog(MIGRATION);
        assertThat(m.dirtyLogging()).isFalse();
        for (long p = 0; p < 0x10000; p += 4096) {
            assertThat(mark(m, p)).as("page 0x%x", p).isZero();
        }
        m.write8(0x1000, 2);
        assertThat(mark(m, 0x1000)).isZero();
        assertThatThrownBy(() -> sync(m)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void twoClientsEachSeeEveryStoreSinceTheirOwnSync() {
        GuestMemory m = new GuestMemory(16 * MIB);
        m.write8(0x3000, 1);
        m.startDirtyLog(MIGRATION);
        m.write8(0x3000, 2); // page 3's mark is now clear, pending for MIGRATION only
        m.startDirtyLog(REVERSE_EXECUTION);
        m.write8(0x3001, 3); // the new client must see this store although the page was dirty already
        m.write8(0x4000, 4);
        assertThat(pages(sync(m, REVERSE_EXECUTION))).containsExactly(3, 4);
        m.write8(0x5000, 5);
        assertThat(pages(sync(m, MIGRATION))).as("its own sync, unaffected by the other's").containsExactly(3, 4, 5);
        assertThat(pages(sync(m, REVERSE_EXECUTION))).containsExactly(5);
        m.stopDirtyLog(MIGRATION);
        assertThat(m.dirtyLogging()).as("one client still logs").isTrue();
        m.write8(0x6000, 6);
        assertThat(pages(sync(m, REVERSE_EXECUTION))).containsExactly(6);
        assertThatThrownBy(() -> sync(m, MIGRATION)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> m.startDirtyLog(REVERSE_EXECUTION)).isInstanceOf(IllegalStateException.class);
        m.stopDirtyLog(REVERSE_EXECUTION);
        assertThat(mark(m, 0x6000)).as("the last client off takes the marks off").isZero();
    }
}

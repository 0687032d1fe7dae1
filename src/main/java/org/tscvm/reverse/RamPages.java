package org.tscvm.reverse;

import java.util.Arrays;
import org.tscvm.memory.GuestMemory;

/**
 * RAM pages a checkpoint keeps, by page number ({@link GuestMemory#pageNumber}) ascending, each
 * with its contents at the checkpoint; a zero page keeps no bytes.
 */
final class RamPages {
    private static final byte[] ZERO_PAGE = new byte[GuestMemory.PAGE_SIZE];

    private final int[] numbers;
    private final byte[][] contents;
    private final int storedPages;

    private RamPages(int[] numbers, byte[][] contents) {
        this.numbers = numbers;
        this.contents = contents;
        int n = 0;
        for (byte[] c : contents) {
            n += c == null ? 0 : 1;
        }
        this.storedPages = n;
    }

    /** Every page of {@code memory} that is not zero. */
    static RamPages allOf(GuestMemory memory) {
        int count = memory.pageCount();
        int[] numbers = new int[64];
        byte[][] contents = new byte[64][];
        int n = 0;
        for (int page = 0; page < count; page++) {
            long paddr = memory.physicalAddress((long) page << GuestMemory.PAGE_SHIFT);
            if (!memory.pageTouched(paddr) || memory.isZeroPage(paddr)) {
                continue;
            }
            if (n == numbers.length) {
                numbers = Arrays.copyOf(numbers, n * 2);
                contents = Arrays.copyOf(contents, n * 2);
            }
            numbers[n] = page;
            contents[n++] = copy(memory, paddr);
        }
        return new RamPages(Arrays.copyOf(numbers, n), Arrays.copyOf(contents, n));
    }

    /** The pages whose bits are set in {@code bitmap} (one bit per page number), as they are now. */
    static RamPages of(GuestMemory memory, long[] bitmap) {
        int n = 0;
        for (long w : bitmap) {
            n += Long.bitCount(w);
        }
        int[] numbers = new int[n];
        byte[][] contents = new byte[n][];
        int i = 0;
        for (int w = 0; w < bitmap.length; w++) {
            for (long bits = bitmap[w]; bits != 0; bits &= bits - 1) {
                int page = (w << 6) + Long.numberOfTrailingZeros(bits);
                long paddr = memory.physicalAddress((long) page << GuestMemory.PAGE_SHIFT);
                numbers[i] = page;
                contents[i++] = memory.isZeroPage(paddr) ? null : copy(memory, paddr);
            }
        }
        return new RamPages(numbers, contents);
    }

    private static byte[] copy(GuestMemory memory, long paddr) {
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        memory.readPage(paddr, page, 0);
        return page;
    }

    /** These pages with {@code later}'s over them: the pages of both, {@code later}'s contents where both have one. */
    RamPages overlaidWith(RamPages later) {
        int[] numbers = new int[this.numbers.length + later.numbers.length];
        byte[][] contents = new byte[numbers.length][];
        int i = 0, j = 0, n = 0;
        while (i < this.numbers.length || j < later.numbers.length) {
            if (j == later.numbers.length || (i < this.numbers.length && this.numbers[i] < later.numbers[j])) {
                numbers[n] = this.numbers[i];
                contents[n++] = this.contents[i++];
            } else {
                if (i < this.numbers.length && this.numbers[i] == later.numbers[j]) {
                    i++;
                }
                numbers[n] = later.numbers[j];
                contents[n++] = later.contents[j++];
            }
        }
        return new RamPages(Arrays.copyOf(numbers, n), Arrays.copyOf(contents, n));
    }

    /** Writes page {@code page} into {@code memory} if it is kept here; returns whether it was. */
    boolean writeTo(GuestMemory memory, int page) {
        int i = Arrays.binarySearch(numbers, page);
        if (i < 0) {
            return false;
        }
        byte[] data = contents[i];
        memory.writePage(memory.physicalAddress((long) page << GuestMemory.PAGE_SHIFT), data == null ? ZERO_PAGE : data, 0);
        return true;
    }

    /** Sets the bit of every page kept here in {@code bitmap}. */
    void markIn(long[] bitmap) {
        for (int page : numbers) {
            bitmap[page >>> 6] |= 1L << page;
        }
    }

    /** Bytes of page contents held (zero pages hold none). */
    long bytes() {
        return (long) storedPages * GuestMemory.PAGE_SIZE;
    }

    /** Writes a zero page to {@code page} of {@code memory}. */
    static void writeZero(GuestMemory memory, int page) {
        memory.writePage(memory.physicalAddress((long) page << GuestMemory.PAGE_SHIFT), ZERO_PAGE, 0);
    }
}

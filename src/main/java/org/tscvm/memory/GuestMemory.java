package org.tscvm.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.tscvm.TscvmException;

/**
 * Guest physical RAM laid out as QEMU's pc machine lays it out: RAM from 0 up to
 * {@link #belowFourGiB()}, the PCI hole above it, and the rest of the RAM from 4 GiB. The
 * storage is chunks of {@link #CHUNK_SIZE} bytes allocated on the first write: a chunk never
 * written reads as zeros and costs nothing, so {@code -m 64G} costs what the guest touches.
 *
 * <p>A chunk is one byte array: its data, then one mark byte per page ({@link #MARKS_OFFSET}),
 * then one 32-bit code generation per page ({@link #GENERATIONS_OFFSET}). The CPU caches
 * (chunk, offset) per page in its TLB and reads and writes the chunk directly; a store checks
 * the page's mark in the same array and calls {@link #invalidateCode} when it is non-zero, so
 * self-modifying and cross-modifying code invalidates the decoded blocks ({@link #MARK_CODE}).
 * The same check logs dirty pages for a live migration and for reverse execution's
 * checkpoints ({@link #MARK_LOG}: the first store to a page after a sync sets its bit and
 * clears the mark, as KVM's dirty logging write-protects a page until its first write), so a
 * store costs nothing more while nobody logs, and one call per page per sync while someone
 * does; each {@link DirtyLogClient} syncs on its own, as QEMU's dirty-memory clients do.
 * Little-endian multi-byte access goes through VarHandles, which also give the atomic forms LOCKed
 * instructions need (aligned only).
 *
 * <p>Allocation takes a lock; reading the chunk table does not. A chunk, once allocated, stays
 * for the memory's life, so a (chunk, offset) pair the CPU cached never goes stale. When the
 * Java heap cannot hold a chunk the write ends the run with a {@link HostMemoryException}.
 */
public final class GuestMemory {
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    /**
     * 64 KiB: measured against 256 KiB on the bench's empty, ptrchase and intmix kernels (see
     * the README); small enough that scattered first touches cost little, large enough that
     * the table for 256 GiB has 4 Mi entries.
     */
    public static final int CHUNK_SHIFT = 16;
    public static final int CHUNK_SIZE = 1 << CHUNK_SHIFT;
    public static final int PAGES_PER_CHUNK = CHUNK_SIZE >> PAGE_SHIFT;
    /** Where a chunk's marks start: one byte per page, non-zero while a store must be noticed. */
    public static final int MARKS_OFFSET = CHUNK_SIZE;
    /** Mark bit: the page holds decoded code, which a store makes stale. */
    public static final byte MARK_CODE = 1;
    /** Mark bit: dirty logging is on and the page is clean since the last sync; a store dirties it. */
    public static final byte MARK_LOG = 2;
    /** Where a chunk's code generations start: one little-endian int per page. */
    public static final int GENERATIONS_OFFSET = MARKS_OFFSET + PAGES_PER_CHUNK;
    private static final int CHUNK_BYTES = GENERATIONS_OFFSET + 4 * PAGES_PER_CHUNK;

    public static final long FOUR_GIB = 1L << 32;
    /** RAM above 4 GiB starts here (QEMU pc: x86ms->above_4g_mem_size is mapped at 4 GiB). */
    public static final long HIGH_RAM_START = FOUR_GIB;
    /** QEMU pc's max-ram-below-4g default: a machine with less RAM has it all below 4 GiB. */
    public static final long MAX_RAM_BELOW_4G = 0xe000_0000L;
    /** With at least {@link #MAX_RAM_BELOW_4G} of RAM, QEMU pc keeps 3 GiB below 4 GiB (gigabyte_align). */
    public static final long SPLIT_RAM_BELOW_4G = 0xc000_0000L;

    public static final long MIN_BYTES = 2L * 1024 * 1024;
    /** 256 GiB: RAM then ends at 257 GiB, inside the CPU's 40 physical address bits. */
    public static final long MAX_BYTES = 256L << 30;
    /** The sizes a guest may have, for error messages. */
    public static final String SIZE_RANGE = "2 MiB to 256 GiB in whole 4 KiB pages (-m 2M to -m 256G)";

    public static final VarHandle I16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    public static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    public static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private static final VarHandle CHUNK_SLOT = MethodHandles.arrayElementVarHandle(byte[][].class);
    private static final VarHandle MARK = MethodHandles.arrayElementVarHandle(byte[].class);
    private static final VarHandle DIRTY_WORD = MethodHandles.arrayElementVarHandle(long[].class);

    /** What every never-written chunk reads as; nothing ever writes it. */
    private static final byte[] ZERO_CHUNK = new byte[CHUNK_BYTES];

    /** One physical range of RAM: [start, start + length). */
    public record Range(long start, long length) {
        public long end() {
            return start + length;
        }
    }

    private final long size;
    private final long lowEnd;
    private final long highEnd;
    /** By chunk number (physical address >>> CHUNK_SHIFT): ZERO_CHUNK until written, null in the hole. */
    private final byte[][] chunks;
    private final Object allocationLock = new Object();
    private int allocatedChunks;
    /**
     * Heap given back when a chunk cannot be allocated, so that the message saying so, and the
     * run's orderly end after it, can still allocate.
     */
    private byte[] reserve = new byte[1 << 20];
    /**
     * While any client logs: one bit per RAM page, numbered as {@link #pageNumber} numbers
     * them, set by the first store after a sync. Null while no client logs.
     */
    private volatile long[] dirtyLog;
    /** By client ordinal: the pages logged but not yet synced by that client; null while it does not log. */
    private final long[][] dirtyCollected = new long[DirtyLogClient.values().length][];

    public GuestMemory(long bytes) {
        if (bytes < MIN_BYTES || bytes > MAX_BYTES) {
            throw new TscvmException(String.format(
                    "RAM size %d bytes is out of range: tscvm supports %s", bytes, SIZE_RANGE));
        }
        if ((bytes & (PAGE_SIZE - 1)) != 0) {
            throw new TscvmException("RAM size " + bytes + " is not a multiple of 4 KiB");
        }
        size = bytes;
        lowEnd = belowFourGiB(bytes);
        highEnd = bytes > lowEnd ? HIGH_RAM_START + (bytes - lowEnd) : 0;
        long top = highEnd > 0 ? highEnd : lowEnd;
        chunks = new byte[(int) ((top + CHUNK_SIZE - 1) >>> CHUNK_SHIFT)][];
        for (Range r : ranges()) {
            for (long c = r.start() >>> CHUNK_SHIFT; c << CHUNK_SHIFT < r.end(); c++) {
                chunks[(int) c] = ZERO_CHUNK;
            }
        }
    }

    /** The RAM a pc machine with {@code ramBytes} has below 4 GiB, as QEMU's pc_init1 computes it. */
    public static long belowFourGiB(long ramBytes) {
        return ramBytes >= MAX_RAM_BELOW_4G ? SPLIT_RAM_BELOW_4G : ramBytes;
    }

    /** The RAM above 4 GiB (from {@link #HIGH_RAM_START}) of a pc machine with {@code ramBytes}. */
    public static long aboveFourGiB(long ramBytes) {
        return ramBytes - belowFourGiB(ramBytes);
    }

    /** The RAM size (below and above 4 GiB together). */
    public long size() {
        return size;
    }

    /** RAM below 4 GiB: [0, belowFourGiB()). */
    public long belowFourGiB() {
        return lowEnd;
    }

    /** RAM above 4 GiB: [4 GiB, 4 GiB + aboveFourGiB()). */
    public long aboveFourGiB() {
        return size - lowEnd;
    }

    /** The physical ranges RAM occupies, in address order: one below 4 GiB, one above it if any. */
    public List<Range> ranges() {
        List<Range> r = new ArrayList<>(2);
        r.add(new Range(0, lowEnd));
        if (highEnd > 0) {
            r.add(new Range(HIGH_RAM_START, highEnd - HIGH_RAM_START));
        }
        return r;
    }

    /** True when [paddr, paddr+length) lies wholly in one RAM range. */
    public boolean isRam(long paddr, long length) {
        if (paddr < 0 || length < 0) {
            return false;
        }
        return paddr <= lowEnd - length || (paddr >= HIGH_RAM_START && paddr <= highEnd - length);
    }

    // ---- chunks, for the CPU ----

    /**
     * The chunk holding RAM address {@code paddr} if it has been written, else null (it reads as
     * zeros). The page's data is at {@code paddr & (CHUNK_SIZE - 1)}.
     */
    public byte[] writtenChunk(long paddr) {
        byte[] c = chunks[(int) (paddr >>> CHUNK_SHIFT)];
        return c == ZERO_CHUNK ? null : c;
    }

    /** The chunk holding RAM address {@code paddr}, allocated now if it never was: the caller is about to write. */
    public byte[] chunkForWrite(long paddr) {
        int index = (int) (paddr >>> CHUNK_SHIFT);
        byte[] c = chunks[index];
        return c != ZERO_CHUNK ? c : allocate(index);
    }

    private byte[] allocate(int index) {
        synchronized (allocationLock) {
            byte[] c = chunks[index];
            if (c != ZERO_CHUNK) {
                return c;
            }
            try {
                c = new byte[CHUNK_BYTES];
                if (dirtyLog != null) {
                    // Zero until now, so sent as zero: the first store to each page must be logged.
                    java.util.Arrays.fill(c, MARKS_OFFSET, MARKS_OFFSET + PAGES_PER_CHUNK, MARK_LOG);
                }
            } catch (OutOfMemoryError e) {
                reserve = null;
                throw new HostMemoryException(String.format(
                        "the host cannot back guest RAM at 0x%x: %d MiB of guest RAM is in use and the Java heap "
                                + "(max %d MiB) is full; give java a larger heap (JAVA_TOOL_OPTIONS=-Xmx...) or the guest less -m",
                        (long) index << CHUNK_SHIFT, ((long) allocatedChunks << CHUNK_SHIFT) >> 20,
                        Runtime.getRuntime().maxMemory() >> 20));
            }
            // Published with release: a racing reader either still sees ZERO_CHUNK (zeros, which
            // the new chunk also holds until written) or the whole new chunk.
            CHUNK_SLOT.setRelease(chunks, index, c);
            allocatedChunks++;
            return c;
        }
    }

    /** Chunks allocated so far (each {@link #CHUNK_SIZE} bytes of guest RAM). */
    public int allocatedChunks() {
        synchronized (allocationLock) {
            return allocatedChunks;
        }
    }

    // ---- decoded-code tracking ----

    /** Marks the RAM page holding {@code paddr} as holding decoded code; returns its generation. */
    public int markCodePage(long paddr) {
        byte[] c = chunkForWrite(paddr);
        int page = pageInChunk(paddr);
        MARK.getAndBitwiseOr(c, MARKS_OFFSET + page, MARK_CODE);
        return (int) I32.get(c, GENERATIONS_OFFSET + 4 * page);
    }

    /** The generation of the RAM page holding {@code paddr}; decoded code from an older one is stale. */
    public int codeGeneration(long paddr) {
        return (int) I32.get(chunks[(int) (paddr >>> CHUNK_SHIFT)], GENERATIONS_OFFSET + 4 * pageInChunk(paddr));
    }

    /**
     * A store hit the RAM page holding {@code paddr}: decoded code from it becomes stale, and
     * while dirty logging is on the page is logged dirty. Returns whether the page held code.
     */
    public boolean invalidateCode(long paddr) {
        byte[] c = chunks[(int) (paddr >>> CHUNK_SHIFT)];
        int page = pageInChunk(paddr);
        byte mark = c[MARKS_OFFSET + page];
        if (mark == 0) {
            return false;
        }
        if ((mark & MARK_LOG) != 0) {
            // Atomic: a racing markCodePage on another vCPU must keep its code bit.
            MARK.getAndBitwiseAnd(c, MARKS_OFFSET + page, (byte) ~MARK_LOG);
            logDirty(paddr);
            if ((mark & MARK_CODE) == 0) {
                return false;
            }
        }
        c[MARKS_OFFSET + page] = 0;
        int g = GENERATIONS_OFFSET + 4 * page;
        I32.set(c, g, (int) I32.get(c, g) + 1);
        return true;
    }

    private void logDirty(long paddr) {
        long[] log = dirtyLog;
        if (log != null) {
            long n = pageNumber(paddr);
            DIRTY_WORD.getAndBitwiseOr(log, (int) (n >>> 6), 1L << n);
        }
    }

    // ---- dirty logging, for live migration and reverse execution ----

    /** Pages of RAM, numbered without the hole: below 4 GiB first (as {@link #physicalAddress} counts). */
    public int pageCount() {
        return (int) (size >>> PAGE_SHIFT);
    }

    /** The number of the RAM page holding {@code paddr}, counted without the hole (0 .. pageCount()-1). */
    public int pageNumber(long paddr) {
        return (int) ((paddr < lowEnd ? paddr : lowEnd + (paddr - HIGH_RAM_START)) >>> PAGE_SHIFT);
    }

    /** True while some client logs dirty pages. */
    public boolean dirtyLogging() {
        return dirtyLog != null;
    }

    /** True while {@code client} logs dirty pages. */
    public boolean dirtyLogging(DirtyLogClient client) {
        synchronized (allocationLock) {
            return dirtyCollected[client.ordinal()] != null;
        }
    }

    /**
     * Turns dirty logging on for {@code client} with every page clean for it: from now on a
     * store to a page (by a vCPU or through this class) is reported by its next
     * {@link #syncDirtyLog}. Other clients' logs go on unchanged. Every vCPU must be stopped
     * (the marks are written plainly, and a running vCPU must see them before its next store).
     *
     * @throws IllegalStateException when {@code client} logs already
     */
    public void startDirtyLog(DirtyLogClient client) {
        synchronized (allocationLock) {
            if (dirtyCollected[client.ordinal()] != null) {
                throw new IllegalStateException(client + " logs dirty pages already");
            }
            if (dirtyLog == null) {
                dirtyLog = new long[(pageCount() + 63) >>> 6];
            } else {
                // A page stored to since the others' last sync has its mark cleared: hand the
                // others what is pending, then mark every page so the new client sees its next store.
                collectPending();
            }
            dirtyCollected[client.ordinal()] = new long[dirtyLog.length];
            for (byte[] c : chunks) {
                if (c != null && c != ZERO_CHUNK) {
                    for (int p = 0; p < PAGES_PER_CHUNK; p++) {
                        c[MARKS_OFFSET + p] |= MARK_LOG;
                    }
                }
            }
        }
    }

    /**
     * Moves the pages dirtied since {@code client}'s last sync into {@code into} (OR-ed in, one
     * bit per page number, {@code (pageCount() + 63) / 64} words) and clears them for it; each
     * such page's next store is logged again. Returns how many bits it set in {@code into}.
     * Every vCPU must be stopped, for the same reason as {@link #startDirtyLog}.
     *
     * @throws IllegalStateException when {@code client} does not log
     */
    public int syncDirtyLog(DirtyLogClient client, long[] into) {
        synchronized (allocationLock) {
            long[] mine = dirtyCollected[client.ordinal()];
            if (mine == null) {
                throw new IllegalStateException(client + " does not log dirty pages");
            }
            collectPending();
            int moved = 0;
            for (int w = 0; w < mine.length; w++) {
                long fresh = mine[w] & ~into[w];
                moved += Long.bitCount(fresh);
                into[w] |= mine[w];
                mine[w] = 0;
            }
            return moved;
        }
    }

    /** Moves the shared log's bits to every logging client and logs those pages' next store again. */
    private void collectPending() {
        long[] log = dirtyLog;
        for (int w = 0; w < log.length; w++) {
            long bits = (long) DIRTY_WORD.getAndSet(log, w, 0L);
            if (bits == 0) {
                continue;
            }
            for (long[] collected : dirtyCollected) {
                if (collected != null) {
                    collected[w] |= bits;
                }
            }
            while (bits != 0) {
                int n = (w << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                long paddr = physicalAddress((long) n << PAGE_SHIFT);
                byte[] c = chunks[(int) (paddr >>> CHUNK_SHIFT)];
                if (c != ZERO_CHUNK) {
                    c[MARKS_OFFSET + pageInChunk(paddr)] |= MARK_LOG;
                }
            }
        }
    }

    /**
     * Turns {@code client}'s dirty logging off and forgets what it had not synced; the last
     * client to stop takes every log mark off again. Every vCPU must be stopped.
     */
    public void stopDirtyLog(DirtyLogClient client) {
        synchronized (allocationLock) {
            dirtyCollected[client.ordinal()] = null;
            for (long[] collected : dirtyCollected) {
                if (collected != null) {
                    return;
                }
            }
            dirtyLog = null;
            for (byte[] c : chunks) {
                if (c != null && c != ZERO_CHUNK) {
                    for (int p = 0; p < PAGES_PER_CHUNK; p++) {
                        c[MARKS_OFFSET + p] &= ~MARK_LOG;
                    }
                }
            }
        }
    }

    private static int pageInChunk(long paddr) {
        return (int) (paddr >>> PAGE_SHIFT) & (PAGES_PER_CHUNK - 1);
    }

    // ---- access by physical address (slow paths, devices, loaders) ----

    public int read8(long paddr) {
        return (int) read(paddr, 1);
    }

    public int read16(long paddr) {
        return (int) read(paddr, 2);
    }

    public int read32(long paddr) {
        return (int) read(paddr, 4);
    }

    public long read64(long paddr) {
        return read(paddr, 8);
    }

    public void write8(long paddr, int value) {
        write(paddr, 1, value);
    }

    public void write16(long paddr, int value) {
        write(paddr, 2, value);
    }

    public void write32(long paddr, int value) {
        write(paddr, 4, value);
    }

    public void write64(long paddr, long value) {
        write(paddr, 8, value);
    }

    /**
     * {@code size} (1, 2, 4 or 8) bytes of RAM at {@code paddr}, zero-extended; the caller has
     * checked {@link #isRam}.
     */
    public long read(long paddr, int size) {
        int off = (int) paddr & (CHUNK_SIZE - 1);
        if (off > CHUNK_SIZE - size) {
            long v = 0;
            for (int k = 0; k < size; k++) {
                v |= (long) read8(paddr + k) << (8 * k);
            }
            return v;
        }
        byte[] c = chunks[(int) (paddr >>> CHUNK_SHIFT)];
        switch (size) {
            case 1: return c[off] & 0xff;
            case 2: return (short) I16.get(c, off) & 0xffff;
            case 4: return (int) I32.get(c, off) & 0xffffffffL;
            default: return (long) I64.get(c, off);
        }
    }

    /**
     * Writes {@code size} (1, 2, 4 or 8) bytes of RAM at {@code paddr} (the caller has checked
     * {@link #isRam}); returns whether the store made decoded code stale.
     */
    public boolean write(long paddr, int size, long v) {
        int off = (int) paddr & (CHUNK_SIZE - 1);
        if (off > CHUNK_SIZE - size) {
            boolean code = false;
            for (int k = 0; k < size; k++) {
                code |= write(paddr + k, 1, v >>> (8 * k));
            }
            return code;
        }
        byte[] c = chunkForWrite(paddr);
        switch (size) {
            case 1: c[off] = (byte) v; break;
            case 2: I16.set(c, off, (short) v); break;
            case 4: I32.set(c, off, (int) v); break;
            default: I64.set(c, off, v);
        }
        boolean code = invalidateCode(paddr);
        if (((paddr ^ (paddr + size - 1)) & -PAGE_SIZE) != 0) {
            code |= invalidateCode(paddr + size - 1);
        }
        return code;
    }

    // ---- host-side bulk access (loaders, snapshots) ----

    /** Host-side copy into RAM (loaders, restore). Throws if it would leave RAM. */
    public void load(long paddr, byte[] data, int offset, int length) {
        checkRange(paddr, length);
        while (length > 0) {
            int off = (int) paddr & (CHUNK_SIZE - 1);
            int n = Math.min(length, CHUNK_SIZE - off);
            System.arraycopy(data, offset, chunkForWrite(paddr), off, n);
            invalidateCodeRange(paddr, n);
            paddr += n;
            offset += n;
            length -= n;
        }
    }

    /** Host-side fill (bss zeroing). Throws if it would leave RAM. Zeros cost nothing where nothing was written. */
    public void fill(long paddr, long length, byte value) {
        checkRange(paddr, length);
        while (length > 0) {
            int off = (int) paddr & (CHUNK_SIZE - 1);
            int n = (int) Math.min(length, CHUNK_SIZE - off);
            byte[] c = value == 0 ? writtenChunk(paddr) : chunkForWrite(paddr);
            if (c != null) {
                java.util.Arrays.fill(c, off, off + n, value);
                invalidateCodeRange(paddr, n);
            }
            paddr += n;
            length -= n;
        }
    }

    /** Host-side copy out of RAM. Throws if it would leave RAM. */
    public void read(long paddr, byte[] into, int offset, int length) {
        checkRange(paddr, length);
        while (length > 0) {
            int off = (int) paddr & (CHUNK_SIZE - 1);
            int n = Math.min(length, CHUNK_SIZE - off);
            System.arraycopy(chunks[(int) (paddr >>> CHUNK_SHIFT)], off, into, offset, n);
            paddr += n;
            offset += n;
            length -= n;
        }
    }

    /** Copies the 4 KiB RAM page at {@code paddr} (page-aligned) into {@code into} at {@code offset}. */
    public void readPage(long paddr, byte[] into, int offset) {
        checkPage(paddr);
        read(paddr, into, offset, PAGE_SIZE);
    }

    /**
     * Writes the 4 KiB RAM page at {@code paddr} (page-aligned) from {@code from} at
     * {@code offset}, invalidating decoded code from it. A page of zeros where nothing was
     * written allocates nothing.
     */
    public void writePage(long paddr, byte[] from, int offset) {
        checkPage(paddr);
        if (writtenChunk(paddr) == null && allZero(from, offset, PAGE_SIZE)) {
            return;
        }
        load(paddr, from, offset, PAGE_SIZE);
    }

    /**
     * False when the 4 KiB RAM page at {@code paddr} has never been written, so it reads as
     * zeros: a snapshot may skip it. True means its {@link #CHUNK_SIZE} chunk has been written
     * somewhere, not that this page holds anything but zeros.
     */
    public boolean pageTouched(long paddr) {
        checkPage(paddr);
        return writtenChunk(paddr) != null;
    }

    /** True when the page at {@code paddr} (page-aligned) holds only zeros (snapshots store no zero pages). */
    public boolean isZeroPage(long paddr) {
        checkPage(paddr);
        byte[] c = writtenChunk(paddr);
        return c == null || allZero(c, (int) paddr & (CHUNK_SIZE - 1), PAGE_SIZE);
    }

    /**
     * The physical address of byte {@code offset} of RAM counted without the hole: RAM below
     * 4 GiB first, then RAM from 4 GiB (a snapshot numbers RAM this way).
     */
    public long physicalAddress(long offset) {
        return offset < lowEnd ? offset : (1L << 32) + (offset - lowEnd);
    }

    private static boolean allZero(byte[] b, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private void checkPage(long paddr) {
        if ((paddr & (PAGE_SIZE - 1)) != 0 || !isRam(paddr, PAGE_SIZE)) {
            throw new TscvmException(String.format("0x%x is not the start of a RAM page", paddr));
        }
    }

    private void checkRange(long paddr, long length) {
        if (!isRam(paddr, length)) {
            throw new TscvmException(String.format("0x%x bytes at 0x%x do not fit in RAM (%s)",
                    length, paddr, describeRanges()));
        }
    }

    private void invalidateCodeRange(long paddr, long length) {
        for (long p = paddr & -PAGE_SIZE; p < paddr + length; p += PAGE_SIZE) {
            invalidateCode(p);
        }
    }

    /** The RAM ranges, for messages: "[0, 0x8000000)" or "[0, 0xc0000000) and [0x100000000, 0x180000000)". */
    public String describeRanges() {
        StringBuilder b = new StringBuilder();
        for (Range r : ranges()) {
            b.append(b.length() == 0 ? "" : " and ").append(String.format("[0x%x, 0x%x)", r.start(), r.end()));
        }
        return b.toString();
    }
}

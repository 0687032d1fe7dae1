package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * A restricted transactional memory (RTM) region in progress (SDM Vol. 1, ch. 16): what an
 * abort must put back. At the outermost XBEGIN the CPU keeps its register state here and drops
 * its write TLB entries, so the first store to each page after it goes through a translation,
 * which keeps the page's old bytes here ({@link #touch}) before the store lands. An abort
 * writes the kept pages back and the registers; a commit forgets both. Nothing here runs on
 * the CPU's paths while no transaction is open.
 */
final class Transaction {
    /** XBEGIN may nest this deep (MAX_RTM_NEST_COUNT); one more aborts. */
    static final int MAX_NESTING = 7;
    /** Pages one transaction may write before it aborts for capacity. */
    static final int MAX_PAGES = 64;

    // EAX abort status bits (SDM Vol. 1, table 16-1).
    static final int ABORT_XABORT = 1;
    static final int ABORT_RETRY = 1 << 1;
    static final int ABORT_CAPACITY = 1 << 3;
    static final int ABORT_DEBUG = 1 << 4;
    static final int ABORT_NESTED = 1 << 5;

    /** Open XBEGINs; 0 outside a transaction. */
    int depth;
    /** Where an abort resumes: the outermost XBEGIN's fallback address. */
    long fallbackRip;
    /** The status of the abort a fault inside the transaction stands for (a capacity abort); else 0. */
    int pendingStatus;

    final long[] regs = new long[16];
    long rflags;
    /** SSP: a CALL or RET inside the transaction moves it (CET). */
    long ssp;
    final long[] xmm = new long[32];
    int mxcsr;
    final long[] fpuSig = new long[8];
    final int[] fpuSe = new int[8];
    int fpuControl, fpuStatus, fpuTag, fpuCs, fpuDs, fpuOpcode;
    long fpuIp, fpuDp;

    /** Physical addresses of the pages kept so far, and their bytes before the transaction wrote them. */
    private final long[] pages = new long[MAX_PAGES];
    private final byte[][] oldBytes = new byte[MAX_PAGES][];
    private int pageCount;

    /** The outermost XBEGIN: keeps the registers of {@code c}. */
    void begin(CpuState c, long fallback) {
        depth = 1;
        fallbackRip = fallback;
        pageCount = 0;
        System.arraycopy(c.regs, 0, regs, 0, 16);
        rflags = c.rflags();
        ssp = c.ssp;
        System.arraycopy(c.xmm, 0, xmm, 0, 32);
        mxcsr = c.mxcsr;
        System.arraycopy(c.fpuSig, 0, fpuSig, 0, 8);
        System.arraycopy(c.fpuSe, 0, fpuSe, 0, 8);
        fpuControl = c.fpuControl;
        fpuStatus = c.fpuStatus;
        fpuTag = c.fpuTag;
        fpuIp = c.fpuIp;
        fpuDp = c.fpuDp;
        fpuCs = c.fpuCs;
        fpuDs = c.fpuDs;
        fpuOpcode = c.fpuOpcode;
    }

    /**
     * A store inside the transaction is about to reach the RAM page at {@code page} for the
     * first time since its translation: keeps its bytes. False when the transaction has no
     * room left (a capacity abort).
     */
    boolean touch(GuestMemory memory, long page) {
        for (int i = 0; i < pageCount; i++) {
            if (pages[i] == page) {
                return true;
            }
        }
        if (pageCount == MAX_PAGES) {
            return false;
        }
        byte[] copy = oldBytes[pageCount];
        if (copy == null) {
            copy = oldBytes[pageCount] = new byte[GuestMemory.PAGE_SIZE];
        }
        memory.read(page, copy, 0, GuestMemory.PAGE_SIZE);
        pages[pageCount++] = page;
        return true;
    }

    /** An abort: the kept pages and registers go back into {@code c}; EAX holds {@code status}. */
    void rollBack(CpuState c, GuestMemory memory, int status) {
        for (int i = pageCount - 1; i >= 0; i--) {
            memory.load(pages[i], oldBytes[i], 0, GuestMemory.PAGE_SIZE); // also drops code decoded from it
        }
        System.arraycopy(regs, 0, c.regs, 0, 16);
        c.regs[Cpu.RAX] = status & 0xffffffffL;
        c.loadFlags(rflags);
        c.ssp = ssp;
        System.arraycopy(xmm, 0, c.xmm, 0, 32);
        c.mxcsr = mxcsr;
        System.arraycopy(fpuSig, 0, c.fpuSig, 0, 8);
        System.arraycopy(fpuSe, 0, c.fpuSe, 0, 8);
        c.fpuControl = fpuControl;
        c.fpuStatus = fpuStatus;
        c.fpuTag = fpuTag;
        c.fpuIp = fpuIp;
        c.fpuDp = fpuDp;
        c.fpuCs = fpuCs;
        c.fpuDs = fpuDs;
        c.fpuOpcode = fpuOpcode;
        c.rip = fallbackRip;
        end();
    }

    /** The transaction is over (committed, or rolled back): nothing is kept. */
    void end() {
        depth = 0;
        pageCount = 0;
        pendingStatus = 0;
    }
}

package org.tscvm.cpu;

import static org.tscvm.memory.GuestMemory.I16;
import static org.tscvm.memory.GuestMemory.I32;
import static org.tscvm.memory.GuestMemory.I64;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.tscvm.memory.GuestMemory;

/**
 * The MMU: segment checks, the page walk (32-bit, PAE, 4-level), the software TLB and
 * linear/physical access.
 *
 * <p>The TLB is direct-mapped parallel arrays, one set per access kind (read, write, execute)
 * so that a page becomes writable in the fast path only after its dirty bit is set. The tag is
 * the linear page number and a user bit (CPL 3), as in Sedna, so a privilege change needs no
 * flush. Only RAM pages enter the TLB; MMIO always takes the slow path to the bus. A read or
 * write entry holds the page's chunk of {@link GuestMemory} and its offset there; a read entry
 * only for a chunk already written (a never-written chunk reads as zeros through the slow path,
 * so nothing cached goes stale when a write allocates it), a write entry allocates the chunk.
 */
abstract class CpuMemory extends CpuState {
    static final int READ = 0, WRITE = 1, EXEC = 2;
    static final int TLB_BITS = 10, TLB_SIZE = 1 << TLB_BITS, TLB_MASK = TLB_SIZE - 1;
    static final long PHYS_MASK = 0x000f_ffff_ffff_f000L;
    static final long PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;
    static final long PTE_NX = 1L << 63;
    static final int PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16, PF_PK = 32, PF_SS = 64;

    static final VarHandle I8 = MethodHandles.arrayElementVarHandle(byte[].class);
    /**
     * Whether byte-array views take atomic access modes. JDK 17 allows them on aligned
     * offsets; later JDKs (seen on 25) throw UnsupportedOperationException for getVolatile and
     * compareAndSet, as a byte[]'s base may be misaligned. Without them every LOCKed
     * read-modify-write takes {@link #SPLIT_LOCK}, which is atomic against other LOCKed
     * accesses but not against another vCPU's plain stores.
     */
    static final boolean VIEW_ATOMICS = viewAtomicsWork();

    private static boolean viewAtomicsWork() {
        try {
            return (int) I32.compareAndExchange(new byte[8], 0, 0, 1) == 0;
        } catch (UnsupportedOperationException | IllegalStateException e) {
            return false;
        }
    }
    /** Serialises LOCKed accesses that are unaligned, split across pages, 16 bytes or MMIO. */
    static final Object SPLIT_LOCK = new Object();

    /** Tags by kind: index = kind * TLB_SIZE + (linear page & TLB_MASK); -1 is empty. */
    final long[] tlbTag = new long[3 * TLB_SIZE];
    /** The physical address of the page the entry maps. */
    final long[] tlbPhys = new long[3 * TLB_SIZE];
    /** Read and write entries: the chunk of RAM holding the page, and the page's offset in it. */
    final byte[][] tlbChunk = new byte[3 * TLB_SIZE][];
    final int[] tlbHost = new int[3 * TLB_SIZE];
    final boolean[] tlbGlobal = new boolean[3 * TLB_SIZE];
    /** log2 of (size of the page the entry maps / 4 KiB): 0, or 9, 10, 18 for 2 MiB, 4 MiB, 1 GiB. */
    final byte[] tlbLargeShift = new byte[3 * TLB_SIZE];
    /**
     * Whether the entry's rights came from a protection key (PKRU or IA32_PKRS), so that a new
     * value of either must drop it.
     */
    final boolean[] tlbKeyed = new boolean[3 * TLB_SIZE];
    /**
     * The slots filled with a slice of a large page since the last full flush (some may have been
     * refilled since): INVLPG looks for the other slices of a large page only among these.
     */
    private final TlbSlots largeSlots = new TlbSlots(3 * TLB_SIZE);
    /** Likewise the slots filled with a keyed entry: a new PKRU or IA32_PKRS drops these only. */
    private final TlbSlots keyedSlots = new TlbSlots(3 * TLB_SIZE);
    /** 1 at CPL 3: the TLB tag bit of ordinary data and fetch accesses. */
    long userBit;
    /**
     * Set when a store hit a page holding decoded code, or an access went to MMIO (a device may
     * have asked the CPU to stop): the run loop leaves the block after this instruction.
     */
    boolean endBlock;

    /**
     * The debugger's traps while one of them is a watchpoint, else null: the slow access paths
     * check accesses against it, and the pages it watches stay out of the TLB.
     */
    DebugTraps watchTraps;
    /** The watchpoint the current instruction hit: its start and kind (0: none). */
    long watchHitAddress;
    int watchHitKind;

    final CpuFault fault = new CpuFault(0, 0);
    /** The last exception raised, for {@code describe()}. */
    int lastVector = -1;
    int lastErrorCode;

    CpuMemory(GuestMemory memory, CpuBus bus) {
        super(memory, bus);
        java.util.Arrays.fill(tlbTag, -1L);
    }

    // ---- faults ----

    final CpuFault fault(int vector, int errorCode) {
        return fault.set(vector, errorCode);
    }

    final CpuFault gp(int errorCode) {
        return fault.set(CpuFault.GP, errorCode);
    }

    final CpuFault ud() {
        return fault.set(CpuFault.UD, CpuFault.NO_ERROR_CODE);
    }

    // ---- TLB maintenance ----

    /**
     * Bumped whenever a code link between decoded blocks may have gone stale: a TLB flush, a
     * change of decode mode or privilege (a re-decoded block counts its own decodes). Links
     * remember the epoch.
     */
    long chainEpoch;
    /** The decode mode and CPL the links of {@link #chainEpoch} were made in (CpuSystem.updateMode). */
    int chainMode = -1;

    final void flushTlb(boolean keepGlobal) {
        chainEpoch++;
        largeSlots.clear();
        keyedSlots.clear();
        for (int i = 0; i < tlbTag.length; i++) {
            if (keepGlobal && tlbGlobal[i] && tlbTag[i] != -1) {
                largeSlots.addIf(tlbLargeShift[i] != 0, i); // a kept global entry stays findable
                keyedSlots.addIf(tlbKeyed[i], i);
            } else {
                tlbTag[i] = -1;
            }
        }
    }

    /** INVLPG: drops the translation of the page holding {@code lin}, all of it for a large page (SDM 4.10.4.1). */
    final void flushTlbPage(long lin) {
        chainEpoch++;
        long lpn = lin >>> 12;
        int i = (int) lpn & TLB_MASK;
        boolean cachedAsSmallPage = false;
        for (int k = 0; k < 3; k++) {
            int j = k * TLB_SIZE + i;
            cachedAsSmallPage |= tlbTag[j] >>> 1 == lpn && tlbLargeShift[j] == 0;
            tlbTag[j] = -1;
        }
        if (cachedAsSmallPage) {
            return; // a linear page is cached as one page size at a time
        }
        // Other 4 KiB slices of a large page at lin: only slots once filled with a large page can hold one.
        int[] slots = largeSlots.slots;
        int kept = 0;
        for (int n = 0, count = largeSlots.count; n < count; n++) {
            int j = slots[n];
            int shift = tlbLargeShift[j];
            long tag = tlbTag[j];
            if (shift != 0 && tag != -1 && (tag >>> 1 >>> shift) == (lpn >>> shift)) {
                tlbTag[j] = -1;
            }
            if (shift != 0 && tlbTag[j] != -1) {
                slots[kept++] = j;
            } else {
                largeSlots.member[j] = false; // refilled with a small page, or dropped
            }
        }
        largeSlots.count = kept;
    }

    /**
     * Sets PKRU or IA32_PKRS ({@code supervisor}): every entry whose rights came from a key is
     * dropped, as its rights may differ under the new value.
     */
    final void setProtectionKeyRights(boolean supervisor, int rights) {
        if (supervisor) {
            pkrs = rights;
        } else {
            pkru = rights;
        }
        chainEpoch++;
        int[] slots = keyedSlots.slots;
        for (int n = 0, count = keyedSlots.count; n < count; n++) {
            int j = slots[n];
            if (tlbKeyed[j]) {
                tlbTag[j] = -1;
            }
            keyedSlots.member[j] = false;
        }
        keyedSlots.count = 0;
    }

    final boolean paging() {
        return (cr0 & CR0_PG) != 0;
    }

    // ---- segmentation ----

    /**
     * The linear address of {@code ea} in segment {@code seg} for an access of {@code size}
     * bytes: FS/GS bases only and a canonical check in 64-bit mode, limit and type checks
     * elsewhere (#GP(0), or #SS(0) for the stack segment).
     */
    final long linear(int seg, long ea, int size, boolean write) {
        if (mode64) {
            long lin = seg >= FS ? segBase[seg] + ea : ea;
            if ((lin << 16 >> 16) != lin) {
                throw fault(seg == SS ? CpuFault.SS : CpuFault.GP, 0);
            }
            return lin;
        }
        if (segChecked[seg]) {
            checkSegment(seg, ea, size, write);
        }
        return (segBase[seg] + ea) & 0xffffffffL;
    }

    private void checkSegment(int seg, long ea, int size, boolean write) {
        int attr = segAttr[seg];
        int vector = seg == SS ? CpuFault.SS : CpuFault.GP;
        if ((attr & A_UNUSABLE) != 0 || (attr & A_P) == 0) {
            throw fault(vector, 0);
        }
        int type = attr & A_TYPE;
        if ((cr0 & CR0_PE) != 0 && (flags & VM) == 0) {
            boolean code = (type & 8) != 0;
            if (write ? (code || (type & 2) == 0) : (code && (type & 2) == 0)) {
                throw fault(vector, 0);
            }
        }
        long last = ea + size - 1;
        long limit = segLimit[seg];
        if ((type & 0xc) == 4) {
            // Expand-down data: valid offsets are limit+1 .. 0xffff or 0xffffffff.
            long top = (attr & A_DB) != 0 ? 0xffffffffL : 0xffff;
            if (ea <= limit || last > top) {
                throw fault(vector, 0);
            }
        } else if (last > limit) {
            throw fault(vector, 0);
        }
    }

    /**
     * Recomputes whether a segment needs the slow checks: all but flat, writable, expand-up
     * data. A flat CS is checked too, as data stores through it are #GP (instruction fetch
     * does its own limit check).
     */
    final void updateSegChecked(int seg) {
        int attr = segAttr[seg];
        int type = attr & A_TYPE;
        boolean flatWritableData = (attr & A_UNUSABLE) == 0 && (attr & A_P) != 0 && segLimit[seg] == 0xffffffffL
                && (type & 0xe) == 2;
        segChecked[seg] = !mode64 && !flatWritableData;
    }

    // ---- linear access (data, current privilege) ----

    final long readLin(long lin, int size) {
        return read(lin, size, userBit);
    }

    final void writeLin(long lin, int size, long v) {
        write(lin, size, v, userBit);
    }

    /**
     * A read through the TLB entry tagged with privilege {@code user} (1: user, 0: supervisor),
     * else through the walk. An entry exists only where every check of such an access passes:
     * SMAP-checked pages stay out, and no implicit supervisor access is refused where an
     * explicit one passes but for SMAP (SDM 4.6.1).
     */
    private long read(long lin, int size, long user) {
        long lpn = lin >>> 12;
        int i = (int) lpn & TLB_MASK;
        int off = (int) lin & 0xfff;
        if (tlbTag[i] == (lpn << 1 | user) && off <= 4096 - size) {
            byte[] c = tlbChunk[i];
            int p = tlbHost[i] + off;
            switch (size) {
                case 1: return c[p] & 0xff;
                case 2: return (short) I16.get(c, p) & 0xffff;
                case 4: return (int) I32.get(c, p) & 0xffffffffL;
                default: return (long) I64.get(c, p);
            }
        }
        return readSlow(lin, size, user != 0);
    }

    private void write(long lin, int size, long v, long user) {
        long lpn = lin >>> 12;
        int i = TLB_SIZE + ((int) lpn & TLB_MASK);
        int off = (int) lin & 0xfff;
        if (tlbTag[i] == (lpn << 1 | user) && off <= 4096 - size) {
            byte[] c = tlbChunk[i];
            int p = tlbHost[i] + off;
            switch (size) {
                case 1: c[p] = (byte) v; break;
                case 2: I16.set(c, p, (short) v); break;
                case 4: I32.set(c, p, (int) v); break;
                default: I64.set(c, p, v);
            }
            if (c[GuestMemory.MARKS_OFFSET + (p >>> 12)] != 0) {
                codeStore(tlbPhys[i] + off);
            }
            return;
        }
        writeSlow(lin, size, v, user != 0);
    }

    /**
     * Raises the fault a store of {@code size} at {@code lin} would raise, without storing: a
     * read-modify-write checks that its destination is writable before it changes any state,
     * as hardware does when it reads the operand for the write.
     */
    final void probeWrite(long lin, int size) {
        long lpn = lin >>> 12;
        int i = TLB_SIZE + ((int) lpn & TLB_MASK);
        int off = (int) lin & 0xfff;
        if (tlbTag[i] == (lpn << 1 | userBit) && off <= 4096 - size) {
            return;
        }
        translate(lin, WRITE, userBit != 0);
        if (off > 4096 - size) {
            translate((lin + size - 1) & ~0xfffL, WRITE, userBit != 0);
        }
    }

    /** Implicit supervisor reads: descriptor tables, the TSS, the IDT. */
    final long readSys(long lin, int size) {
        implicitAccess = true;
        try {
            return read(lin, size, 0);
        } finally {
            implicitAccess = false;
        }
    }

    final void writeSys(long lin, int size, long v) {
        implicitAccess = true;
        try {
            write(lin, size, v, 0);
        } finally {
            implicitAccess = false;
        }
    }

    /** A write with an explicit privilege: the pushes of an interrupt onto the new stack. */
    final void writeAs(long lin, int size, long v, boolean user) {
        write(lin, size, v, user ? 1 : 0);
    }

    final long readAs(long lin, int size, boolean user) {
        return read(lin, size, user ? 1 : 0);
    }

    // ---- shadow-stack accesses (SDM Vol. 3A 4.6.1, Vol. 1 17.2) ----

    /**
     * A shadow-stack load of 4 or 8 bytes at {@code lin}, as a user-mode access ({@code user}:
     * CPL 3, WRUSS) or a supervisor one. It never uses the TLB: the page must be a shadow-stack
     * page of that mode, which the walk checks every time.
     */
    final long shadowStackRead(long lin, int size, boolean user) {
        if (((int) lin & 0xfff) > 4096 - size) {
            long lo = shadowStackRead(lin, 4, user);
            return lo | shadowStackRead(lin + 4, 4, user) << 32;
        }
        return readPhys(shadowStackTranslate(lin, READ, user), size);
    }

    final void shadowStackWrite(long lin, int size, long v, boolean user) {
        if (((int) lin & 0xfff) > 4096 - size) {
            shadowStackTranslate(lin + 4, WRITE, user); // both halves fault before either is stored
            shadowStackWrite(lin, 4, v, user);
            shadowStackWrite(lin + 4, 4, v >>> 32, user);
            return;
        }
        long phys = shadowStackTranslate(lin, WRITE, user);
        if (transaction.depth != 0) {
            keepForTransaction(phys & ~0xfffL);
        }
        writePhys(phys, size, v);
    }

    private long shadowStackTranslate(long lin, int kind, boolean user) {
        if (!paging()) {
            return mode64 ? lin : lin & 0xffffffffL;
        }
        shadowStackWalk = true;
        try {
            walk(lin, kind, user);
        } finally {
            shadowStackWalk = false;
        }
        return walkPhys;
    }

    /** Set while {@link #walk} serves a shadow-stack access: its faults carry PF_SS. */
    private boolean shadowStackWalk;

    /** Notes a hit of a watchpoint by {@code size} bytes at {@code lin}; the run loop stops after the instruction. */
    private void watchAccess(long lin, int size, int kinds) {
        int i = watchTraps.watchHit(lin, size, kinds);
        if (i >= 0 && watchHitKind == 0) {
            watchHitAddress = watchTraps.watchStart(i);
            watchHitKind = watchTraps.watchKind(i);
            endBlock = true;
            watchpointHit();
        }
    }

    /** Tells the run loop that a watchpoint was hit (an event, so it is seen before an interrupt is taken). */
    abstract void watchpointHit();

    /** A store hit a marked page: decoded code there goes stale (the block ends), or a live migration logs it dirty. */
    final void codeStore(long paddr) {
        if (memory.invalidateCode(paddr)) {
            endBlock = true;
        }
    }

    /** After a LOCKed store at offset {@code p} of {@link #atomicChunk}: invalidates decoded code from its page. */
    final void atomicStored(int p) {
        if (atomicChunk[GuestMemory.MARKS_OFFSET + (p >>> 12)] != 0) {
            codeStore(atomicPhys + (p & 0xfff));
        }
    }

    private long readSlow(long lin, int size, boolean user) {
        if (watchTraps != null || guestWatch) {
            long v = readUnwatched(lin, size, user);
            if (watchTraps != null) {
                watchAccess(lin, size, DebugTraps.WATCH_READ);
            }
            if (guestWatch) {
                guestWatchAccess(lin, size, false);
            }
            return v;
        }
        return readUnwatched(lin, size, user);
    }

    /** DR7 LENn (bits 18+4n) to bytes: 00 = 1, 01 = 2, 10 = 8, 11 = 4 (SDM 17.2.5). */
    static int breakpointLength(long dr7, int n) {
        switch ((int) (dr7 >>> (18 + 4 * n)) & 3) {
            case 0: return 1;
            case 1: return 2;
            case 2: return 8;
            default: return 4;
        }
    }

    /** True when DR{@code n} is enabled (Ln or Gn) as a data breakpoint: R/Wn 01 (writes) or 11 (reads and writes). */
    static boolean isDataBreakpoint(long dr7, int n) {
        return ((dr7 >>> (2 * n)) & 3) != 0 && (((dr7 >>> (16 + 4 * n)) & 1) != 0);
    }

    /**
     * Notes in {@link #dbPending} the guest data breakpoints that {@code size} bytes at
     * {@code lin} match: a write matches R/W 01 and 11, a read only 11. The range of DRn is its
     * address with the low bits of its length cleared (SDM 17.2.5).
     */
    private void guestWatchAccess(long lin, int size, boolean write) {
        long dr7 = dr[7];
        for (int n = 0; n < 4; n++) {
            if (!isDataBreakpoint(dr7, n) || (!write && ((dr7 >>> (16 + 4 * n)) & 3) != 3)) {
                continue;
            }
            int len = breakpointLength(dr7, n);
            long start = dr[n] & ~(long) (len - 1);
            if (Long.compareUnsigned(lin - start, len) < 0 || Long.compareUnsigned(start - lin, size) < 0) {
                dbPending |= 1L << n;
                endBlock = true;
            }
        }
    }

    /** Whether an enabled guest data breakpoint touches the 4 KiB page of {@code lin}. */
    private boolean guestWatchesPage(long lin) {
        long dr7 = dr[7];
        long page = lin >>> 12;
        for (int n = 0; n < 4; n++) {
            if (isDataBreakpoint(dr7, n)) {
                int len = breakpointLength(dr7, n);
                long start = dr[n] & ~(long) (len - 1);
                if (start >>> 12 == page || (start + len - 1) >>> 12 == page) {
                    return true;
                }
            }
        }
        return false;
    }

    private long readUnwatched(long lin, int size, boolean user) {
        if (((lin & 0xfff) + size) > 4096) {
            long p0 = translate(lin, READ, user);
            long p1 = translate((lin + size - 1) & ~0xfffL, READ, user);
            long v = 0;
            for (int k = 0; k < size; k++) {
                long a = lin + k;
                long p = ((a ^ lin) & ~0xfffL) == 0 ? p0 + k : p1 + (a & 0xfff);
                v |= readPhys(p, 1) << (k * 8);
            }
            return v;
        }
        return readPhys(translate(lin, READ, user), size);
    }

    private void writeSlow(long lin, int size, long v, boolean user) {
        writeUnwatched(lin, size, v, user);
        if (watchTraps != null) {
            watchAccess(lin, size, DebugTraps.WATCH_WRITE);
        }
        if (guestWatch) {
            guestWatchAccess(lin, size, true);
        }
    }

    private void writeUnwatched(long lin, int size, long v, boolean user) {
        if (((lin & 0xfff) + size) > 4096) {
            long p0 = translate(lin, WRITE, user);
            long p1 = translate((lin + size - 1) & ~0xfffL, WRITE, user);
            for (int k = 0; k < size; k++) {
                long a = lin + k;
                long p = ((a ^ lin) & ~0xfffL) == 0 ? p0 + k : p1 + (a & 0xfff);
                writePhys(p, 1, v >>> (k * 8));
            }
            return;
        }
        writePhys(translate(lin, WRITE, user), size, v);
    }

    // ---- physical access ----

    final long readPhys(long paddr, int size) {
        if (memory.isRam(paddr, size)) {
            return memory.read(paddr, size);
        }
        if (transaction.depth != 0) {
            throw gp(0); // device access cannot be undone: the transaction aborts
        }
        endBlock = true;
        return bus.mmioRead(paddr, size);
    }

    final void writePhys(long paddr, int size, long v) {
        if (memory.isRam(paddr, size)) {
            endBlock |= memory.write(paddr, size, v);
            return;
        }
        if (transaction.depth != 0) {
            throw gp(0); // device access cannot be undone: the transaction aborts
        }
        endBlock = true;
        bus.mmioWrite(paddr, size, v);
    }

    /**
     * A store inside a transaction is about to reach {@code page} through a fresh translation
     * (XBEGIN dropped the write TLB entries): the page's bytes are kept for an abort. With no
     * room left the transaction aborts for capacity (the fault is taken as an abort).
     */
    private void keepForTransaction(long page) {
        if (memory.isRam(page, 4096) && !transaction.touch(memory, page)) {
            transaction.pendingStatus = Transaction.ABORT_CAPACITY;
            throw gp(0);
        }
    }

    /**
     * Ends the transaction in progress with an abort (SDM Vol. 1, 16.3.8): memory and registers
     * as at the outermost XBEGIN, EAX = {@code status}, RIP = its fallback address.
     */
    abstract void abortTransaction(int status);

    // ---- atomics for LOCK ----

    /** The chunk of RAM {@link #atomicOffset} last found, and the physical address of the page there. */
    private byte[] atomicChunk;
    private long atomicPhys;

    /** An atomic read of naturally aligned RAM at offset {@code p} of the chunk {@link #atomicOffset} found. */
    final long atomicRead(int p, int size) {
        byte[] ram = atomicChunk;
        switch (size) {
            case 1: return (byte) I8.getVolatile(ram, p) & 0xff;
            case 2: return (short) I16.getVolatile(ram, p) & 0xffff;
            case 4: return (int) I32.getVolatile(ram, p) & 0xffffffffL;
            default: return (long) I64.getVolatile(ram, p);
        }
    }

    /** Compare-and-set on naturally aligned RAM; values are zero-extended to {@code size}. */
    final boolean atomicCas(int p, int size, long expected, long value) {
        byte[] ram = atomicChunk;
        switch (size) {
            case 1: return I8.compareAndSet(ram, p, (byte) expected, (byte) value);
            case 2: {
                // Byte-array views offer no 16-bit CAS: swap the aligned 32-bit word holding it.
                int word = p & ~3;
                int shift = (p & 2) * 8;
                int cur = (int) I32.getVolatile(ram, word);
                if (((cur >>> shift) & 0xffff) != (expected & 0xffff)) {
                    return false;
                }
                int next = (cur & ~(0xffff << shift)) | ((int) (value & 0xffff) << shift);
                return I32.compareAndSet(ram, word, cur, next);
            }
            case 4: return I32.compareAndSet(ram, p, (int) expected, (int) value);
            default: return I64.compareAndSet(ram, p, expected, value);
        }
    }

    /**
     * The offset in its chunk of RAM for a LOCKed access of {@code size} at {@code lin} when it
     * can be done with one CAS (RAM, naturally aligned), else -1; {@link #atomicRead},
     * {@link #atomicCas} and {@link #atomicStored} then work on that chunk. Translates for
     * writing, so faults come first.
     */
    final int atomicOffset(long lin, int size) {
        if (watchTraps != null) {
            // A LOCKed read-modify-write reads and writes; the hit stops the CPU after it.
            translate(lin, WRITE, userBit != 0);
            watchAccess(lin, size, DebugTraps.WATCH_ACCESS);
        }
        if (guestWatch) {
            translate(lin, WRITE, userBit != 0);
            guestWatchAccess(lin, size, true);
        }
        if ((lin & (size - 1)) != 0 || size > 8) {
            translate(lin, WRITE, userBit != 0);
            translate((lin + size - 1) & ~0xfffL, WRITE, userBit != 0);
            return -1;
        }
        long p = translate(lin, WRITE, userBit != 0);
        if (!VIEW_ATOMICS || !memory.isRam(p, size)) {
            return -1;
        }
        atomicChunk = memory.chunkForWrite(p);
        atomicPhys = p & ~0xfffL;
        return (int) p & (GuestMemory.CHUNK_SIZE - 1);
    }

    // ---- translation ----

    /** Fetch: the physical address of an instruction byte at {@code lin}. */
    /** The physical address of a fetch at {@code lin} when the TLB holds its page, else -1. */
    final long cachedExecTranslation(long lin) {
        long lpn = lin >>> 12;
        int i = 2 * TLB_SIZE + ((int) lpn & TLB_MASK);
        return tlbTag[i] == (lpn << 1 | userBit) ? tlbPhys[i] + (lin & 0xfff) : -1;
    }

    final long translateExec(long lin) {
        long lpn = lin >>> 12;
        int i = 2 * TLB_SIZE + ((int) lpn & TLB_MASK);
        if (tlbTag[i] == (lpn << 1 | userBit)) {
            return tlbPhys[i] + (lin & 0xfff);
        }
        return translate(lin, EXEC, userBit != 0);
    }

    /**
     * Linear to physical for an access of {@code kind}, raising #PF as the SDM describes, and
     * filling the TLB for RAM pages.
     */
    final long translate(long lin, int kind, boolean user) {
        long phys;
        boolean global = false;
        boolean fill = true;
        int largeShift = 0;
        boolean keyed = false;
        if (!paging()) {
            phys = lin & 0xffffffffL;
            if (mode64) {
                phys = lin;
            }
        } else {
            long pte = walk(lin, kind, user);
            phys = walkPhys;
            global = (pte & PTE_G) != 0 && (cr4 & CR4_PGE) != 0;
            largeShift = walkLargeShift;
            keyed = walkKeyed;
            // SMAP depends on RFLAGS.AC, which the tag does not hold: keep such pages out.
            fill = !walkUncached;
        }
        long page = phys & ~0xfffL;
        if (watchTraps != null && watchTraps.watchesPage(lin)) {
            fill = false; // every access to a watched page takes the slow path, which checks it
        }
        if (guestWatch && guestWatchesPage(lin)) {
            fill = false; // likewise for the guest's own data breakpoints
        }
        if (kind == WRITE && transaction.depth != 0) {
            keepForTransaction(page);
        }
        if (fill && memory.isRam(page, 4096)) {
            // Reads of a never-written chunk stay uncached: caching its zeros would go stale
            // when a write allocates it. Fetches need only the address; writes allocate.
            byte[] chunk = kind == READ ? memory.writtenChunk(page) : kind == WRITE ? memory.chunkForWrite(page) : null;
            if (kind != READ || chunk != null) {
                fillTlb(lin, kind, user, page, chunk, global, largeShift, keyed);
            }
        }
        return phys;
    }

    private void fillTlb(long lin, int kind, boolean user, long page, byte[] chunk, boolean global, int largeShift,
            boolean keyed) {
        long lpn = lin >>> 12;
        int i = kind * TLB_SIZE + ((int) lpn & TLB_MASK);
        tlbTag[i] = lpn << 1 | (user ? 1 : 0);
        tlbPhys[i] = page;
        tlbChunk[i] = chunk;
        tlbHost[i] = (int) page & (GuestMemory.CHUNK_SIZE - 1);
        tlbGlobal[i] = global;
        tlbLargeShift[i] = (byte) largeShift;
        tlbKeyed[i] = keyed;
        largeSlots.addIf(largeShift != 0, i);
        keyedSlots.addIf(keyed, i);
    }

    /**
     * The physical address {@code lin} maps to now, or -1 where nothing is mapped (outside RAM
     * included): the debugger's view (KVM_TRANSLATE). Unlike {@link #translate} it sets no
     * accessed or dirty bit, fills no TLB entry, checks no permission and raises no fault.
     */
    final long peekTranslate(long lin) {
        if (!paging()) {
            return mode64 ? lin : lin & 0xffffffffL;
        }
        boolean longMode = (efer & EFER_LMA) != 0;
        boolean wide = longMode || (cr4 & CR4_PAE) != 0;
        long table;
        int shift;
        if (longMode) {
            if ((lin << 16 >> 16) != lin) {
                return -1;
            }
            table = cr3 & PHYS_MASK;
            shift = 39;
        } else if (wide) {
            long pdpte = pdpteFor(lin);
            if ((pdpte & PTE_P) == 0) {
                return -1;
            }
            table = pdpte & PHYS_MASK;
            shift = 21;
        } else {
            table = cr3 & 0xfffff000L;
            shift = 22;
        }
        long frameMask = wide ? PHYS_MASK : 0xfffff000L;
        while (true) {
            long index = wide ? (lin >>> shift) & 511 : (lin >>> shift) & 1023;
            long entry = peekEntry(table + index * (wide ? 8 : 4), wide);
            if ((entry & PTE_P) == 0) {
                return -1;
            }
            boolean large = (entry & PTE_PS) != 0
                    && (shift == 21 || shift == 30 || (shift == 22 && (cr4 & CR4_PSE) != 0));
            if (large) {
                long pageMask = (1L << shift) - 1;
                long base = wide ? entry & PHYS_MASK & ~pageMask : (entry & 0xffc00000L) | ((entry & 0x1fe000L) << 19);
                return base + (lin & pageMask);
            }
            if (shift == 12) {
                return (entry & frameMask) + (lin & 0xfff);
            }
            table = entry & frameMask;
            shift = wide ? shift - 9 : 12;
        }
    }

    /** A paging entry in RAM, or 0 (not present) for an address outside it. */
    private long peekEntry(long paddr, boolean wide) {
        int size = wide ? 8 : 4;
        return memory.isRam(paddr, size) ? memory.read(paddr, size) : 0;
    }

    long walkPhys;
    /** The {@link #tlbLargeShift} of the page the last walk ended in. */
    int walkLargeShift;
    /**
     * Set by a walk whose permission depends on RFLAGS.AC (SMAP), which the TLB tag does not
     * hold: such pages stay out of the TLB.
     */
    boolean walkUncached;
    /**
     * Set by a walk whose permission came from PKRU or IA32_PKRS (a data access to a user page
     * while CR4.PKE is set, to a supervisor page while CR4.PKS is set): its entry is dropped
     * when either changes ({@link #setProtectionKeyRights}).
     */
    boolean walkKeyed;

    private CpuFault pageFault(long lin, int err, int kind, boolean user) {
        if (user) {
            err |= PF_U;
        }
        if (kind == WRITE) {
            err |= PF_W;
        }
        if (shadowStackWalk) {
            err |= PF_SS;
        }
        // SDM 4.7: I/D needs SMEP, or NXE with PAE/4-level paging (32-bit paging has no NX).
        if (kind == EXEC && (((efer & EFER_NXE) != 0 && (cr4 & CR4_PAE) != 0) || (cr4 & CR4_SMEP) != 0)) {
            err |= PF_I;
        }
        cr2 = lin;
        return fault(CpuFault.PF, err);
    }

    /**
     * PAE paging's four PDPTE registers (SDM 4.4.1): loaded from the PDPT by MOV to CR3, and by
     * MOV to CR0/CR4 where they change paging, then used by every walk until the next load; a
     * change to the PDPT in memory is not seen before it. Invalid after a host state load
     * (RAM may arrive after the registers), reloaded on the first walk.
     */
    final long[] pdptes = new long[4];
    boolean pdptesValid;

    /**
     * Loads the PDPTE registers from the PDPT at {@code cr3v}; a present entry with a reserved
     * bit set is #GP(0) with nothing loaded (SDM 4.4.1, MOV CR).
     */
    final void loadPdptes(long cr3v) {
        long base = cr3v & 0xffffffe0L;
        long reserved = 0x1e6 | reservedAddressBits() | (-1L << 52); // 2:1, 8:5, 63:MAXPHYADDR (SDM table 4-8)
        long e0 = readPhys(base, 8), e1 = readPhys(base + 8, 8), e2 = readPhys(base + 16, 8), e3 = readPhys(base + 24, 8);
        if (badPdpte(e0, reserved) || badPdpte(e1, reserved) || badPdpte(e2, reserved) || badPdpte(e3, reserved)) {
            throw gp(0);
        }
        pdptes[0] = e0;
        pdptes[1] = e1;
        pdptes[2] = e2;
        pdptes[3] = e3;
        pdptesValid = true;
    }

    private static boolean badPdpte(long e, long reserved) {
        return (e & PTE_P) != 0 && (e & reserved) != 0;
    }

    /** The PDPTE register for {@code lin}, reloaded first after a host state load. */
    private long pdpteFor(long lin) {
        if (!pdptesValid) {
            long base = cr3 & 0xffffffe0L;
            for (int i = 0; i < 4; i++) {
                pdptes[i] = readPhys(base + i * 8L, 8);
            }
            pdptesValid = true;
        }
        return pdptes[(int) (lin >>> 30) & 3];
    }

    /** Bits 51:MAXPHYADDR, reserved in PAE and 4-level paging entries; -1 until first read. */
    private long reservedAddressBits = -1;

    /**
     * MAXPHYADDR from CPUID 0x80000008 (36 without that leaf, SDM CPUID), asked once: the
     * paging entry bits at and above it up to 51 are reserved (SDM 4.4.2, 4.5).
     */
    private long reservedAddressBits() {
        long bits = reservedAddressBits;
        if (bits == -1) {
            int[] out = new int[4];
            bus.cpuid(0x80000000, 0, out);
            int maxPhys = 36;
            if (Integer.compareUnsigned(out[0], 0x80000008) >= 0) {
                bus.cpuid(0x80000008, 0, out);
                maxPhys = out[0] & 0xff;
            }
            maxPhys = Math.max(36, Math.min(52, maxPhys));
            bits = reservedAddressBits = ((1L << 52) - 1) & ~((1L << maxPhys) - 1);
        }
        return bits;
    }

    private long readPte(long paddr, boolean pae) {
        return pae ? readPhys(paddr, 8) : readPhys(paddr, 4);
    }

    private void setPteBits(long paddr, boolean pae, long entry, long bits) {
        if ((entry & bits) != bits) {
            if (pae) {
                writePhys(paddr, 8, entry | bits);
            } else {
                writePhys(paddr, 4, (entry | bits) & 0xffffffffL);
            }
        }
    }

    /**
     * Walks the page tables for {@code lin}; leaves the physical address in {@link #walkPhys}
     * and returns the leaf entry. Sets accessed bits on the way and the dirty bit for writes.
     */
    private long walk(long lin, int kind, boolean user) {
        boolean nxe = (efer & EFER_NXE) != 0;
        boolean longMode = (efer & EFER_LMA) != 0;
        boolean pae = (cr4 & CR4_PAE) != 0;
        long reserved = pae || longMode ? reservedAddressBits() : 0;
        long allowWrite = PTE_RW, allowUser = PTE_US, writeAbove = PTE_RW;
        boolean noExec = false;
        long entry, entryAddr;
        long pageMask;
        int levels;
        long table;
        if (longMode) {
            table = cr3 & PHYS_MASK;
            levels = 4;
        } else if (pae) {
            long pdpte = pdpteFor(lin); // checked when it was loaded
            if ((pdpte & PTE_P) == 0) {
                throw pageFault(lin, 0, kind, user);
            }
            table = pdpte & PHYS_MASK;
            levels = 2;
        } else {
            table = cr3 & 0xfffff000L;
            levels = 2;
        }
        int shift = longMode ? 39 : (pae ? 21 : 22);
        while (true) {
            long idx = pae || longMode ? (lin >>> shift) & 511 : (lin >>> shift) & 1023;
            entryAddr = table + idx * (pae || longMode ? 8 : 4);
            entry = readPte(entryAddr, pae || longMode);
            if ((entry & PTE_P) == 0) {
                throw pageFault(lin, 0, kind, user);
            }
            if ((pae || longMode) && ((!nxe && entry < 0) || (entry & reserved) != 0)) {
                throw pageFault(lin, PF_P | PF_RSVD, kind, user);
            }
            writeAbove = allowWrite;
            allowWrite &= entry;
            allowUser &= entry;
            noExec |= entry < 0 && (pae || longMode);
            boolean large = (entry & PTE_PS) != 0 && levels > 1
                    && (shift == 21 || shift == 30 || (shift == 22 && (cr4 & CR4_PSE) != 0));
            if (shift == 39 && (entry & PTE_PS) != 0) {
                throw pageFault(lin, PF_P | PF_RSVD, kind, user);
            }
            if (large || shift == 12) {
                if (large) {
                    pageMask = (1L << shift) - 1;
                    long base = (pae || longMode) ? entry & PHYS_MASK & ~pageMask
                            : (entry & 0xffc00000L) | ((entry & 0x1fe000L) << 19);
                    if ((pae || longMode) && (entry & PHYS_MASK & pageMask & ~0x1000L) != 0) {
                        throw pageFault(lin, PF_P | PF_RSVD, kind, user);
                    }
                    walkPhys = base + (lin & pageMask);
                    walkLargeShift = shift - 12;
                } else {
                    walkPhys = (entry & ((pae || longMode) ? PHYS_MASK : 0xfffff000L)) + (lin & 0xfff);
                    walkLargeShift = 0;
                }
                break;
            }
            setPteBits(entryAddr, pae || longMode, entry, PTE_A);
            table = entry & ((pae || longMode) ? PHYS_MASK : 0xfffff000L);
            shift -= 9;
            if (!(pae || longMode)) {
                shift = 12;
            }
            levels--;
        }
        // Permission checks (SDM 4.6).
        walkUncached = false;
        walkKeyed = false;
        if (shadowStackWalk) {
            // A shadow-stack page: R/W=0 and D=1 in the leaf, R/W=1 in every entry above it;
            // user-mode shadow-stack accesses need a user page, supervisor ones a supervisor page.
            if ((entry & (PTE_RW | PTE_D)) != PTE_D || writeAbove == 0 || (allowUser != 0) != user) {
                throw pageFault(lin, PF_P, kind, user);
            }
            setPteBits(entryAddr, pae || longMode, entry, PTE_A);
            return entry;
        }
        int keyFault = 0;
        if (longMode && kind != EXEC && (cr4 & (CR4_PKE | CR4_PKS)) != 0) {
            keyFault = protectionKeyFault(entry, allowUser != 0, kind, user);
        }
        if (user) {
            if (allowUser == 0 || (kind == WRITE && allowWrite == 0)) {
                throw pageFault(lin, PF_P | keyFault, kind, user);
            }
        } else {
            if (kind == WRITE && allowWrite == 0 && (cr0 & CR0_WP) != 0) {
                throw pageFault(lin, PF_P | keyFault, kind, user);
            }
            if (allowUser != 0) {
                if (kind == EXEC && (cr4 & CR4_SMEP) != 0) {
                    throw pageFault(lin, PF_P, kind, user);
                }
                if (kind != EXEC && (cr4 & CR4_SMAP) != 0) {
                    walkUncached = true;
                    if (cpl == 3 || (flags & AC) == 0 || implicitAccess) {
                        throw pageFault(lin, PF_P | keyFault, kind, user);
                    }
                }
            }
        }
        if (keyFault != 0) {
            throw pageFault(lin, PF_P | PF_PK, kind, user);
        }
        if (kind == EXEC && noExec) {
            throw pageFault(lin, PF_P, kind, user);
        }
        setPteBits(entryAddr, pae || longMode, entry, kind == WRITE ? PTE_A | PTE_D : PTE_A);
        return entry;
    }

    /**
     * SDM 4.6.2: a data access, in 4-level paging, to a user-mode address while CR4.PKE is set
     * (PKRU) or to a supervisor-mode address while CR4.PKS is set (IA32_PKRS) is checked against
     * the rights of the key in bits 62:59 of the leaf entry: access-disable refuses every data
     * access, write-disable refuses user-mode writes and supervisor-mode writes when CR0.WP is
     * set. Returns {@link #PF_PK} for a violation, else 0; marks the walk keyed.
     */
    private int protectionKeyFault(long entry, boolean userPage, int kind, boolean user) {
        if ((cr4 & (userPage ? CR4_PKE : CR4_PKS)) == 0) {
            return 0;
        }
        walkKeyed = true;
        int key = (int) (entry >>> 59) & 15;
        int rights = (userPage ? pkru : pkrs) >>> (2 * key);
        boolean denied = (rights & 1) != 0
                || (kind == WRITE && (rights & 2) != 0 && (user || (cr0 & CR0_WP) != 0));
        return denied ? PF_PK : 0;
    }

    /** True while the CPU makes implicit supervisor accesses (descriptor tables, IDT, TSS). */
    boolean implicitAccess;
}

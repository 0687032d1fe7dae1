package org.tscvm.cpu;

import static org.tscvm.memory.GuestMemory.I16;
import static org.tscvm.memory.GuestMemory.I32;
import static org.tscvm.memory.GuestMemory.I64;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.tscvm.memory.GuestMemory;

/**
 * Memory access at the current privilege, on top of the {@link Mmu} it holds: the mode and CPL
 * (recomputed when CS, SS, CR0 or EFER change) and the segment caches' writes, segment checks,
 * linear reads and writes with their TLB fast paths (the {@link Mmu}'s arrays, looked up here
 * so that a hit costs no call), implicit supervisor accesses, data breakpoints and the
 * debugger's watchpoints on the slow paths, the atomics of LOCKed read-modify-writes, and the
 * stack.
 */
abstract class CpuMemory extends CpuState {
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

    /** 1 at CPL 3: the TLB tag bit of ordinary data and fetch accesses. */
    long userBit;
    /** The paging unit: translation, the TLB and physical access. */
    final Mmu mmu = new Mmu(this);
    /**
     * The {@link Mmu}'s TLB arrays, held here as well: a hit in the access fast paths then loads
     * them from the CPU itself, not through {@link #mmu} (one dependent load fewer per access).
     */
    private final long[] tlbTag = mmu.tlbTag, tlbPhys = mmu.tlbPhys;
    private final byte[][] tlbChunk = mmu.tlbChunk;
    private final int[] tlbHost = mmu.tlbHost;
    /** The watchpoint the current instruction hit: its start and kind (0: none). */
    long watchHitAddress;
    int watchHitKind;

    /** The last exception raised, for {@code describe()}. */
    int lastVector = -1;
    int lastErrorCode;

    CpuMemory(GuestMemory memory, CpuBus bus) {
        super(memory, bus);
    }

    // ---- the mode and the segment caches ----

    /**
     * CPL changes here (and in a task switch): while a performance counter filters on it, the
     * platform first counts what retired at the old level.
     */
    final void setCpl(int newCpl) {
        if (watchPrivilege && newCpl != cpl) {
            bus.privilegeLevelChanging();
        }
        cpl = newCpl;
    }

    /** The decode mode and CPL the links of the current {@link Mmu#epoch} were made in. */
    private int chainMode = -1;

    /** Recomputes the mode fields after CS, SS, CR0 or EFER changed. */
    final void updateMode() {
        mode64 = longMode() && (segAttr[CS] & A_L) != 0;
        codeSize = mode64 ? 8 : (segAttr[CS] & A_DB) != 0 ? 4 : 2;
        stackSize = mode64 ? 8 : (segAttr[SS] & A_DB) != 0 ? 4 : 2;
        setCpl(realMode() || csFromRealMode ? 0 : (flags & VM) != 0 ? 3 : segSel[CS] & 3);
        userBit = cpl == 3 ? 1 : 0;
        // Links hold for one decode mode and one privilege (a fetch's rights); an interrupt
        // or IRET that keeps both (most of a kernel's) keeps them.
        int linkMode = codeSize | (mode64 ? 16 : 0) | (realMode() ? 32 : 0) | cpl << 6;
        if (linkMode != chainMode) {
            chainMode = linkMode;
            mmu.epoch++;
        }
        for (int s = 0; s < 6; s++) {
            updateSegChecked(s);
        }
    }

    /**
     * True from MOV CR0 setting PE until the first CS load: CS still holds a real-mode value,
     * whose low bits are no RPL, and the CPL stays real mode's 0 (SDM 9.9.1).
     */
    boolean csFromRealMode;

    final void setSeg(int seg, int sel, long base, long limit, int attr) {
        if (seg == CS) {
            csFromRealMode = false;
        }
        segSel[seg] = sel & 0xffff;
        segBase[seg] = base;
        segLimit[seg] = limit;
        segAttr[seg] = attr;
        updateSegChecked(seg);
    }

    // ---- the stack ----

    final long stackMask() {
        return stackSize == 8 ? -1L : stackSize == 4 ? 0xffffffffL : 0xffff;
    }

    final void setSp(long v) {
        long m = stackMask();
        regs[RSP] = (regs[RSP] & ~m) | (v & m);
    }

    final void adjustSp(long delta) {
        setSp(regs[RSP] + delta);
    }

    final void push(long v, int size) {
        long sp = (regs[RSP] - size) & stackMask();
        writeLin(linear(SS, sp, size, true), size, v);
        setSp(sp);
    }

    final long pop(int size) {
        long sp = regs[RSP] & stackMask();
        long v = readLin(linear(SS, sp, size, false), size);
        setSp(sp + size);
        return v;
    }

    /** Reads the stack at SP + {@code offset} without moving SP. */
    final long readStack(long offset, int size) {
        long sp = (regs[RSP] + offset) & stackMask();
        return readLin(linear(SS, sp, size, false), size);
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
        int i = (int) lpn & Mmu.TLB_MASK;
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
        int i = Mmu.TLB_SIZE + ((int) lpn & Mmu.TLB_MASK);
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
        int i = Mmu.TLB_SIZE + ((int) lpn & Mmu.TLB_MASK);
        int off = (int) lin & 0xfff;
        if (tlbTag[i] == (lpn << 1 | userBit) && off <= 4096 - size) {
            return;
        }
        mmu.translate(lin, Mmu.WRITE, userBit != 0);
        if (off > 4096 - size) {
            mmu.translate((lin + size - 1) & ~0xfffL, Mmu.WRITE, userBit != 0);
        }
    }

    /** Implicit supervisor reads: descriptor tables, the TSS, the IDT. */
    final long readSys(long lin, int size) {
        mmu.implicitAccess = true;
        try {
            return read(lin, size, 0);
        } finally {
            mmu.implicitAccess = false;
        }
    }

    final void writeSys(long lin, int size, long v) {
        mmu.implicitAccess = true;
        try {
            write(lin, size, v, 0);
        } finally {
            mmu.implicitAccess = false;
        }
    }

    /** A write with an explicit privilege: the pushes of an interrupt onto the new stack. */
    final void writeAs(long lin, int size, long v, boolean user) {
        write(lin, size, v, user ? 1 : 0);
    }

    // ---- runs of string elements (REP MOVS, REP STOS) ----

    /** Where {@link #runInTlb} found a run: its chunk and the offset of its first byte. */
    private byte[] runChunk;
    private int runOffset;

    /**
     * Whether one TLB entry for {@code kind} ({@link Mmu#READ} or {@link Mmu#WRITE}) at the
     * current privilege holds all {@code bytes} bytes at {@code lin}, and for a write, whether
     * their page is unmarked (no decoded code, no dirty log). Then no access to them can fault,
     * be watched or need more than the bytes themselves, so a run of string elements may move
     * them at once; {@link #runChunk} and {@link #runOffset} locate them.
     */
    private boolean runInTlb(long lin, int bytes, int kind) {
        long lpn = lin >>> 12;
        int i = kind * Mmu.TLB_SIZE + ((int) lpn & Mmu.TLB_MASK);
        int off = (int) lin & 0xfff;
        if (tlbTag[i] != (lpn << 1 | userBit) || off + bytes > 4096) {
            return false;
        }
        byte[] c = tlbChunk[i];
        int p = tlbHost[i] + off;
        if (kind == Mmu.WRITE && c[GuestMemory.MARKS_OFFSET + (p >>> 12)] != 0) {
            return false;
        }
        runChunk = c;
        runOffset = p;
        return true;
    }

    /**
     * Stores {@code count} elements of {@code size} bytes, each {@code v}, from {@code lin}
     * upwards, if {@link #runInTlb} allows it for all of them; false, and nothing stored, if not.
     */
    final boolean storeRun(long lin, int size, int count, long v) {
        if (!runInTlb(lin, count * size, Mmu.WRITE)) {
            return false;
        }
        byte[] c = runChunk;
        int p = runOffset;
        long lowByteRepeated = (v & 0xff) * 0x0101010101010101L;
        if (size == 1 || (v & mask(size)) == (lowByteRepeated & mask(size))) {
            java.util.Arrays.fill(c, p, p + count * size, (byte) v);
            return true;
        }
        for (int k = 0; k < count; k++, p += size) {
            switch (size) {
                case 2: I16.set(c, p, (short) v); break;
                case 4: I32.set(c, p, (int) v); break;
                default: I64.set(c, p, v);
            }
        }
        return true;
    }

    /**
     * Copies {@code count} elements of {@code size} bytes from {@code from} to {@code to}, both
     * upwards, if {@link #runInTlb} allows it for both and a block copy gives what element by
     * element would; false, and nothing copied, if not. Element by element, a destination a
     * little above its source repeats the source's first bytes, which a block copy does not.
     */
    final boolean copyRun(long from, long to, int size, int count) {
        int bytes = count * size;
        if (!runInTlb(from, bytes, Mmu.READ)) {
            return false;
        }
        byte[] src = runChunk;
        int p = runOffset;
        if (!runInTlb(to, bytes, Mmu.WRITE)) {
            return false;
        }
        byte[] dst = runChunk;
        int q = runOffset;
        if (src == dst && q > p && q < p + bytes) {
            return false;
        }
        System.arraycopy(src, p, dst, q, bytes);
        return true;
    }

    /** Notes a hit of a watchpoint by {@code size} bytes at {@code lin}; the run loop stops after the instruction. */
    private void watchAccess(long lin, int size, int kinds) {
        int i = mmu.watchTraps.watchHit(lin, size, kinds);
        if (i >= 0 && watchHitKind == 0) {
            watchHitAddress = mmu.watchTraps.watchStart(i);
            watchHitKind = mmu.watchTraps.watchKind(i);
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
        if (mmu.watchTraps != null || guestWatch) {
            long v = readUnwatched(lin, size, user);
            if (mmu.watchTraps != null) {
                watchAccess(lin, size, DebugTraps.WATCH_READ);
            }
            if (guestWatch) {
                guestWatchAccess(lin, size, false);
            }
            return v;
        }
        return readUnwatched(lin, size, user);
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

    private long readUnwatched(long lin, int size, boolean user) {
        if (((lin & 0xfff) + size) > 4096) {
            long p0 = mmu.translate(lin, Mmu.READ, user);
            long p1 = mmu.translate((lin + size - 1) & ~0xfffL, Mmu.READ, user);
            long v = 0;
            for (int k = 0; k < size; k++) {
                long a = lin + k;
                long p = ((a ^ lin) & ~0xfffL) == 0 ? p0 + k : p1 + (a & 0xfff);
                v |= mmu.readPhys(p, 1) << (k * 8);
            }
            return v;
        }
        return mmu.readPhys(mmu.translate(lin, Mmu.READ, user), size);
    }

    private void writeSlow(long lin, int size, long v, boolean user) {
        writeUnwatched(lin, size, v, user);
        if (mmu.watchTraps != null) {
            watchAccess(lin, size, DebugTraps.WATCH_WRITE);
        }
        if (guestWatch) {
            guestWatchAccess(lin, size, true);
        }
    }

    private void writeUnwatched(long lin, int size, long v, boolean user) {
        if (((lin & 0xfff) + size) > 4096) {
            long p0 = mmu.translate(lin, Mmu.WRITE, user);
            long p1 = mmu.translate((lin + size - 1) & ~0xfffL, Mmu.WRITE, user);
            for (int k = 0; k < size; k++) {
                long a = lin + k;
                long p = ((a ^ lin) & ~0xfffL) == 0 ? p0 + k : p1 + (a & 0xfff);
                mmu.writePhys(p, 1, v >>> (k * 8));
            }
            return;
        }
        mmu.writePhys(mmu.translate(lin, Mmu.WRITE, user), size, v);
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
        if (mmu.watchTraps != null) {
            // A LOCKed read-modify-write reads and writes; the hit stops the CPU after it.
            mmu.translate(lin, Mmu.WRITE, userBit != 0);
            watchAccess(lin, size, DebugTraps.WATCH_ACCESS);
        }
        if (guestWatch) {
            mmu.translate(lin, Mmu.WRITE, userBit != 0);
            guestWatchAccess(lin, size, true);
        }
        if ((lin & (size - 1)) != 0 || size > 8) {
            mmu.translate(lin, Mmu.WRITE, userBit != 0);
            mmu.translate((lin + size - 1) & ~0xfffL, Mmu.WRITE, userBit != 0);
            return -1;
        }
        long p = mmu.translate(lin, Mmu.WRITE, userBit != 0);
        if (!VIEW_ATOMICS || !memory.isRam(p, size)) {
            return -1;
        }
        atomicChunk = memory.chunkForWrite(p);
        atomicPhys = p & ~0xfffL;
        return (int) p & (GuestMemory.CHUNK_SIZE - 1);
    }
}

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.AC;
import static org.tscvm.cpu.CpuState.CR0_WP;
import static org.tscvm.cpu.CpuState.CR4_PAE;
import static org.tscvm.cpu.CpuState.CR4_PGE;
import static org.tscvm.cpu.CpuState.CR4_PKE;
import static org.tscvm.cpu.CpuState.CR4_PKS;
import static org.tscvm.cpu.CpuState.CR4_PSE;
import static org.tscvm.cpu.CpuState.CR4_SMAP;
import static org.tscvm.cpu.CpuState.CR4_SMEP;
import static org.tscvm.cpu.CpuState.EFER_LMA;
import static org.tscvm.cpu.CpuState.EFER_NXE;

import org.tscvm.memory.GuestMemory;

/**
 * The MMU of one logical processor: the page walk (32-bit, PAE, 4-level; SDM Vol. 3A ch. 4),
 * PAE's PDPTE registers, the software TLB and its invalidation, page faults, and physical
 * access (RAM, or MMIO through the bus), which the walk itself uses for the paging entries.
 *
 * <p>It reads the paging controls from the {@link CpuState} it is built with when a walk runs
 * (CR0.PG/WP, CR3, CR4.PSE/PAE/PGE/SMEP/SMAP/PKE/PKS, EFER.LMA/NXE, CPL and RFLAGS.AC for
 * SMAP, PKRU/IA32_PKRS, 64-bit mode for unpaged addresses, DR7's data breakpoints, the RTM
 * transaction) rather than keeping copies: those change in MOV to CR, WRMSR, task switches,
 * state loads and resets, and one copy of each cannot go stale. It writes back only what
 * the architecture makes its output: CR2, the fault it raises, PKRU/IA32_PKRS through
 * {@link #setProtectionKeyRights} (which must drop keyed entries), and {@code endBlock} after
 * an MMIO access. The privilege of an access is a parameter ({@code user}, or the TLB tag bit
 * {@code user} of 0 or 1), as the CPU makes supervisor accesses at CPL 3 (descriptor tables,
 * interrupt stacks).
 *
 * <p>The TLB is direct-mapped parallel arrays, one set per access kind (read, write, execute)
 * so that a page becomes writable in the fast path only after its dirty bit is set. The tag is
 * the linear page number and a user bit (CPL 3), as in Sedna, so a privilege change needs no
 * flush. Only RAM pages enter the TLB; MMIO always takes the slow path to the bus. A read or
 * write entry holds the page's chunk of {@link GuestMemory} and its offset there; a read entry
 * only for a chunk already written (a never-written chunk reads as zeros through the slow path,
 * so nothing cached goes stale when a write allocates it), a write entry allocates the chunk.
 * The CPU's access fast paths ({@code CpuMemory.readLin}) look the arrays up themselves.
 */
final class Mmu {
    static final int READ = 0, WRITE = 1, EXEC = 2;
    static final int TLB_BITS = 10, TLB_SIZE = 1 << TLB_BITS, TLB_MASK = TLB_SIZE - 1;
    static final long PHYS_MASK = 0x000f_ffff_ffff_f000L;
    static final long PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;
    static final long PTE_NX = 1L << 63;
    static final int PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16, PF_PK = 32, PF_SS = 64;

    private final CpuState s;
    private final GuestMemory memory;

    /** Tags by kind: index = kind * TLB_SIZE + (linear page & TLB_MASK); -1 is empty. */
    final long[] tlbTag = new long[3 * TLB_SIZE];
    /** The physical address of the page the entry maps. */
    final long[] tlbPhys = new long[3 * TLB_SIZE];
    /** Read and write entries: the chunk of RAM holding the page, and the page's offset in it. */
    final byte[][] tlbChunk = new byte[3 * TLB_SIZE][];
    final int[] tlbHost = new int[3 * TLB_SIZE];
    private final boolean[] tlbGlobal = new boolean[3 * TLB_SIZE];
    /** log2 of (size of the page the entry maps / 4 KiB): 0, or 9, 10, 18 for 2 MiB, 4 MiB, 1 GiB. */
    private final byte[] tlbLargeShift = new byte[3 * TLB_SIZE];
    /**
     * Whether the entry's rights came from a protection key (PKRU or IA32_PKRS), so that a new
     * value of either must drop it.
     */
    private final boolean[] tlbKeyed = new boolean[3 * TLB_SIZE];
    /**
     * The slots filled with a slice of a large page since the last full flush (some may have been
     * refilled since): INVLPG looks for the other slices of a large page only among these.
     */
    private final TlbSlots largeSlots = new TlbSlots(3 * TLB_SIZE);
    /** Likewise the slots filled with a keyed entry: a new PKRU or IA32_PKRS drops these only. */
    private final TlbSlots keyedSlots = new TlbSlots(3 * TLB_SIZE);

    /**
     * Bumped whenever a code link between decoded blocks may have gone stale: by every TLB
     * flush here, and by the CPU at a change of decode mode or privilege (CpuMemory.updateMode;
     * a re-decoded block counts its own decodes). Links remember the epoch.
     */
    long epoch;

    /**
     * The debugger's traps while one of them is a watchpoint, else null: the pages it watches
     * stay out of the TLB, so that the CPU's slow access paths see every access to them.
     */
    DebugTraps watchTraps;

    /** True while the CPU makes implicit supervisor accesses (descriptor tables, IDT, TSS): SMAP refuses them. */
    boolean implicitAccess;

    Mmu(CpuState state) {
        this.s = state;
        this.memory = state.memory;
        java.util.Arrays.fill(tlbTag, -1L);
    }

    // ---- TLB maintenance ----

    void flushTlb(boolean keepGlobal) {
        epoch++;
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
    void flushTlbPage(long lin) {
        epoch++;
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
    void setProtectionKeyRights(boolean supervisor, int rights) {
        if (supervisor) {
            s.pkrs = rights;
        } else {
            s.pkru = rights;
        }
        epoch++;
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

    // ---- translation ----

    /** The physical address of a fetch at {@code lin} with TLB tag bit {@code user} when the TLB holds its page, else -1. */
    long cachedExecTranslation(long lin, long user) {
        long lpn = lin >>> 12;
        int i = 2 * TLB_SIZE + ((int) lpn & TLB_MASK);
        return tlbTag[i] == (lpn << 1 | user) ? tlbPhys[i] + (lin & 0xfff) : -1;
    }

    /** Fetch: the physical address of an instruction byte at {@code lin} with TLB tag bit {@code user}. */
    long translateExec(long lin, long user) {
        long lpn = lin >>> 12;
        int i = 2 * TLB_SIZE + ((int) lpn & TLB_MASK);
        if (tlbTag[i] == (lpn << 1 | user)) {
            return tlbPhys[i] + (lin & 0xfff);
        }
        return translate(lin, EXEC, user != 0);
    }

    /**
     * Linear to physical for an access of {@code kind}, raising #PF as the SDM describes, and
     * filling the TLB for RAM pages.
     */
    long translate(long lin, int kind, boolean user) {
        long phys;
        boolean global = false;
        boolean fill = true;
        int largeShift = 0;
        boolean keyed = false;
        if (!s.paging()) {
            phys = lin & 0xffffffffL;
            if (s.mode64) {
                phys = lin;
            }
        } else {
            long pte = walk(lin, kind, user);
            phys = walkPhys;
            global = (pte & PTE_G) != 0 && (s.cr4 & CR4_PGE) != 0;
            largeShift = walkLargeShift;
            keyed = walkKeyed;
            // SMAP depends on RFLAGS.AC, which the tag does not hold: keep such pages out.
            fill = !walkUncached;
        }
        long page = phys & ~0xfffL;
        if (watchTraps != null && watchTraps.watchesPage(lin)) {
            fill = false; // every access to a watched page takes the slow path, which checks it
        }
        if (s.guestWatch && guestWatchesPage(lin)) {
            fill = false; // likewise for the guest's own data breakpoints
        }
        if (kind == WRITE && s.transaction.depth != 0) {
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

    /** Whether an enabled guest data breakpoint touches the 4 KiB page of {@code lin}. */
    private boolean guestWatchesPage(long lin) {
        long dr7 = s.dr[7];
        long page = lin >>> 12;
        for (int n = 0; n < 4; n++) {
            if (CpuState.isDataBreakpoint(dr7, n)) {
                int len = CpuState.breakpointLength(dr7, n);
                long start = s.dr[n] & ~(long) (len - 1);
                if (start >>> 12 == page || (start + len - 1) >>> 12 == page) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * A store inside a transaction is about to reach {@code page} through a fresh translation
     * (XBEGIN dropped the write TLB entries): the page's bytes are kept for an abort. With no
     * room left the transaction aborts for capacity (the fault is taken as an abort).
     */
    private void keepForTransaction(long page) {
        if (memory.isRam(page, 4096) && !s.transaction.touch(memory, page)) {
            s.transaction.pendingStatus = Transaction.ABORT_CAPACITY;
            throw s.gp(0);
        }
    }

    /**
     * The physical address {@code lin} maps to now, or -1 where nothing is mapped (outside RAM
     * included): the debugger's view (KVM_TRANSLATE). Unlike {@link #translate} it sets no
     * accessed or dirty bit, fills no TLB entry, checks no permission and raises no fault.
     */
    long peekTranslate(long lin) {
        if (!s.paging()) {
            return s.mode64 ? lin : lin & 0xffffffffL;
        }
        long cr4 = s.cr4;
        boolean longMode = (s.efer & EFER_LMA) != 0;
        boolean wide = longMode || (cr4 & CR4_PAE) != 0;
        long table;
        int shift;
        if (longMode) {
            if ((lin << 16 >> 16) != lin) {
                return -1;
            }
            table = s.cr3 & PHYS_MASK;
            shift = 39;
        } else if (wide) {
            long pdpte = pdpteFor(lin);
            if ((pdpte & PTE_P) == 0) {
                return -1;
            }
            table = pdpte & PHYS_MASK;
            shift = 21;
        } else {
            table = s.cr3 & 0xfffff000L;
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

    // ---- shadow-stack accesses (SDM Vol. 3A 4.6.1, Vol. 1 17.2) ----

    /**
     * A shadow-stack load of 4 or 8 bytes at {@code lin}, as a user-mode access ({@code user}:
     * CPL 3, WRUSS) or a supervisor one. It never uses the TLB: the page must be a shadow-stack
     * page of that mode, which the walk checks every time.
     */
    long shadowStackRead(long lin, int size, boolean user) {
        if (((int) lin & 0xfff) > 4096 - size) {
            long lo = shadowStackRead(lin, 4, user);
            return lo | shadowStackRead(lin + 4, 4, user) << 32;
        }
        return readPhys(shadowStackTranslate(lin, READ, user), size);
    }

    void shadowStackWrite(long lin, int size, long v, boolean user) {
        if (((int) lin & 0xfff) > 4096 - size) {
            shadowStackTranslate(lin + 4, WRITE, user); // both halves fault before either is stored
            shadowStackWrite(lin, 4, v, user);
            shadowStackWrite(lin + 4, 4, v >>> 32, user);
            return;
        }
        long phys = shadowStackTranslate(lin, WRITE, user);
        if (s.transaction.depth != 0) {
            keepForTransaction(phys & ~0xfffL);
        }
        writePhys(phys, size, v);
    }

    private long shadowStackTranslate(long lin, int kind, boolean user) {
        if (!s.paging()) {
            return s.mode64 ? lin : lin & 0xffffffffL;
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

    // ---- physical access ----

    long readPhys(long paddr, int size) {
        if (memory.isRam(paddr, size)) {
            return memory.read(paddr, size);
        }
        if (s.transaction.depth != 0) {
            throw s.gp(0); // device access cannot be undone: the transaction aborts
        }
        s.endBlock = true;
        return s.bus.mmioRead(paddr, size);
    }

    void writePhys(long paddr, int size, long v) {
        if (memory.isRam(paddr, size)) {
            s.endBlock |= memory.write(paddr, size, v);
            return;
        }
        if (s.transaction.depth != 0) {
            throw s.gp(0); // device access cannot be undone: the transaction aborts
        }
        s.endBlock = true;
        s.bus.mmioWrite(paddr, size, v);
    }

    // ---- the walk ----

    private long walkPhys;
    /** The {@link #tlbLargeShift} of the page the last walk ended in. */
    private int walkLargeShift;
    /**
     * Set by a walk whose permission depends on RFLAGS.AC (SMAP), which the TLB tag does not
     * hold: such pages stay out of the TLB.
     */
    private boolean walkUncached;
    /**
     * Set by a walk whose permission came from PKRU or IA32_PKRS (a data access to a user page
     * while CR4.PKE is set, to a supervisor page while CR4.PKS is set): its entry is dropped
     * when either changes ({@link #setProtectionKeyRights}).
     */
    private boolean walkKeyed;

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
        if (kind == EXEC && (((s.efer & EFER_NXE) != 0 && (s.cr4 & CR4_PAE) != 0) || (s.cr4 & CR4_SMEP) != 0)) {
            err |= PF_I;
        }
        s.cr2 = lin;
        return s.fault(CpuFault.PF, err);
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
    void loadPdptes(long cr3v) {
        long base = cr3v & 0xffffffe0L;
        long reserved = 0x1e6 | reservedAddressBits() | (-1L << 52); // 2:1, 8:5, 63:MAXPHYADDR (SDM table 4-8)
        long e0 = readPhys(base, 8), e1 = readPhys(base + 8, 8), e2 = readPhys(base + 16, 8), e3 = readPhys(base + 24, 8);
        if (badPdpte(e0, reserved) || badPdpte(e1, reserved) || badPdpte(e2, reserved) || badPdpte(e3, reserved)) {
            throw s.gp(0);
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
            long base = s.cr3 & 0xffffffe0L;
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
            s.bus.cpuid(0x80000000, 0, out);
            int maxPhys = 36;
            if (Integer.compareUnsigned(out[0], 0x80000008) >= 0) {
                s.bus.cpuid(0x80000008, 0, out);
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
        long cr0 = s.cr0, cr4 = s.cr4;
        boolean nxe = (s.efer & EFER_NXE) != 0;
        boolean longMode = (s.efer & EFER_LMA) != 0;
        boolean pae = (cr4 & CR4_PAE) != 0;
        long reserved = pae || longMode ? reservedAddressBits() : 0;
        long allowWrite = PTE_RW, allowUser = PTE_US, writeAbove = PTE_RW;
        boolean noExec = false;
        long entry, entryAddr;
        long pageMask;
        int levels;
        long table;
        if (longMode) {
            table = s.cr3 & PHYS_MASK;
            levels = 4;
        } else if (pae) {
            long pdpte = pdpteFor(lin); // checked when it was loaded
            if ((pdpte & PTE_P) == 0) {
                throw pageFault(lin, 0, kind, user);
            }
            table = pdpte & PHYS_MASK;
            levels = 2;
        } else {
            table = s.cr3 & 0xfffff000L;
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
                    if (s.cpl == 3 || (s.flags & AC) == 0 || implicitAccess) {
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
        if ((s.cr4 & (userPage ? CR4_PKE : CR4_PKS)) == 0) {
            return 0;
        }
        walkKeyed = true;
        int key = (int) (entry >>> 59) & 15;
        int rights = (userPage ? s.pkru : s.pkrs) >>> (2 * key);
        boolean denied = (rights & 1) != 0
                || (kind == WRITE && (rights & 2) != 0 && (user || (s.cr0 & CR0_WP) != 0));
        return denied ? PF_PK : 0;
    }
}

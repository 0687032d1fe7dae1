package org.tscvm.cpu;


import org.tscvm.memory.GuestMemory;

/**
 * What the instruction handlers share: the CPU's system parts ({@link #segments},
 * {@link #interrupts}, {@link #far}, {@link #sysregs}), operand access (effective and flat
 * addresses, E and G operands), the ALU and read-modify-write cores (LOCK as a CAS loop), I/O
 * permission, the MSR and TSC reads, branch targets, POPF/IRET's flag rules, and the run state
 * the handlers change (halt, interrupt shadow, shutdown). The handlers themselves are static
 * methods in files by family, one per {@link Op} row ({@link IntAlu}, {@link IntMove},
 * {@link Branch}, {@link StringOps}, {@link SystemCalls}, {@link SystemOps}, and the SSE and x87
 * families), called through {@link Dispatch}. RIP already
 * points past the instruction when a handler runs; faults report {@link #prevRip}.
 */
abstract class CpuExec extends CpuMemory {
    // Read-modify-write kinds beyond the ALU kinds 0..6 (add or adc sbb and sub xor).
    static final int K_INC = 8, K_DEC = 9, K_NOT = 10, K_NEG = 11, K_XCHG = 12, K_XADD = 13,
            K_BTS = 14, K_BTR = 15, K_BTC = 16;
    /** Iterations of a REP string instruction per execution before it restarts itself. */
    static final int REP_CHUNK = 4096;

    /** Retired-instruction count up to which interrupts stay blocked (STI, MOV SS, POP SS). */
    long interruptShadowUntil;
    boolean halted;
    final int[] cpuidOut = new int[4];
    final java.util.Map<String, Long> unimplemented = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * KVM's enable_vmware_backdoor: IN/OUT to the backdoor ports pass the I/O permission check
     * and RDPMC of the pseudo-PMCs passes the CR4.PCE check (KVM emulates the #GP they raise).
     */
    boolean vmwareBackdoor;

    CpuExec(GuestMemory memory, CpuBus bus) {
        super(memory, bus);
    }

    /** Set by a fault during #DF delivery; the run loop reports TRIPLE_FAULT. */
    boolean shutdown;
    /**
     * Counts hardware task switches past their commit point: a fault after it belongs to the
     * new task, so a far transfer or an interrupt must not put the old task's RSP back.
     */
    int taskSwitches;

    /** Descriptor reads, segment loads and the inner-level stack segment from the TSS. */
    final Segmentation segments = new Segmentation(this);

    /** Exception and interrupt delivery (#DF, shutdown) and IRET. */
    final InterruptDelivery interrupts = new InterruptDelivery(this);

    /** Far JMP and CALL (call gates, the stack switch from the TSS) and RETF. */
    final FarTransfers far = new FarTransfers(this);

    /** Writes of CR0, CR3, CR4 and DR7; EFER and the other MSRs that are CPU state. */
    final SystemRegisters sysregs = new SystemRegisters(this);

    /**
     * A task switch to a TSS with the T flag: the run loop raises #DB with DR6.BT before the
     * new task's first instruction (SDM 7.2.1), ahead of NMIs and interrupts.
     */
    abstract void taskSwitchTrap();

    /** {@link #cetActive} changed: compiled blocks must stop chaining (or may again). */
    abstract void cetChanged();

    /** A near branch's target: #GP(0) past CS's limit, or non-canonical in 64-bit mode. */
    final void checkRipInCs(long target) {
        if (!mode64 && target > segLimit[CS]) {
            throw gp(0);
        }
        if (mode64 && (target << 16 >> 16) != target) {
            throw gp(0);
        }
    }

    /** The linear address of {@code ip} in the current CS (what the shadow stack keeps of a return address). */
    final long returnLip(long ip) {
        return mode64 ? ip : (segBase[CS] + ip) & 0xffffffffL;
    }

    // ---- RFLAGS writes by POPF/IRET ----

    /**
     * Writes RFLAGS from a POPF or IRET image with the privilege rules of SDM POPF/IRET: IOPL
     * only at CPL 0, IF only when CPL <= IOPL; VM, VIF, VIP kept (POPF); only the low 16 bits
     * with a 16-bit operand.
     */
    final void writeFlagsChecked(long v, int opSize, int atCpl, boolean iret) {
        long cur = rflags();
        long changeable = ARITH | TF | DF | NT | AC | ID;
        if (realMode() || atCpl == 0) {
            changeable |= IOPL | IF;
        } else if (atCpl <= ((cur & IOPL) >>> 12)) {
            changeable |= IF;
        }
        if (iret) {
            changeable |= RF;
            if (atCpl == 0 && !realMode()) {
                changeable |= VIF | VIP;
            }
        }
        if (opSize == 2) {
            changeable &= 0xffff;
        }
        loadFlags((cur & ~changeable) | (v & changeable));
    }

    // ---- checks the parts and the handlers share ----

    /** "Auth", "enti", "cAMD": CPUID leaf 0's EBX, EDX, ECX on an AMD processor. */
    private static final int AMD_EBX = 0x68747541, AMD_EDX = 0x69746e65, AMD_ECX = 0x444d4163;
    /** Scratch for CPUID leaf 0: no allocation per vendor check. */
    private final int[] vendorLeaf = new int[4];

    /**
     * True when the guest's CPUID names AuthenticAMD: the rules that differ by vendor
     * (SYSCALL/SYSRET outside 64-bit mode, SYSENTER/SYSEXIT in long mode) then follow the APM.
     */
    final boolean amdVendor() {
        int[] out = vendorLeaf;
        bus.cpuid(0, 0, out);
        return out[1] == AMD_EBX && out[3] == AMD_EDX && out[2] == AMD_ECX;
    }

    abstract long retiredNow();

    private int pauses;
    /** POPA's eight values, read before any register changes. */
    final long[] popaValues = new long[8];

    /**
     * PAUSE: a spin-wait hint to the host, and every {@link #PAUSES_PER_YIELD}th one gives the
     * host thread's core away (KVM's pause-loop exiting does the same with a spinning vCPU): a
     * vCPU spinning on another one's store must not keep that one off a shared core.
     */
    final void spinWait() {
        if (++pauses % PAUSES_PER_YIELD == 0) {
            Thread.yield();
        } else {
            Thread.onSpinWait();
        }
    }

    private static final int PAUSES_PER_YIELD = 64;

    // ---- operands ----

    final long ea(Insn d) {
        long a = d.disp;
        int base = d.base;
        if (base >= 0) {
            a += base == Insn.RIP_BASE ? rip : regs[base];
        }
        if (d.index >= 0) {
            a += regs[d.index] << d.scale;
        }
        switch (d.addrSize) {
            case 2: return a & 0xffff;
            case 4: return a & 0xffffffffL;
            default: return a;
        }
    }

    /** The linear address of the memory operand (flat 64-bit address forms without the segment and mode branches). */
    final long addr(Insn d, int size, boolean write) {
        return d.famode == Insn.AM_GENERIC ? linear(d.seg, ea(d), size, write) : flatAddr(d, size, write);
    }

    /**
     * {@link #addr} of a flat 64-bit address form ({@link Insn#famode}): computed without the
     * address-size, segment and mode branches; any other form goes through {@link #linear}.
     */
    final long flatAddr(Insn d, int size, boolean write) {
        long a;
        switch (d.famode) {
            case Insn.AM_BASE: a = d.disp + regs[d.base]; break;
            case Insn.AM_BASE_INDEX: a = d.disp + regs[d.base] + (regs[d.index] << d.scale); break;
            case Insn.AM_INDEX: a = d.disp + (regs[d.index] << d.scale); break;
            case Insn.AM_RIP: a = d.disp + rip; break;
            case Insn.AM_ABS: a = d.disp; break;
            default: return linear(d.seg, ea(d), size, write);
        }
        if (d.segBased) {
            a += segBase[d.seg];
        }
        if ((a << 16 >> 16) != a) {
            throw nonCanonical(d.seg);
        }
        return a;
    }

    /** The fault for a non-canonical data address through segment {@code seg}: #SS(0) for SS, else #GP(0). */
    final CpuFault nonCanonical(int seg) {
        return fault(seg == SS ? CpuFault.SS : CpuFault.GP, 0);
    }

    final long readE(Insn d, int size) {
        if (d.mem) {
            return readLin(addr(d, size, false), size);
        }
        return getReg(size, size == 1 ? d.rmB : d.rm);
    }

    final void writeE(Insn d, int size, long v) {
        if (d.mem) {
            writeLin(addr(d, size, true), size, v);
        } else {
            setReg(size, size == 1 ? d.rmB : d.rm, v);
        }
    }

    final long readG(Insn d, int size) {
        return getReg(size, size == 1 ? d.regB : d.reg);
    }

    final void writeG(Insn d, int size, long v) {
        setReg(size, size == 1 ? d.regB : d.reg, v);
    }

    final long addrMask(Insn d) {
        return mask(d.addrSize);
    }

    // ---- arithmetic cores ----

    final long alu(int kind, int size, long dst, long src, boolean cin) {
        long r;
        switch (kind) {
            case 0: r = dst + src; setLazy(LF_ADD, size, dst, src, r); break;
            case 1: r = dst | src; setLazy(LF_LOGIC, size, dst, src, r); break;
            case 2: r = dst + src + (cin ? 1 : 0); setLazy(cin ? LF_ADC : LF_ADD, size, dst, src, r); break;
            case 3: r = dst - src - (cin ? 1 : 0); setLazy(cin ? LF_SBB : LF_SUB, size, dst, src, r); break;
            case 4: r = dst & src; setLazy(LF_LOGIC, size, dst, src, r); break;
            case 6: r = dst ^ src; setLazy(LF_LOGIC, size, dst, src, r); break;
            default: r = dst - src; setLazy(LF_SUB, size, dst, src, r); break;
        }
        return r & mask(size);
    }

    final long compute(int kind, int size, long old, long src, boolean cin, long arith) {
        long r;
        switch (kind) {
            case K_INC:
                r = old + 1;
                setLazy(LF_INC, size, old, 1, r);
                lfSavedCf = cin;
                break;
            case K_DEC:
                r = old - 1;
                setLazy(LF_DEC, size, old, 1, r);
                lfSavedCf = cin;
                break;
            case K_NOT: r = ~old; break;
            case K_NEG: r = -old; setLazy(LF_SUB, size, 0, old, r); break;
            case K_XCHG: r = src; break;
            case K_XADD: r = old + src; setLazy(LF_ADD, size, old, src, r); break;
            case K_BTS: r = old | src; setArith((arith & ~CF) | ((old & src) != 0 ? CF : 0)); break;
            case K_BTR: r = old & ~src; setArith((arith & ~CF) | ((old & src) != 0 ? CF : 0)); break;
            case K_BTC: r = old ^ src; setArith((arith & ~CF) | ((old & src) != 0 ? CF : 0)); break;
            default: return alu(kind, size, old, src, cin);
        }
        return r & mask(size);
    }

    /** Read-modify-write of the E operand; returns the old value. LOCK makes it atomic. */
    final long rmw(Insn d, int kind, long src) {
        int size = d.opSize;
        if (!d.mem) {
            int idx = size == 1 ? d.rmB : d.rm;
            long old = getReg(size, idx);
            boolean cin = kind == 2 || kind == 3 || kind == K_INC || kind == K_DEC ? cf() : false;
            long arith = kind >= K_BTS ? rflags() : 0;
            setReg(size, idx, compute(kind, size, old, src, cin, arith));
            return old;
        }
        return rmwAt(addr(d, size, true), size, kind, src, d.lock);
    }

    final long rmwAt(long lin, int size, int kind, long src, boolean lock) {
        boolean cin = kind == 2 || kind == 3 || kind == K_INC || kind == K_DEC ? cf() : false;
        long arith = kind >= K_BTS ? rflags() : 0;
        if (lock) {
            int p = atomicOffset(lin, size);
            if (p >= 0) {
                while (true) {
                    long old = atomicRead(p, size);
                    long r = compute(kind, size, old, src, cin, arith);
                    if (atomicCas(p, size, old, r)) {
                        atomicStored(p);
                        return old;
                    }
                }
            }
            synchronized (SPLIT_LOCK) {
                long old = readLin(lin, size);
                writeLin(lin, size, compute(kind, size, old, src, cin, arith));
                return old;
            }
        }
        // compute() sets the flags: the store must not fault after it (ADC/SBB restart with CF).
        probeWrite(lin, size);
        long old = readLin(lin, size);
        writeLin(lin, size, compute(kind, size, old, src, cin, arith));
        return old;
    }

    // ---- dispatch ----

    /** Runs one instruction (RIP already past it) through its form's handler: the table's dispatch. */
    final void step(Insn d) {
        Dispatch.execute(this, d);
    }

    /**
     * RDMSR's value for the MSR in ECX (#GP(0) outside ring 0): the CPU's own MSRs from its
     * state, every other one from the platform.
     */
    final long rdmsr() {
        requireCpl0();
        int index = (int) regs[RCX];
        return SystemRegisters.isOwnedMsr(index) ? sysregs.readOwnedMsr(index) : bus.rdmsr(index);
    }

    /**
     * WRMSR of EDX:EAX to the MSR in ECX (#GP(0) outside ring 0). The block goes on after it
     * unless the write changed CPU state (the CPU's own MSRs end the block) or made an
     * interrupt or NMI pending (an x2APIC self-IPI or EOI), which is taken right after it.
     */
    final void wrmsr() {
        requireCpl0();
        int index = (int) regs[RCX];
        long value = (regs[RDX] << 32) | (regs[RAX] & 0xffffffffL);
        if (SystemRegisters.isOwnedMsr(index)) {
            sysregs.writeOwnedMsr(index, value);
            endBlock = true;
            return;
        }
        bus.wrmsr(index, value);
        if (eventsPending()) {
            endBlock = true;
        }
    }

    /**
     * RDPMC's value for the counter in ECX: with the VMware backdoor, a pseudo-PMC at any CPL;
     * otherwise #GP(0) at CPL > 0 without CR4.PCE (SDM RDPMC), then the platform's counter
     * (which raises #GP(0) for an index it does not have).
     */
    final long rdpmc() {
        int index = (int) regs[RCX];
        if (vmwareBackdoor && index >= CpuBus.VMWARE_PMC_HOST_TSC && index <= CpuBus.VMWARE_PMC_APPARENT_TIME) {
            return bus.vmwarePseudoPmc(index);
        }
        if ((cr4 & CR4_PCE) == 0 && cpl != 0 && !realMode()) {
            throw gp(0);
        }
        return bus.rdpmc(index);
    }

    /** RDTSC's value: #GP(0) outside ring 0 when CR4.TSD is set, else the guest TSC from the bus. */
    final long rdtsc() {
        if ((cr4 & CR4_TSD) != 0 && cpl != 0) {
            throw gp(0);
        }
        return bus.rdtsc();
    }





    // ---- data movement ----



    




    // ---- control transfer ----

    final long branchTarget(long target, int size) {
        if (size == 2) {
            target &= 0xffff;
        } else if (size == 4) {
            target &= 0xffffffffL;
        }
        checkRipInCs(target);
        return target;
    }




    static final int FLAT_CODE64 = 0xb | A_S | A_P | A_L | A_G, FLAT_CODE32 = 0xb | A_S | A_P | A_DB | A_G,
            FLAT_DATA = 0x3 | A_S | A_P | A_DB | A_G;


    static final int R11 = 11;





    // ---- strings ----


    abstract boolean eventsPending();

    /** The outermost XBEGIN ({@link Rtm}): keeps the state an abort restores; {@code fallback} is where it resumes. */
    abstract void openTransaction(long fallback);

    /** The outermost XEND: the transaction's stores become permanent. */
    abstract void commitTransaction();


    // ---- system ----

    final void requireCpl0() {
        if (cpl != 0) {
            throw gp(0);
        }
    }

    /** IN/OUT/INS/OUTS permission: CPL <= IOPL, else the TSS I/O bitmap (SDM 19.5). */
    final void checkIoPermission(int port, int size) {
        if (realMode() || ((flags & VM) == 0 && cpl <= ((flags & IOPL) >>> 12))) {
            return;
        }
        if (vmwareBackdoor && (port == CpuBus.VMWARE_PORT || port == CpuBus.VMWARE_PORT_RPC)) {
            return; // KVM emulator_io_port_access_allowed: VMware lets these through whatever the bitmap says
        }
        int type = trAttr & A_TYPE;
        if ((type != T_TSS_BUSY && type != T_TSS_AVAIL) || trLimit < 0x67) {
            throw gp(0);
        }
        long bitmap = readSys(trBase + 0x66, 2);
        long at = bitmap + (port >>> 3);
        if (at + 1 > trLimit) {
            throw gp(0);
        }
        long bits = readSys(trBase + at, 2);
        if (((bits >>> (port & 7)) & ((1 << size) - 1)) != 0) {
            throw gp(0);
        }
    }


    static final long MXCSR_MASK = 0xffff;

    static String opcodeText(Insn d) {
        int op = d.opcode;
        if (op > 0xffff) {
            return String.format("%02x %02x %02x", op >>> 16, (op >>> 8) & 0xff, op & 0xff);
        }
        if (op > 0xff) {
            return String.format("%02x %02x", op >>> 8, op & 0xff);
        }
        return String.format("%02x", op);
    }










    /**
     * The offset of XMM0 in the FXSAVE image (SDM Table 10-2); XMM8-15 follow XMM7 in 64-bit
     * mode only.
     */
    static final int FX_XMM = 160;
    /** Bytes 464-511 of the image are software's: FXSAVE does not write them (SDM 10.5.1). */
    static final int FX_AVAILABLE = 464;
}

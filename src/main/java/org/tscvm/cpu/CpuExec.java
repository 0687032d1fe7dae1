package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * The execution cores the instruction handlers share (ALU and read-modify-write with LOCK, I/O
 * permission), and, until they move to files of their own, the handlers of the string,
 * far-transfer, interrupt and system forms: one {@code switch} per group over the dense {@link Op} id, so each
 * group method stays small enough for the JIT. RIP already points past the instruction when a
 * handler runs; faults report {@link #prevRip}.
 */
abstract class CpuExec extends CpuSystem {
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

    CpuExec(GuestMemory memory, CpuBus bus) {
        super(memory, bus);
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
                        if (codeMarks[p >>> 12] != 0) {
                            codeStore(p);
                        }
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
        Dispatch.INTERPRETER.execute(this, d);
    }

    /** The handler of the far transfers, software interrupts, IRET, SYSCALL/SYSENTER and their returns, and HLT. */
    static void control(CpuExec c, Insn d) {
        c.execControl(d);
    }

    /** The handler of the string forms (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS), with or without REP. */
    static void string(CpuExec c, Insn d) {
        c.execString(d);
    }

    /** The handler of the system forms (group 4). */
    static void system(CpuExec c, Insn d) {
        c.execSystem(d);
    }















    /** RDMSR's value for the MSR in ECX (#GP(0) outside ring 0). */
    final long rdmsr() {
        requireCpl0();
        return bus.rdmsr((int) regs[RCX]);
    }

    /**
     * WRMSR of EDX:EAX to the MSR in ECX (#GP(0) outside ring 0). The block goes on after it
     * unless the write changed CPU state (the CPU's own MSRs end the block) or made an
     * interrupt or NMI pending (an x2APIC self-IPI or EOI), which is taken right after it.
     */
    final void wrmsr() {
        requireCpl0();
        bus.wrmsr((int) regs[RCX], (regs[RDX] << 32) | (regs[RAX] & 0xffffffffL));
        if (eventsPending()) {
            endBlock = true;
        }
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

    private void execControl(Insn d) {
        int size = d.opSize;
        switch (d.op) {
            case RET_FAR: farReturn(size, (int) d.imm); break;
            case JMP_FAR_PTR: farTransfer((int) d.imm2, d.imm, size, false); break;
            case CALL_FAR_PTR: farTransfer((int) d.imm2, d.imm, size, true); break;
            case JMP_FAR_M:
            case CALL_FAR_M: {
                long e = ea(d);
                long off = readLin(linear(d.seg, e, size, false), size);
                int sel = (int) readLin(linear(d.seg, (e + size) & addrMask(d), 2, false), 2);
                farTransfer(sel, off, size, d.op == Op.CALL_FAR_M);
                break;
            }
            case INT_N: softwareInterrupt((int) d.imm); break;
            case INT3: softwareInterrupt(CpuFault.BP); break;
            case INTO:
                if ((rflags() & OF) != 0) {
                    softwareInterrupt(CpuFault.OF);
                }
                break;
            case INT1: icebp(); break;
            case IRET: iret(size); break;
            case SYSCALL: syscall(); break;
            case SYSRET: sysret(size); break;
            case SYSENTER: sysenter(); break;
            case SYSEXIT: sysexit(size); break;
            case HLT:
                if (cpl != 0) {
                    throw gp(0);
                }
                halted = true;
                break;
            default: throw new IllegalStateException("no handler for " + d.op.text);
        }
    }

    /**
     * INT1 (ICEBP, F1): a trap-like #DB that is not a software interrupt (no gate DPL check).
     * DR6.B0-B3 report the data breakpoints pending from a MOV SS just before, delivered with it
     * as one #DB; no single-step trap follows.
     */
    private void icebp() {
        dr[6] = (dr[6] & ~DR6_B0_B3) | dbPending;
        dbPending = 0;
        stepSuppressed = true;
        interrupt(CpuFault.DB, -1, false, false, rip);
    }

    private void softwareInterrupt(int vector) {
        if ((flags & VM) != 0) {
            throw gp(0); // virtual-8086 mode is not implemented
        }
        stepSuppressed = true; // the handler starts with TF clear: no single-step trap after INT n
        lastVector = vector;
        lastErrorCode = -1;
        interrupt(vector, -1, true, false, rip);
    }

    static final int FLAT_CODE64 = 0xb | A_S | A_P | A_L | A_G, FLAT_CODE32 = 0xb | A_S | A_P | A_DB | A_G,
            FLAT_DATA = 0x3 | A_S | A_P | A_DB | A_G;

    /**
     * SYSCALL (SDM Vol. 2B; AMD APM Vol. 3). #UD without EFER.SCE. Intel allows it in 64-bit
     * mode only; AMD also in compatibility mode (to CSTAR, with RCX and R11 as in 64-bit mode)
     * and in legacy mode (CS from STAR[47:32], EIP from STAR[31:0], ECX the return EIP, VM, IF
     * and RF cleared). The vendor is CPUID leaf 0's, asked only off the 64-bit path.
     */
    private void syscall() {
        if ((efer & EFER_SCE) == 0) {
            throw ud();
        }
        if (!mode64 && !amdVendor()) {
            throw ud(); // Intel: SYSCALL only in 64-bit mode
        }
        int sel = (int) (star >>> 32) & 0xfffc;
        if (longMode()) {
            regs[RCX] = rip;
            regs[R11] = rflags() & ~RF;
            setSeg(CS, sel, 0, 0xffffffffL, FLAT_CODE64);
            setSeg(SS, sel + 8, 0, 0xffffffffL, FLAT_DATA);
            loadFlags(rflags() & ~fmask & ~RF);
            rip = mode64 ? lstar : cstar;
            stepSuppressed = (flags & TF) == 0; // FMASK cleared TF: no single-step trap (kvm-unit-tests syscall)
        } else {
            regs[RCX] = rip & 0xffffffffL;
            setSeg(CS, sel, 0, 0xffffffffL, FLAT_CODE32);
            setSeg(SS, sel + 8, 0, 0xffffffffL, FLAT_DATA);
            loadFlags(rflags() & ~(VM | IF | RF));
            rip = star & 0xffffffffL;
        }
        updateMode();
    }

    static final int R11 = 11;

    /**
     * SYSRET: #UD without EFER.SCE; Intel #UD outside 64-bit mode, AMD also runs it in
     * compatibility and legacy mode (#GP outside protected mode). #GP at CPL above 0. In legacy
     * mode (AMD) CS = STAR[63:48], SS = STAR[63:48] + 8, EIP = ECX and IF is set. A SYSRET that
     * leaves RFLAGS.TF set traps (#DB) before the next instruction, as kvm-unit-tests' syscall
     * test checks on hardware.
     */
    private void sysret(int size) {
        if ((efer & EFER_SCE) == 0) {
            throw ud();
        }
        if (!mode64 && !amdVendor()) {
            throw ud();
        }
        if (realMode() || cpl != 0) {
            throw gp(0);
        }
        int base = (int) (star >>> 48) & 0xffff;
        if (!longMode()) {
            setSeg(CS, base | 3, 0, 0xffffffffL, FLAT_CODE32 | (3 << 5));
            setSeg(SS, (base + 8) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
            rip = regs[RCX] & 0xffffffffL;
            loadFlags(rflags() | IF);
            updateMode();
            trapIfStepping();
            return;
        }
        if (size == 8) {
            if (!canonical(regs[RCX])) {
                throw gp(0);
            }
            setSeg(CS, (base + 16) | 3, 0, 0xffffffffL, FLAT_CODE64 | (3 << 5));
            rip = regs[RCX];
        } else {
            setSeg(CS, base | 3, 0, 0xffffffffL, FLAT_CODE32 | (3 << 5));
            rip = regs[RCX] & 0xffffffffL;
        }
        // SS keeps the selector but its cache becomes a flat DPL-3 data segment (SDM SYSRET).
        setSeg(SS, (base + 8) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
        loadFlags((regs[R11] & 0x3c7fd7L) | 2);
        updateMode();
        trapIfStepping();
    }

    /** Asks the run loop for the single-step #DB after this instruction when it left TF set. */
    private void trapIfStepping() {
        if ((flags & TF) != 0) {
            stepTrapAfterLoad = true;
        }
    }

    /** SYSENTER: #GP in real mode or with a null SYSENTER_CS; AMD: #UD in long mode (APM Vol. 3). */
    private void sysenter() {
        if (longMode() && amdVendor()) {
            throw ud();
        }
        if (realMode() || (sysenterCs & 0xfffc) == 0) {
            throw gp(0);
        }
        int sel = (int) sysenterCs & 0xfffc;
        loadFlags(rflags() & ~(VM | IF | RF));
        boolean lm = longMode();
        setSeg(CS, sel, 0, 0xffffffffL, lm ? FLAT_CODE64 : FLAT_CODE32);
        setSeg(SS, sel + 8, 0, 0xffffffffL, FLAT_DATA);
        regs[RSP] = lm ? sysenterEsp : sysenterEsp & 0xffffffffL;
        rip = lm ? sysenterEip : sysenterEip & 0xffffffffL;
        updateMode();
    }

    /** SYSEXIT: #GP in real mode, at CPL above 0 or with a null SYSENTER_CS; AMD: #UD in long mode. */
    private void sysexit(int size) {
        if (longMode() && amdVendor()) {
            throw ud();
        }
        if (realMode() || cpl != 0 || (sysenterCs & 0xfffc) == 0) {
            throw gp(0);
        }
        int sel = (int) sysenterCs & 0xfffc;
        if (size == 8) {
            if (!canonical(regs[RCX]) || !canonical(regs[RDX])) {
                throw gp(0); // SDM SYSEXIT: checked in ring 0, before the switch
            }
            setSeg(CS, (sel + 32) | 3, 0, 0xffffffffL, FLAT_CODE64 | (3 << 5));
            setSeg(SS, (sel + 40) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
            rip = regs[RDX];
            regs[RSP] = regs[RCX];
        } else {
            setSeg(CS, (sel + 16) | 3, 0, 0xffffffffL, FLAT_CODE32 | (3 << 5));
            setSeg(SS, (sel + 24) | 3, 0, 0xffffffffL, FLAT_DATA | (3 << 5));
            rip = regs[RDX] & 0xffffffffL;
            regs[RSP] = regs[RCX] & 0xffffffffL;
        }
        updateMode();
    }

    // ---- strings ----

    private void execString(Insn d) {
        int size = d.opSize;
        long am = addrMask(d);
        boolean rep = d.rep != 0;
        long count = rep ? regs[RCX] & am : 1;
        if (count == 0) {
            return;
        }
        long delta = (flags & DF) != 0 ? -size : size;
        int n = 0;
        boolean io = d.op == Op.INS || d.op == Op.OUTS;
        int port = (int) regs[RDX] & 0xffff;
        if (io) {
            checkIoPermission(port, size);
        }
        while (count != 0 && n < REP_CHUNK) {
            boolean stop = false;
            switch (d.op) {
                case MOVS: {
                    long v = readLin(linear(d.seg, regs[RSI] & am, size, false), size);
                    writeLin(linear(ES, regs[RDI] & am, size, true), size, v);
                    step(RSI, delta, am);
                    step(RDI, delta, am);
                    break;
                }
                case STOS:
                    writeLin(linear(ES, regs[RDI] & am, size, true), size, getReg(size, RAX));
                    step(RDI, delta, am);
                    break;
                case LODS:
                    setReg(size, RAX, readLin(linear(d.seg, regs[RSI] & am, size, false), size));
                    step(RSI, delta, am);
                    break;
                case CMPS: {
                    long a = readLin(linear(d.seg, regs[RSI] & am, size, false), size);
                    long b = readLin(linear(ES, regs[RDI] & am, size, false), size);
                    alu(7, size, a, b, false);
                    step(RSI, delta, am);
                    step(RDI, delta, am);
                    stop = true;
                    break;
                }
                case SCAS: {
                    long b = readLin(linear(ES, regs[RDI] & am, size, false), size);
                    alu(7, size, getReg(size, RAX), b, false);
                    step(RDI, delta, am);
                    stop = true;
                    break;
                }
                case INS: {
                    long lin = linear(ES, regs[RDI] & am, size, true);
                    probeWrite(lin, size); // both pages, before the port read consumes a datum
                    writeLin(lin, size, bus.ioIn(port, size) & mask(size));
                    step(RDI, delta, am);
                    break;
                }
                default: { // OUTS
                    long v = readLin(linear(d.seg, regs[RSI] & am, size, false), size);
                    bus.ioOut(port, size, (int) v);
                    step(RSI, delta, am);
                    break;
                }
            }
            n++;
            if (rep) {
                count = (count - 1) & am;
                regs[RCX] = d.addrSize == 4 ? count : (regs[RCX] & ~am) | count;
                if (stop && (d.rep == Insn.REP ? !zf() : zf())) {
                    return;
                }
            } else {
                return;
            }
            if (io && eventsPending()) {
                break;
            }
        }
        if (count != 0) {
            rip = prevRip; // more to do: the instruction runs again (interrupts may come between)
        }
    }

    abstract boolean eventsPending();

    private void step(int reg, long delta, long am) {
        long v = (regs[reg] + delta) & am;
        regs[reg] = am == 0xffffffffL ? v : (regs[reg] & ~am) | v;
    }

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

    private void execSystem(Insn d) {
        int size = d.opSize;
        switch (d.op) {
            case IN_I: case IN_DX: {
                int port = d.op == Op.IN_I ? (int) d.imm : (int) regs[RDX] & 0xffff;
                checkIoPermission(port, size);
                setReg(size, RAX, bus.ioIn(port, size) & mask(size));
                break;
            }
            case OUT_I: case OUT_DX: {
                int port = d.op == Op.OUT_I ? (int) d.imm : (int) regs[RDX] & 0xffff;
                checkIoPermission(port, size);
                bus.ioOut(port, size, (int) getReg(size, RAX));
                break;
            }
            case CLI:
                checkIflagPermission();
                flags &= ~IF;
                break;
            case STI:
                checkIflagPermission();
                if ((flags & IF) == 0) {
                    interruptShadowUntil = retiredNow() + 2;
                }
                flags |= IF;
                break;
            case LGDT: case LIDT: {
                requireCpl0();
                long e = ea(d);
                int limit = (int) readLin(linear(d.seg, e, 2, false), 2);
                int baseSize = mode64 ? 8 : 4;
                long base = readLin(linear(d.seg, (e + 2) & addrMask(d), baseSize, false), baseSize);
                if (!mode64 && size == 2) {
                    base &= 0xffffff;
                }
                if (mode64 && !canonical(base)) {
                    throw gp(0);
                }
                if (d.op == Op.LGDT) {
                    gdtrBase = base;
                    gdtrLimit = limit;
                } else {
                    idtrBase = base;
                    idtrLimit = limit;
                }
                break;
            }
            case SGDT: case SIDT: {
                checkUmip();
                long e = ea(d);
                writeLin(linear(d.seg, e, 2, true), 2, d.op == Op.SGDT ? gdtrLimit : idtrLimit);
                int baseSize = mode64 ? 8 : 4;
                writeLin(linear(d.seg, (e + 2) & addrMask(d), baseSize, true), baseSize,
                        d.op == Op.SGDT ? gdtrBase : idtrBase);
                break;
            }
            case LLDT: lldt((int) readE(d, 2)); break;
            case LTR: ltr((int) readE(d, 2)); break;
            case SLDT: checkUmip(); writeE(d, d.mem ? 2 : size, ldtrSel); break;
            case STR: checkUmip(); writeE(d, d.mem ? 2 : size, trSel); break;
            case SMSW: checkUmip(); writeE(d, d.mem ? 2 : size, cr0); break;
            case LMSW: {
                requireCpl0();
                long v = readE(d, 2) & 0xf;
                writeCr0((cr0 & ~0xeL) | (v & 0xe) | (cr0 & CR0_PE) | (v & CR0_PE));
                break;
            }
            case INVLPG: {
                requireCpl0();
                long e = ea(d);
                flushTlbPage(mode64 ? (d.seg >= FS ? segBase[d.seg] : 0) + e : (segBase[d.seg] + e) & 0xffffffffL);
                break;
            }
            case MOV_CR_R: movToCr(d.sub, regs[d.rm] & (mode64 ? -1L : 0xffffffffL)); break;
            case MOV_R_CR: {
                requireCpl0();
                long v;
                switch (d.sub) {
                    case 0: v = cr0; break;
                    case 2: v = cr2; break;
                    case 3: v = cr3; break;
                    case 4: v = cr4; break;
                    case 8:
                        if (!mode64) {
                            throw ud();
                        }
                        v = bus.readCr8(cr8); // the APIC's TPR[7:4] (SDM 10.8.6.1)
                        break;
                    default: throw ud();
                }
                setReg(size, d.rm, v);
                break;
            }
            case MOV_DR_R: case MOV_R_DR: debugRegister(d); break;
            case CLTS: requireCpl0(); cr0 &= ~CR0_TS; break;
            case WBINVD: requireCpl0(); break;
            case CLFLUSH: readLin(addr(d, 1, false), 1); break;
            case SWAPGS: {
                requireCpl0();
                long t = segBase[GS];
                segBase[GS] = kernelGsBase;
                kernelGsBase = t;
                break;
            }
            case RDMSR: {
                long v = rdmsr();
                regs[RAX] = v & 0xffffffffL;
                regs[RDX] = v >>> 32;
                break;
            }
            case WRMSR:
                wrmsr();
                break;
            case RDTSC: case RDTSCP: {
                long tsc = rdtsc();
                regs[RAX] = tsc & 0xffffffffL;
                regs[RDX] = tsc >>> 32;
                if (d.op == Op.RDTSCP) {
                    regs[RCX] = bus.tscAux() & 0xffffffffL;
                }
                break;
            }
            case RDPID: setReg(size, d.rm, bus.tscAux() & 0xffffffffL); break;
            case VMCALL: {
                // KVM hypercall ABI: number in RAX, arguments in RBX, RCX, RDX, RSI; outside
                // 64-bit mode all are 32 bits wide, the result too (KVM kvm_emulate_hypercall).
                long mask = mode64 ? -1L : 0xffffffffL;
                long ret = bus.hypercall(regs[RAX] & mask, regs[RBX] & mask, regs[RCX] & mask,
                        regs[RDX] & mask, regs[RSI] & mask, cpl, mode64);
                regs[RAX] = ret & mask;
                break;
            }
            case CPUID: {
                int[] out = cpuidOut;
                bus.cpuid((int) regs[RAX], (int) regs[RCX], out);
                if ((int) regs[RAX] == 7 && (int) regs[RCX] == 0 && (cr4 & CR4_PKE) != 0) {
                    out[2] |= 1 << 4; // OSPKE mirrors CR4.PKE
                }
                regs[RAX] = out[0] & 0xffffffffL;
                regs[RBX] = out[1] & 0xffffffffL;
                regs[RCX] = out[2] & 0xffffffffL;
                regs[RDX] = out[3] & 0xffffffffL;
                break;
            }
            case LAR: case LSL: case VERR: case VERW: descriptorQuery(d); break;
            case ARPL: {
                long dst = readE(d, 2);
                long src = readG(d, 2);
                if ((dst & 3) < (src & 3)) {
                    writeE(d, 2, (dst & ~3L) | (src & 3));
                    setArith(rflags() | ZF);
                } else {
                    setArith(rflags() & ~ZF);
                }
                break;
            }
            case RDFSBASE: {
                if ((cr4 & CR4_FSGSBASE) == 0) {
                    throw ud();
                }
                int seg = (d.sub & 1) == 0 ? FS : GS;
                if (d.sub < 2) {
                    setReg(size, d.rm, segBase[seg]);
                } else {
                    long v = size == 8 ? regs[d.rm] : regs[d.rm] & 0xffffffffL;
                    if (!canonical(v)) {
                        throw gp(0);
                    }
                    segBase[seg] = v;
                }
                break;
            }
            case CLAC: case STAC:
                // SDM CLAC/STAC: #UD (not #GP) outside ring 0 or when CPUID does not report
                // SMAP; they work with CR4.SMAP clear (CPUID is asked only then).
                if (cpl != 0 || ((cr4 & CR4_SMAP) == 0 && (cr4BitsCpuidReports() & CR4_SMAP) == 0)) {
                    throw ud();
                }
                flags = d.op == Op.CLAC ? flags & ~AC : flags | AC;
                break;
            case RDPKRU:
                // SDM RDPKRU: #UD while CR4.PKE is clear, #GP(0) if ECX is not 0; any CPL.
                if ((cr4 & CR4_PKE) == 0) {
                    throw ud();
                }
                if ((int) regs[RCX] != 0) {
                    throw gp(0);
                }
                regs[RAX] = pkru & 0xffffffffL;
                regs[RDX] = 0;
                break;
            case WRPKRU:
                // SDM WRPKRU: #UD while CR4.PKE is clear, #GP(0) if ECX or EDX is not 0.
                if ((cr4 & CR4_PKE) == 0) {
                    throw ud();
                }
                if ((int) regs[RCX] != 0 || (int) regs[RDX] != 0) {
                    throw gp(0);
                }
                pkru = (int) regs[RAX];
                break;
            case FXSAVE: case FXRSTOR: fxsave(d, d.op == Op.FXRSTOR); break;
            case STMXCSR: case LDMXCSR:
                if ((cr0 & CR0_EM) != 0 || (cr4 & CR4_OSFXSR) == 0) {
                    throw ud();
                }
                if ((cr0 & CR0_TS) != 0) {
                    throw fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
                }
                if (d.op == Op.STMXCSR) {
                    writeE(d, 4, mxcsr);
                } else {
                    long v = readE(d, 4);
                    if ((v & ~MXCSR_MASK) != 0) {
                        throw gp(0);
                    }
                    mxcsr = (int) v;
                }
                break;
            case UD:
                if (d.sub == 0) {
                    unimplemented.merge(opcodeText(d), 1L, Long::sum);
                }
                throw ud();
            case TOO_LONG: throw gp(0);
            default: throw new IllegalStateException("no handler for " + d.op.text);
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

    private void checkIflagPermission() {
        if (!realMode() && cpl > ((flags & IOPL) >>> 12)) {
            throw gp(0);
        }
    }

    private void checkUmip() {
        if ((cr4 & CR4_UMIP) != 0 && cpl > 0) {
            throw gp(0);
        }
    }

    private void movToCr(int n, long v) {
        if (n == 8 && !mode64) {
            throw ud(); // CR8 exists only in 64-bit mode
        }
        requireCpl0();
        switch (n) {
            case 0: writeCr0(v); break;
            case 2: cr2 = v; break;
            case 3: writeCr3(v); break;
            case 4: writeCr4(v); break;
            case 8:
                if ((v & ~0xfL) != 0) {
                    throw gp(0);
                }
                cr8 = v;
                bus.writeCr8(v);
                break;
            default: throw ud();
        }
    }

    private void debugRegister(Insn d) {
        int n = d.sub;
        if (n >= 8) {
            throw ud();
        }
        if ((n == 4 || n == 5) && (cr4 & CR4_DE) != 0) {
            throw ud();
        }
        requireCpl0();
        if (n == 4 || n == 5) {
            n += 2;
        }
        if ((dr[7] & DR7_GD) != 0) {
            // General detect (SDM 17.2.4): a fault before the access; the CPU clears GD to let
            // the handler use the debug registers.
            dr[6] = (dr[6] & ~DR6_B0_B3) | DR6_BD;
            dr[7] &= ~DR7_GD;
            throw fault(CpuFault.DB, CpuFault.NO_ERROR_CODE);
        }
        if (d.op == Op.MOV_R_DR) {
            long v = dr[n];
            if (n == 6) {
                v |= 0xffff0ff0L;
            } else if (n == 7) {
                v |= 0x400;
            }
            setReg(d.opSize, d.rm, v);
        } else {
            long v = regs[d.rm] & (mode64 ? -1L : 0xffffffffL);
            if ((n == 6 || n == 7) && (v >>> 32) != 0) {
                throw gp(0);
            }
            dr[n] = v;
            if (n != 6) {
                updateGuestDebug();
            }
        }
    }

    private void lldt(int sel) {
        requireCpl0();
        if ((sel & 0xfffc) == 0) {
            ldtrSel = sel;
            ldtrBase = 0;
            ldtrLimit = 0;
            ldtrAttr = A_UNUSABLE;
            return;
        }
        if ((sel & 4) != 0) {
            throw gp(sel & 0xfffc);
        }
        long dsc = readDesc(sel);
        int attr = descAttr(dsc);
        if ((attr & A_S) != 0 || (attr & A_TYPE) != T_LDT) {
            throw gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw fault(CpuFault.NP, sel & 0xfffc);
        }
        long base = systemDescriptorBase(sel, dsc);
        ldtrSel = sel;
        ldtrBase = base;
        ldtrLimit = descLimit(dsc);
        ldtrAttr = attr;
    }

    /**
     * The base of the LDT or TSS descriptor {@code dsc} at {@code sel}. In IA-32e mode the
     * descriptor is 16 bytes: #GP(selector) when the type field of its upper half (bits 12:8 of
     * the high dword) is not 0 or when the 64-bit base is not canonical (SDM Vol. 2 LLDT and LTR;
     * Vol. 3A 7.2.3). tscvm has no 5-level paging, so canonical means 48 bits.
     */
    private long systemDescriptorBase(int sel, long dsc) {
        long base = descBase(dsc);
        if (longMode()) {
            long high = readDescHigh(sel);
            base |= (high & 0xffffffffL) << 32;
            if (((high >>> 40) & 0x1f) != 0 || !canonical(base)) {
                throw gp(sel & 0xfffc);
            }
        }
        return base;
    }

    private void ltr(int sel) {
        requireCpl0();
        if ((sel & 0xfffc) == 0 || (sel & 4) != 0) {
            throw gp(sel & 0xfffc);
        }
        long dsc = readDesc(sel);
        int attr = descAttr(dsc);
        int type = attr & A_TYPE;
        if ((attr & A_S) != 0 || !(type == T_TSS_AVAIL || (type == T_TSS16_AVAIL && !longMode()))) {
            throw gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw fault(CpuFault.NP, sel & 0xfffc);
        }
        long base = systemDescriptorBase(sel, dsc);
        // The TSS becomes busy in the descriptor in memory, as hardware marks it.
        writeSys(descAddr(sel) + 5, 1, (dsc >>> 40) | 2);
        trSel = sel;
        trBase = base;
        trLimit = descLimit(dsc);
        trAttr = attr | 2;
    }

    private void descriptorQuery(Insn d) {
        int sel = (int) readE(d, 2);
        long fl = rflags();
        long dsc;
        boolean ok = (sel & 0xfffc) != 0;
        long result = 0;
        if (ok) {
            long at;
            int idx = sel & 0xfff8;
            if ((sel & 4) != 0) {
                ok = (ldtrAttr & A_UNUSABLE) == 0 && ldtrSel != 0 && idx + 7 <= ldtrLimit;
                at = ldtrBase + idx;
            } else {
                ok = idx + 7 <= gdtrLimit;
                at = gdtrBase + idx;
            }
            if (ok) {
                dsc = readSys(at, 8);
                int attr = descAttr(dsc);
                int type = attr & A_TYPE;
                boolean code = (attr & A_S) != 0 && (type & 8) != 0;
                boolean conforming = code && (type & 4) != 0;
                if (!conforming && (dpl(attr) < cpl || dpl(attr) < (sel & 3))) {
                    ok = false;
                }
                switch (d.op) {
                    case LAR:
                        if ((attr & A_S) == 0) {
                            ok &= longMode() ? type == 2 || type == 9 || type == 11 || type == 12
                                    : type == 1 || type == 2 || type == 3 || type == 4 || type == 5 || type == 9
                                            || type == 11 || type == 12;
                        }
                        // Bits 19:16 are undefined in the SDM; Intel hosts return the limit bits.
                        result = (dsc >>> 32) & 0x00ffff00L;
                        break;
                    case LSL:
                        if ((attr & A_S) == 0) {
                            ok &= type == 2 || type == 9 || type == 11 || (!longMode() && (type == 1 || type == 3));
                        }
                        result = descLimit(dsc);
                        break;
                    case VERR:
                        ok = (attr & A_S) != 0 && (!code || (type & 2) != 0)
                                && (conforming || (dpl(attr) >= cpl && dpl(attr) >= (sel & 3)));
                        break;
                    default:
                        ok &= (attr & A_S) != 0 && !code && (type & 2) != 0;
                }
            }
        }
        if (ok && (d.op == Op.LAR || d.op == Op.LSL)) {
            writeG(d, d.opSize == 2 ? 2 : 4, result);
            if (d.opSize == 8) {
                writeG(d, 8, result);
            }
        }
        setArith(ok ? fl | ZF : fl & ~ZF);
    }

    /** FXSAVE/FXRSTOR: the control words and XMM registers in their SDM places, the x87 image kept verbatim. */
    private void fxsave(Insn d, boolean restore) {
        if ((cr0 & CR0_EM) != 0) {
            throw ud();
        }
        if ((cr0 & CR0_TS) != 0) {
            throw fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
        long e = ea(d);
        long lin = linear(d.seg, e, 512, !restore);
        if ((lin & 15) != 0) {
            throw gp(0);
        }
        if (restore) {
            long mx = readLin(lin + 24, 4);
            if ((mx & ~MXCSR_MASK) != 0) {
                throw gp(0);
            }
            int xmmEnd = FX_XMM + 16 * (mode64 ? 16 : 8);
            for (int i = 160; i < FX_AVAILABLE; i += 8) { // 0-159: X87Control
                if (i >= xmmEnd && i < FX_XMM + 256) {
                    continue; // XMM8-15 keep their values outside 64-bit mode
                }
                long v = readLin(lin + i, 8);
                if (i >= FX_XMM && i < xmmEnd) {
                    xmm[(i - FX_XMM) >>> 3] = v;
                } else {
                    GuestMemory.I64.set(fxRegisters, i, v);
                }
            }
            X87Control.fxrstor(this, lin, d.opSize == 8);
            mxcsr = (int) mx;
            return;
        }
        // Probe the whole area for writability before changing anything.
        readLin(lin, 1);
        writeLin(lin + 511, 1, readLin(lin + 511, 1));
        X87Control.fxsave(this, lin, d.opSize == 8);
        writeLin(lin + 24, 4, mxcsr);
        writeLin(lin + 28, 4, MXCSR_MASK);
        int xmmEnd = FX_XMM + 16 * (mode64 ? 16 : 8);
        for (int i = 160; i < FX_AVAILABLE; i += 8) { // 0-159: X87Control
            if (i >= xmmEnd && i < FX_XMM + 256) {
                continue; // XMM8-15 outside 64-bit mode: not saved, the memory keeps its bytes
            }
            long v = i >= FX_XMM && i < xmmEnd ? xmm[(i - FX_XMM) >>> 3] : (long) GuestMemory.I64.get(fxRegisters, i);
            writeLin(lin + i, 8, v);
        }
    }

    /**
     * The offset of XMM0 in the FXSAVE image (SDM Table 10-2); XMM8-15 follow XMM7 in 64-bit
     * mode only.
     */
    static final int FX_XMM = 160;
    /** Bytes 464-511 of the image are software's: FXSAVE does not write them (SDM 10.5.1). */
    static final int FX_AVAILABLE = 464;
}

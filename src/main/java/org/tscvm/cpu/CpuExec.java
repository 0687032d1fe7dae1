package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * The instruction handlers: one {@code switch} per group over the dense {@link Op} id, so each
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

    /**
     * PAUSE: a spin-wait hint to the host, and every {@link #PAUSES_PER_YIELD}th one gives the
     * host thread's core away (KVM's pause-loop exiting does the same with a spinning vCPU): a
     * vCPU spinning on another one's store must not keep that one off a shared core.
     */
    private void spinWait() {
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

    final long addr(Insn d, int size, boolean write) {
        return linear(d.seg, ea(d), size, write);
    }

    /**
     * {@link #addr} for the fast forms: a flat 64-bit address form ({@link Insn#famode}) is
     * computed without the address-size, segment and mode branches; the rest go through addr.
     */
    final long flatAddr(Insn d, int size, boolean write) {
        long a;
        switch (d.famode) {
            case Fast.AM_BASE: a = d.disp + regs[d.base]; break;
            case Fast.AM_BASE_INDEX: a = d.disp + regs[d.base] + (regs[d.index] << d.scale); break;
            case Fast.AM_INDEX: a = d.disp + (regs[d.index] << d.scale); break;
            case Fast.AM_RIP: a = d.disp + rip; break;
            case Fast.AM_ABS: a = d.disp; break;
            default: return addr(d, size, write);
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

    /**
     * Runs one instruction: its {@link Fast} form in one dense switch with the operands resolved
     * at decode time, or the group handlers. Each case does exactly what the generic handler
     * of the same form does (CpuDifferentialTest compares both against the host).
     */
    final void step(Insn d) {
        long[] r = regs;
        long m = d.fmask;
        int size = d.opSize;
        long dst, src;
        switch (d.fast) {
            case Fast.MOV_RR: r[d.fa] = r[d.fb] & m; return;
            case Fast.MOV_RI: r[d.fa] = d.fimm; return;
            case Fast.LOAD: r[d.fa] = readLin(flatAddr(d, size, false), size); return;
            case Fast.STORE: writeLin(flatAddr(d, size, true), size, r[d.fb]); return;
            case Fast.STORE_I: writeLin(flatAddr(d, size, true), size, d.imm); return;
            case Fast.ADD_RR: dst = r[d.fa] & m; src = r[d.fb] & m; r[d.fa] = (dst + src) & m; setLazy(LF_ADD, size, dst, src, dst + src); return;
            case Fast.OR_RR: dst = r[d.fa] & m; src = r[d.fb] & m; r[d.fa] = dst | src; setLazy(LF_LOGIC, size, dst, src, dst | src); return;
            case Fast.AND_RR: dst = r[d.fa] & m; src = r[d.fb] & m; r[d.fa] = dst & src; setLazy(LF_LOGIC, size, dst, src, dst & src); return;
            case Fast.SUB_RR: dst = r[d.fa] & m; src = r[d.fb] & m; r[d.fa] = (dst - src) & m; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.XOR_RR: dst = r[d.fa] & m; src = r[d.fb] & m; r[d.fa] = dst ^ src; setLazy(LF_LOGIC, size, dst, src, dst ^ src); return;
            case Fast.CMP_RR: dst = r[d.fa] & m; src = r[d.fb] & m; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.TEST_RR: dst = r[d.fa] & m; src = r[d.fb] & m; setLazy(LF_LOGIC, size, dst, src, dst & src); return;
            case Fast.ADD_RI: dst = r[d.fa] & m; src = d.fimm; r[d.fa] = (dst + src) & m; setLazy(LF_ADD, size, dst, src, dst + src); return;
            case Fast.OR_RI: dst = r[d.fa] & m; src = d.fimm; r[d.fa] = dst | src; setLazy(LF_LOGIC, size, dst, src, dst | src); return;
            case Fast.AND_RI: dst = r[d.fa] & m; src = d.fimm; r[d.fa] = dst & src; setLazy(LF_LOGIC, size, dst, src, dst & src); return;
            case Fast.SUB_RI: dst = r[d.fa] & m; src = d.fimm; r[d.fa] = (dst - src) & m; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.XOR_RI: dst = r[d.fa] & m; src = d.fimm; r[d.fa] = dst ^ src; setLazy(LF_LOGIC, size, dst, src, dst ^ src); return;
            case Fast.CMP_RI: dst = r[d.fa] & m; src = d.fimm; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.TEST_RI: dst = r[d.fa] & m; src = d.fimm; setLazy(LF_LOGIC, size, dst, src, dst & src); return;
            case Fast.ADD_RM: src = readLin(flatAddr(d, size, false), size); dst = r[d.fa] & m; r[d.fa] = (dst + src) & m; setLazy(LF_ADD, size, dst, src, dst + src); return;
            case Fast.OR_RM: src = readLin(flatAddr(d, size, false), size); dst = r[d.fa] & m; r[d.fa] = dst | src; setLazy(LF_LOGIC, size, dst, src, dst | src); return;
            case Fast.AND_RM: src = readLin(flatAddr(d, size, false), size); dst = r[d.fa] & m; r[d.fa] = dst & src; setLazy(LF_LOGIC, size, dst, src, dst & src); return;
            case Fast.SUB_RM: src = readLin(flatAddr(d, size, false), size); dst = r[d.fa] & m; r[d.fa] = (dst - src) & m; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.XOR_RM: src = readLin(flatAddr(d, size, false), size); dst = r[d.fa] & m; r[d.fa] = dst ^ src; setLazy(LF_LOGIC, size, dst, src, dst ^ src); return;
            case Fast.CMP_RM: src = readLin(flatAddr(d, size, false), size); dst = r[d.fa] & m; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.CMP_MI: dst = readLin(flatAddr(d, size, false), size); src = d.fimm; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.CMP_MR: dst = readLin(flatAddr(d, size, false), size); src = r[d.fb] & m; setLazy(LF_SUB, size, dst, src, dst - src); return;
            case Fast.LEA: r[d.fa] = ea(d) & m; return;
            case Fast.JCC:
                if (cond(d.sub)) {
                    rip = branchTarget(rip + d.imm, size);
                }
                return;
            case Fast.JMP: rip = branchTarget(rip + d.imm, size); return;
            case Fast.CALL: {
                long target = branchTarget(rip + d.imm, size);
                push(rip, size);
                rip = target;
                return;
            }
            case Fast.RET: {
                long target = branchTarget(readStack(0, size), size);
                adjustSp(size + d.imm);
                rip = target;
                return;
            }
            case Fast.PUSH_R: push(r[d.fb], 8); return;
            case Fast.POP_R: {
                long v = pop(8);
                r[d.fa] = v;
                return;
            }
            case Fast.MOVZX_B: r[d.fa] = (d.mem ? readLin(flatAddr(d, 1, false), 1) : getReg(1, d.rmB)) & m; return;
            case Fast.MOVZX_W: r[d.fa] = (d.mem ? readLin(flatAddr(d, 2, false), 2) : r[d.rm] & 0xffff) & m; return;
            case Fast.MOVSX_B: r[d.fa] = (byte) (d.mem ? readLin(flatAddr(d, 1, false), 1) : getReg(1, d.rmB)) & m; return;
            case Fast.MOVSX_W: r[d.fa] = (short) (d.mem ? readLin(flatAddr(d, 2, false), 2) : r[d.rm]) & m; return;
            case Fast.MOVSXD: r[d.fa] = (int) (d.mem ? readLin(flatAddr(d, 4, false), 4) : r[d.rm]) & m; return;
            default: stepMore(d);
        }
    }

    /**
     * The fast forms with bigger handlers, in a method of their own: C2 stops inlining into one
     * compilation at about 8000 bytecodes (DesiredMethodLimit), and with them in {@link #step}
     * the later cases lost their inlined helpers (seen with -XX:+PrintInlining on intmix).
     */
    private void stepMore(Insn d) {
        long[] r = regs;
        long m = d.fmask;
        int size = d.opSize;
        switch (d.fast) {
            case Fast.SHIFT_I: shift(d, (int) d.imm); return;
            case Fast.IMUL_GE: writeG(d, size, imul2(size, readG(d, size), readE(d, size))); return;
            case Fast.IMUL_GEI: writeG(d, size, imul2(size, readE(d, size), d.imm)); return;
            case Fast.CMOV_RR:
                // A 32-bit CMOV zero-extends its destination even when the condition is false.
                r[d.fa] = cond(d.sub) ? r[d.fb] & m : r[d.fa] & m;
                return;
            case Fast.NOP: return;
            case Fast.SHIFT_CL: shift(d, (int) r[RCX] & 0xff); return;
            case Fast.JMP_E: rip = branchTarget(readE(d, size), size); return;
            case Fast.RDTSC: {
                long tsc = rdtsc();
                r[RAX] = tsc & 0xffffffffL;
                r[RDX] = tsc >>> 32;
                return;
            }
            case Fast.RDMSR: {
                long v = rdmsr();
                r[RAX] = v & 0xffffffffL;
                r[RDX] = v >>> 32;
                return;
            }
            case Fast.WRMSR:
                wrmsr();
                return;
            case Fast.OUT_I: case Fast.OUT_DX: {
                int port = d.fast == Fast.OUT_I ? (int) d.imm : (int) r[RDX] & 0xffff;
                checkIoPermission(port, size);
                bus.ioOut(port, size, (int) getReg(size, RAX));
                return;
            }
            // ALU to memory, and ADC/SBB to a register: the generic read-modify-write, without the group dispatch.
            case Fast.RMW_I: rmw(d, d.sub, d.fimm); return;
            case Fast.RMW_R: rmw(d, d.sub, r[d.fb] & m); return;
            case Fast.INC: rmw(d, K_INC, 0); return;
            case Fast.DEC: rmw(d, K_DEC, 0); return;
            default: execute(d);
        }
    }

    final void execute(Insn d) {
        switch (d.op.group) {
            case 0: execAlu(d); break;
            case 1: execMove(d); break;
            case 2: execControl(d); break;
            case 3: execString(d); break;
            case Op.SSE: Sse.execute(this, d); break;
            case Op.X87: X87.execute(this, d); break;
            default: execSystem(d); break;
        }
    }

    private void execAlu(Insn d) {
        int size = d.opSize;
        switch (d.op) {
            case ALU_EG:
                if (d.sub == 7) {
                    alu(7, size, readE(d, size), readG(d, size), false);
                } else {
                    rmw(d, d.sub, readG(d, size));
                }
                break;
            case ALU_GE: {
                long src = readE(d, size);
                long r = alu(d.sub, size, readG(d, size), src, cf());
                if (d.sub != 7) {
                    writeG(d, size, r);
                }
                break;
            }
            case ALU_EI:
                if (d.sub == 7) {
                    alu(7, size, readE(d, size), d.imm & mask(size), false);
                } else {
                    rmw(d, d.sub, d.imm & mask(size));
                }
                break;
            case TEST_EG: alu(4, size, readE(d, size), readG(d, size), false); break;
            case TEST_EI: alu(4, size, readE(d, size), d.imm & mask(size), false); break;
            case INC: rmw(d, K_INC, 0); break;
            case DEC: rmw(d, K_DEC, 0); break;
            case NOT: rmw(d, K_NOT, 0); break;
            case NEG: rmw(d, K_NEG, 0); break;
            case MUL: mul(d, false); break;
            case IMUL1: mul(d, true); break;
            case DIV: div(d, false); break;
            case IDIV: div(d, true); break;
            case IMUL_GEI: writeG(d, size, imul2(size, readE(d, size), d.imm)); break;
            case IMUL_GE: writeG(d, size, imul2(size, readG(d, size), readE(d, size))); break;
            case SHIFT_I: shift(d, (int) d.imm); break;
            case SHIFT_CL: shift(d, (int) regs[RCX] & 0xff); break;
            case SHLD_I: shiftDouble(d, (int) d.imm, true); break;
            case SHLD_CL: shiftDouble(d, (int) regs[RCX] & 0xff, true); break;
            case SHRD_I: shiftDouble(d, (int) d.imm, false); break;
            case SHRD_CL: shiftDouble(d, (int) regs[RCX] & 0xff, false); break;
            case BT_EG: bitTest(d, readG(d, size), true); break;
            case BT_EI: bitTest(d, d.imm, false); break;
            case BSF: case BSR: case TZCNT: case LZCNT: case POPCNT: bitScan(d); break;
            case CBW:
                switch (size) {
                    case 2: setReg(2, RAX, (byte) regs[RAX]); break;
                    case 4: setReg(4, RAX, (short) regs[RAX]); break;
                    default: regs[RAX] = (int) regs[RAX];
                }
                break;
            case CWD:
                setReg(size, RDX, sext(regs[RAX], size) < 0 ? -1 : 0);
                break;
            case SETCC: writeE(d, 1, cond(d.sub) ? 1 : 0); break;
            case CMOVCC: {
                long v = readE(d, size);
                if (cond(d.sub)) {
                    writeG(d, size, v);
                } else if (size == 4) {
                    writeG(d, 4, readG(d, 4)); // a 32-bit CMOV zero-extends even when false
                }
                break;
            }
            case CLC: setArith(rflags() & ~CF); break;
            case STC: setArith(rflags() | CF); break;
            case CMC: setArith(rflags() ^ CF); break;
            case CLD: flags &= ~DF; break;
            case STD: flags |= DF; break;
            case LAHF: setReg(1, 16 + RAX, (rflags() & 0xd5) | 2); break;
            case SAHF: setArith((rflags() & ~0xd5L) | ((regs[RAX] >>> 8) & 0xd5)); break;
            case BCD: decimalAdjust(d.sub, (int) d.imm & 0xff); break;
            default: throw new IllegalStateException("no handler for " + d.op.text);
        }
    }

    /** Unsigned high 64 bits of a 64x64 product (JDK 17 lacks Math.unsignedMultiplyHigh). */
    static long unsignedMultiplyHigh(long a, long b) {
        return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
    }

    /** MUL/IMUL r/m: CF=OF as the SDM says; SF, ZF, PF follow the low half, AF=0 (undefined). */
    private void mul(Insn d, boolean signed) {
        int size = d.opSize;
        long src = readE(d, size);
        long lo, hi;
        boolean overflow;
        if (size == 8) {
            long a = regs[RAX];
            lo = a * src;
            hi = signed ? Math.multiplyHigh(a, src) : unsignedMultiplyHigh(a, src);
            overflow = signed ? hi != (lo >> 63) : hi != 0;
            regs[RAX] = lo;
            regs[RDX] = hi;
        } else {
            int bits = size * 8;
            long a = getReg(size, RAX);
            long p = signed ? sext(a, size) * sext(src, size) : a * src;
            lo = p & mask(size);
            hi = (p >> bits) & mask(size);
            overflow = signed ? p != sext(p, size) : hi != 0;
            if (size == 1) {
                setReg(2, RAX, p);
            } else {
                setReg(size, RAX, lo);
                setReg(size, RDX, hi);
            }
        }
        long f = (overflow ? CF | OF : 0) | PARITY[(int) lo & 0xff] | ((lo & mask(size)) == 0 ? ZF : 0)
                | ((lo & signBit(size)) != 0 ? SF : 0);
        setArith(f);
    }

    final long imul2(int size, long a, long b) {
        long p, lo;
        boolean overflow;
        if (size == 8) {
            lo = a * b;
            overflow = Math.multiplyHigh(a, b) != (lo >> 63);
        } else {
            p = sext(a, size) * sext(b, size);
            lo = p & mask(size);
            overflow = p != sext(p, size);
        }
        setArith((overflow ? CF | OF : 0) | PARITY[(int) lo & 0xff] | ((lo & mask(size)) == 0 ? ZF : 0)
                | ((lo & signBit(size)) != 0 ? SF : 0));
        return lo;
    }

    /**
     * The BCD adjustments and SALC, following the SDM pseudocode of each instruction. Where the
     * SDM leaves SF/ZF/PF undefined (AAA, AAS) they follow AL, and an undefined OF is 0.
     */
    private void decimalAdjust(int opcode, int imm) {
        long fl = rflags();
        boolean cf = (fl & CF) != 0;
        boolean af = (fl & AF) != 0;
        int al = (int) regs[RAX] & 0xff;
        int ah = (int) (regs[RAX] >>> 8) & 0xff;
        switch (opcode) {
            case 0x27: case 0x2f: { // DAA, DAS
                boolean sub = opcode == 0x2f;
                int oldAl = al;
                boolean newCf = false;
                if ((al & 0xf) > 9 || af) {
                    int t = sub ? al - 6 : al + 6;
                    newCf = cf || t < 0 || t > 0xff;
                    al = t & 0xff;
                    af = true;
                } else {
                    af = false;
                }
                if (oldAl > 0x99 || cf) {
                    al = (sub ? al - 0x60 : al + 0x60) & 0xff;
                    newCf = true;
                } else if (!sub) {
                    newCf = false; // DAA clears CF here; DAS keeps the borrow of the first step
                }
                cf = newCf;
                setAl(al);
                break;
            }
            case 0x37: case 0x3f: { // AAA, AAS
                int ax = (int) regs[RAX] & 0xffff;
                if ((al & 0xf) > 9 || af) {
                    // current SDM: AAA adds 0x106 to AX; AAS subtracts 6 from AX, then 1 from AH
                    ax = opcode == 0x37 ? ax + 0x106 : (ax - 6 - 0x100) & 0xffff;
                    af = true;
                    cf = true;
                } else {
                    af = false;
                    cf = false;
                }
                ax = (ax & 0xff00) | (ax & 0xf);
                regs[RAX] = (regs[RAX] & ~0xffffL) | (ax & 0xffff);
                al = ax & 0xff;
                break;
            }
            case 0xd4: // AAM
                if (imm == 0) {
                    throw divideError();
                }
                ah = al / imm;
                al = al % imm;
                regs[RAX] = (regs[RAX] & ~0xffffL) | ((long) ah << 8) | al;
                cf = false;
                af = false;
                break;
            case 0xd5: // AAD
                al = (al + ah * imm) & 0xff;
                regs[RAX] = (regs[RAX] & ~0xffffL) | al;
                cf = false;
                af = false;
                break;
            default: // 0xd6 SALC: flags unchanged
                setAl(cf ? 0xff : 0);
                return;
        }
        setArith((cf ? CF : 0) | (af ? AF : 0) | PARITY[al] | (al == 0 ? ZF : 0) | ((al & 0x80) != 0 ? SF : 0));
    }

    private void setAl(int al) {
        regs[RAX] = (regs[RAX] & ~0xffL) | (al & 0xff);
    }

    private CpuFault divideError() {
        return fault(CpuFault.DE, CpuFault.NO_ERROR_CODE);
    }

    /** DIV/IDIV; #DE on a zero divisor or a quotient that does not fit. Flags are left unchanged (undefined). */
    private void div(Insn d, boolean signed) {
        int size = d.opSize;
        long divisor = readE(d, size);
        if (divisor == 0) {
            throw divideError();
        }
        if (size == 8) {
            div128(regs[RDX], regs[RAX], divisor, signed);
            return;
        }
        int bits = size * 8;
        long dividend = size == 1 ? regs[RAX] & 0xffff
                : (getReg(size, RDX) << bits) | getReg(size, RAX);
        long q, r;
        if (signed) {
            long n = size == 1 ? (short) dividend : size == 2 ? (int) dividend : dividend;
            long dv = sext(divisor, size);
            q = n / dv;
            r = n % dv;
            if (q != sext(q, size)) {
                throw divideError();
            }
        } else {
            q = Long.divideUnsigned(dividend, divisor);
            r = Long.remainderUnsigned(dividend, divisor);
            if ((q & ~mask(size)) != 0) {
                throw divideError();
            }
        }
        if (size == 1) {
            setReg(2, RAX, (q & 0xff) | ((r & 0xff) << 8));
        } else {
            setReg(size, RAX, q);
            setReg(size, RDX, r);
        }
    }

    private void div128(long hi, long lo, long divisor, boolean signed) {
        // Fast path: a dividend that fits in 64 bits (RDX zero, or RAX's sign for IDIV) is the
        // common case in compiled code; the host divides it in one instruction.
        if (!signed && hi == 0) {
            regs[RAX] = Long.divideUnsigned(lo, divisor);
            regs[RDX] = Long.remainderUnsigned(lo, divisor);
            return;
        }
        if (signed && hi == lo >> 63) {
            if (lo == Long.MIN_VALUE && divisor == -1) {
                throw divideError();
            }
            regs[RAX] = lo / divisor;
            regs[RDX] = lo % divisor;
            return;
        }
        boolean negQ = false, negR = false;
        if (signed) {
            negR = hi < 0;
            negQ = negR != (divisor < 0);
            if (hi < 0) {
                lo = -lo;
                hi = ~hi + (lo == 0 ? 1 : 0);
            }
            if (divisor < 0) {
                divisor = -divisor;
            }
        }
        if (Long.compareUnsigned(hi, divisor) >= 0) {
            throw divideError();
        }
        long q = 0, r = hi;
        for (int i = 63; i >= 0; i--) {
            boolean carry = r < 0;
            r = (r << 1) | ((lo >>> i) & 1);
            q <<= 1;
            if (carry || Long.compareUnsigned(r, divisor) >= 0) {
                r -= divisor;
                q |= 1;
            }
        }
        if (signed) {
            if (negQ ? Long.compareUnsigned(q, Long.MIN_VALUE) > 0 : q < 0) {
                throw divideError();
            }
            q = negQ ? -q : q;
            r = negR ? -r : r;
        }
        regs[RAX] = q;
        regs[RDX] = r;
    }

    /**
     * ROL ROR RCL RCR SHL SHR SAL SAR. The count is masked to 5 bits (6 with 64-bit operands);
     * a zero count changes nothing. For counts above 1, OF (undefined) follows the 1-bit rule on
     * the final values and AF (undefined) is 0, as on Intel hosts.
     */
    private void shift(Insn d, int count) {
        int size = d.opSize;
        int bits = size * 8;
        count &= size == 8 ? 63 : 31;
        if (count == 0) {
            // Flags stay; a 32-bit register destination is still written (zero-extended).
            writeE(d, size, readE(d, size));
            return;
        }
        long m = mask(size), sb = signBit(size);
        long lin = 0;
        long v;
        if (d.mem) {
            lin = addr(d, size, true);
            v = readLin(lin, size);
        } else {
            v = readE(d, size);
        }
        if (d.sub >= 4) {
            if (d.mem) {
                probeWrite(lin, size); // shiftValue sets the flags: the store must not fault after it
            }
            long r = shiftValue(v, d.sub, count, size);
            if (d.mem) {
                writeLin(lin, size, r);
            } else {
                writeE(d, size, r);
            }
            return;
        }
        long fl = rflags();
        long r;
        boolean c;
        boolean o;
        switch (d.sub) {
            case 0: { // ROL
                int n = count % bits;
                r = n == 0 ? v : ((v << n) | (v >>> (bits - n))) & m;
                c = (r & 1) != 0;
                o = ((r & sb) != 0) != c;
                fl = (fl & ~(CF | OF)) | (c ? CF : 0) | (o ? OF : 0);
                break;
            }
            case 1: { // ROR
                int n = count % bits;
                r = n == 0 ? v : ((v >>> n) | (v << (bits - n))) & m;
                c = (r & sb) != 0;
                o = c != ((r & (sb >>> 1)) != 0);
                fl = (fl & ~(CF | OF)) | (c ? CF : 0) | (o ? OF : 0);
                break;
            }
            case 2: { // RCL
                int n = size < 4 ? count % (bits + 1) : count;
                c = (fl & CF) != 0;
                r = v;
                for (int i = 0; i < n; i++) {
                    boolean out = (r & sb) != 0;
                    r = ((r << 1) | (c ? 1 : 0)) & m;
                    c = out;
                }
                o = ((r & sb) != 0) != c;
                fl = (fl & ~(CF | OF)) | (c ? CF : 0) | (o ? OF : 0);
                break;
            }
            default: { // RCR
                int n = size < 4 ? count % (bits + 1) : count;
                c = (fl & CF) != 0;
                r = v;
                for (int i = 0; i < n; i++) {
                    boolean out = (r & 1) != 0;
                    r = (r >>> 1) | (c ? sb : 0);
                    c = out;
                }
                o = ((r & sb) != 0) != ((r & (sb >>> 1)) != 0);
                fl = (fl & ~(CF | OF)) | (c ? CF : 0) | (o ? OF : 0);
                break;
            }
        }
        if (d.mem) {
            writeLin(lin, size, r);
        } else {
            writeE(d, size, r);
        }
        loadFlags(fl);
    }

    /**
     * SHL/SAL (kind 4, 6), SHR (5) or SAR (7) of {@code v} (under the operand mask) by a count
     * already masked to 5 bits (6 with 64-bit operands), setting the flags: SF, ZF, PF from
     * the result, CF the last bit out (0 once the count passes a byte or word operand's width),
     * OF the 1-bit rule, AF 0. A zero count returns {@code v} and keeps the flags. The
     * interpreter ({@link #shift}) and compiled blocks both shift here.
     */
    final long shiftValue(long v, int kind, int count, int size) {
        if (count == 0) {
            return v;
        }
        int bits = size * 8;
        long m = mask(size), sb = signBit(size);
        long r;
        boolean c;
        boolean o;
        if (kind == 5) {
            r = v >>> count;
            c = count <= bits && ((v >>> (count - 1)) & 1) != 0;
            o = (v & sb) != 0;
        } else if (kind == 7) {
            long s = sext(v, size);
            r = (s >> count) & m;
            c = ((s >> (count - 1)) & 1) != 0;
            o = false;
        } else {
            r = (v << count) & m;
            c = count <= bits && ((v >>> (bits - count)) & 1) != 0;
            o = ((r & sb) != 0) != c;
        }
        loadFlags(resultFlags(flags, r, size) | (c ? CF : 0) | (o ? OF : 0));
        return r;
    }

    /** RDMSR's value for the MSR in ECX (#GP(0) outside ring 0). */
    final long rdmsr() {
        requireCpl0();
        int index = (int) regs[RCX];
        // The CPU's own MSRs (EFER, SYSCALL/SYSENTER, segment bases, PAT) never leave the interpreter.
        return isOwnedMsr(index) ? readOwnedMsr(index) : bus.rdmsr(index);
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
        if (isOwnedMsr(index)) {
            writeOwnedMsr(index, value);
            endBlock = true; // CPU state changed: the next instruction may decode differently
            return;
        }
        bus.wrmsr(index, value);
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

    /** SF, ZF, PF from a result; CF, OF, AF cleared for the caller to set. */
    private static long resultFlags(long fl, long r, int size) {
        return (fl & ~ARITH) | PARITY[(int) r & 0xff] | ((r & mask(size)) == 0 ? ZF : 0)
                | ((r & signBit(size)) != 0 ? SF : 0);
    }

    /** SHLD/SHRD; counts above the operand width (16-bit) give undefined results: we shift as 32-bit. */
    private void shiftDouble(Insn d, int count, boolean left) {
        int size = d.opSize;
        int bits = size * 8;
        count &= size == 8 ? 63 : 31;
        if (count == 0) {
            writeE(d, size, readE(d, size));
            return;
        }
        long m = mask(size), sb = signBit(size);
        long lin = 0;
        long v = d.mem ? readLin(lin = addr(d, size, true), size) : readE(d, size);
        long src = readG(d, size);
        long r;
        boolean c;
        if (count > bits) { // only 16-bit operands get here
            count -= bits;
            long t = v;
            v = src;
            src = t;
        }
        if (left) {
            r = count == bits ? src : ((v << count) | (src >>> (bits - count))) & m;
            c = ((v >>> (bits - count)) & 1) != 0;
        } else {
            r = count == bits ? src : ((v >>> count) | (src << (bits - count))) & m;
            c = ((v >>> (count - 1)) & 1) != 0;
        }
        boolean o = ((r ^ v) & sb) != 0;
        long fl = resultFlags(rflags(), r, size) | (c ? CF : 0) | (o ? OF : 0);
        if (d.mem) {
            writeLin(lin, size, r);
        } else {
            writeE(d, size, r);
        }
        loadFlags(fl);
    }

    /** BT/BTS/BTR/BTC; a register bit offset into memory moves the address (bit-string form). */
    private void bitTest(Insn d, long offset, boolean fromRegister) {
        int size = d.opSize;
        int bits = size * 8;
        int kind = d.sub;
        if (!d.mem) {
            long bit = 1L << (offset & (bits - 1));
            if (kind == 0) {
                setArith((rflags() & ~CF) | ((getReg(size, d.rm) & bit) != 0 ? CF : 0));
            } else {
                rmw(d, K_BTS + kind - 1, bit);
            }
            return;
        }
        long e = ea(d);
        if (fromRegister) {
            long off = sext(offset, size);
            e = (e + (off >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * size) & addrMask(d);
        }
        long bit = 1L << (offset & (bits - 1));
        if (kind == 0) {
            long v = readLin(linear(d.seg, e, size, false), size);
            setArith((rflags() & ~CF) | ((v & bit) != 0 ? CF : 0));
        } else {
            rmwAt(linear(d.seg, e, size, true), size, K_BTS + kind - 1, bit, d.lock);
        }
    }

    /**
     * BSF/BSR (source 0: ZF=1, destination unchanged as Intel and AMD do), TZCNT/LZCNT (CF, ZF),
     * POPCNT (flags cleared but ZF). Flags the SDM leaves undefined keep their values.
     */
    private void bitScan(Insn d) {
        int size = d.opSize;
        int bits = size * 8;
        long v = readE(d, size);
        long fl = rflags();
        switch (d.op) {
            case BSF:
            case BSR:
                if (v == 0) {
                    setArith(fl | ZF);
                } else {
                    writeG(d, size, d.op == Op.BSF ? Long.numberOfTrailingZeros(v) : 63 - Long.numberOfLeadingZeros(v));
                    setArith(fl & ~ZF);
                }
                break;
            case TZCNT: {
                int n = v == 0 ? bits : Long.numberOfTrailingZeros(v);
                writeG(d, size, n);
                setArith((fl & ~(CF | ZF)) | (v == 0 ? CF : 0) | (n == 0 ? ZF : 0));
                break;
            }
            case LZCNT: {
                int n = Long.numberOfLeadingZeros(v) - (64 - bits);
                writeG(d, size, n);
                setArith((fl & ~(CF | ZF)) | (v == 0 ? CF : 0) | (n == 0 ? ZF : 0));
                break;
            }
            default:
                writeG(d, size, Long.bitCount(v));
                setArith(v == 0 ? ZF : 0);
        }
    }

    // ---- data movement ----

    private void execMove(Insn d) {
        int size = d.opSize;
        switch (d.op) {
            case MOV_EG: writeE(d, size, readG(d, size)); break;
            case MOV_GE: writeG(d, size, readE(d, size)); break;
            case MOV_EI: writeE(d, size, d.imm); break;
            case MOV_AL_MOFFS: setReg(size, RAX, readLin(linear(d.seg, d.disp & addrMask(d), size, false), size)); break;
            case MOV_MOFFS_AL: writeLin(linear(d.seg, d.disp & addrMask(d), size, true), size, getReg(size, RAX)); break;
            case MOVZX_B: writeG(d, size, readE(d, 1)); break;
            case MOVZX_W: writeG(d, size, readE(d, 2)); break;
            case MOVSX_B: writeG(d, size, (byte) readE(d, 1)); break;
            case MOVSX_W: writeG(d, size, (short) readE(d, 2)); break;
            case MOVSXD: writeG(d, size, (int) readE(d, 4)); break;
            case LEA: writeG(d, size, ea(d)); break;
            case XCHG:
                if (d.mem) {
                    // XCHG with memory is locked whether or not LOCK is present.
                    writeG(d, size, rmwAt(addr(d, size, true), size, K_XCHG, readG(d, size), true));
                } else {
                    long g = readG(d, size);
                    long e = getReg(size, size == 1 ? d.rmB : d.rm);
                    setReg(size, size == 1 ? d.rmB : d.rm, g);
                    writeG(d, size, e);
                }
                break;
            case CMPXCHG: cmpxchg(d); break;
            case XADD: {
                long src = readG(d, size);
                long old;
                if (d.mem) {
                    old = rmwAt(addr(d, size, true), size, K_XADD, src, d.lock);
                    writeG(d, size, old);
                } else {
                    old = getReg(size, size == 1 ? d.rmB : d.rm);
                    long sum = compute(K_XADD, size, old, src, false, 0);
                    writeG(d, size, old);
                    writeE(d, size, sum);
                }
                break;
            }
            case BSWAP:
                if (size == 8) {
                    regs[d.rm] = Long.reverseBytes(regs[d.rm]);
                } else if (size == 4) {
                    setReg(4, d.rm, Integer.reverseBytes((int) regs[d.rm]) & 0xffffffffL);
                } else {
                    setReg(2, d.rm, 0); // BSWAP r16 is undefined; Intel and AMD hosts give 0
                }
                break;
            case MOVBE_GM: writeG(d, size, byteSwap(readE(d, size), size)); break;
            case MOVBE_MG: writeE(d, size, byteSwap(readG(d, size), size)); break;
            case CMPXCHG8B: cmpxchg8b(d); break;
            case PUSH_E: {
                long v = readE(d, size);
                push(v, size);
                break;
            }
            case POP_E: {
                // The stack pointer is incremented before the destination address is computed.
                long v = readStack(0, size);
                long oldSp = regs[RSP];
                adjustSp(size);
                try {
                    writeE(d, size, v);
                } catch (CpuFault f) {
                    regs[RSP] = oldSp;
                    throw f;
                }
                break;
            }
            case PUSH_I: push(d.imm, size); break;
            case PUSH_SEG: push(segSel[d.sub], size); break;
            case POP_SEG: {
                long v = readStack(0, size);
                loadSegment(d.sub, (int) v & 0xffff);
                adjustSp(size);
                if (d.sub == SS) {
                    interruptShadowUntil = retiredNow() + 2;
                    movSsShadowUntil = interruptShadowUntil;
                }
                break;
            }
            case PUSHF:
                if ((flags & VM) != 0 && (flags & IOPL) != IOPL) {
                    throw gp(0);
                }
                push(rflags() & ~(VM | RF), size);
                break;
            case POPF: {
                if ((flags & VM) != 0 && (flags & IOPL) != IOPL) {
                    throw gp(0);
                }
                long v = readStack(0, size);
                adjustSp(size);
                writeFlagsChecked(v, size, cpl, false);
                break;
            }
            case PUSHA: {
                long sp = regs[RSP];
                try {
                    for (int r = 0; r < 8; r++) {
                        push(r == RSP ? sp : regs[r], size);
                    }
                } catch (CpuFault f) {
                    regs[RSP] = sp; // a fault part-way leaves ESP as before (SDM 6.5: restartable)
                    throw f;
                }
                break;
            }
            case POPA: {
                // All eight reads first: a fault part-way must not have changed a register.
                long[] v = popaValues;
                for (int i = 0; i < 8; i++) {
                    v[i] = readStack((long) i * size, size);
                }
                for (int i = 0; i < 8; i++) {
                    if (7 - i != RSP) {
                        setReg(size, 7 - i, v[i]);
                    }
                }
                adjustSp(8L * size);
                break;
            }
            case ENTER: enter(d); break;
            case LEAVE: {
                long m = stackMask();
                long bp = regs[RBP] & m;
                long v = readLin(linear(SS, bp, size, false), size);
                regs[RSP] = (regs[RSP] & ~m) | ((bp + size) & m);
                setReg(size, RBP, v);
                break;
            }
            case XLAT: {
                long e = (regs[RBX] + (regs[RAX] & 0xff)) & addrMask(d);
                setReg(1, RAX, readLin(linear(d.seg, e, 1, false), 1));
                break;
            }
            case MOV_SEG_E:
                loadSegment(d.sub, (int) readE(d, 2));
                if (d.sub == SS) {
                    interruptShadowUntil = retiredNow() + 2;
                    movSsShadowUntil = interruptShadowUntil;
                }
                break;
            case MOV_E_SEG:
                if (d.mem) {
                    writeE(d, 2, segSel[d.sub]);
                } else {
                    writeE(d, size, segSel[d.sub]);
                }
                break;
            case LOAD_FAR: {
                long e = ea(d);
                long off = readLin(linear(d.seg, e, size, false), size);
                int sel = (int) readLin(linear(d.seg, (e + size) & addrMask(d), 2, false), 2);
                loadSegment(d.sub, sel);
                writeG(d, size, off);
                break;
            }
            case NOP: break;
            case PAUSE: spinWait(); break;
            case FENCE: java.lang.invoke.VarHandle.fullFence(); break;
            default: throw new IllegalStateException("no handler for " + d.op.text);
        }
    }

    static long byteSwap(long v, int size) {
        switch (size) {
            case 2: return Short.reverseBytes((short) v) & 0xffff;
            case 4: return Integer.reverseBytes((int) v) & 0xffffffffL;
            default: return Long.reverseBytes(v);
        }
    }

    private final long[] popaValues = new long[8];

    private void enter(Insn d) {
        long sp = regs[RSP];
        try {
            enterFrame(d);
        } catch (CpuFault f) {
            regs[RSP] = sp; // a fault part-way leaves RSP as before (SDM 6.5: restartable)
            throw f;
        }
    }

    private void enterFrame(Insn d) {
        int size = d.opSize;
        int level = (int) d.imm2 & 31;
        push(regs[RBP], size);
        long frame = regs[RSP] & stackMask();
        if (level > 0) {
            long bp = regs[RBP];
            for (int i = 1; i < level; i++) {
                bp = (bp - size) & stackMask();
                push(readLin(linear(SS, bp, size, false), size), size);
            }
            push(frame, size);
        }
        adjustSp(-d.imm);
        // Probe the new stack top so a fault happens here, as on hardware.
        readLin(linear(SS, regs[RSP] & stackMask(), 1, true), 1);
        setReg(size, RBP, frame);
    }

    private void cmpxchg(Insn d) {
        int size = d.opSize;
        long acc = getReg(size, RAX);
        long src = readG(d, size);
        if (!d.mem) {
            int idx = size == 1 ? d.rmB : d.rm;
            long dst = getReg(size, idx);
            alu(7, size, acc, dst, false);
            // On failure the register destination is not written (Intel hosts keep its upper half).
            if (dst == acc) {
                setReg(size, idx, src);
            } else {
                setReg(size, RAX, dst);
            }
            return;
        }
        long lin = addr(d, size, true);
        long dst;
        if (d.lock) {
            int p = atomicOffset(lin, size);
            if (p >= 0) {
                while (true) {
                    dst = atomicRead(p, size);
                    if (dst != acc) {
                        break;
                    }
                    if (atomicCas(p, size, dst, src)) {
                        atomicStored(p);
                        break;
                    }
                }
            } else {
                synchronized (SPLIT_LOCK) {
                    dst = readLin(lin, size);
                    writeLin(lin, size, dst == acc ? src : dst);
                }
            }
        } else {
            dst = readLin(lin, size);
            writeLin(lin, size, dst == acc ? src : dst);
        }
        alu(7, size, acc, dst, false);
        if (dst != acc) {
            setReg(size, RAX, dst);
        }
    }

    private void cmpxchg8b(Insn d) {
        boolean wide = d.opSize == 8;
        long lin = addr(d, wide ? 16 : 8, true);
        long fl = rflags();
        if (wide) {
            if ((lin & 15) != 0) {
                throw gp(0);
            }
            synchronized (SPLIT_LOCK) {
                long lo = readLin(lin, 8);
                long hi = readLin(lin + 8, 8);
                if (lo == regs[RAX] && hi == regs[RDX]) {
                    writeLin(lin, 8, regs[RBX]);
                    writeLin(lin + 8, 8, regs[RCX]);
                    setArith(fl | ZF);
                } else {
                    writeLin(lin, 8, lo);
                    writeLin(lin + 8, 8, hi);
                    regs[RAX] = lo;
                    regs[RDX] = hi;
                    setArith(fl & ~ZF);
                }
            }
            return;
        }
        long expected = (regs[RDX] << 32) | (regs[RAX] & 0xffffffffL);
        long value = (regs[RCX] << 32) | (regs[RBX] & 0xffffffffL);
        long old;
        int p = d.lock ? atomicOffset(lin, 8) : -1;
        if (p >= 0) {
            while (true) {
                old = atomicRead(p, 8);
                if (old != expected || atomicCas(p, 8, old, value)) {
                    if (old == expected) {
                        atomicStored(p);
                    }
                    break;
                }
            }
        } else if (d.lock) {
            synchronized (SPLIT_LOCK) {
                old = readLin(lin, 8);
                writeLin(lin, 8, old == expected ? value : old);
            }
        } else {
            old = readLin(lin, 8);
            writeLin(lin, 8, old == expected ? value : old);
        }
        if (old == expected) {
            setArith(fl | ZF);
        } else {
            regs[RAX] = old & 0xffffffffL;
            regs[RDX] = old >>> 32;
            setArith(fl & ~ZF);
        }
    }

    // ---- control transfer ----

    private long branchTarget(long target, int size) {
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
            case JCC:
                if (cond(d.sub)) {
                    rip = branchTarget(rip + d.imm, size);
                }
                break;
            case JMP_REL: rip = branchTarget(rip + d.imm, size); break;
            case CALL_REL: {
                long target = branchTarget(rip + d.imm, size);
                push(rip, size);
                rip = target;
                break;
            }
            case JMP_E: rip = branchTarget(readE(d, size), size); break;
            case CALL_E: {
                long target = branchTarget(readE(d, size), size);
                push(rip, size);
                rip = target;
                break;
            }
            case RET: {
                long target = readStack(0, size);
                target = branchTarget(target, size);
                adjustSp(size + d.imm);
                rip = target;
                break;
            }
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
            case LOOP: {
                long m = addrMask(d);
                long c = (regs[RCX] - 1) & m;
                regs[RCX] = d.addrSize == 4 ? c : (regs[RCX] & ~m) | c;
                boolean take = c != 0 && (d.sub == 2 || (d.sub == 1) == zf());
                if (take) {
                    rip = branchTarget(rip + d.imm, size);
                }
                break;
            }
            case JRCXZ:
                if ((regs[RCX] & addrMask(d)) == 0) {
                    rip = branchTarget(rip + d.imm, size);
                }
                break;
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

package org.tscvm.cpu;

import static org.tscvm.cpu.CpuExec.*;
import static org.tscvm.cpu.Segmentation.*;

import org.tscvm.log.DebugLog;
import org.tscvm.memory.GuestMemory;

/**
 * System forms (group 4 of {@link Op}): port I/O, CLI/STI, the descriptor-table and task
 * registers, CR and DR moves, INVLPG, SWAPGS, MSRs, the TSC, CPUID, VMCALL (a KVM hypercall),
 * LAR/LSL/VERR/VERW, ARPL, the FS/GS base moves, SMAP's CLAC/STAC, PKRU, FXSAVE/FXRSTOR and
 * MXCSR, HLT, and #UD and the over-long instruction. One static handler per form; RIP already points
 * past the instruction.
 */
final class SystemOps {
    private SystemOps() {
    }

    static void inI(CpuExec c, Insn d) {
        in(c, d, (int) d.imm);
    }

    static void inDx(CpuExec c, Insn d) {
        in(c, d, (int) c.regs[RDX] & 0xffff);
    }

    static void outI(CpuExec c, Insn d) {
        out(c, d, (int) d.imm);
    }

    static void outDx(CpuExec c, Insn d) {
        out(c, d, (int) c.regs[RDX] & 0xffff);
    }

    static void cli(CpuExec c, Insn d) {
        checkIflagPermission(c);
        c.flags &= ~IF;
    }

    static void sti(CpuExec c, Insn d) {
        checkIflagPermission(c);
        if ((c.flags & IF) == 0) {
            c.interruptShadowUntil = c.retiredNow() + 2;
        }
        c.flags |= IF;
    }

    static void lgdt(CpuExec c, Insn d) {
        loadTable(c, d, true);
    }

    static void lidt(CpuExec c, Insn d) {
        loadTable(c, d, false);
    }

    static void sgdt(CpuExec c, Insn d) {
        storeTable(c, d, true);
    }

    static void sidt(CpuExec c, Insn d) {
        storeTable(c, d, false);
    }

    static void lldt(CpuExec c, Insn d) {
        lldt(c, (int) c.readE(d, 2));
    }

    static void ltr(CpuExec c, Insn d) {
        ltr(c, (int) c.readE(d, 2));
    }

    static void sldt(CpuExec c, Insn d) {
        int size = d.opSize;
        checkUmip(c);
        c.writeE(d, d.mem ? 2 : size, c.ldtrSel);
    }

    static void str(CpuExec c, Insn d) {
        int size = d.opSize;
        checkUmip(c);
        c.writeE(d, d.mem ? 2 : size, c.trSel);
    }

    static void smsw(CpuExec c, Insn d) {
        int size = d.opSize;
        checkUmip(c);
        c.writeE(d, d.mem ? 2 : size, c.cr0);
    }

    static void lmsw(CpuExec c, Insn d) {
        c.requireCpl0();
        long v = c.readE(d, 2) & 0xf;
        c.sysregs.writeCr0((c.cr0 & ~0xeL) | (v & 0xe) | (c.cr0 & CR0_PE) | (v & CR0_PE));
    }

    static void invlpg(CpuExec c, Insn d) {
        c.requireCpl0();
        long e = c.ea(d);
        c.mmu.flushTlbPage(c.mode64 ? (d.seg >= FS ? c.segBase[d.seg] : 0) + e : (c.segBase[d.seg] + e) & 0xffffffffL);
    }

    static void movCrR(CpuExec c, Insn d) {
        movToCr(c, d.sub, c.regs[d.rm] & (c.mode64 ? -1L : 0xffffffffL));
    }

    static void movRCr(CpuExec c, Insn d) {
        int size = d.opSize;
        c.requireCpl0();
        long v;
        switch (d.sub) {
            case 0: v = c.cr0; break;
            case 2: v = c.cr2; break;
            case 3: v = c.cr3; break;
            case 4: v = c.cr4; break;
            case 8:
                if (!c.mode64) {
                    throw c.ud();
                }
                v = c.bus.readCr8(c.cr8); // the APIC's TPR[7:4] (SDM 10.8.6.1)
                break;
            default: throw c.ud();
        }
        c.setReg(size, d.rm, v);
    }

    static void movDrR(CpuExec c, Insn d) {
        debugRegister(c, d);
    }

    static void movRDr(CpuExec c, Insn d) {
        debugRegister(c, d);
    }

    static void clts(CpuExec c, Insn d) {
        c.requireCpl0();
        c.cr0 &= ~CR0_TS;
    }

    static void wbinvd(CpuExec c, Insn d) {
        c.requireCpl0();
    }

    /**
     * CLFLUSH: the address is checked as a one-byte read would be (segment, canonical form,
     * #PF for a not-present page but not for a read-only one) and then not accessed, so a
     * flush of device memory reads no register. There is no cache to flush.
     */
    static void clflush(CpuExec c, Insn d) {
        c.mmu.translate(c.addr(d, 1, false), Mmu.READ, c.userBit != 0);
    }

    /** CPUID.(7,0):EBX[23] and [24]: without its bit each is #UD (SDM CLFLUSHOPT, CLWB). */
    private static final int LEAF7_EBX_CLFLUSHOPT = 1 << 23, LEAF7_EBX_CLWB = 1 << 24;

    static void clflushopt(CpuExec c, Insn d) {
        requireLeaf7Ebx(c, LEAF7_EBX_CLFLUSHOPT);
        clflush(c, d);
    }

    /** CLWB writes a line back without evicting it: to the guest, CLFLUSH's access check. */
    static void clwb(CpuExec c, Insn d) {
        requireLeaf7Ebx(c, LEAF7_EBX_CLWB);
        clflush(c, d);
    }

    private static void requireLeaf7Ebx(CpuExec c, int bit) {
        int[] out = c.cpuidOut;
        c.bus.cpuid(7, 0, out);
        if ((out[1] & bit) == 0) {
            throw c.ud();
        }
    }

    static void swapgs(CpuExec c, Insn d) {
        c.requireCpl0();
        long t = c.segBase[GS];
        c.segBase[GS] = c.kernelGsBase;
        c.kernelGsBase = t;
    }

    static void rdmsr(CpuExec c, Insn d) {
        long v = c.rdmsr();
        c.regs[RAX] = v & 0xffffffffL;
        c.regs[RDX] = v >>> 32;
    }

    static void wrmsr(CpuExec c, Insn d) {
        c.wrmsr();
    }

    static void rdtsc(CpuExec c, Insn d) {
        long tsc = c.rdtsc();
        c.regs[RAX] = tsc & 0xffffffffL;
        c.regs[RDX] = tsc >>> 32;
    }

    static void rdpmc(CpuExec c, Insn d) {
        long v = c.rdpmc();
        c.regs[RAX] = v & 0xffffffffL;
        c.regs[RDX] = v >>> 32;
    }

    static void rdtscp(CpuExec c, Insn d) {
        rdtsc(c, d);
        c.regs[RCX] = c.bus.tscAux() & 0xffffffffL;
    }

    static void rdpid(CpuExec c, Insn d) {
        int size = d.opSize;
        c.setReg(size, d.rm, c.bus.tscAux() & 0xffffffffL);
    }

    static void vmcall(CpuExec c, Insn d) {
        // KVM hypercall ABI: number in RAX, arguments in RBX, RCX, RDX, RSI; outside
        // 64-bit mode all are 32 bits wide, the result too (KVM kvm_emulate_hypercall).
        long mask = c.mode64 ? -1L : 0xffffffffL;
        long ret = c.bus.hypercall(c.regs[RAX] & mask, c.regs[RBX] & mask, c.regs[RCX] & mask,
                c.regs[RDX] & mask, c.regs[RSI] & mask, c.cpl, c.mode64);
        c.regs[RAX] = ret & mask;
    }

    static void cpuid(CpuExec c, Insn d) {
        int[] out = c.cpuidOut;
        c.bus.cpuid((int) c.regs[RAX], (int) c.regs[RCX], out);
        if ((int) c.regs[RAX] == 7 && (int) c.regs[RCX] == 0 && (c.cr4 & CR4_PKE) != 0) {
            out[2] |= 1 << 4; // OSPKE mirrors CR4.PKE
        }
        if ((int) c.regs[RAX] == 1 && (c.cr4 & CR4_OSXSAVE) != 0) {
            out[2] |= 1 << 27; // OSXSAVE mirrors CR4.OSXSAVE
        }
        c.regs[RAX] = out[0] & 0xffffffffL;
        c.regs[RBX] = out[1] & 0xffffffffL;
        c.regs[RCX] = out[2] & 0xffffffffL;
        c.regs[RDX] = out[3] & 0xffffffffL;
    }

    static void lar(CpuExec c, Insn d) {
        descriptorQuery(c, d);
    }

    static void lsl(CpuExec c, Insn d) {
        descriptorQuery(c, d);
    }

    static void verr(CpuExec c, Insn d) {
        descriptorQuery(c, d);
    }

    static void verw(CpuExec c, Insn d) {
        descriptorQuery(c, d);
    }

    static void arpl(CpuExec c, Insn d) {
        long dst = c.readE(d, 2);
        long src = c.readG(d, 2);
        if ((dst & 3) < (src & 3)) {
            c.writeE(d, 2, (dst & ~3L) | (src & 3));
            c.setArith(c.rflags() | ZF);
        } else {
            c.setArith(c.rflags() & ~ZF);
        }
    }

    static void rdfsbase(CpuExec c, Insn d) {
        int size = d.opSize;
        if ((c.cr4 & CR4_FSGSBASE) == 0) {
            throw c.ud();
        }
        int seg = (d.sub & 1) == 0 ? FS : GS;
        if (d.sub < 2) {
            c.setReg(size, d.rm, c.segBase[seg]);
        } else {
            long v = size == 8 ? c.regs[d.rm] : c.regs[d.rm] & 0xffffffffL;
            if (!canonical(v)) {
                throw c.gp(0);
            }
            c.segBase[seg] = v;
        }
    }

    static void clac(CpuExec c, Insn d) {
        setAc(c, false);
    }

    static void stac(CpuExec c, Insn d) {
        setAc(c, true);
    }

    static void rdpkru(CpuExec c, Insn d) {
        // SDM RDPKRU: #UD while CR4.PKE is clear, #GP(0) if ECX is not 0; any CPL.
        if ((c.cr4 & CR4_PKE) == 0) {
            throw c.ud();
        }
        if ((int) c.regs[RCX] != 0) {
            throw c.gp(0);
        }
        c.regs[RAX] = c.pkru & 0xffffffffL;
        c.regs[RDX] = 0;
    }

    static void wrpkru(CpuExec c, Insn d) {
        // SDM WRPKRU: #UD while CR4.PKE is clear, #GP(0) if ECX or EDX is not 0.
        if ((c.cr4 & CR4_PKE) == 0) {
            throw c.ud();
        }
        if ((int) c.regs[RCX] != 0 || (int) c.regs[RDX] != 0) {
            throw c.gp(0);
        }
        c.mmu.setProtectionKeyRights(false, (int) c.regs[RAX]);
    }

    static void fxsave(CpuExec c, Insn d) {
        fxsave(c, d, false);
    }

    static void fxrstor(CpuExec c, Insn d) {
        fxsave(c, d, true);
    }

    static void stmxcsr(CpuExec c, Insn d) {
        checkMxcsrAccess(c);
        c.writeE(d, 4, c.mxcsr);
    }

    static void ldmxcsr(CpuExec c, Insn d) {
        checkMxcsrAccess(c);
        long v = c.readE(d, 4);
        if ((v & ~MXCSR_MASK) != 0) {
            throw c.gp(0);
        }
        c.mxcsr = (int) v;
    }

    static void ud(CpuExec c, Insn d) {
        if (d.sub == 0 && c.unimplemented.merge(opcodeText(d), 1L, Long::sum) == 1 && DebugLog.unimp) {
            DebugLog.Topic.UNIMP.log(String.format("unimplemented opcode %s at RIP 0x%x: #UD", opcodeText(d), c.prevRip));
        }
        throw c.ud();
    }

    static void tooLong(CpuExec c, Insn d) {
        throw c.gp(0);
    }

    private static void in(CpuExec c, Insn d, int port) {
        int size = d.opSize;
        c.checkIoPermission(port, size);
        c.setReg(size, RAX, c.bus.ioIn(port, size) & mask(size));
    }

    private static void out(CpuExec c, Insn d, int port) {
        int size = d.opSize;
        c.checkIoPermission(port, size);
        c.bus.ioOut(port, size, (int) c.getReg(size, RAX));
    }

    /** LGDT (gdt) or LIDT. */
    private static void loadTable(CpuExec c, Insn d, boolean gdt) {
        int size = d.opSize;
        c.requireCpl0();
        long e = c.ea(d);
        int limit = (int) c.readLin(c.linear(d.seg, e, 2, false), 2);
        int baseSize = c.mode64 ? 8 : 4;
        long base = c.readLin(c.linear(d.seg, (e + 2) & c.addrMask(d), baseSize, false), baseSize);
        if (!c.mode64 && size == 2) {
            base &= 0xffffff;
        }
        if (c.mode64 && !canonical(base)) {
            throw c.gp(0);
        }
        if (gdt) {
            c.gdtrBase = base;
            c.gdtrLimit = limit;
        } else {
            c.idtrBase = base;
            c.idtrLimit = limit;
        }
    }

    /** SGDT (gdt) or SIDT. */
    private static void storeTable(CpuExec c, Insn d, boolean gdt) {
        checkUmip(c);
        long e = c.ea(d);
        c.writeLin(c.linear(d.seg, e, 2, true), 2, gdt ? c.gdtrLimit : c.idtrLimit);
        int baseSize = c.mode64 ? 8 : 4;
        c.writeLin(c.linear(d.seg, (e + 2) & c.addrMask(d), baseSize, true), baseSize,
                gdt ? c.gdtrBase : c.idtrBase);
    }




    /** CLAC (false) or STAC. */
    private static void setAc(CpuExec c, boolean ac) {
        // SDM CLAC/STAC: #UD (not #GP) outside ring 0 or when CPUID does not report
        // SMAP; they work with CR4.SMAP clear (CPUID is asked only then).
        if (c.cpl != 0 || ((c.cr4 & CR4_SMAP) == 0 && (c.sysregs.cr4BitsCpuidReports() & CR4_SMAP) == 0)) {
            throw c.ud();
        }
        c.flags = ac ? c.flags | AC : c.flags & ~AC;
    }


    /** STMXCSR and LDMXCSR: #UD with CR0.EM or without CR4.OSFXSR, #NM with CR0.TS. */
    private static void checkMxcsrAccess(CpuExec c) {
        if ((c.cr0 & CR0_EM) != 0 || (c.cr4 & CR4_OSFXSR) == 0) {
            throw c.ud();
        }
        if ((c.cr0 & CR0_TS) != 0) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
    }

    private static void checkIflagPermission(CpuExec c) {
        if (!c.realMode() && c.cpl > ((c.flags & IOPL) >>> 12)) {
            throw c.gp(0);
        }
    }

    private static void checkUmip(CpuExec c) {
        if ((c.cr4 & CR4_UMIP) != 0 && c.cpl > 0) {
            throw c.gp(0);
        }
    }

    private static void movToCr(CpuExec c, int n, long v) {
        if (n == 8 && !c.mode64) {
            throw c.ud(); // CR8 exists only in 64-bit mode
        }
        c.requireCpl0();
        switch (n) {
            case 0: c.sysregs.writeCr0(v); break;
            case 2: c.cr2 = v; break;
            case 3: c.sysregs.writeCr3(v); break;
            case 4: c.sysregs.writeCr4(v); break;
            case 8:
                if ((v & ~0xfL) != 0) {
                    throw c.gp(0);
                }
                c.cr8 = v;
                c.bus.writeCr8(v);
                break;
            default: throw c.ud();
        }
    }

    private static void debugRegister(CpuExec c, Insn d) {
        int n = d.sub;
        if (n >= 8) {
            throw c.ud();
        }
        if ((n == 4 || n == 5) && (c.cr4 & CR4_DE) != 0) {
            throw c.ud();
        }
        c.requireCpl0();
        if (n == 4 || n == 5) {
            n += 2;
        }
        if ((c.dr[7] & DR7_GD) != 0) {
            // General detect (SDM 17.2.4): a fault before the access; the CPU clears GD to let
            // the handler use the debug registers.
            c.dr[6] = (c.dr[6] & ~DR6_B0_B3) | DR6_BD;
            c.dr[7] &= ~DR7_GD;
            throw c.fault(CpuFault.DB, CpuFault.NO_ERROR_CODE);
        }
        if (d.op == Op.MOV_R_DR) {
            long v = c.dr[n];
            if (n == 6) {
                v |= 0xffff0ff0L;
            } else if (n == 7) {
                v |= 0x400;
            }
            c.setReg(d.opSize, d.rm, v);
        } else {
            long v = c.regs[d.rm] & (c.mode64 ? -1L : 0xffffffffL);
            if ((n == 6 || n == 7) && (v >>> 32) != 0) {
                throw c.gp(0);
            }
            c.dr[n] = v;
            if (n != 6) {
                c.sysregs.updateGuestDebug();
            }
        }
    }

    private static void lldt(CpuExec c, int sel) {
        c.requireCpl0();
        if ((sel & 0xfffc) == 0) {
            c.ldtrSel = sel;
            c.ldtrBase = 0;
            c.ldtrLimit = 0;
            c.ldtrAttr = A_UNUSABLE;
            return;
        }
        if ((sel & 4) != 0) {
            throw c.gp(sel & 0xfffc);
        }
        long dsc = c.segments.readDesc(sel);
        int attr = descAttr(dsc);
        if ((attr & A_S) != 0 || (attr & A_TYPE) != T_LDT) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, sel & 0xfffc);
        }
        long base = systemDescriptorBase(c, sel, dsc);
        c.ldtrSel = sel;
        c.ldtrBase = base;
        c.ldtrLimit = descLimit(dsc);
        c.ldtrAttr = attr;
    }

    /**
     * The base of the LDT or TSS descriptor {@code dsc} at {@code sel}. In IA-32e mode the
     * descriptor is 16 bytes: #GP(selector) when the type field of its upper half (bits 12:8 of
     * the high dword) is not 0 or when the 64-bit base is not canonical (SDM Vol. 2 LLDT and LTR;
     * Vol. 3A 7.2.3). tscvm has no 5-level paging, so canonical means 48 bits.
     */
    private static long systemDescriptorBase(CpuExec c, int sel, long dsc) {
        long base = descBase(dsc);
        if (c.longMode()) {
            long high = c.segments.readDescHigh(sel);
            base |= (high & 0xffffffffL) << 32;
            if (((high >>> 40) & 0x1f) != 0 || !canonical(base)) {
                throw c.gp(sel & 0xfffc);
            }
        }
        return base;
    }

    private static void ltr(CpuExec c, int sel) {
        c.requireCpl0();
        if ((sel & 0xfffc) == 0 || (sel & 4) != 0) {
            throw c.gp(sel & 0xfffc);
        }
        long dsc = c.segments.readDesc(sel);
        int attr = descAttr(dsc);
        int type = attr & A_TYPE;
        if ((attr & A_S) != 0 || !(type == T_TSS_AVAIL || (type == T_TSS16_AVAIL && !c.longMode()))) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, sel & 0xfffc);
        }
        long base = systemDescriptorBase(c, sel, dsc);
        // The TSS becomes busy in the descriptor in memory, as hardware marks it.
        TaskSwitch.setBusy(c, sel, true);
        c.trSel = sel;
        c.trBase = base;
        c.trLimit = descLimit(dsc);
        c.trAttr = attr | 2;
    }

    private static void descriptorQuery(CpuExec c, Insn d) {
        int sel = (int) c.readE(d, 2);
        long fl = c.rflags();
        long dsc;
        boolean ok = (sel & 0xfffc) != 0;
        long result = 0;
        if (ok) {
            long at;
            int idx = sel & 0xfff8;
            if ((sel & 4) != 0) {
                ok = (c.ldtrAttr & A_UNUSABLE) == 0 && c.ldtrSel != 0 && idx + 7 <= c.ldtrLimit;
                at = c.ldtrBase + idx;
            } else {
                ok = idx + 7 <= c.gdtrLimit;
                at = c.gdtrBase + idx;
            }
            if (ok) {
                dsc = c.readSys(at, 8);
                int attr = descAttr(dsc);
                int type = attr & A_TYPE;
                boolean code = (attr & A_S) != 0 && (type & 8) != 0;
                boolean conforming = code && (type & 4) != 0;
                if (!conforming && (dpl(attr) < c.cpl || dpl(attr) < (sel & 3))) {
                    ok = false;
                }
                switch (d.op) {
                    case LAR:
                        if ((attr & A_S) == 0) {
                            ok &= c.longMode() ? type == 2 || type == 9 || type == 11 || type == 12
                                    : type == 1 || type == 2 || type == 3 || type == 4 || type == 5 || type == 9
                                            || type == 11 || type == 12;
                        }
                        // Bits 19:16 are undefined in the SDM; Intel hosts return the limit bits.
                        result = (dsc >>> 32) & 0x00ffff00L;
                        break;
                    case LSL:
                        if ((attr & A_S) == 0) {
                            ok &= type == 2 || type == 9 || type == 11 || (!c.longMode() && (type == 1 || type == 3));
                        }
                        result = descLimit(dsc);
                        break;
                    case VERR:
                        ok = (attr & A_S) != 0 && (!code || (type & 2) != 0)
                                && (conforming || (dpl(attr) >= c.cpl && dpl(attr) >= (sel & 3)));
                        break;
                    default:
                        ok &= (attr & A_S) != 0 && !code && (type & 2) != 0;
                }
            }
        }
        if (ok && (d.op == Op.LAR || d.op == Op.LSL)) {
            c.writeG(d, d.opSize == 2 ? 2 : 4, result);
            if (d.opSize == 8) {
                c.writeG(d, 8, result);
            }
        }
        c.setArith(ok ? fl | ZF : fl & ~ZF);
    }

    /** FXSAVE/FXRSTOR: the control words and XMM registers in their SDM places, the x87 image kept verbatim. */
    private static void fxsave(CpuExec c, Insn d, boolean restore) {
        if ((c.cr0 & CR0_EM) != 0) {
            throw c.ud();
        }
        if ((c.cr0 & CR0_TS) != 0) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
        long e = c.ea(d);
        long lin = c.linear(d.seg, e, 512, !restore);
        if ((lin & 15) != 0) {
            throw c.gp(0);
        }
        if (restore) {
            long mx = c.readLin(lin + 24, 4);
            if ((mx & ~MXCSR_MASK) != 0) {
                throw c.gp(0);
            }
            int xmmEnd = FX_XMM + 16 * (c.mode64 ? 16 : 8);
            for (int i = 160; i < FX_AVAILABLE; i += 8) { // 0-159: X87Control
                if (i >= xmmEnd && i < FX_XMM + 256) {
                    continue; // XMM8-15 keep their values outside 64-bit mode
                }
                long v = c.readLin(lin + i, 8);
                if (i >= FX_XMM && i < xmmEnd) {
                    c.xmm[(i - FX_XMM) >>> 3] = v;
                } else {
                    GuestMemory.I64.set(c.fxRegisters, i, v);
                }
            }
            X87Control.fxrstor(c, lin, d.opSize == 8);
            c.mxcsr = (int) mx;
            return;
        }
        // Probe the whole area for writability before changing anything.
        c.readLin(lin, 1);
        c.writeLin(lin + 511, 1, c.readLin(lin + 511, 1));
        X87Control.fxsave(c, lin, d.opSize == 8);
        c.writeLin(lin + 24, 4, c.mxcsr);
        c.writeLin(lin + 28, 4, MXCSR_MASK);
        int xmmEnd = FX_XMM + 16 * (c.mode64 ? 16 : 8);
        for (int i = 160; i < FX_AVAILABLE; i += 8) { // 0-159: X87Control
            if (i >= xmmEnd && i < FX_XMM + 256) {
                continue; // XMM8-15 outside 64-bit mode: not saved, the memory keeps its bytes
            }
            long v = i >= FX_XMM && i < xmmEnd ? c.xmm[(i - FX_XMM) >>> 3] : (long) GuestMemory.I64.get(c.fxRegisters, i);
            c.writeLin(lin + i, 8, v);
        }
    }

    /** The XSAVE state components tscvm has: x87 (bit 0) and SSE (bit 1); XCR0 allows no others. */
    static final long XCR0_X87 = 1, XCR0_SSE = 2, XCR0_SUPPORTED = XCR0_X87 | XCR0_SSE;
    /**
     * The XSAVE area: FXSAVE's legacy region, then the 64-byte header. x87 and SSE live in the
     * legacy region, so the standard and the compacted area are both 576 bytes.
     */
    private static final int XSAVE_HEADER = 512, XSAVE_AREA = 576;
    /** XCOMP_BV[63]: the area is in the compacted format (SDM 13.4.2). */
    private static final long XCOMP_BV_COMPACTED = 1L << 63;
    /** CPUID.(0xD,1):EAX: XSAVEC, XGETBV with ECX = 1, XSAVES/XRSTORS (SDM 13.2). */
    private static final int XSAVEC_BIT = 1 << 1, XGETBV1_BIT = 1 << 2, XSAVES_BIT = 1 << 3;
    /** MXCSR's initial value, which the compacted XRSTOR loads with SSE in its initial state. */
    private static final int MXCSR_INIT = 0x1f80;
    /*
     * XINUSE (SDM 13.6) is not tracked: every component counts as in use, as the SDM allows for
     * a component in its initial configuration. So XSAVEC and XSAVES save every requested
     * component and set its XSTATE_BV bit, XSAVEOPT and XSAVES never skip an unmodified one,
     * and XGETBV(1) returns XCR0. IA32_XSS can only be 0: tscvm has no supervisor components.
     */

    static void xgetbv(CpuExec c, Insn d) {
        if ((c.cr4 & CR4_OSXSAVE) == 0) {
            throw c.ud();
        }
        int xcr = (int) c.regs[RCX];
        if (xcr != 0 && (xcr != 1 || !hasXsaveExtension(c, XGETBV1_BIT))) {
            throw c.gp(0);
        }
        c.regs[RAX] = c.xcr0 & 0xffffffffL; // XCR0, or XCR0 & XINUSE (= XCR0)
        c.regs[RDX] = c.xcr0 >>> 32;
    }

    static void xsetbv(CpuExec c, Insn d) {
        if ((c.cr4 & CR4_OSXSAVE) == 0) {
            throw c.ud();
        }
        c.requireCpl0();
        long v = c.regs[RDX] << 32 | (c.regs[RAX] & 0xffffffffL);
        if ((int) c.regs[RCX] != 0 || (v & XCR0_X87) == 0 || (v & ~XCR0_SUPPORTED) != 0) {
            throw c.gp(0);
        }
        c.xcr0 = v;
    }

    static void xsave(CpuExec c, Insn d) {
        long lin = xsaveArea(c, d, true, 0, false);
        long rfbm = c.xcr0 & instructionMask(c);
        saveLegacyRegion(c, d, lin, rfbm);
        // Every component saved is marked in use; the other bits stay as they were.
        long bv = c.readLin(lin + XSAVE_HEADER, 8);
        c.writeLin(lin + XSAVE_HEADER, 8, bv | rfbm);
    }

    /** XSAVEOPT may skip unmodified components; saving them all is one of its allowed results. */
    static void xsaveopt(CpuExec c, Insn d) {
        xsave(c, d);
    }

    /** XSAVEC: XSTATE_BV = RFBM & XINUSE, XCOMP_BV = compacted | RFBM; bytes 16-63 of the header untouched. */
    static void xsavec(CpuExec c, Insn d) {
        saveCompacted(c, d, xsaveArea(c, d, true, XSAVEC_BIT, false), c.xcr0 & instructionMask(c));
    }

    /** XSAVES: XSAVEC's format at CPL 0, with RFBM taken from XCR0 | IA32_XSS (IA32_XSS is 0). */
    static void xsaves(CpuExec c, Insn d) {
        saveCompacted(c, d, xsaveArea(c, d, true, XSAVES_BIT, true), c.xcr0 & instructionMask(c));
    }

    private static void saveCompacted(CpuExec c, Insn d, long lin, long rfbm) {
        saveLegacyRegion(c, d, lin, rfbm);
        c.writeLin(lin + XSAVE_HEADER, 8, rfbm);
        c.writeLin(lin + XSAVE_HEADER + 8, 8, XCOMP_BV_COMPACTED | rfbm);
    }

    /** Writes the x87 and SSE components RFBM names; the caller's area is checked and aligned. */
    private static void saveLegacyRegion(CpuExec c, Insn d, long lin, long rfbm) {
        // Probe the whole area for writability before changing anything.
        c.writeLin(lin, 1, c.readLin(lin, 1));
        c.writeLin(lin + XSAVE_AREA - 1, 1, c.readLin(lin + XSAVE_AREA - 1, 1));
        if ((rfbm & XCR0_X87) != 0) {
            X87Control.fxsave(c, lin, d.opSize == 8);
        }
        if ((rfbm & XCR0_SSE) != 0) {
            c.writeLin(lin + 24, 4, c.mxcsr);
            c.writeLin(lin + 28, 4, MXCSR_MASK);
            int xmmEnd = FX_XMM + 16 * (c.mode64 ? 16 : 8);
            for (int i = FX_XMM; i < xmmEnd; i += 8) {
                c.writeLin(lin + i, 8, c.xmm[(i - FX_XMM) >>> 3]);
            }
        }
    }

    /**
     * XRSTOR: XCOMP_BV[63] picks the form. The standard form wants XCOMP_BV and header bytes
     * 16-23 zero and XSTATE_BV within XCR0, and loads MXCSR whenever RFBM has SSE (SDM 13.8.1);
     * the compacted form exists with XSAVEC (SDM 13.8.2).
     */
    static void xrstor(CpuExec c, Insn d) {
        long lin = xsaveArea(c, d, false, 0, false);
        long rfbm = c.xcr0 & instructionMask(c);
        c.readLin(lin, 1); // fault on the area's first page before anything changes
        long bv = c.readLin(lin + XSAVE_HEADER, 8);
        long comp = c.readLin(lin + XSAVE_HEADER + 8, 8);
        if (comp < 0 && hasXsaveExtension(c, XSAVEC_BIT)) {
            restoreCompacted(c, d, lin, rfbm, c.xcr0, bv, comp);
            return;
        }
        if ((bv & ~c.xcr0) != 0 || comp != 0 || c.readLin(lin + XSAVE_HEADER + 16, 8) != 0) {
            throw c.gp(0);
        }
        long mx = 0;
        if ((rfbm & XCR0_SSE) != 0) {
            mx = c.readLin(lin + 24, 4);
            if ((mx & ~MXCSR_MASK) != 0) {
                throw c.gp(0);
            }
        }
        restoreLegacyRegion(c, d, lin, rfbm, bv, (int) mx);
    }

    /** XRSTORS: CPL 0, the compacted form only (XCOMP_BV[63] clear is #GP), XCR0 | IA32_XSS. */
    static void xrstors(CpuExec c, Insn d) {
        long lin = xsaveArea(c, d, false, XSAVES_BIT, true);
        long rfbm = c.xcr0 & instructionMask(c);
        c.readLin(lin, 1);
        long bv = c.readLin(lin + XSAVE_HEADER, 8);
        long comp = c.readLin(lin + XSAVE_HEADER + 8, 8);
        if (comp >= 0) {
            throw c.gp(0);
        }
        restoreCompacted(c, d, lin, rfbm, c.xcr0, bv, comp);
    }

    /**
     * The compacted form (SDM 13.8.2, 13.12): #GP when XCOMP_BV names a component outside
     * {@code allowed}, XSTATE_BV one outside XCOMP_BV, or header bytes 16-63 are not zero; MXCSR
     * is loaded only with SSE in XSTATE_BV and is 1F80H when SSE is initialised.
     */
    private static void restoreCompacted(CpuExec c, Insn d, long lin, long rfbm, long allowed, long bv, long comp) {
        long components = comp & ~XCOMP_BV_COMPACTED;
        if ((components & ~allowed) != 0 || (bv & ~components) != 0) {
            throw c.gp(0);
        }
        for (int i = 16; i < 64; i += 8) {
            if (c.readLin(lin + XSAVE_HEADER + i, 8) != 0) {
                throw c.gp(0);
            }
        }
        long mx = MXCSR_INIT;
        if ((rfbm & bv & XCR0_SSE) != 0) {
            mx = c.readLin(lin + 24, 4);
            if ((mx & ~MXCSR_MASK) != 0) {
                throw c.gp(0);
            }
        }
        restoreLegacyRegion(c, d, lin, rfbm, bv, (int) mx);
    }

    /** Loads (XSTATE_BV bit set) or initialises (clear) the x87 and SSE components RFBM names. */
    private static void restoreLegacyRegion(CpuExec c, Insn d, long lin, long rfbm, long bv, int mxcsr) {
        if ((rfbm & XCR0_X87) != 0) {
            if ((bv & XCR0_X87) != 0) {
                c.readLin(lin + 159, 1); // fault before the x87 changes
                X87Control.fxrstor(c, lin, d.opSize == 8);
            } else {
                X87Control.xsaveInit(c);
            }
        }
        if ((rfbm & XCR0_SSE) != 0) {
            int regs = c.mode64 ? 16 : 8;
            for (int r = 0; r < regs; r++) {
                boolean load = (bv & XCR0_SSE) != 0;
                long lo = load ? c.readLin(lin + FX_XMM + 16L * r, 8) : 0;
                long hi = load ? c.readLin(lin + FX_XMM + 16L * r + 8, 8) : 0;
                c.xmm[2 * r] = lo;
                c.xmm[2 * r + 1] = hi;
            }
            c.mxcsr = mxcsr;
        }
    }

    /** EDX:EAX, the instruction mask of the XSAVE family. */
    private static long instructionMask(CpuExec c) {
        return c.regs[RDX] << 32 | (c.regs[RAX] & 0xffffffffL);
    }

    /** Whether CPUID.(0xD,1):EAX reports {@code bit} (asked only by the instructions it governs). */
    private static boolean hasXsaveExtension(CpuExec c, int bit) {
        int[] out = c.cpuidOut;
        c.bus.cpuid(0xd, 1, out);
        return (out[0] & bit) != 0;
    }

    /**
     * The XSAVE family's checks (SDM XSAVE, XSAVEC, XSAVES, XRSTORS): #UD without CR4.OSXSAVE or
     * the form's CPUID bit ({@code extension}, 0 for none), #GP at CPL > 0 for the supervisor
     * forms, #NM with CR0.TS, #GP unless 64-byte aligned.
     */
    private static long xsaveArea(CpuExec c, Insn d, boolean write, int extension, boolean supervisor) {
        if ((c.cr4 & CR4_OSXSAVE) == 0 || (extension != 0 && !hasXsaveExtension(c, extension))) {
            throw c.ud();
        }
        if (supervisor && c.cpl != 0) {
            throw c.gp(0);
        }
        if ((c.cr0 & CR0_TS) != 0) {
            throw c.fault(CpuFault.NM, CpuFault.NO_ERROR_CODE);
        }
        long lin = c.linear(d.seg, c.ea(d), XSAVE_AREA, write);
        if ((lin & 63) != 0) {
            throw c.gp(0);
        }
        return lin;
    }

    static void hlt(CpuExec c, Insn d) {
        if (c.cpl != 0) {
            throw c.gp(0);
        }
        c.halted = true;
    }
}

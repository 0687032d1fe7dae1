package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.*;
import static org.tscvm.cpu.CpuExec.*;
import static org.tscvm.cpu.Segmentation.*;

/**
 * Exception and interrupt delivery and IRET for one logical processor (SDM Vol. 3A ch. 6):
 * through the IVT in real mode, through the IDT's interrupt, trap and task gates in protected
 * mode (virtual-8086 mode included) and through its 16-byte gates in IA-32e mode, with the
 * stack switch from the TSS or an IST, #DF when delivery faults and shutdown when #DF's does;
 * and IRET back to each of those.
 *
 * <p>It works on the {@link CpuExec} it is built with, through that CPU's stack and flags
 * and its {@link Segmentation} (segment loads, descriptor reads, the TSS's inner stacks), and
 * keeps no state of its own: what it records ({@code lastVector}, {@code shutdown},
 * {@code nmiBlocked}) stays the CPU's, as the run loop and the other instructions read it too.
 */
final class InterruptDelivery {
    private final CpuExec c;
    /** Scratch for the words a protected-mode stack switch pushes: no allocation per interrupt. */
    private final long[] pushFrame = new long[10];

    InterruptDelivery(CpuExec cpu) {
        this.c = cpu;
    }

    private static boolean contributory(int v) {
        return v == CpuFault.DE || (v >= CpuFault.TS && v <= CpuFault.GP) || v == CpuFault.CP;
    }

    private static boolean hasErrorCode(int v) {
        return v == CpuFault.DF || (v >= CpuFault.TS && v <= CpuFault.PF) || v == CpuFault.AC || v == CpuFault.CP;
    }

    /**
     * Delivers an exception raised by the instruction at {@link CpuState#prevRip}, escalating to
     * #DF when delivery itself faults (SDM table 6-5) and to shutdown when #DF delivery faults.
     */
    void deliverException(int vector, int errorCode) {
        if (c.transaction.depth != 0) {
            // SDM Vol. 1, 16.3.8: an exception inside a transaction aborts it and is not delivered.
            c.abortTransaction(c.transaction.pendingStatus
                    | (vector == CpuFault.DB || vector == CpuFault.BP ? Transaction.ABORT_DEBUG : 0));
            return;
        }
        c.lastVector = vector;
        c.lastErrorCode = errorCode;
        while (true) {
            int switches = c.taskSwitches;
            try {
                int err = hasErrorCode(vector) ? (errorCode == CpuFault.NO_ERROR_CODE ? 0 : errorCode) : -1;
                if (isFaultClass(vector)) {
                    // SDM 6.8.3, 17.3.1.1: a fault pushes EFLAGS with RF set, so that IRET
                    // back to the faulting instruction does not re-trigger its breakpoint.
                    // Delivery clears RF in the live flags again.
                    c.flags |= RF;
                }
                deliver(vector, err, false, true, c.prevRip);
                return;
            } catch (CpuFault second) {
                int v2 = second.vector();
                int e2 = second.errorCode();
                if (c.taskSwitches != switches) {
                    // SDM 7.3: past a task switch's commit point the fault is the new task's
                    // own, delivered afresh (prevRip is its first instruction), not a double fault.
                    vector = v2;
                    errorCode = e2;
                    c.lastVector = vector;
                    c.lastErrorCode = errorCode;
                    continue;
                }
                if (vector == CpuFault.DF) {
                    c.shutdown = true;
                    return;
                }
                boolean escalate = (contributory(vector) && contributory(v2))
                        || (vector == CpuFault.PF && (v2 == CpuFault.PF || contributory(v2)));
                vector = escalate ? CpuFault.DF : v2;
                errorCode = escalate ? 0 : e2;
                c.lastVector = vector;
                c.lastErrorCode = errorCode;
            }
        }
    }

    /** Exceptions of the fault class (SDM table 6-1); #DB here is always a trap (TF, INT1). */
    private static boolean isFaultClass(int vector) {
        switch (vector) {
            case CpuFault.DE: case CpuFault.BR: case CpuFault.UD: case CpuFault.NM: case CpuFault.TS:
            case CpuFault.NP: case CpuFault.SS: case CpuFault.GP: case CpuFault.PF: case CpuFault.MF:
            case CpuFault.AC: case CpuFault.XM: case CpuFault.CP:
                return true;
            default:
                return false;
        }
    }

    /**
     * Delivers {@code vector} through the IVT or IDT. {@code errorCode} &lt; 0 pushes none;
     * {@code software} applies the gate DPL check of INT n/INT3/INTO; {@code external} sets the
     * EXT bit of error codes raised on the way; {@code returnRip} is pushed.
     */
    void deliver(int vector, int errorCode, boolean software, boolean external, long returnRip) {
        c.materializeFlags();
        long savedRsp = c.regs[RSP];
        int switches = c.taskSwitches;
        try {
            if (c.realMode()) {
                realModeInterrupt(vector, returnRip);
            } else if (c.longMode()) {
                longModeInterrupt(vector, errorCode, software, external, returnRip);
            } else {
                protectedModeInterrupt(vector, errorCode, software, external, returnRip);
            }
        } catch (CpuFault f) {
            // The same-level paths push one word at a time: a fault there leaves RSP as before.
            if (c.taskSwitches == switches) {
                c.regs[RSP] = savedRsp;
            }
            throw f;
        }
    }

    private void realModeInterrupt(int vector, long returnRip) {
        if (vector * 4L + 3 > c.idtrLimit) {
            throw c.gp(0);
        }
        long entry = c.readSys(c.idtrBase + vector * 4L, 4);
        c.push(c.rflags() & 0xffff, 2);
        c.push(c.segSel[CS], 2);
        c.push(returnRip & 0xffff, 2);
        c.flags &= ~(IF | TF | AC | RF);
        c.segments.loadSegment(CS, (int) (entry >>> 16));
        c.rip = entry & 0xffff;
    }

    private int gateError(int vector, boolean external) {
        return vector * 8 + 2 + (external ? 1 : 0);
    }

    /** Reads and checks the code descriptor an IDT gate names (#GP/#NP with EXT) and returns it. */
    private long gateTarget(int sel, boolean external) {
        if ((sel & 0xfffc) == 0) {
            throw c.gp(external ? 1 : 0);
        }
        long at;
        try {
            at = c.segments.descAddr(sel);
        } catch (CpuFault f) {
            throw c.gp((sel & 0xfffc) | (external ? 1 : 0)); // past the table limit: with EXT
        }
        long d = c.readSys(at, 8);
        int attr = descAttr(d);
        if ((attr & A_S) == 0 || (attr & 8) == 0 || dpl(attr) > c.cpl) {
            throw c.gp((sel & 0xfffc) | (external ? 1 : 0));
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, (sel & 0xfffc) | (external ? 1 : 0));
        }
        return d;
    }

    private void longModeInterrupt(int vector, int errorCode, boolean software, boolean external, long returnRip) {
        if (vector * 16L + 15 > c.idtrLimit) {
            throw c.gp(gateError(vector, external));
        }
        long lo = c.readSys(c.idtrBase + vector * 16L, 8);
        long hi = c.readSys(c.idtrBase + vector * 16L + 8, 8);
        int type = (int) (lo >>> 40) & 0x1f; // with S: a gate is a system descriptor
        if (type != T_INT && type != T_TRAP) {
            throw c.gp(gateError(vector, external));
        }
        if (software && ((lo >>> 45) & 3) < c.cpl) {
            throw c.gp(vector * 8 + 2);
        }
        if ((lo & (1L << 47)) == 0) {
            throw c.fault(CpuFault.NP, gateError(vector, external));
        }
        int sel = (int) (lo >>> 16) & 0xffff;
        long target = (lo & 0xffff) | (((lo >>> 48) & 0xffff) << 16) | (hi << 32);
        int ist = (int) (lo >>> 32) & 7;
        long d = gateTarget(sel, external);
        int attr = descAttr(d);
        if ((attr & A_L) == 0 || (attr & A_DB) != 0) {
            throw c.gp((sel & 0xfffc) | (external ? 1 : 0));
        }
        if (!canonical(target)) {
            throw c.gp(external ? 1 : 0);
        }
        int newCpl = (attr & 4) != 0 ? c.cpl : dpl(attr);
        long oldRsp = c.regs[RSP];
        int oldSs = c.segSel[SS];
        long oldFlags = c.rflags();
        int oldCs = c.segSel[CS];
        long rsp;
        if (ist != 0) {
            rsp = c.segments.readTssStack(0x24 + (ist - 1) * 8L, 8, external);
        } else if (newCpl < c.cpl) {
            rsp = c.segments.readTssStack(4 + newCpl * 8L, 8, external);
        } else {
            rsp = oldRsp;
        }
        if ((rsp << 16 >> 16) != rsp) {
            throw c.fault(CpuFault.SS, external ? 1 : 0);
        }
        rsp &= ~0xfL;
        boolean user = newCpl == 3;
        c.writeAs(rsp - 8, 8, oldSs, user);
        c.writeAs(rsp - 16, 8, oldRsp, user);
        c.writeAs(rsp - 24, 8, oldFlags, user);
        c.writeAs(rsp - 32, 8, oldCs, user);
        c.writeAs(rsp - 40, 8, returnRip, user);
        rsp -= 40;
        if (errorCode >= 0) {
            rsp -= 8;
            c.writeAs(rsp, 8, errorCode & 0xffffffffL, user);
        }
        long newSsp = c.cetActive ? Cet.enterHandler(c, newCpl, ist, oldCs, c.returnLip(returnRip), true) : c.ssp;
        if (newCpl != c.cpl) {
            c.setSeg(SS, newCpl, 0, 0, A_UNUSABLE | A_DB | (newCpl << 5));
        }
        c.segments.loadCs(sel, d, newCpl);
        c.regs[RSP] = rsp;
        c.rip = target;
        c.flags &= ~(TF | NT | RF | VM);
        if (type == T_INT) {
            c.flags &= ~IF;
        }
        if (c.cetActive) {
            c.ssp = newSsp;
            Cet.armTracker(c);
        }
    }

    private void protectedModeInterrupt(int vector, int errorCode, boolean software, boolean external,
            long returnRip) {
        if (vector * 8L + 7 > c.idtrLimit) {
            throw c.gp(gateError(vector, external));
        }
        long g = c.readSys(c.idtrBase + vector * 8L, 8);
        int type = (int) (g >>> 40) & 0x1f; // with S: a gate is a system descriptor
        if (type != T_INT && type != T_TRAP && type != T_INT16 && type != T_TRAP16 && type != T_TASK) {
            throw c.gp(gateError(vector, external));
        }
        if (software && ((g >>> 45) & 3) < c.cpl) {
            throw c.gp(vector * 8 + 2);
        }
        if ((g & (1L << 47)) == 0) {
            throw c.fault(CpuFault.NP, gateError(vector, external));
        }
        if (type == T_TASK) {
            TaskSwitch.interrupt(c, g, errorCode, external, returnRip);
            return;
        }
        int size = type >= T_INT ? 4 : 2;
        int sel = (int) (g >>> 16) & 0xffff;
        long target = (g & 0xffff) | (size == 4 ? ((g >>> 48) & 0xffff) << 16 : 0);
        long d = gateTarget(sel, external);
        int attr = descAttr(d);
        int newCpl = (attr & 4) != 0 ? c.cpl : dpl(attr);
        if ((c.flags & VM) != 0 && newCpl != 0) {
            throw c.gp((sel & 0xfffc) | (external ? 1 : 0));
        }
        long oldFlags = c.rflags();
        int oldCs = c.segSel[CS];
        int oldSs = c.segSel[SS];
        long oldEsp = c.regs[RSP];
        if (target > descLimit(d)) {
            throw c.gp(external ? 1 : 0);
        }
        long newSsp;
        if (newCpl < c.cpl) {
            long sd = c.segments.innerStackSegment(newCpl, external);
            int ss = c.segments.innerSs;
            int sattr = descAttr(sd);
            long ssBase = descBase(sd);
            long spMask = (sattr & A_DB) != 0 ? 0xffffffffL : 0xffff;
            boolean user = newCpl == 3;
            long sp = c.segments.innerEsp;
            long[] frame = pushFrame;
            int n = 0;
            if ((c.flags & VM) != 0) {
                frame[n++] = c.segSel[GS];
                frame[n++] = c.segSel[FS];
                frame[n++] = c.segSel[DS];
                frame[n++] = c.segSel[ES];
            }
            frame[n++] = oldSs;
            frame[n++] = oldEsp;
            frame[n++] = oldFlags;
            frame[n++] = oldCs;
            frame[n++] = returnRip;
            if (errorCode >= 0) {
                frame[n++] = errorCode;
            }
            for (int k = 0; k < n; k++) {
                sp = (sp - size) & spMask;
                c.writeAs((ssBase + sp) & 0xffffffffL, size, frame[k], user);
            }
            newSsp = c.cetActive ? Cet.enterHandler(c, newCpl, 0, oldCs, c.returnLip(returnRip), false) : c.ssp;
            c.segments.markAccessed(ss, sd);
            c.setSeg(SS, ss, ssBase, descLimit(sd), sattr | 1);
            if ((c.flags & VM) != 0) {
                for (int s : DATA_SEGMENTS) {
                    c.setSeg(s, 0, 0, 0, A_UNUSABLE);
                }
            }
            c.segments.loadCs(sel, d, newCpl);
            c.regs[RSP] = (c.regs[RSP] & ~spMask) | (sp & spMask);
        } else {
            c.push(oldFlags, size);
            c.push(oldCs, size);
            c.push(returnRip, size);
            if (errorCode >= 0) {
                c.push(errorCode, size);
            }
            newSsp = c.cetActive ? Cet.enterHandler(c, c.cpl, 0, oldCs, c.returnLip(returnRip), false) : c.ssp;
            c.segments.loadCs(sel, d, c.cpl);
        }
        c.rip = target;
        c.flags &= ~(TF | NT | RF | VM);
        if (type == T_INT || type == T_INT16) {
            c.flags &= ~IF;
        }
        c.updateMode();
        if (c.cetActive) {
            c.ssp = newSsp;
            Cet.armTracker(c);
        }
    }

    /**
     * IRET/IRETD/IRETQ (SDM IRET): real mode, virtual-8086 mode, a task return (NT), same
     * level, outer level, and from CPL 0 back to virtual-8086 mode.
     */
    void iret(int opSize) {
        c.nmiBlocked = false; // SDM 6.7.1: IRET unblocks NMIs even if it faults
        if (c.realMode()) {
            long ip = c.pop(opSize);
            int cs = (int) c.pop(opSize);
            long fl = c.pop(opSize);
            c.segments.loadSegment(CS, cs);
            c.rip = ip;
            c.writeFlagsChecked(fl, opSize, 0, true);
            c.updateMode();
            return;
        }
        if ((c.flags & VM) != 0) {
            vm86Iret(opSize);
            return;
        }
        if ((c.rflags() & NT) != 0) {
            if (c.longMode()) {
                throw c.gp(0); // IA-32e mode has no task switches
            }
            TaskSwitch.iret(c);
            return;
        }
        long ip = c.readStack(0, opSize);
        int sel = (int) c.readStack(opSize, opSize) & 0xffff;
        long fl = c.readStack(2L * opSize, opSize);
        if (!c.longMode() && (fl & VM) != 0 && c.cpl == 0) {
            iretToVm86(ip, sel, fl); // only a 32-bit image holds VM
            return;
        }
        int rpl = sel & 3;
        if ((sel & 0xfffc) == 0 || rpl < c.cpl) {
            throw c.gp(sel & 0xfffc);
        }
        long d = c.segments.readDesc(sel);
        int attr = descAttr(d);
        if ((attr & A_S) == 0 || (attr & 8) == 0 || ((attr & 4) != 0 ? dpl(attr) > rpl : dpl(attr) != rpl)) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, sel & 0xfffc);
        }
        int oldCpl = c.cpl;
        if (rpl == c.cpl && !c.mode64) {
            long target = ip & mask(opSize);
            if (target > descLimit(d) && !(c.longMode() && (attr & A_L) != 0)) {
                throw c.gp(0);
            }
            boolean target64 = c.longMode() && (attr & A_L) != 0;
            long newSsp = c.cetActive ? Cet.farReturn(c, rpl, sel,
                    target64 ? target : (descBase(d) + target) & 0xffffffffL, target64) : c.ssp;
            c.segments.loadCs(sel, d, rpl); // may fault on the accessed-bit write: before SP moves
            c.ssp = newSsp;
            c.adjustSp(3L * opSize);
            c.rip = target;
            c.writeFlagsChecked(fl, opSize, oldCpl, true);
            return;
        }
        // Outer level, or any IRET in 64-bit mode: SS:RSP come off the stack too.
        long newSp = c.readStack(3L * opSize, opSize);
        int newSs = (int) c.readStack(4L * opSize, opSize) & 0xffff;
        boolean target64 = c.longMode() && (attr & A_L) != 0;
        long target = target64 ? ip : ip & mask(opSize == 8 ? 4 : opSize);
        if (target64 ? !canonical(target) : target > descLimit(d)) {
            throw c.gp(0);
        }
        long sd = c.segments.outerStackSegment(newSs, rpl, target64);
        long newSsp = c.cetActive ? Cet.farReturn(c, rpl, sel,
                target64 ? target : (descBase(d) + target) & 0xffffffffL, target64) : c.ssp;
        c.segments.loadCs(sel, d, rpl);
        c.ssp = newSsp;
        c.rip = target;
        c.writeFlagsChecked(fl, opSize, oldCpl, true);
        c.segments.loadOuterStackSegment(newSs, sd, rpl);
        c.regs[RSP] = opSize == 8 || c.mode64 ? newSp : c.stackSize == 4 ? newSp & 0xffffffffL
                : (c.regs[RSP] & ~0xffffL) | (newSp & 0xffff);
        if (rpl > oldCpl) {
            c.segments.nullifyInaccessibleSegments();
        }
    }

    /**
     * IRET in virtual-8086 mode (SDM IRET, RETURN-FROM-VIRTUAL-8086-MODE): with IOPL 3 it pops
     * IP, CS and FLAGS as real mode does, the flags image unable to change VM, IOPL, VIF and VIP;
     * with IOPL below 3 it is #GP(0) for the monitor (no VME).
     */
    private void vm86Iret(int opSize) {
        if ((c.flags & IOPL) != IOPL) {
            throw c.gp(0);
        }
        long ip = c.readStack(0, opSize);
        int sel = (int) c.readStack(opSize, opSize) & 0xffff;
        long fl = c.readStack(2L * opSize, opSize);
        if (ip > 0xffff) {
            throw c.gp(0);
        }
        c.adjustSp(3L * opSize);
        c.segments.loadSegment(CS, sel);
        c.rip = ip;
        c.writeFlagsChecked(fl, opSize, 3, true);
    }

    /**
     * IRETD at CPL 0 whose EFLAGS image has VM set (SDM IRET, RETURN-TO-VIRTUAL-8086-MODE):
     * ESP, SS, ES, DS, FS and GS come off the stack after EIP, CS and EFLAGS, each segment loaded
     * as virtual-8086 mode loads it, and the whole EFLAGS image is taken. An EIP beyond the new
     * CS's 64 KiB is #GP(0) before anything changes (as Bochs).
     */
    private void iretToVm86(long ip, int cs, long fl) {
        if (ip > 0xffff) {
            throw c.gp(0);
        }
        long sp = c.readStack(12, 4);
        int ss = (int) c.readStack(16, 4);
        int es = (int) c.readStack(20, 4);
        int ds = (int) c.readStack(24, 4);
        int fs = (int) c.readStack(28, 4);
        int gs = (int) c.readStack(32, 4);
        c.loadFlags((fl & FLAGS_WRITABLE) | 2);
        c.segments.setVm86Segment(CS, cs);
        c.segments.setVm86Segment(SS, ss);
        c.segments.setVm86Segment(ES, es);
        c.segments.setVm86Segment(DS, ds);
        c.segments.setVm86Segment(FS, fs);
        c.segments.setVm86Segment(GS, gs);
        c.regs[RSP] = sp & 0xffffffffL;
        c.rip = ip;
        c.updateMode();
    }
}

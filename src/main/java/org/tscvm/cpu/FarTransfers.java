package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.*;
import static org.tscvm.cpu.CpuExec.*;
import static org.tscvm.cpu.Segmentation.*;

/**
 * The far control transfers of one logical processor (SDM JMP, CALL, RET): JMP and CALL far,
 * directly to a code segment or through a call gate (16- and 32-bit gates, and IA-32e mode's
 * 16-byte ones), a CALL to a more privileged level switching to the stack its TSS names; and
 * RETF, to the same level or to an outer one with its SS:RSP. Outside IA-32e mode a far JMP or
 * CALL to a TSS or a task gate is handed to {@link TaskSwitch}.
 *
 * <p>It works on the {@link CpuExec} it is built with, through that CPU's stack and its
 * {@link Segmentation} (descriptor reads, segment loads, the TSS's inner stacks), which
 * interrupt delivery and task switches use too, and keeps no state of its own.
 */
final class FarTransfers {
    private final CpuExec c;

    FarTransfers(CpuExec cpu) {
        this.c = cpu;
    }

    /**
     * Far JMP or CALL to {@code sel:offset} with operand size {@code opSize}, through a call
     * gate too, and outside IA-32e mode to a TSS or task gate ({@link TaskSwitch}). A fault
     * leaves RSP as it was, so the instruction can restart (unless it came from a new task).
     */
    void jumpOrCall(int sel, long offset, int opSize, boolean call) {
        long savedRsp = c.regs[RSP];
        int switches = c.taskSwitches;
        try {
            jumpOrCallChecked(sel, offset, opSize, call);
        } catch (CpuFault f) {
            if (c.taskSwitches == switches) {
                c.regs[RSP] = savedRsp;
            }
            throw f;
        }
    }

    private void jumpOrCallChecked(int sel, long offset, int opSize, boolean call) {
        if (c.realMode() || (c.flags & VM) != 0) {
            if (call) {
                c.push(c.segSel[CS], opSize);
                c.push(c.rip, opSize);
            }
            c.segments.loadSegment(CS, sel);
            c.rip = offset & mask(opSize);
            c.updateMode();
            return;
        }
        if ((sel & 0xfffc) == 0) {
            throw c.gp(0);
        }
        long d = c.segments.readDesc(sel);
        int type = descAttr(d) & (A_S | A_TYPE);
        if (type == T_CALL || (type == T_CALL16 && !c.longMode())) {
            callGate(sel, d, call);
            return;
        }
        if (!c.longMode() && (type == T_TASK || type == T_TSS_AVAIL || type == T_TSS_BUSY || type == T_TSS16_AVAIL
                || type == T_TSS16_BUSY)) {
            TaskSwitch.farTransfer(c, sel, d, call);
            return;
        }
        checkDirectCodeTarget(sel, d);
        long oldCs = c.segSel[CS];
        long oldRip = c.rip;
        if (call) {
            c.push(oldCs, opSize);
            c.push(oldRip, opSize);
        }
        int attr = descAttr(d);
        boolean target64 = c.longMode() && (attr & A_L) != 0;
        long target = target64 ? offset : offset & (opSize == 2 ? 0xffff : 0xffffffffL);
        if (target64 ? !canonical(target) : target > descLimit(d)) {
            throw c.gp(0);
        }
        long newSsp = call && c.cetActive ? Cet.farCall(c, (int) oldCs, c.returnLip(oldRip)) : c.ssp;
        c.segments.loadCs(sel, d, c.cpl);
        c.ssp = newSsp;
        c.rip = target;
    }

    /** #GP(sel) unless {@code d} is a present code segment callable directly from CPL. */
    private void checkDirectCodeTarget(int sel, long d) {
        int attr = descAttr(d);
        if ((attr & A_S) == 0 || (attr & 8) == 0) {
            throw c.gp(sel & 0xfffc);
        }
        boolean conforming = (attr & 4) != 0;
        if (conforming ? dpl(attr) > c.cpl : ((sel & 3) > c.cpl || dpl(attr) != c.cpl)) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, sel & 0xfffc);
        }
        if (c.longMode() && (attr & A_L) != 0 && (attr & A_DB) != 0) {
            throw c.gp(sel & 0xfffc);
        }
    }

    /**
     * A far JMP or CALL through a call gate (SDM CALL, "call gate"): same privilege, or a CALL
     * to a more privileged non-conforming segment with the stack from the TSS. 32-bit gates copy
     * their parameters; 64-bit gates have none.
     */
    private void callGate(int gateSel, long gate, boolean call) {
        int gattr = descAttr(gate);
        if (dpl(gattr) < c.cpl || dpl(gattr) < (gateSel & 3)) {
            throw c.gp(gateSel & 0xfffc);
        }
        if ((gattr & A_P) == 0) {
            throw c.fault(CpuFault.NP, gateSel & 0xfffc);
        }
        boolean lm = c.longMode();
        int size = lm ? 8 : (gattr & A_TYPE) == T_CALL ? 4 : 2;
        int csSel = (int) (gate >>> 16) & 0xffff;
        long target = (gate & 0xffff) | (size >= 4 ? ((gate >>> 48) & 0xffff) << 16 : 0);
        if (lm) {
            long hi = c.readSys(c.segments.descAddr(gateSel) + 8, 8);
            if (((hi >>> 40) & 0x1f) != 0) {
                throw c.gp(gateSel & 0xfffc);
            }
            target |= (hi & 0xffffffffL) << 32;
        }
        if ((csSel & 0xfffc) == 0) {
            throw c.gp(0);
        }
        long d = c.segments.readDesc(csSel);
        int attr = descAttr(d);
        if ((attr & A_S) == 0 || (attr & 8) == 0 || dpl(attr) > c.cpl) {
            throw c.gp(csSel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, csSel & 0xfffc);
        }
        if (lm && ((attr & A_L) == 0 || (attr & A_DB) != 0)) {
            throw c.gp(csSel & 0xfffc);
        }
        if (lm && !canonical(target)) {
            throw c.gp(0);
        }
        boolean conforming = (attr & 4) != 0;
        if (!call) {
            if (!conforming && dpl(attr) != c.cpl) {
                throw c.gp(csSel & 0xfffc);
            }
            c.segments.loadCs(csSel, d, c.cpl);
            c.rip = lm ? target : target & mask(size);
            return;
        }
        int newCpl = conforming ? c.cpl : dpl(attr);
        long oldCs = c.segSel[CS];
        long oldRip = c.rip;
        if (newCpl == c.cpl) {
            c.push(oldCs, size);
            c.push(oldRip, size);
            long newSsp = c.cetActive ? Cet.farCall(c, (int) oldCs, c.returnLip(oldRip)) : c.ssp;
            c.segments.loadCs(csSel, d, c.cpl);
            c.ssp = newSsp;
            c.rip = lm ? target : target & mask(size);
            return;
        }
        int oldSs = c.segSel[SS];
        long oldSp = c.regs[RSP];
        long oldSsBase = c.segBase[SS];
        long oldSpMask = c.stackMask();
        boolean user = newCpl == 3;
        if (lm) {
            long rsp = c.segments.readTssStack(4 + newCpl * 8L, 8, false);
            if (!canonical(rsp)) {
                throw c.fault(CpuFault.SS, 0);
            }
            c.writeAs(rsp - 8, 8, oldSs, user);
            c.writeAs(rsp - 16, 8, oldSp, user);
            c.writeAs(rsp - 24, 8, oldCs, user);
            c.writeAs(rsp - 32, 8, oldRip, user);
            long newSsp = c.cetActive ? Cet.enterHandler(c, newCpl, 0, (int) oldCs, c.returnLip(oldRip), true) : c.ssp;
            c.setSeg(SS, newCpl, 0, 0, A_UNUSABLE | A_DB | (newCpl << 5));
            c.segments.loadCs(csSel, d, newCpl);
            c.ssp = newSsp;
            c.regs[RSP] = rsp - 32;
            c.rip = target;
            return;
        }
        long sd = c.segments.innerStackSegment(newCpl, false);
        int ss = c.segments.innerSs;
        int sattr = descAttr(sd);
        long ssBase = descBase(sd);
        long spMask = (sattr & A_DB) != 0 ? 0xffffffffL : 0xffff;
        long sp = c.segments.innerEsp;
        sp = (sp - size) & spMask;
        c.writeAs((ssBase + sp) & 0xffffffffL, size, oldSs, user);
        sp = (sp - size) & spMask;
        c.writeAs((ssBase + sp) & 0xffffffffL, size, oldSp, user);
        int params = (int) (gate >>> 32) & 0x1f;
        for (int i = params - 1; i >= 0; i--) {
            long v = c.readLin((oldSsBase + ((oldSp + (long) i * size) & oldSpMask)) & 0xffffffffL, size);
            sp = (sp - size) & spMask;
            c.writeAs((ssBase + sp) & 0xffffffffL, size, v, user);
        }
        sp = (sp - size) & spMask;
        c.writeAs((ssBase + sp) & 0xffffffffL, size, oldCs, user);
        sp = (sp - size) & spMask;
        c.writeAs((ssBase + sp) & 0xffffffffL, size, oldRip, user);
        long newSsp = c.cetActive ? Cet.enterHandler(c, newCpl, 0, (int) oldCs, c.returnLip(oldRip), false) : c.ssp;
        c.segments.markAccessed(ss, sd);
        c.setSeg(SS, ss, ssBase, descLimit(sd), sattr | 1);
        c.segments.loadCs(csSel, d, newCpl);
        c.ssp = newSsp;
        c.regs[RSP] = (c.regs[RSP] & ~spMask) | sp;
        c.rip = target & mask(size);
    }

    /** RETF: pops IP and CS (and SP, SS on a return to an outer level), then releases {@code bytes}. */
    void ret(int opSize, int bytes) {
        if (c.realMode() || (c.flags & VM) != 0) {
            long ip = c.pop(opSize);
            int sel = (int) c.pop(opSize) & 0xffff;
            c.segments.loadSegment(CS, sel);
            c.rip = ip;
            c.adjustSp(bytes);
            c.updateMode();
            return;
        }
        long sp = c.regs[RSP];
        long ip = c.readStack(0, opSize);
        int sel = (int) c.readStack(opSize, opSize) & 0xffff;
        int rpl = sel & 3;
        if ((sel & 0xfffc) == 0 || rpl < c.cpl) {
            throw c.gp(sel & 0xfffc);
        }
        long d = c.segments.readDesc(sel);
        int attr = descAttr(d);
        if ((attr & A_S) == 0 || (attr & 8) == 0
                || ((attr & 4) != 0 ? dpl(attr) > rpl : dpl(attr) != rpl)) {
            throw c.gp(sel & 0xfffc);
        }
        if ((attr & A_P) == 0) {
            throw c.fault(CpuFault.NP, sel & 0xfffc);
        }
        boolean target64 = c.longMode() && (attr & A_L) != 0;
        long target = target64 ? ip : ip & mask(opSize);
        if (target64 ? !canonical(target) : target > descLimit(d)) {
            throw c.gp(0);
        }
        long lip = target64 ? target : (descBase(d) + target) & 0xffffffffL;
        if (rpl == c.cpl) {
            long newSsp = c.cetActive ? Cet.farReturn(c, rpl, sel, lip, target64) : c.ssp;
            c.segments.loadCs(sel, d, rpl);
            c.ssp = newSsp;
            c.setSp(sp + 2L * opSize + bytes);
            c.rip = target;
            return;
        }
        long newSp = c.readStack(2L * opSize + bytes, opSize);
        int newSs = (int) c.readStack(3L * opSize + bytes, opSize) & 0xffff;
        // SS is checked against the new CPL before anything changes (SDM RET, outer level).
        long sd = c.segments.outerStackSegment(newSs, rpl, target64);
        long newSsp = c.cetActive ? Cet.farReturn(c, rpl, sel, lip, target64) : c.ssp;
        c.segments.loadCs(sel, d, rpl);
        c.ssp = newSsp;
        c.segments.loadOuterStackSegment(newSs, sd, rpl);
        c.regs[RSP] = newSp;
        c.setSp(newSp + bytes);
        c.rip = target;
        c.segments.nullifyInaccessibleSegments();
    }
}

package org.tscvm.snapshot;

import org.tscvm.vm.VcpuEvents;
import org.tscvm.vm.VcpuFpu;
import org.tscvm.vm.VcpuLapic;
import org.tscvm.vm.VcpuMsrs;
import org.tscvm.vm.VcpuRegs;
import org.tscvm.vm.VcpuSregs;
import org.tscvm.vm.VcpuState;

/**
 * The bytes of a vCPU's {@link VcpuState} (the vm package's record: KVM's regs, sregs, FPU,
 * MSRs, LAPIC and events): one section per vCPU (docs/snapshot-format.md). The reader checks
 * the shape (lengths, counts, enum values); {@link org.tscvm.vm.Vcpu#restoreState} checks the
 * values against the vCPU before it changes anything.
 */
final class VcpuCodec {
    /** More MSRs than any CPU model has; a bound on the count before anything is allocated. */
    static final int MAX_MSRS = 4096;

    private VcpuCodec() {
    }

    static byte[] write(int index, VcpuState v) {
        SectionOut out = new SectionOut().i32(index);
        VcpuRegs r = v.regs();
        out.i64(r.rax()).i64(r.rbx()).i64(r.rcx()).i64(r.rdx()).i64(r.rsi()).i64(r.rdi()).i64(r.rsp()).i64(r.rbp())
                .i64(r.r8()).i64(r.r9()).i64(r.r10()).i64(r.r11()).i64(r.r12()).i64(r.r13()).i64(r.r14())
                .i64(r.r15()).i64(r.rip()).i64(r.rflags());
        VcpuSregs s = v.sregs();
        for (VcpuSregs.Segment seg : new VcpuSregs.Segment[] {s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
            s.ldt()}) {
            out.i64(seg.base()).i64(seg.limit()).i32(seg.selector()).i32(seg.attributes());
        }
        out.i64(s.gdt().base()).i32(s.gdt().limit()).i64(s.idt().base()).i32(s.idt().limit());
        out.i64(s.cr0()).i64(s.cr2()).i64(s.cr3()).i64(s.cr4()).i64(s.cr8()).i64(s.efer());
        VcpuFpu f = v.fpu();
        out.i32(f.fcw()).i32(f.fsw()).i32(f.ftw()).i32(f.fop()).i64(f.fip()).i64(f.fdp()).i32(f.fcs()).i32(f.fds())
                .raw(f.st()).longs(f.xmm()).i32(f.mxcsr()).i32(f.pkru()).i64(f.xcr0());
        VcpuMsrs m = v.msrs();
        out.i32(m.size()).ints(m.indexes()).longs(m.values());
        VcpuLapic l = v.lapic();
        out.bool(l != null);
        if (l != null) {
            out.raw(l.registers()).i64(l.timerElapsedTsc()).i64(l.timerRemainingTsc()).i64(l.tscDeadline())
                    .i32(l.pendingErrors());
        }
        VcpuEvents e = v.events();
        out.i32(e.exceptionVector()).bool(e.exceptionHasErrorCode()).i32(e.exceptionErrorCode())
                .i32(e.interruptVector()).i32(e.nmiPending()).bool(e.nmiBlocked()).i32(e.interruptShadow())
                .u8(e.mpState().ordinal());
        return out.toByteArray();
    }

    static VcpuState read(SectionIn in, int expectedIndex) {
        int index = in.i32("vCPU index");
        if (index != expectedIndex) {
            throw in.corrupt("holds vCPU " + index + " where vCPU " + expectedIndex + " belongs");
        }
        VcpuRegs regs = new VcpuRegs(in.i64("RAX"), in.i64("RBX"), in.i64("RCX"), in.i64("RDX"), in.i64("RSI"),
                in.i64("RDI"), in.i64("RSP"), in.i64("RBP"), in.i64("R8"), in.i64("R9"), in.i64("R10"), in.i64("R11"),
                in.i64("R12"), in.i64("R13"), in.i64("R14"), in.i64("R15"), in.i64("RIP"), in.i64("RFLAGS"));
        VcpuSregs.Segment[] seg = new VcpuSregs.Segment[8];
        for (int i = 0; i < seg.length; i++) {
            seg[i] = new VcpuSregs.Segment(in.i64("segment base"), in.i64("segment limit"), in.i32("selector"),
                    in.i32("segment attributes"));
        }
        VcpuSregs.DescriptorTable gdt = new VcpuSregs.DescriptorTable(in.i64("GDTR base"), in.intIn("GDTR limit", 0, 0xffff));
        VcpuSregs.DescriptorTable idt = new VcpuSregs.DescriptorTable(in.i64("IDTR base"), in.intIn("IDTR limit", 0, 0xffff));
        VcpuSregs sregs = new VcpuSregs(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7], gdt, idt,
                in.i64("CR0"), in.i64("CR2"), in.i64("CR3"), in.i64("CR4"), in.i64("CR8"), in.i64("EFER"));
        VcpuFpu fpu = new VcpuFpu(in.i32("FCW"), in.i32("FSW"), in.i32("FTW"), in.i32("FOP"), in.i64("FIP"),
                in.i64("FDP"), in.i32("FCS"), in.i32("FDS"), in.raw("x87 registers", VcpuFpu.ST_BYTES),
                in.longs("XMM registers", VcpuFpu.XMM_QUADWORDS), in.i32("MXCSR"), in.i32("PKRU"), in.i64("XCR0"));
        int count = in.count("MSR count", MAX_MSRS);
        int[] indexes = in.ints("MSR indexes", count);
        long[] values = in.longs("MSR values", count);
        int[] sorted = indexes.clone();
        java.util.Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw in.corrupt(String.format("MSR 0x%x is given twice", sorted[i]));
            }
        }
        VcpuMsrs msrs = new VcpuMsrs(indexes, values);
        VcpuLapic lapic = null;
        if (in.bool("has a local APIC")) {
            lapic = new VcpuLapic(in.raw("local APIC page", VcpuLapic.PAGE_BYTES), in.i64("timer elapsed"),
                    in.i64("timer remaining"), in.i64("TSC deadline"), in.i32("pending APIC errors"));
        }
        int exceptionVector = in.i32("exception vector");
        boolean hasErrorCode = in.bool("exception has an error code");
        int errorCode = in.i32("exception error code");
        int interruptVector = in.i32("interrupt vector");
        int nmiPending = in.intIn("NMIs pending", 0, 2);
        boolean nmiBlocked = in.bool("NMI blocked");
        int shadow = in.intIn("interrupt shadow", 0, VcpuEvents.SHADOW_MOV_SS | VcpuEvents.SHADOW_STI);
        int mp = in.u8("MP state");
        VcpuEvents.MpState[] states = VcpuEvents.MpState.values();
        if (mp >= states.length) {
            throw in.corrupt("MP state " + mp + " is none of 0 (runnable), 1 (halted), 2 (INIT received)");
        }
        in.end();
        return new VcpuState(regs, sregs, fpu, msrs, lapic, new VcpuEvents(exceptionVector, hasErrorCode, errorCode,
                interruptVector, nmiPending, nmiBlocked, shadow, states[mp]));
    }
}

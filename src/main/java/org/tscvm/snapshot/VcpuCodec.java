package org.tscvm.snapshot;

import org.tscvm.cpu.Cpu;
import org.tscvm.devices.LocalApic;
import org.tscvm.machine.Machine;

/** The bytes of a {@link SavedVcpu}: one section per vCPU (docs/snapshot-format.md). */
final class VcpuCodec {
    static final int GPRS = 16;
    static final int SEGMENTS = 6;
    static final int DEBUG_REGISTERS = 8;
    static final int FXSAVE_BYTES = 512;
    static final int APIC_VECTOR_WORDS = 8;
    static final int APIC_LVT_ENTRIES = 7;

    private VcpuCodec() {
    }

    static byte[] write(int index, SavedVcpu v) {
        Cpu.State c = v.cpu();
        SectionOut out = new SectionOut().i32(index);
        out.longs(c.gprs()).i64(c.rip()).i64(c.rflags()).ints(c.segSelectors()).longs(c.segBases())
                .longs(c.segLimits()).ints(c.segAttributes())
                .i32(c.ldtrSelector()).i64(c.ldtrBase()).i64(c.ldtrLimit()).i32(c.ldtrAttributes())
                .i32(c.trSelector()).i64(c.trBase()).i64(c.trLimit()).i32(c.trAttributes())
                .i64(c.gdtrBase()).i32(c.gdtrLimit()).i64(c.idtrBase()).i32(c.idtrLimit())
                .i64(c.cr0()).i64(c.cr2()).i64(c.cr3()).i64(c.cr4()).i64(c.cr8()).i64(c.efer())
                .longs(c.debugRegisters()).i64(c.kernelGsBase()).i64(c.star()).i64(c.lstar()).i64(c.cstar())
                .i64(c.fmask()).i64(c.sysenterCs()).i64(c.sysenterEsp()).i64(c.sysenterEip()).i64(c.pat())
                .i32(c.fpuControl()).i32(c.fpuStatus()).i32(c.fpuTag()).i32(c.mxcsr()).raw(c.fxRegisters())
                .bool(c.halted()).bool(c.waitingForSipi()).bool(c.shutdown()).bool(c.interruptShadow())
                .i64(c.instructionsRetired());
        LocalApic.State a = v.apic();
        out.i32(a.id()).i64(a.apicBase()).i32(a.tpr()).i32(a.ldr()).i32(a.dfr()).i32(a.svr()).ints(a.isr())
                .ints(a.irr()).ints(a.tmr()).i32(a.esr()).i32(a.pendingEsr()).i32(a.icrLow()).i32(a.icrHigh())
                .ints(a.lvt()).i32(a.timerInitial()).i32(a.timerDivide()).i64(a.timerRemainingNanos())
                .i64(a.tscDeadline());
        Machine.RunnerState r = v.runner();
        out.bool(r.waitingForSipi()).bool(r.pendingInit()).i32(r.pendingSipi());
        return out.toByteArray();
    }

    static SavedVcpu read(SectionIn in, int expectedIndex) {
        int index = in.i32("vCPU index");
        if (index != expectedIndex) {
            throw in.corrupt("holds vCPU " + index + " where vCPU " + expectedIndex + " belongs");
        }
        Cpu.State cpu = new Cpu.State(in.longs("general registers", GPRS), in.i64("RIP"), in.i64("RFLAGS"),
                in.ints("segment selectors", SEGMENTS), in.longs("segment bases", SEGMENTS),
                in.longs("segment limits", SEGMENTS), in.ints("segment attributes", SEGMENTS),
                in.i32("LDTR selector"), in.i64("LDTR base"), in.i64("LDTR limit"), in.i32("LDTR attributes"),
                in.i32("TR selector"), in.i64("TR base"), in.i64("TR limit"), in.i32("TR attributes"),
                in.i64("GDTR base"), in.i32("GDTR limit"), in.i64("IDTR base"), in.i32("IDTR limit"),
                in.i64("CR0"), in.i64("CR2"), in.i64("CR3"), in.i64("CR4"), in.i64("CR8"), in.i64("EFER"),
                in.longs("debug registers", DEBUG_REGISTERS), in.i64("KERNEL_GS_BASE"), in.i64("STAR"),
                in.i64("LSTAR"), in.i64("CSTAR"), in.i64("FMASK"), in.i64("SYSENTER_CS"), in.i64("SYSENTER_ESP"),
                in.i64("SYSENTER_EIP"), in.i64("PAT"), in.i32("FPU control"), in.i32("FPU status"),
                in.i32("FPU tag"), in.i32("MXCSR"), in.raw("FXSAVE image", FXSAVE_BYTES), in.bool("halted"),
                in.bool("waiting for SIPI"), in.bool("shutdown"), in.bool("interrupt shadow"),
                in.i64("instructions retired"));
        LocalApic.State apic = new LocalApic.State(in.i32("APIC ID"), in.i64("APIC base"), in.i32("TPR"),
                in.i32("LDR"), in.i32("DFR"), in.i32("SVR"), in.ints("ISR", APIC_VECTOR_WORDS),
                in.ints("IRR", APIC_VECTOR_WORDS), in.ints("TMR", APIC_VECTOR_WORDS), in.i32("ESR"),
                in.i32("pending ESR"), in.i32("ICR low"), in.i32("ICR high"), in.ints("LVT", APIC_LVT_ENTRIES),
                in.i32("timer initial count"), in.i32("timer divide"), in.i64("timer remaining ns"),
                in.i64("TSC deadline"));
        if (apic.timerRemainingNanos() < -1) {
            throw in.corrupt("the APIC timer's remaining time is " + apic.timerRemainingNanos() + " ns");
        }
        Machine.RunnerState runner = new Machine.RunnerState(in.bool("waiting for SIPI"), in.bool("pending INIT"),
                in.intIn("pending SIPI vector", -1, 0xff));
        in.end();
        return new SavedVcpu(cpu, apic, runner);
    }
}

package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;
import org.tscvm.cpu.Msr;
import org.tscvm.memory.GuestMemory;

/**
 * The vCPU's whole state (KVM_GET/SET_REGS, _SREGS, _FPU, _MSRS, _LAPIC, _VCPU_EVENTS): a
 * program stopped midway and its state moved to a fresh VM goes on exactly as the original;
 * a broken state is refused before anything changes; the MSR table has one owner per MSR
 * and every MSR of the index list reads back what the host wrote.
 */
class VcpuStateTest {
    private static final long CODE = 0x10000, PML4 = 0x1000, DATA = 0x8000;
    /**
     * A loop that touches x87, SSE, MXCSR, a user stack and TSC_AUX-free state:
     * <pre>
     * 10000: f2 0f 2a c0        cvtsi2sd xmm0, eax
     * 10004: f2 0f 58 c8        addsd xmm1, xmm0
     * 10008: 66 0f ef d1        pxor xmm2, xmm1
     * 1000c: df 04 25 00 80 00 00   fild word [0x8000]
     * 10013: de c1              faddp st1, st0
     * 10015: 48 ff c0           inc rax
     * 10018: 50                 push rax
     * 10019: 58                 pop rax
     * 1001a: 48 39 d8           cmp rax, rbx
     * 1001d: 75 e1              jne 10000
     * 1001f: f4                 hlt
     * </pre>
     */
    private static final byte[] PROGRAM = {(byte) 0xf2, 0x0f, 0x2a, (byte) 0xc0, (byte) 0xf2, 0x0f, 0x58,
        (byte) 0xc8, 0x66, 0x0f, (byte) 0xef, (byte) 0xd1, (byte) 0xdf, 0x04, 0x25, 0x00, (byte) 0x80, 0x00, 0x00,
        (byte) 0xde, (byte) 0xc1, 0x48, (byte) 0xff, (byte) 0xc0, 0x50, 0x58, 0x48, 0x39, (byte) 0xd8, 0x75,
        (byte) 0xe1, (byte) 0xf4};

    private static Vcpu programmed(TestVms t) {
        GuestMemory memory = t.vm.memory();
        memory.write64(PML4, 0x2000 | 7);
        memory.write64(0x2000, 0x3000 | 7);
        memory.write64(0x3000, 0x87); // 0-2 MiB identity, one large page
        memory.write16(DATA, 3);
        memory.load(CODE, PROGRAM, 0, PROGRAM.length);
        Vcpu vcpu = t.vm.createVcpu();
        LongModeGuest.enter(vcpu, CODE, PML4, 0, 0xffff, 0x600); // OSFXSR | OSXMMEXCPT: SSE on
        LongModeGuest.set(vcpu, "rsp", 0x80000);
        LongModeGuest.set(vcpu, "rbx", 5000);
        LongModeGuest.set(vcpu, "rax", 1);
        return vcpu;
    }

    @Test
    void aProgramStoppedMidwayGoesOnInAFreshVmExactlyAsTheOriginal() {
        TestVms source = TestVms.create(VmConfig.builder().compileThreshold(0)); // interpreted, step by step
        Vcpu original = programmed(source);
        original.guest(); // nothing else attached: the state is the CPU, FPU, MSRs and events
        original.setMsr(Msr.IA32_TSC_AUX, 7);
        original.setMsr(Msr.IA32_PAT, 0x0007040600070406L ^ 0x0100);
        // Stop after a fixed number of instructions: a step budget through a pause request.
        long stopAt = 12_345;
        while (original.instructionsRetired() < stopAt) {
            original.setGuestDebug(new GuestDebug(true, java.util.Set.of(), java.util.List.of()));
            original.run();
        }
        original.setGuestDebug(GuestDebug.NONE);
        VcpuState saved = original.saveState();
        assertThat(saved.fpu().xmm(1, 0)).isNotZero(); // the loop really is midway, with SSE state
        assertThat(saved.regs().rax()).isBetween(2L, 4999L);

        TestVms target = TestVms.create();
        target.clock.advance(123_456); // another host clock: nothing in the state may depend on it
        copyRam(source, target);
        Vcpu copy = target.vm.createVcpu();
        copy.restoreState(saved);
        assertThat(copy.saveState()).isEqualTo(saved);

        assertThat(original.run()).isInstanceOf(VcpuExit.Halt.class);
        assertThat(copy.run()).isInstanceOf(VcpuExit.Halt.class);
        VcpuState a = original.saveState();
        VcpuState b = copy.saveState();
        assertThat(b.regs()).isEqualTo(a.regs());
        assertThat(b.sregs()).isEqualTo(a.sregs());
        assertThat(b.fpu()).isEqualTo(a.fpu());
        assertThat(b.events()).isEqualTo(a.events());
        assertThat(b.msrs().value(Msr.IA32_TSC_AUX)).hasValue(7);
        assertThat(b.msrs().value(Msr.IA32_PAT)).isEqualTo(a.msrs().value(Msr.IA32_PAT));
        assertThat(b.regs().rax()).isEqualTo(5000);
    }

    private static void copyRam(TestVms source, TestVms target) {
        GuestMemory from = source.vm.memory();
        byte[] page = new byte[GuestMemory.PAGE_SIZE];
        for (GuestMemory.Range r : from.ranges()) {
            for (long p = r.start(); p < r.end(); p += GuestMemory.PAGE_SIZE) {
                if (from.pageTouched(p)) {
                    from.readPage(p, page, 0);
                    target.vm.memory().writePage(p, page, 0);
                }
            }
        }
    }

    private static final long NMI_HANDLER = 0x9000, NMI_COUNT = 0x30000;

    /**
     * A 64-bit guest whose NMI handler counts: GDT at 0x500 (0x08 code64, 0x10 data), IDTR image at 0x610
     * for an IDT at 0x4000 whose vector 2 gate goes to {@link #NMI_HANDLER}:
     * <pre>
     * 9000: ff 04 25 00 00 03 00  incl 0x30000
     * 9007: 48 cf                 iretq
     * 10000: 0f 01 1c 25 10 06 00 00  lidt 0x610
     * 10008: 90 90 90             nop; nop; nop
     * 1000b: f4                   hlt
     * </pre>
     */
    private static Vcpu withAnNmiHandler(TestVms t) {
        GuestMemory memory = t.vm.memory();
        memory.write64(PML4, 0x2000 | 7);
        memory.write64(0x2000, 0x3000 | 7);
        memory.write64(0x3000, 0x87);
        memory.write64(0x508, 0x00af9a000000ffffL);
        memory.write64(0x510, 0x00cf92000000ffffL);
        memory.write16(0x610, 0xfff);
        memory.write64(0x612, 0x4000);
        memory.write64(0x4000 + 2 * 16, (NMI_HANDLER & 0xffff) | (0x08L << 16) | (0x8eL << 40));
        byte[] handler = {(byte) 0xff, 0x04, 0x25, 0x00, 0x00, 0x03, 0x00, 0x48, (byte) 0xcf};
        memory.load(NMI_HANDLER, handler, 0, handler.length);
        byte[] code = {0x0f, 0x01, 0x1c, 0x25, 0x10, 0x06, 0x00, 0x00, (byte) 0x90, (byte) 0x90, (byte) 0x90,
            (byte) 0xf4};
        memory.load(CODE, code, 0, code.length);
        Vcpu vcpu = t.vm.createVcpu();
        LongModeGuest.enter(vcpu, CODE, PML4, 0x500, 0x17, 0);
        LongModeGuest.set(vcpu, "rsp", 0x80000);
        return vcpu;
    }

    private static void step(Vcpu vcpu) {
        vcpu.setGuestDebug(new GuestDebug(true, java.util.Set.of(), java.util.List.of()));
        vcpu.run();
        vcpu.setGuestDebug(GuestDebug.NONE);
    }

    @Test
    void aStateSavedInsideAnNmiHandlerRestoresWithNmisBlockedAndTheLatchedNmiTakenAfterIret() {
        // SDM 6.7.1: from NMI delivery to the next IRET further NMIs are blocked and one is
        // latched; KVM's kvm_vcpu_events carries both (nmi.masked, nmi.pending), and so must
        // the saved state, or the copy would nest an NMI inside the handler.
        TestVms source = TestVms.create();
        Vcpu original = withAnNmiHandler(source);
        step(original); // lidt
        original.injectNmi();
        step(original); // delivery, then the incl
        assertThat(original.getRegs().rip()).isEqualTo(NMI_HANDLER + 7);
        original.injectNmi(); // latched: the handler has not returned
        VcpuState inHandler = original.saveState();
        assertThat(inHandler.events().nmiBlocked()).isTrue();
        assertThat(inHandler.events().nmiPending()).isEqualTo(1);

        for (int pending = 0; pending <= 1; pending++) {
            TestVms target = TestVms.create();
            copyRam(source, target); // tables, handler, the NMI's frame, the count of 1
            Vcpu copy = target.vm.createVcpu();
            VcpuEvents e = inHandler.events();
            copy.restoreState(new VcpuState(inHandler.regs(), inHandler.sregs(), inHandler.fpu(), inHandler.msrs(),
                    inHandler.lapic(), new VcpuEvents(-1, false, 0, -1, pending, e.nmiBlocked(), 0, e.mpState())));
            assertThat(copy.saveState().events().nmiBlocked()).isTrue();
            if (pending == 0) {
                copy.injectNmi(); // arrives after the restore: blocked all the same
            }
            step(copy); // the iretq, and then the latched NMI is delivered
            long rsp = copy.getRegs().rsp();
            assertThat(copy.getRegs().rip()).as("the second NMI is delivered after the IRET").isEqualTo(NMI_HANDLER);
            assertThat(target.vm.memory().read64(rsp)).as("not nested: it returns to where the IRET went")
                    .isEqualTo(CODE + 8);
            assertThat(copy.run()).isInstanceOf(VcpuExit.Halt.class);
            assertThat(target.vm.memory().read32(NMI_COUNT)).isEqualTo(2);
            assertThat(copy.saveState().events().nmiBlocked()).isFalse();
        }
        assertThat(original.run()).isInstanceOf(VcpuExit.Halt.class);
        assertThat(source.vm.memory().read32(NMI_COUNT)).isEqualTo(2);
    }

    /** XGETBV (0f 01 d0) then HLT: the guest reads XCR0 into EDX:EAX. */
    private static final byte[] XGETBV_HLT = {0x0f, 0x01, (byte) 0xd0, (byte) 0xf4};

    @Test
    void xcr0TravelsWithTheFpuStateAndTheGuestReadsWhatWasRestored() {
        for (CpuidModel model : new CpuidModel[] {CpuidModel.tscvm().with(CpuidModel.Feature.XSAVE, true),
            CpuidModel.tscvm().with(CpuidModel.Feature.XSAVE, false)}) {
            boolean xsave = model.has(CpuidModel.Feature.XSAVE);
            TestVms t = TestVms.create(VmConfig.builder().cpuid(model));
            t.vm.memory().write64(PML4, 0x2000 | 7);
            t.vm.memory().write64(0x2000, 0x3000 | 7);
            t.vm.memory().write64(0x3000, 0x87);
            t.vm.memory().load(CODE, XGETBV_HLT, 0, XGETBV_HLT.length);
            Vcpu vcpu = t.vm.createVcpu();
            LongModeGuest.enter(vcpu, CODE, PML4);
            VcpuFpu fpu = vcpu.getFpu();
            assertThat(fpu.xcr0()).isEqualTo(1); // x87 only after RESET
            // XSETBV's rules: x87 always set, SSE only where CPUID reports XSAVE, nothing else.
            for (long bad : xsave ? new long[] {0, 2, 4, 7, 1L << 62} : new long[] {0, 3}) {
                assertThatThrownBy(() -> vcpu.setFpu(fpu.withXcr0(bad))).as("XCR0 %x", bad)
                        .isInstanceOf(InvalidVcpuStateException.class).hasMessageContaining("XCR0");
                assertThat(vcpu.getFpu().xcr0()).isEqualTo(1);
            }
            if (!xsave) {
                continue;
            }
            VcpuState saved = vcpu.saveState();
            VcpuState withSse = new VcpuState(saved.regs(), saved.sregs(), saved.fpu().withXcr0(3), saved.msrs(),
                    saved.lapic(), saved.events());
            Vcpu copy = TestVms.create(VmConfig.builder().cpuid(model)).vm.createVcpu();
            copy.restoreState(withSse);
            assertThat(copy.saveState().fpu().xcr0()).isEqualTo(3);
            vcpu.restoreState(withSse);
            VcpuSregs s = vcpu.getSregs();
            vcpu.setSregs(new VcpuSregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(),
                    s.idt(), s.cr0(), s.cr2(), s.cr3(), s.cr4() | (1 << 18), s.cr8(), s.efer())); // CR4.OSXSAVE
            assertThat(vcpu.run()).isInstanceOf(VcpuExit.Halt.class);
            assertThat(vcpu.getRegs().rax()).isEqualTo(3);
            assertThat(vcpu.getRegs().rdx()).isZero();
        }
    }

    @Test
    void everyMsrOfTheIndexListReadsBackWhatTheHostWrote() {
        for (CpuidModel model : new CpuidModel[] {CpuidModel.tscvm(), CpuidModel.tscvm().withVendor(CpuidModel.AMD)}) {
            Vcpu vcpu = TestVms.create(VmConfig.builder().cpuid(model)).vm.createVcpu();
            int[] list = vcpu.msrIndexList();
            assertThat(list).contains(Msr.IA32_TSC, Msr.IA32_TSC_ADJUST, Msr.IA32_TSC_AUX, Msr.IA32_TSC_DEADLINE,
                    Msr.IA32_SYSENTER_CS, Msr.IA32_STAR, Msr.IA32_LSTAR, Msr.IA32_CSTAR, Msr.IA32_FMASK,
                    Msr.IA32_KERNEL_GS_BASE, Msr.IA32_PAT, Msr.IA32_MISC_ENABLE, Msr.IA32_APIC_BASE, Msr.IA32_EFER,
                    Mtrrs.DEF_TYPE, Mtrrs.PHYS_BASE_0, MachineCheckBanks.MCG_CAP, MachineCheckBanks.MC0_CTL);
            assertThat(list).doesNotContain(Mtrrs.MTRR_CAP, Msr.IA32_FS_BASE, Msr.IA32_GS_BASE);
            assertThat(contains(list, Vcpu.AMD_PERF_EVTSEL0)).isEqualTo(model.isAmd());
            for (int index : list) {
                long value = vcpu.getMsr(index);
                vcpu.setMsr(index, value);
                assertThat(vcpu.getMsr(index)).as("MSR 0x%x", index).isEqualTo(value);
            }
        }
    }

    @Test
    void cetMsrsAndSspTravelWithTheStateWhereTheModelHasCet() {
        CpuidModel max = CpuidModel.named("max");
        Vcpu vcpu = TestVms.create(VmConfig.builder().cpuid(max)).vm.createVcpu();
        assertThat(vcpu.msrIndexList()).contains(Msr.IA32_U_CET, Msr.IA32_S_CET, Msr.IA32_PL0_SSP, Msr.IA32_PL3_SSP,
                Msr.IA32_INTERRUPT_SSP_TABLE_ADDR, Msr.TSCVM_GUEST_SSP);
        vcpu.setMsr(Msr.IA32_U_CET, 5);
        vcpu.setMsr(Msr.IA32_PL3_SSP, 0x7ff8);
        vcpu.setMsr(Msr.TSCVM_GUEST_SSP, 0x12344);
        assertThatThrownBy(() -> vcpu.setMsr(Msr.TSCVM_GUEST_SSP, 0x12346)).as("SSP is 4-byte aligned")
                .isInstanceOf(MsrAccessException.class);
        assertThatThrownBy(() -> vcpu.readMsr(Msr.TSCVM_GUEST_SSP, MsrOrigin.GUEST)).as("no MSR for the guest")
                .isInstanceOf(org.tscvm.cpu.CpuFault.class);
        VcpuState saved = vcpu.saveState();
        Vcpu copy = TestVms.create(VmConfig.builder().cpuid(max)).vm.createVcpu();
        copy.restoreState(saved);
        assertThat(copy.getMsr(Msr.IA32_U_CET)).isEqualTo(5);
        assertThat(copy.getMsr(Msr.IA32_PL3_SSP)).isEqualTo(0x7ff8);
        assertThat(copy.getMsr(Msr.TSCVM_GUEST_SSP)).isEqualTo(0x12344);

        int[] plain = TestVms.create().vm.createVcpu().msrIndexList();
        assertThat(contains(plain, Msr.IA32_U_CET) || contains(plain, Msr.TSCVM_GUEST_SSP)).isFalse();
    }

    private static boolean contains(int[] list, int index) {
        for (int i : list) {
            if (i == index) {
                return true;
            }
        }
        return false;
    }

    @Test
    void twoOwnersCannotRegisterTheSameMsr() {
        MsrTable table = new MsrTable();
        MsrTable.Owner first = new Stored();
        table.register(Msr.IA32_PAT, first, true);
        assertThatThrownBy(() -> table.register(Msr.IA32_PAT, new Stored(), true))
                .isInstanceOf(TscvmException.class).hasMessageContaining("0x277").hasMessageContaining("one owner");
        assertThat(table.owner(Msr.IA32_PAT)).isSameAs(first);
        table.removeOwner(first);
        assertThat(table.owner(Msr.IA32_PAT)).isNull();
    }

    @Test
    void anInterruptControllerTakesOverApicBaseFromTheVcpusOwnStorage() {
        Vcpu vcpu = TestVms.create().vm.createVcpu();
        vcpu.setMsr(Msr.IA32_APIC_BASE, 0xFEE00900L);
        VcpuPlatformTest.FakeController controller = new VcpuPlatformTest.FakeController();
        vcpu.setInterruptController(controller);
        assertThat(vcpu.getMsr(Msr.IA32_APIC_BASE)).isEqualTo(0x42); // the controller's, not the stored value
        vcpu.setInterruptController(null);
        assertThat(vcpu.getMsr(Msr.IA32_APIC_BASE)).isEqualTo(0xFEE00900L);
        assertThatThrownBy(() -> vcpu.getMsr(Msr.X2APIC_FIRST + 8)).isInstanceOf(UnknownMsrException.class);
    }

    private static final class Stored implements MsrTable.Owner {
        @Override
        public long read(int index, MsrOrigin origin) {
            return 0;
        }

        @Override
        public void write(int index, long value, MsrOrigin origin) {
        }
    }

    @Test
    void aBrokenStateIsRefusedBeforeTheVcpuChanges() {
        TestVms t = TestVms.create();
        Vcpu vcpu = programmed(t);
        VcpuState good = vcpu.saveState();
        VcpuSregs s = good.sregs();
        refused(vcpu, good, x -> withSregs(x, new VcpuSregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                s.ldt(), s.gdt(), s.idt(), s.cr0() | (1L << 40), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer())), "CR0");
        refused(vcpu, good, x -> withSregs(x, new VcpuSregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                s.ldt(), s.gdt(), s.idt(), s.cr0(), s.cr2(), s.cr3(), s.cr4() & ~0x20, s.cr8(), s.efer())), "PAE");
        refused(vcpu, good, x -> withSregs(x, new VcpuSregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(),
                new VcpuSregs.Segment(0, 0x67, 0x28, 0x80 | 9), s.ldt(), s.gdt(), s.idt(), s.cr0(), s.cr2(),
                s.cr3(), s.cr4(), s.cr8(), s.efer())), "TR");
        refused(vcpu, good, x -> withSregs(x, new VcpuSregs(new VcpuSregs.Segment(0, 0xffffffffL, 0x10000, 0xa09b),
                s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(), s.cr0(), s.cr2(), s.cr3(),
                s.cr4(), s.cr8(), s.efer())), "selector");
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu(), x.msrs().with(0x12345, 1), x.lapic(),
                x.events()), "0x12345");
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu(), x.msrs().with(Msr.IA32_EFER, 0), x.lapic(),
                x.events()), "EFER");
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu().withMxcsr(1 << 20), x.msrs(), x.lapic(),
                x.events()), "MXCSR");
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu(), x.msrs(), x.lapic(),
                new VcpuEvents(13, true, 0, -1, 0, false, 0, VcpuEvents.MpState.RUNNABLE)), "exception 13");
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu(), x.msrs(), x.lapic(),
                new VcpuEvents(-1, false, 0, -1, 3, false, 0, VcpuEvents.MpState.RUNNABLE)), "NMI");
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu(), x.msrs(),
                new VcpuLapic(new byte[VcpuLapic.PAGE_BYTES], 0, -1, 0, 0), x.events()), "local APIC");
        // Found only while loading (the owner refuses the value): the vCPU is put back as it was.
        refused(vcpu, good, x -> new VcpuState(x.regs(), x.sregs(), x.fpu(), x.msrs().with(Msr.IA32_TSC_AUX, 1L << 40)
                .with(Msr.IA32_TSC, 99), x.lapic(), x.events()), "as it was");
    }

    private static VcpuState withSregs(VcpuState x, VcpuSregs sregs) {
        return new VcpuState(x.regs(), sregs, x.fpu(), x.msrs(), x.lapic(), x.events());
    }

    private static void refused(Vcpu vcpu, VcpuState good, UnaryOperator<VcpuState> breakIt, String message) {
        VcpuState bad = breakIt.apply(good);
        assertThatThrownBy(() -> vcpu.restoreState(bad)).isInstanceOf(InvalidVcpuStateException.class)
                .hasMessageContaining(message);
        VcpuState after = vcpu.saveState();
        assertThat(after.regs()).isEqualTo(good.regs());
        assertThat(after.sregs()).isEqualTo(good.sregs());
        assertThat(after.fpu()).isEqualTo(good.fpu());
        assertThat(after.events()).isEqualTo(good.events());
        assertThat(after.msrs()).isEqualTo(good.msrs()); // TSC included: the deterministic clock has not moved
    }
}

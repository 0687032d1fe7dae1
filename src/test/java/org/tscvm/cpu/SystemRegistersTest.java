package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.tscvm.cpu.CpuState.*;
import static org.tscvm.cpu.SystemRegisters.CPUID7_ECX_CET_SS;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * The {@link SystemRegisters} on its own: the CPU's control registers, segments and page tables
 * set directly (as {@link CpuRig} lays them out), CRs, EFER, DR7 and MSRs written by calling the
 * part, no decoder or run loop. Translations cached by the {@link Mmu} show what a write flushed.
 */
class SystemRegistersTest {
    private static final long P = Mmu.PTE_P, RW = Mmu.PTE_RW, PS = Mmu.PTE_PS, G = Mmu.PTE_G;
    private static final int CODE32 = A_P | A_S | A_DB | A_G | 0xb, CODE64 = A_P | A_S | A_L | A_G | 0xb;
    private static final long PD = 0x3000;

    private final CpuRig rig = new CpuRig();
    private final Cpu cpu = rig.cpu;
    private final SystemRegisters sysregs = cpu.sysregs;

    /** 64-bit mode at CPL 0 on 4-level paging: PML4 0x1000, PDPT 0x2000, a page directory at {@link #PD} of 2 MiB pages. */
    private void longMode() {
        rig.w64(0x1000, 0x2000 | P | RW);
        rig.w64(0x2000, PD | P | RW);
        cpu.enterFlatLongMode(CpuRig.CODE, 0x1000, 0);
    }

    /** Protected mode without paging, 32-bit CS, with CR4 and EFER as given. */
    private void protectedMode(long cr4, long efer) {
        cpu.cr0 = CR0_PE | CR0_ET;
        cpu.cr4 = cr4;
        cpu.efer = efer;
        cpu.setSeg(CS, 0x08, 0, 0xffffffffL, CODE32);
        cpu.updateMode();
    }

    private static void assertGp(ThrowingCallable write) {
        CpuFault f = catchThrowableOfType(CpuFault.class, write);
        assertThat(f).as("a fault").isNotNull();
        assertThat(f.vector()).isEqualTo(CpuFault.GP);
        assertThat(f.errorCode()).isZero();
    }

    @Test
    void cr0RefusesPagingWithoutProtectionNwWithoutCdAndUpperBitsLeavingCr0AsItWas() {
        protectedMode(0, 0);

        assertGp(() -> sysregs.writeCr0(CR0_PG));
        assertGp(() -> sysregs.writeCr0(CR0_PE | CR0_NW));
        assertGp(() -> sysregs.writeCr0(CR0_PE | 1L << 32));
        assertThat(cpu.cr0).isEqualTo(CR0_PE | CR0_ET);

        sysregs.writeCr0(CR0_PE | CR0_CD | CR0_NW);
        assertThat(cpu.cr0).as("ET always reads 1").isEqualTo(CR0_PE | CR0_CD | CR0_NW | CR0_ET);
    }

    /** What {@link Cpu#checkState} says of the CPU's state with CR0, CR4 and EFER replaced; the CPU keeps its own. */
    private String stateRefusal(long cr0, long cr4, long efer) {
        long[] was = {cpu.cr0, cpu.cr4, cpu.efer};
        cpu.cr0 = cr0;
        cpu.cr4 = cr4;
        cpu.efer = efer;
        Cpu.State s = cpu.saveState();
        cpu.cr0 = was[0];
        cpu.cr4 = was[1];
        cpu.efer = was[2];
        return cpu.checkState(s);
    }

    @Test
    void theCr0Cr4AndEferValuesMovCrAndWrmsrRefuseAHostsStateIsRefusedWithTheReason() {
        protectedMode(0, 0);
        rig.bus.leaf7Ebx = 0; // no SMEP
        rig.bus.leaf7Ecx = CPUID7_ECX_CET_SS;
        long pe = CR0_PE | CR0_ET;
        for (Object[] k : new Object[][] {{CR0_PG | CR0_ET, "sets PG without PE"},
                {pe | CR0_NW, "sets NW without CD"}, {pe | 1L << 32, "sets reserved bits 63:32"}}) {
            long v = (Long) k[0];
            assertGp(() -> sysregs.writeCr0(v));
            assertThat(stateRefusal(v, 0, 0)).isEqualTo(String.format("CR0 0x%x %s", v, k[1]));
        }
        for (long v : new long[] {CR4_SMEP, CR4_PCIDE, 1L << 40}) {
            assertGp(() -> sysregs.writeCr4(v));
            assertThat(stateRefusal(pe, v, 0)).isEqualTo(
                    String.format("CR4 0x%x sets reserved bits (or bits the CPUID model does not report)", v));
        }
        assertGp(() -> sysregs.writeCr4(CR4_CET)); // CR0.WP is clear
        assertThat(stateRefusal(pe, CR4_CET, 0)).isEqualTo(
                String.format("CR4.CET needs CR0.WP (CR0 0x%x, CR4 0x%x)", pe, CR4_CET));
        assertGp(() -> sysregs.writeEfer(1L << 12));
        assertThat(stateRefusal(pe, 0, 1L << 12)).isEqualTo(
                String.format("EFER 0x1000 sets reserved bits (supported: 0x%x)", EFER_SUPPORTED));
        assertThat(cpu.cr0).isEqualTo(pe);
        assertThat(cpu.cr4).isZero();
        assertThat(cpu.efer).isZero();
    }

    @Test
    void pagingOnWithLmeEntersIa32eModeAndOffFrom64BitCodeIsGp() {
        protectedMode(0, EFER_LME);
        assertGp(() -> sysregs.writeCr0(CR0_PE | CR0_PG)); // IA-32e paging needs CR4.PAE
        assertThat(cpu.efer & EFER_LMA).isZero();
        cpu.cr4 = CR4_PAE;

        sysregs.writeCr0(CR0_PE | CR0_PG);

        assertThat(cpu.efer & EFER_LMA).as("LMA").isNotZero();
        assertThat(cpu.mode64).as("compatibility mode until a 64-bit CS").isFalse();

        cpu.setSeg(CS, 0x08, 0, 0xffffffffL, CODE64);
        cpu.updateMode();
        assertGp(() -> sysregs.writeCr0(CR0_PE));
        assertThat(cpu.cr0 & CR0_PG).isNotZero();
    }

    @Test
    void cr4BitsTheGuestsCpuidDoesNotReportAreGpAndPcideIsNeverTaken() {
        longMode();
        rig.bus.leaf7Ebx = 0; // no FSGSBASE, SMEP, SMAP

        assertGp(() -> sysregs.writeCr4(CR4_PAE | CR4_SMEP));
        assertGp(() -> sysregs.writeCr4(CR4_PAE | CR4_FSGSBASE));
        assertGp(() -> sysregs.writeCr4(CR4_PAE | CR4_PCIDE)); // PCID is not modelled
        assertGp(() -> sysregs.writeCr4(0)); // long mode cannot leave PAE
        assertThat(cpu.cr4).isEqualTo(CR4_PAE);

        rig.bus.leaf7Ebx = 1 << 7;
        sysregs.writeCr4(CR4_PAE | CR4_SMEP);
        assertThat(cpu.cr4).isEqualTo(CR4_PAE | CR4_SMEP);
        assertThat(sysregs.cr4BitsCpuidReports() & (CR4_SMEP | CR4_SMAP | CR4_FSGSBASE)).isEqualTo(CR4_SMEP);
    }

    @Test
    void eferLmeCannotChangeWhilePagingIsOnAndLmaIsNotWritable() {
        longMode();
        long efer = cpu.efer;

        assertGp(() -> sysregs.writeEfer(efer & ~EFER_LME));
        assertGp(() -> sysregs.writeEfer(efer | 1L << 12)); // reserved
        assertThat(cpu.efer).isEqualTo(efer);

        protectedMode(0, 0);
        sysregs.writeEfer(EFER_LME | EFER_LMA);
        assertThat(cpu.efer).as("LMA follows CR0.PG, not the write").isEqualTo(EFER_LME);
    }

    @Test
    void aCr3WriteDropsCachedTranslationsButKeepsGlobalOnesWhileCr4PgeIsSet() {
        longMode();
        sysregs.writeCr4(CR4_PAE | CR4_PGE);
        rig.w64(PD + 8 * 4, 0x600000 | P | RW | PS); // 0x800000
        rig.w64(PD + 8 * 5, 0xc00000 | P | RW | PS | G); // 0xa00000, global
        assertThat(cpu.mmu.translateExec(0x800000, 0)).isEqualTo(0x600000);
        assertThat(cpu.mmu.translateExec(0xa00000, 0)).isEqualTo(0xc00000);

        sysregs.writeCr3(0x1000);

        assertThat(cpu.mmu.cachedExecTranslation(0x800000, 0)).isEqualTo(-1);
        assertThat(cpu.mmu.cachedExecTranslation(0xa00000, 0)).as("global").isEqualTo(0xc00000);

        sysregs.writeCr4(CR4_PAE); // clearing PGE drops global entries too
        assertThat(cpu.mmu.cachedExecTranslation(0xa00000, 0)).isEqualTo(-1);
    }

    @Test
    void nxeAndPagingWritesFlushTheTlbAndWritesThatChangeNoTranslationKeepIt() {
        longMode();
        rig.w64(PD + 8 * 4, 0x600000 | P | RW | PS);
        assertThat(cpu.mmu.translateExec(0x800000, 0)).isEqualTo(0x600000);

        sysregs.writeEfer(cpu.efer | EFER_SCE);
        sysregs.writeCr4(CR4_PAE | CR4_OSFXSR);
        assertThat(cpu.mmu.cachedExecTranslation(0x800000, 0)).as("SCE, OSFXSR keep it").isEqualTo(0x600000);

        sysregs.writeEfer(cpu.efer & ~EFER_NXE);
        assertThat(cpu.mmu.cachedExecTranslation(0x800000, 0)).as("NXE").isEqualTo(-1);

        assertThat(cpu.mmu.translateExec(0x800000, 0)).isEqualTo(0x600000);
        sysregs.writeCr0(cpu.cr0 | CR0_WP);
        assertThat(cpu.mmu.cachedExecTranslation(0x800000, 0)).as("WP").isEqualTo(-1);
    }

    @Test
    void aPaeCr3WhosePdptHasAReservedBitIsGpAndLeavesCr3AsItWas() {
        protectedMode(CR4_PAE, 0);
        cpu.cr3 = 0x1000;
        rig.w64(0x1000, 0x3000 | P);
        sysregs.writeCr0(CR0_PE | CR0_PG); // PAE paging: the PDPTEs load from CR3
        assertThat(cpu.mmu.pdptes[0]).isEqualTo(0x3000 | P);
        rig.w64(0x2000, 0x6000 | P | RW); // bit 1 is reserved in a PDPTE

        assertGp(() -> sysregs.writeCr3(0x2000));

        assertThat(cpu.cr3).isEqualTo(0x1000);
        assertThat(cpu.mmu.pdptes[0]).isEqualTo(0x3000 | P);
    }

    @Test
    void msrsThatHoldAddressesRefuseNonCanonicalValues() {
        longMode();
        long nonCanonical = 0x0000_8000_0000_0000L;
        int[] addressMsrs = {Msr.IA32_FS_BASE, Msr.IA32_GS_BASE, Msr.IA32_KERNEL_GS_BASE, Msr.IA32_LSTAR,
            Msr.IA32_CSTAR, Msr.IA32_SYSENTER_ESP, Msr.IA32_SYSENTER_EIP};
        for (int msr : addressMsrs) {
            assertThat(sysregs.writeOwnedMsr(msr, 0xffff_8000_0000_1000L)).isTrue();
            assertGp(() -> sysregs.writeOwnedMsr(msr, nonCanonical));
            assertThat(sysregs.readOwnedMsr(msr)).as("MSR 0x%x", msr).isEqualTo(0xffff_8000_0000_1000L);
        }
        assertThat(cpu.segBase[FS]).isEqualTo(0xffff_8000_0000_1000L);

        sysregs.writeOwnedMsr(Msr.IA32_STAR, nonCanonical); // a pair of selectors and an EIP, no address
        assertThat(sysregs.readOwnedMsr(Msr.IA32_STAR)).isEqualTo(nonCanonical);
        sysregs.writeOwnedMsr(Msr.IA32_FMASK, -1L);
        assertThat(sysregs.readOwnedMsr(Msr.IA32_FMASK)).isEqualTo(0xffffffffL);
        assertGp(() -> sysregs.writeOwnedMsr(Msr.IA32_PAT, 0x0007040600070402L)); // type 2 is reserved
    }

    @Test
    void onlyTheCpuOwnedMsrsAreServedHere() {
        assertThat(SystemRegisters.OWNED_MSRS).isSorted();
        assertThat(SystemRegisters.isOwnedMsr(Msr.IA32_EFER)).isTrue();
        assertThat(SystemRegisters.isOwnedMsr(Msr.IA32_TSC)).isFalse();
        assertThat(sysregs.writeOwnedMsr(Msr.IA32_TSC, 5)).isFalse();
        assertGp(() -> sysregs.readOwnedMsr(Msr.IA32_TSC));
    }

    @Test
    void aDr7DataBreakpointArmsTheWatchAndFlushesTheTlb() {
        longMode();
        rig.w64(PD + 8 * 4, 0x600000 | P | RW | PS);
        assertThat(cpu.mmu.translateExec(0x800000, 0)).isEqualTo(0x600000);

        cpu.dr[7] = 1 | 1 << 16; // L0, R/W0 = 01: writes
        sysregs.updateGuestDebug();

        assertThat(cpu.guestDebugArmed).isTrue();
        assertThat(cpu.guestWatch).isTrue();
        assertThat(cpu.mmu.cachedExecTranslation(0x800000, 0)).isEqualTo(-1);

        cpu.dr[7] = 1; // an instruction breakpoint only
        sysregs.updateGuestDebug();
        assertThat(cpu.guestDebugArmed).isTrue();
        assertThat(cpu.guestWatch).isFalse();
    }
}

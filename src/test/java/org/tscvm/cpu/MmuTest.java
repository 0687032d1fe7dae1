package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

/**
 * The {@link Mmu} on its own: page tables written into guest RAM, the paging controls set in a
 * bare {@link CpuState}, translations asked of the MMU directly (no decoder, no run loop).
 */
class MmuTest {
    private final GuestMemory memory = new GuestMemory(16L << 20);
    private final CpuState state = new CpuState(memory, new FakeBus()) { };
    private final Mmu mmu = new Mmu(state);

    private static final long P = Mmu.PTE_P, RW = Mmu.PTE_RW, US = Mmu.PTE_US, A = Mmu.PTE_A, D = Mmu.PTE_D,
            PS = Mmu.PTE_PS;

    /** 4-level paging with the PML4 at 0x1000, a PDPT at 0x2000 and a page directory at 0x3000. */
    private void longMode() {
        state.cr0 = CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_WP;
        state.cr4 = CpuState.CR4_PAE;
        state.efer = CpuState.EFER_LME | CpuState.EFER_LMA;
        state.cr3 = 0x1000;
        state.mode64 = true;
        memory.write64(0x1000, 0x2000 | P | RW | US);
        memory.write64(0x2000, 0x3000 | P | RW | US);
    }

    @Test
    void aWriteWalksFourLevelsAndSetsAccessedAboveAndDirtyInTheLeaf() {
        longMode();
        memory.write64(0x3000 + 8 * 1, 0x4000 | P | RW | US); // PD[1]: 0x200000-0x3fffff
        memory.write64(0x4000 + 8 * 5, 0x9000 | P | RW | US); // PT[5]: 0x205000 -> 0x9000

        assertThat(mmu.translate(0x205123, Mmu.WRITE, false)).isEqualTo(0x9123);

        assertThat(memory.read64(0x1000) & (A | D)).as("PML4E").isEqualTo(A);
        assertThat(memory.read64(0x2000) & (A | D)).as("PDPTE").isEqualTo(A);
        assertThat(memory.read64(0x3008) & (A | D)).as("PDE").isEqualTo(A);
        assertThat(memory.read64(0x4028) & (A | D)).as("PTE").isEqualTo(A | D);
    }

    @Test
    void aReadSetsNoDirtyBitAndAReadOnlyPageRefusesASupervisorWriteUnderWp() {
        longMode();
        memory.write64(0x3000, 0x4000 | P | RW | US);
        memory.write64(0x4000 + 8 * 7, 0x9000 | P | US); // read-only

        assertThat(mmu.translate(0x7010, Mmu.READ, false)).isEqualTo(0x9010);
        assertThat(memory.read64(0x4038) & (A | D)).isEqualTo(A);

        assertThatThrownBy(() -> mmu.translate(0x7010, Mmu.WRITE, false))
                .isInstanceOfSatisfying(CpuFault.class, f -> {
                    assertThat(f.vector()).isEqualTo(CpuFault.PF);
                    assertThat(f.errorCode()).isEqualTo(Mmu.PF_P | Mmu.PF_W);
                });
        assertThat(state.cr2).isEqualTo(0x7010);
        assertThat(memory.read64(0x4038) & D).as("no dirty bit for a refused write").isZero();
    }

    @Test
    void invlpgOfOneSliceOfALargePageDropsTheOtherSlicesToo() {
        longMode();
        memory.write64(0x3000 + 8 * 4, 0x600000 | P | RW | PS); // 2 MiB page at 0x800000
        long user = 0;
        assertThat(mmu.translateExec(0x801000, user)).isEqualTo(0x601000);
        assertThat(mmu.translateExec(0x9ff000, user)).isEqualTo(0x7ff000);

        memory.write64(0x3000 + 8 * 4, 0xa00000 | P | RW | PS);
        assertThat(mmu.cachedExecTranslation(0x9ff000, user)).as("cached until invalidated").isEqualTo(0x7ff000);

        mmu.flushTlbPage(0x801000);

        assertThat(mmu.cachedExecTranslation(0x801000, user)).isEqualTo(-1);
        assertThat(mmu.cachedExecTranslation(0x9ff000, user)).as("another 4 KiB slice of the page").isEqualTo(-1);
        assertThat(mmu.translateExec(0x9ff000, user)).isEqualTo(0xbff000);
    }

    @Test
    void paeWalksUseThePdpteRegistersNotThePdptInMemory() {
        state.cr0 = CpuState.CR0_PE | CpuState.CR0_PG;
        state.cr4 = CpuState.CR4_PAE;
        state.cr3 = 0x1000;
        memory.write64(0x1000, 0x3000 | P); // PDPTE 0: 0-1 GiB
        memory.write64(0x3000, 0x4000 | P | RW);
        memory.write64(0x4000 + 8 * 2, 0x9000 | P | RW);
        mmu.loadPdptes(state.cr3);

        memory.write64(0x1000, 0); // not seen before the next load (SDM 4.4.1)
        assertThat(mmu.translate(0x2004, Mmu.READ, false)).isEqualTo(0x9004);
        assertThat(mmu.peekTranslate(0x2004)).isEqualTo(0x9004);

        mmu.loadPdptes(state.cr3);
        assertThatThrownBy(() -> mmu.translate(0x2004, Mmu.READ, false))
                .isInstanceOfSatisfying(CpuFault.class, f -> assertThat(f.errorCode()).isZero());
    }

    @Test
    void aPresentPdpteWithAReservedBitIsGpAndLoadsNothing() {
        state.cr0 = CpuState.CR0_PE | CpuState.CR0_PG;
        state.cr4 = CpuState.CR4_PAE;
        memory.write64(0x1000, 0x3000 | P);
        mmu.loadPdptes(0x1000);
        memory.write64(0x2000, 0x5000 | P);
        memory.write64(0x2008, 0x6000 | P | RW); // bit 1 is reserved in a PDPTE

        assertThatThrownBy(() -> mmu.loadPdptes(0x2000))
                .isInstanceOfSatisfying(CpuFault.class, f -> assertThat(f.vector()).isEqualTo(CpuFault.GP));
        assertThat(mmu.pdptes[0]).isEqualTo(0x3000 | P);
    }
}

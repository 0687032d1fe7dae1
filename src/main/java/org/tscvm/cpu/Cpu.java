package org.tscvm.cpu;

import org.tscvm.memory.GuestMemory;

/**
 * One x86-64 logical processor: architectural state plus the interpreter that runs it.
 *
 * <p>SKELETON: the signatures below are the contract the rest of tscvm programs against
 * (vm, machine, tests). The CPU issue replaces the bodies.
 */
public final class Cpu {
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    public Cpu(GuestMemory memory, CpuBus bus) {
    }

    /**
     * Runs until {@code maxInstructions} have retired or something stops the CPU. Never throws
     * for anything the guest does.
     */
    public RunStop run(long maxInstructions) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Instructions retired since creation (drives the deterministic host clock). */
    public long instructionsRetired() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Thread-safe: {@link #run} returns {@link RunStop#STOP_REQUESTED} at the next boundary. */
    public void requestStop() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Thread-safe: an interrupt may have become pending; a halted CPU wakes on the next run. */
    public void notifyInterrupt() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Power-on RESET state: real mode, CS:IP = F000:FFF0. */
    public void reset() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** INIT: an AP waits for STARTUP; {@link #run} returns {@link RunStop#WAIT_FOR_SIPI}. */
    public void init() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** STARTUP IPI: real mode at CS = vector << 8, IP = 0. Ignored unless waiting for SIPI. */
    public void startup(int vector) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * The multiboot entry state: 32-bit protected mode, paging off, CS = flat code (0x08),
     * data segments flat (0x10), EFLAGS = 2, CR0 = PE|ET, at {@code eip}.
     */
    public void enterFlatProtectedMode(int eip) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * A flat 64-bit entry state for ELF64 kernels and test rigs: CR0 = PE|ET|PG, CR4 = PAE,
     * EFER = LME|LMA|NXE, CR3 = {@code cr3} (page tables the caller built), CS = 64-bit code
     * at CPL {@code cpl} (0 or 3), data segments flat, EFLAGS = 2, at {@code rip}.
     */
    public void enterFlatLongMode(long rip, long cr3, int cpl) {
        throw new UnsupportedOperationException("skeleton");
    }

    public long getRflags() {
        throw new UnsupportedOperationException("skeleton");
    }

    public void setRflags(long rflags) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Control registers 0, 2, 3, 4, 8. */
    public long getCr(int n) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Instructions that raised #UD because tscvm does not implement them, by opcode text. */
    public java.util.Map<String, Long> unimplementedOpcodes() {
        throw new UnsupportedOperationException("skeleton");
    }

    public long getGpr(int reg) {
        throw new UnsupportedOperationException("skeleton");
    }

    public void setGpr(int reg, long value) {
        throw new UnsupportedOperationException("skeleton");
    }

    public long getRip() {
        throw new UnsupportedOperationException("skeleton");
    }

    public void setRip(long rip) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** True for MSRs that are CPU architectural state (EFER, FS/GS bases, SYSCALL/SYSENTER, PAT). */
    public boolean ownsMsr(int index) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Reads a CPU-owned MSR. */
    public long readMsr(int index) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Writes a CPU-owned MSR; throws {@link CpuFault} #GP for a value the SDM refuses. */
    public void writeMsr(int index, long value) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** One line for a triple fault report: RIP, CR0, CR3, CR4, EFER and the last exception. */
    public String describe() {
        throw new UnsupportedOperationException("skeleton");
    }
}

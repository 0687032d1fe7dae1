package org.tscvm.vm;

import java.util.Arrays;

/**
 * A local APIC's state (KVM_GET_LAPIC): the 1 KiB register page at the xAPIC offsets (ID at
 * 0x20 as bits 31:24 in xAPIC mode or the whole word in x2APIC mode, TPR 0x80, LDR 0xD0, DFR
 * 0xE0, SVR 0xF0, ISR 0x100, TMR 0x180, IRR 0x200, ESR 0x280, ICR 0x300/0x310, LVT 0x320-0x370,
 * the timer's initial count 0x380, current count 0x390 and divide configuration 0x3E0), plus
 * what the timer needs to go on where it stopped, in guest TSC cycles, never a host clock
 * reading: {@code timerElapsedTsc} since the one-shot/periodic count (re)started and
 * {@code timerRemainingTsc} until it expires (-1 when not counting), and the armed
 * {@code tscDeadline} (0 when disarmed). {@code pendingErrors} are the errors not yet latched
 * into ESR by the next write to it (SDM 10.5.3). IA32_APIC_BASE travels with the MSRs.
 */
public record VcpuLapic(byte[] registers, long timerElapsedTsc, long timerRemainingTsc, long tscDeadline,
                        int pendingErrors) {
    /** The register page's size. */
    public static final int PAGE_BYTES = 1024;

    /** @throws IllegalArgumentException if the page is not {@link #PAGE_BYTES} long */
    public VcpuLapic {
        if (registers.length != PAGE_BYTES) {
            throw new IllegalArgumentException("a local APIC page has " + PAGE_BYTES + " bytes, not " + registers.length);
        }
        registers = registers.clone();
    }

    @Override
    public byte[] registers() {
        return registers.clone();
    }

    /** The 32-bit register at page offset {@code offset} (a multiple of 16). */
    public int register(int offset) {
        return (registers[offset] & 0xff) | (registers[offset + 1] & 0xff) << 8
                | (registers[offset + 2] & 0xff) << 16 | (registers[offset + 3] & 0xff) << 24;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuLapic l && Arrays.equals(registers, l.registers) && timerElapsedTsc == l.timerElapsedTsc
                && timerRemainingTsc == l.timerRemainingTsc && tscDeadline == l.tscDeadline
                && pendingErrors == l.pendingErrors;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(registers) ^ Long.hashCode(timerRemainingTsc) ^ Long.hashCode(tscDeadline);
    }

    @Override
    public String toString() {
        return String.format("VcpuLapic[id=%x svr=%x lvtt=%x icount=%x elapsed=%d remaining=%d deadline=%x]",
                register(0x20), register(0xf0), register(0x320), register(0x380), timerElapsedTsc,
                timerRemainingTsc, tscDeadline);
    }
}

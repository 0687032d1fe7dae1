package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class IoApicTest {
    private static final long BASE = LocalApic.DEFAULT_BASE;

    private final ApicBus bus = new ApicBus();
    private final LocalApicTest.FakeVcpu cpu0 = new LocalApicTest.FakeVcpu();
    private final LocalApicTest.FakeVcpu cpu1 = new LocalApicTest.FakeVcpu();
    private final LocalApic apic0 = new LocalApic(0, true, 40, cpu0, bus);
    private final LocalApic apic1 = new LocalApic(1, false, 40, cpu1, bus);
    private final IoApic ioApic = new IoApic(0, bus);

    private int readRegister(int reg) {
        ioApic.write(IoApic.IOREGSEL, 4, reg);
        return (int) ioApic.read(IoApic.IOWIN, 4);
    }

    private void writeRegister(int reg, int value) {
        ioApic.write(IoApic.IOREGSEL, 4, reg);
        ioApic.write(IoApic.IOWIN, 4, value & 0xffffffffL);
    }

    private void route(int pin, long entry) {
        writeRegister(IoApic.REG_REDIRECTION_BASE + 2 * pin + 1, (int) (entry >>> 32));
        writeRegister(IoApic.REG_REDIRECTION_BASE + 2 * pin, (int) entry);
    }

    private long entry(int pin) {
        long low = readRegister(IoApic.REG_REDIRECTION_BASE + 2 * pin) & 0xffffffffL;
        long high = readRegister(IoApic.REG_REDIRECTION_BASE + 2 * pin + 1) & 0xffffffffL;
        return low | (high << 32);
    }

    private static long fixed(int vector, int destination) {
        return vector | ((long) destination << IoApic.DESTINATION_SHIFT);
    }

    private static boolean bit(LocalApic apic, int bank, int vector) {
        int word = (int) apic.readMmio(BASE + bank + 0x10 * (vector >>> 5), 4);
        return (word & (1 << (vector & 31))) != 0;
    }

    /** What the CPU does on taking the interrupt: acknowledge, then the handler's EOI. */
    private static int takeAndEoi(LocalApic apic) {
        int vector = apic.acknowledgeInterrupt();
        apic.writeMmio(BASE + LocalApic.REG_EOI, 4, 0);
        return vector;
    }

    @Test
    void versionIs0x11With24EntriesAndReadOnly() {
        assertThat(readRegister(IoApic.REG_VERSION)).isEqualTo(0x00170011);
        writeRegister(IoApic.REG_VERSION, 0);
        assertThat(readRegister(IoApic.REG_VERSION)).isEqualTo(0x00170011);
    }

    @Test
    void onlyIdBits24To27AreWritableAndTheArbitrationIdFollowsThem() {
        writeRegister(IoApic.REG_ID, 0xffffffff);
        assertThat(readRegister(IoApic.REG_ID)).isEqualTo(0x0f000000);
        assertThat(readRegister(IoApic.REG_ARBITRATION)).isEqualTo(0x0f000000);
        writeRegister(IoApic.REG_ARBITRATION, 0);
        assertThat(readRegister(IoApic.REG_ARBITRATION)).isEqualTo(0x0f000000);
    }

    @Test
    void everyPinIsMaskedAtResetAndAMaskedPinDeliversNothing() {
        for (int pin = 0; pin < IoApic.PINS; pin++) {
            assertThat(entry(pin) & IoApic.MASKED).isNotZero();
        }
        ioApic.setPin(5, true);
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
    }

    @Test
    void anEdgePinDeliversOncePerRisingEdgeWithTmrClear() {
        route(14, fixed(0x76, 0));
        ioApic.setPin(14, true);
        ioApic.setPin(14, true);
        assertThat(bit(apic0, LocalApic.REG_IRR, 0x76)).isTrue();
        assertThat(bit(apic0, LocalApic.REG_TMR, 0x76)).isFalse();
        assertThat(takeAndEoi(apic0)).isEqualTo(0x76);
        ioApic.setPin(14, true); // still high: no new edge
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
        ioApic.setPin(14, false);
        ioApic.setPin(14, true);
        assertThat(apic0.acknowledgeInterrupt()).isEqualTo(0x76);
        assertThat(entry(14) & IoApic.REMOTE_IRR).isZero();
    }

    @Test
    void aLevelPinSetsRemoteIrrAndTmrAndWaitsForTheEoi() {
        route(14, fixed(0x77, 0) | IoApic.TRIGGER_LEVEL);
        ioApic.setPin(14, true);
        assertThat(entry(14) & IoApic.REMOTE_IRR).isNotZero();
        assertThat(bit(apic0, LocalApic.REG_TMR, 0x77)).isTrue();
        assertThat(apic0.acknowledgeInterrupt()).isEqualTo(0x77);
        // A new assertion while Remote IRR is set is coalesced into the one in service.
        ioApic.setPin(14, false);
        ioApic.setPin(14, true);
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
        // The EOI reaches the I/O APIC (TMR set), which sends again: the line is still high.
        apic0.writeMmio(BASE + LocalApic.REG_EOI, 4, 0);
        assertThat(apic0.pendingInterrupt()).isEqualTo(0x77);
        assertThat(entry(14) & IoApic.REMOTE_IRR).isNotZero();
        // Lowered before the EOI: Remote IRR clears and nothing more comes.
        apic0.acknowledgeInterrupt();
        ioApic.setPin(14, false);
        apic0.writeMmio(BASE + LocalApic.REG_EOI, 4, 0);
        assertThat(entry(14) & IoApic.REMOTE_IRR).isZero();
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
        // TMR keeps the bit after the EOI, until an edge interrupt of the vector arrives.
        assertThat(bit(apic0, LocalApic.REG_TMR, 0x77)).isTrue();
        route(14, fixed(0x77, 0));
        ioApic.setPin(14, true);
        assertThat(bit(apic0, LocalApic.REG_TMR, 0x77)).isFalse();
    }

    @Test
    void unmaskingAnAssertedLevelPinDeliversAndMaskingInTheHandlerHoldsTheRetrigger() {
        route(14, fixed(0x82, 0) | IoApic.TRIGGER_LEVEL | IoApic.MASKED);
        ioApic.setPin(14, true);
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
        route(14, fixed(0x82, 0) | IoApic.TRIGGER_LEVEL);
        assertThat(apic0.acknowledgeInterrupt()).isEqualTo(0x82);
        route(14, fixed(0x82, 0) | IoApic.TRIGGER_LEVEL | IoApic.MASKED);
        apic0.writeMmio(BASE + LocalApic.REG_EOI, 4, 0);
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
        route(14, fixed(0x82, 0) | IoApic.TRIGGER_LEVEL);
        assertThat(apic0.pendingInterrupt()).isEqualTo(0x82);
    }

    @Test
    void physicalAndLogicalDestinationsSelectTheirApics() {
        route(3, fixed(0x85, 1));
        ioApic.setPin(3, true);
        assertThat(apic0.pendingInterrupt()).isEqualTo(-1);
        assertThat(takeAndEoi(apic1)).isEqualTo(0x85);

        // Flat logical mode: LDR bit 0 for APIC 0, bit 1 for APIC 1; destination 0x3 is both.
        apic0.writeMmio(BASE + LocalApic.REG_LDR, 4, 0x01000000);
        apic1.writeMmio(BASE + LocalApic.REG_LDR, 4, 0x02000000);
        route(4, fixed(0x86, 0x3) | IoApic.DEST_LOGICAL);
        ioApic.setPin(4, true);
        assertThat(takeAndEoi(apic0)).isEqualTo(0x86);
        assertThat(takeAndEoi(apic1)).isEqualTo(0x86);

        route(5, fixed(0x87, 0xff));
        ioApic.setPin(5, true);
        assertThat(takeAndEoi(apic0)).isEqualTo(0x87);
        assertThat(takeAndEoi(apic1)).isEqualTo(0x87);
    }

    @Test
    void nmiDeliveryReachesTheVcpuAsAnNmi() {
        route(6, fixed(0, 1) | ((long) LocalApic.DM_NMI << IoApic.DELIVERY_MODE_SHIFT));
        ioApic.setPin(6, true);
        assertThat(cpu1.events).containsExactly("NMI");
        assertThat(cpu0.events).isEmpty();
    }

    @Test
    void anUnmaskedExtIntEntryOnPinZeroOpensThe8259PathOfItsDestination() {
        PicPair pic = new PicPair(IrqLine.NONE);
        apic1.setExtIntSource(pic);
        assertThat(apic1.receivesExtInt()).isFalse();
        route(IoApic.EXTINT_PIN, fixed(0, 1) | ((long) LocalApic.DM_EXTINT << IoApic.DELIVERY_MODE_SHIFT));
        assertThat(apic1.receivesExtInt()).isTrue();
        // Initialise the master 8259 at vector 0x20 and raise IRQ 3: APIC 1 gets the PIC's vector.
        pic.master().write(Pic8259.COMMAND, 1, 0x11); // ICW1: edge, cascade, ICW4 follows
        pic.master().write(Pic8259.DATA, 1, 0x20);    // ICW2: vector base
        pic.master().write(Pic8259.DATA, 1, 0x04);    // ICW3: slave on input 2
        pic.master().write(Pic8259.DATA, 1, 0x01);    // ICW4: 8086 mode
        pic.setIrq(3, true);
        assertThat(apic1.pendingInterrupt()).isEqualTo(0x23);
        assertThat(apic1.acknowledgeInterrupt()).isEqualTo(0x23);
        route(IoApic.EXTINT_PIN, fixed(0, 1) | ((long) LocalApic.DM_EXTINT << IoApic.DELIVERY_MODE_SHIFT)
                | IoApic.MASKED);
        assertThat(apic1.receivesExtInt()).isFalse();
    }

    @Test
    void restoreKeepsRemoteIrrAndServicesAnAssertedIdleLevelPin() {
        route(9, fixed(0x91, 0) | IoApic.TRIGGER_LEVEL);
        route(10, fixed(0x92, 0) | IoApic.TRIGGER_LEVEL);
        ioApic.setPin(9, true);
        IoApic.State s = ioApic.saveState();
        ApicBus otherBus = new ApicBus();
        LocalApicTest.FakeVcpu other = new LocalApicTest.FakeVcpu();
        LocalApic otherApic = new LocalApic(0, true, 40, other, otherBus);
        IoApic restored = new IoApic(0, otherBus);
        long[] entries = s.redirection();
        entries[10] = fixed(0x92, 0) | IoApic.TRIGGER_LEVEL;
        restored.restoreState(new IoApic.State(s.index(), s.id(), entries, s.lineLevels() | (1 << 10)));
        assertThat(restored.saveState().redirection()[9] & IoApic.REMOTE_IRR).isNotZero();
        // Pin 10 was asserted with no Remote IRR: it is sent again; pin 9 waits for its EOI.
        assertThat(otherApic.acknowledgeInterrupt()).isEqualTo(0x92);
        assertThat(otherApic.pendingInterrupt()).isEqualTo(-1);
    }
}

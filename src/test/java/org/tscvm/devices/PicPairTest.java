package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PicPairTest {
    private boolean intr;
    private final PicPair pic = new PicPair(high -> intr = high);

    /** The Linux/BIOS init sequence: ICW1 0x11, ICW2 base, ICW3 wiring, ICW4 8086 mode. */
    private void init(int masterBase, int slaveBase) {
        pic.master().write(0, 1, 0x11);
        pic.master().write(1, 1, masterBase);
        pic.master().write(1, 1, 0x04);
        pic.master().write(1, 1, 0x01);
        pic.slave().write(0, 1, 0x11);
        pic.slave().write(1, 1, slaveBase);
        pic.slave().write(1, 1, 0x02);
        pic.slave().write(1, 1, 0x01);
    }

    @Test
    void guestsMaskEverythingByWritingFfToBothDataPorts() {
        init(0x20, 0x28);
        pic.master().write(1, 1, 0xff);
        pic.slave().write(1, 1, 0xff);
        assertThat(pic.master().read(1, 1)).isEqualTo(0xff);
        assertThat(pic.slave().read(1, 1)).isEqualTo(0xff);
        pic.irq(0).pulse();
        assertThat(intr).isFalse();
        assertThat(pic.pendingVector()).isEqualTo(-1);
    }

    @Test
    void anUnmaskedIrqIsDeliveredWithItsVectorAndEoiEndsService() {
        init(0x20, 0x28);
        pic.irq(1).pulse();
        assertThat(intr).isTrue();
        assertThat(pic.pendingVector()).isEqualTo(0x21);
        assertThat(pic.acknowledge()).isEqualTo(0x21);
        assertThat(intr).isFalse();
        pic.master().write(0, 1, 0x0b); // OCW3: read ISR
        assertThat(pic.master().read(0, 1)).isEqualTo(0x02);
        pic.master().write(0, 1, 0x20); // non-specific EOI
        assertThat(pic.master().read(0, 1)).isZero();
    }

    @Test
    void lowerIrqNumbersWinAndNestedHigherPriorityInterruptsGetThrough() {
        init(0x20, 0x28);
        pic.irq(3).pulse();
        pic.irq(1).pulse();
        assertThat(pic.acknowledge()).isEqualTo(0x21);
        // IRQ 3 waits while IRQ 1 is in service; IRQ 0 preempts.
        assertThat(pic.pendingVector()).isEqualTo(-1);
        pic.irq(0).pulse();
        assertThat(pic.acknowledge()).isEqualTo(0x20);
        pic.master().write(0, 1, 0x60); // specific EOI for IRQ 0
        pic.master().write(0, 1, 0x61); // specific EOI for IRQ 1
        assertThat(pic.acknowledge()).isEqualTo(0x23);
    }

    @Test
    void slaveIrqsCascadeThroughMasterInputTwo() {
        init(0x20, 0x28);
        pic.irq(12).pulse();
        assertThat(intr).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x2c);
        pic.master().write(0, 1, 0x0a); // OCW3: read IRR
        pic.master().write(0, 1, 0x0b); // OCW3: read ISR
        assertThat(pic.master().read(0, 1)).isEqualTo(0x04);
        pic.slave().write(0, 1, 0x0b);
        assertThat(pic.slave().read(0, 1)).isEqualTo(0x10);
    }

    @Test
    void maskingTheCascadeInputBlocksSlaveIrqs() {
        init(0x20, 0x28);
        pic.master().write(1, 1, 0x04);
        pic.irq(8).pulse();
        assertThat(intr).isFalse();
        pic.master().write(1, 1, 0x00);
        assertThat(intr).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x28);
    }

    @Test
    void irrShowsRequestsUntilAcknowledged() {
        init(0x20, 0x28);
        pic.master().write(1, 1, 0xff);
        pic.irq(4).pulse();
        pic.master().write(0, 1, 0x0a);
        assertThat(pic.master().read(0, 1)).isEqualTo(0x10);
    }

    @Test
    void restoreWithAPendingIrqRaisesIntrAgain() {
        init(0x20, 0x28);
        pic.irq(4).pulse();
        PicPair.State saved = pic.saveState();
        boolean[] line = {false};
        PicPair copy = new PicPair(high -> line[0] = high);
        copy.restoreState(saved);
        assertThat(line[0]).isTrue();
        assertThat(copy.acknowledge()).isEqualTo(0x24);
    }

    @Test
    void elcrMakesAnInputLevelTriggeredAndKeepsIrq0To2And8And13Edge() {
        init(0x20, 0x28);
        pic.elcr().write(0, 2, 0xffff);
        assertThat(pic.elcr().read(0, 2)).isEqualTo(0xdef8);
        pic.elcr().write(0, 1, 0x00);
        pic.elcr().write(1, 1, 0x02); // IRQ 9 level, as Linux sets it for the SCI
        assertThat(pic.elcr().read(0, 1)).isEqualTo(0x00);
        assertThat(pic.elcr().read(1, 1)).isEqualTo(0x02);
        // A level input stays requested while its line is high, even after an EOI.
        pic.setIrq(9, true);
        assertThat(pic.acknowledge()).isEqualTo(0x29);
        pic.slave().write(0, 1, 0x20);
        pic.master().write(0, 1, 0x20);
        assertThat(pic.pendingVector()).isEqualTo(0x29);
        pic.setIrq(9, false);
        assertThat(pic.slave().read(0, 1) & 0x02).as("slave IRR bit 1").isZero();
    }
}

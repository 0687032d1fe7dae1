package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PortsTest {
    @Test
    void shutdownStringPowersOffAndOtherBytesDoNot() {
        int[] calls = {0};
        ShutdownPort port = new ShutdownPort(() -> calls[0]++);
        for (char c : "ShutXShutdow".toCharArray()) {
            port.write(0, 1, c);
        }
        assertThat(calls[0]).isZero();
        port.write(0, 1, 'n');
        assertThat(calls[0]).isEqualTo(1);
    }

    @Test
    void shutdownMatchSurvivesRestore() {
        int[] calls = {0};
        ShutdownPort port = new ShutdownPort(() -> calls[0]++);
        for (char c : "Shutdo".toCharArray()) {
            port.write(0, 1, c);
        }
        ShutdownPort copy = new ShutdownPort(() -> calls[0] += 10);
        copy.restoreState(port.saveState());
        copy.write(0, 1, 'w');
        copy.write(0, 1, 'n');
        assertThat(calls[0]).isEqualTo(10);
    }

    @Test
    void postPortAcceptsWritesAndReadsAllOnes() {
        PostPort post = new PostPort();
        post.write(0, 1, 0x42);
        assertThat(post.read(0, 1)).isEqualTo(0xff);
    }

    @Test
    void pcTestdevScratchRegisterWorksByByteLane() {
        PcTestdev dev = new PcTestdev(irq -> IrqLine.NONE);
        dev.ports().write(0, 4, 0x11223344);
        assertThat(dev.ports().read(0, 4)).isEqualTo(0x11223344);
        assertThat(dev.ports().read(1, 1)).isEqualTo(0x33);
        dev.ports().write(8 + 2, 1, 0xaa);
        assertThat(dev.ports().read(0, 4)).isEqualTo(0x11aa3344);
    }

    @Test
    void pcTestdevIrqPortsDriveIsaLines() {
        boolean[] levels = new boolean[24];
        PcTestdev dev = new PcTestdev(irq -> high -> levels[irq] = high);
        dev.irqPorts().write(5, 1, 1);
        assertThat(levels[5]).isTrue();
        dev.irqPorts().write(5, 1, 0);
        assertThat(levels[5]).isFalse();
    }

    @Test
    void pcTestdevIomemKeepsWhatWasWritten() {
        PcTestdev dev = new PcTestdev(irq -> IrqLine.NONE);
        dev.iomem().write(0x100, 8, 0x0102030405060708L);
        assertThat(dev.iomem().read(0x100, 8)).isEqualTo(0x0102030405060708L);
        assertThat(dev.iomem().read(0x104, 2)).isEqualTo(0x0304);
        PcTestdev copy = new PcTestdev(irq -> IrqLine.NONE);
        copy.restoreState(dev.saveState());
        assertThat(copy.iomem().read(0x100, 1)).isEqualTo(0x08);
    }
}

package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PciHostTest {
    private final PciHost pci = new PciHost();

    private int config(int bus, int device, int function, int register) {
        pci.write(PciHost.CONFIG_ADDRESS, 4, PciHost.ENABLE | bus << 16 | device << 11 | function << 8 | register);
        return pci.read(PciHost.CONFIG_DATA, 4);
    }

    @Test
    void theHostBridgeIsAnI440fxAt00_0() {
        assertThat(config(0, 0, 0, 0x00)).isEqualTo(0x1237_8086);
        assertThat(config(0, 0, 0, 0x08) >>> 8).isEqualTo(PciHost.CLASS_HOST_BRIDGE);
        assertThat(config(0, 0, 0, 0x0c) >>> 16 & 0xff).isZero(); // header type 0, single function
        // Byte and word lanes of the data port.
        pci.write(PciHost.CONFIG_ADDRESS, 4, PciHost.ENABLE);
        assertThat(pci.read(PciHost.CONFIG_DATA + 2, 2)).isEqualTo(0x1237);
        assertThat(pci.read(PciHost.CONFIG_DATA + 1, 1)).isEqualTo(0x80);
    }

    @Test
    void absentFunctionsAndCyclesWithoutTheEnableBitReadAllOnes() {
        assertThat(config(0, 1, 0, 0)).isEqualTo(-1);
        assertThat(config(0, 0, 1, 0)).isEqualTo(-1);
        assertThat(config(1, 0, 0, 0)).isEqualTo(-1);
        pci.write(PciHost.CONFIG_ADDRESS, 4, 0);
        assertThat(pci.read(PciHost.CONFIG_DATA, 4)).isEqualTo(-1);
    }

    @Test
    void theAddressRegisterReadsBackAndIgnoresTheTwoLowBits() {
        pci.write(PciHost.CONFIG_ADDRESS, 4, 0x8000_0000 | 0x0800 | 0x13);
        assertThat(pci.read(PciHost.CONFIG_ADDRESS, 4)).isEqualTo(0x8000_0810);
        // Linux's conf1 probe: write 0x80000000, read it back.
        pci.write(PciHost.CONFIG_ADDRESS, 4, 0x8000_0000);
        assertThat(pci.read(PciHost.CONFIG_ADDRESS, 4)).isEqualTo(0x8000_0000);
    }

    @Test
    void theResetControlRegisterResetsOnRstCpuAndKeepsTheOtherBits() {
        int[] resets = {0};
        ResetControl rcr = new ResetControl(() -> resets[0]++);
        rcr.write(0, 1, ResetControl.SYS_RST);
        assertThat(resets[0]).isZero();
        assertThat(rcr.read(0, 1)).isEqualTo(ResetControl.SYS_RST);
        rcr.write(0, 1, 0x06);
        assertThat(resets[0]).isEqualTo(1);
        rcr.write(0, 1, 0x0e);
        assertThat(resets[0]).isEqualTo(2);
    }

    @Test
    void stateCarriesTheAddressRegisterAndTheResetControlBits() {
        pci.write(PciHost.CONFIG_ADDRESS, 4, PciHost.ENABLE | 0x10);
        PciHost other = new PciHost();
        other.restoreState(pci.saveState());
        assertThat(other.read(PciHost.CONFIG_DATA, 4)).isEqualTo(pci.read(PciHost.CONFIG_DATA, 4));
        ResetControl rcr = new ResetControl(() -> { });
        rcr.restoreState(new ResetControl.State(0xff));
        assertThat(rcr.read(0, 1)).isEqualTo(ResetControl.SYS_RST | ResetControl.FULL_RST);
    }
}

package org.tscvm.devices;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FwCfgTest {
    private final FwCfg fw = new FwCfg(128L << 20, 4, 4);

    private long readItem(int key, int bytes) {
        fw.write(FwCfg.SELECTOR, 2, key);
        long v = 0;
        for (int i = 0; i < bytes; i++) {
            v |= (long) fw.read(FwCfg.DATA, 1) << (8 * i);
        }
        return v;
    }

    @Test
    void signatureReadsQemuByteByByte() {
        fw.write(FwCfg.SELECTOR, 2, FwCfg.KEY_SIGNATURE);
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            s.append((char) fw.read(FwCfg.DATA, 1));
        }
        assertThat(s).hasToString("QEMU");
    }

    @Test
    void ramSizeAndCpuCountsAreLittleEndian() {
        assertThat(readItem(FwCfg.KEY_RAM_SIZE, 8)).isEqualTo(128L << 20);
        assertThat(readItem(FwCfg.KEY_NB_CPUS, 2)).isEqualTo(4);
        assertThat(readItem(FwCfg.KEY_MAX_CPUS, 2)).isEqualTo(4);
        assertThat(readItem(FwCfg.KEY_ID, 4)).isEqualTo(1);
    }

    @Test
    void unknownKeysAndReadsPastTheEndReturnZero() {
        assertThat(readItem(0x4242, 4)).isZero();
        fw.write(FwCfg.SELECTOR, 2, FwCfg.KEY_NB_CPUS);
        fw.read(FwCfg.DATA, 1);
        fw.read(FwCfg.DATA, 1);
        assertThat(fw.read(FwCfg.DATA, 1)).isZero();
    }

    @Test
    void selectingAgainRestartsTheItem() {
        fw.write(FwCfg.SELECTOR, 2, FwCfg.KEY_SIGNATURE);
        fw.read(FwCfg.DATA, 1);
        fw.write(FwCfg.SELECTOR, 2, FwCfg.KEY_SIGNATURE);
        assertThat(fw.read(FwCfg.DATA, 1)).isEqualTo('Q');
    }

    @Test
    void restoreContinuesInTheMiddleOfAnItem() {
        fw.write(FwCfg.SELECTOR, 2, FwCfg.KEY_SIGNATURE);
        fw.read(FwCfg.DATA, 1);
        FwCfg other = new FwCfg(128L << 20, 4, 4);
        other.restoreState(fw.saveState());
        assertThat(other.read(FwCfg.DATA, 1)).isEqualTo('E');
    }
}

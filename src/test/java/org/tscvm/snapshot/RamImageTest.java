package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

/** RAM images follow the pc layout: RAM above 4 GiB is saved and lands where it was. */
class RamImageTest {
    @Test
    void ramAboveFourGibRoundTripsToTheSameAddressesAndTheHoleStaysOut() {
        long six = 6L << 30;
        GuestMemory source = new GuestMemory(six);
        long high = (4L << 30) + 0x12345000L;
        long top = (1L << 32) + source.aboveFourGiB() - 8;
        source.write64(0x100000, 0x1111_2222_3333_4444L);
        source.write64(high, 0x5555_6666_7777_8888L);
        source.write64(top, 0x9999_aaaa_bbbb_ccccL);

        RamImage image = RamImage.save(source);
        assertThat(image.storedPages()).isEqualTo(3); // zero pages are not stored

        GuestMemory target = new GuestMemory(six);
        target.write64(0x200000, 42); // a page the image does not hold is zeroed by the restore
        image.applyTo(target);
        assertThat(target.read(0x100000, 8)).isEqualTo(0x1111_2222_3333_4444L);
        assertThat(target.read(high, 8)).isEqualTo(0x5555_6666_7777_8888L);
        assertThat(target.read(top, 8)).isEqualTo(0x9999_aaaa_bbbb_ccccL);
        assertThat(target.read(0x200000, 8)).isZero();
    }
}

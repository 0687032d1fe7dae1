package org.tscvm.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tscvm.memory.GuestMemory;

/** Corrupted headers reach the kernel loaders as a refusal (KernelImageException) or a load, never another exception. */
class LinuxLoaderRobustnessTest {
    private static final long MIB = 1 << 20;
    private static final byte[] CODE = {(byte) 0xf4, (byte) 0xeb, (byte) 0xfd};
    private final GuestMemory memory = new GuestMemory(32 * MIB);
    private final MemoryMap map = MemoryMap.pc(32 * MIB, List.of());
    private final List<MultibootLoader.Module> initrd = List.of(new MultibootLoader.Module("i", new byte[3000]));

    private int loadOrRefuse(byte[] image) {
        try {
            KernelLoader.load(memory, image, "k", "console=ttyS0", initrd, map, 0);
            return 1;
        } catch (KernelImageException refused) {
            return 0;
        }
    }

    /** Overwrites 1 to 4 random bytes of [from, to) (or past the end, to cut the file) with random values. */
    private static byte[] corrupt(byte[] image, Random random, int from, int to) {
        byte[] b = random.nextInt(10) == 0
                ? java.util.Arrays.copyOf(image, from + random.nextInt(image.length - from)) : image.clone();
        for (int n = 1 + random.nextInt(4); n > 0; n--) {
            int at = from + random.nextInt(Math.min(to, b.length) - from);
            b[at] = (byte) (random.nextInt(4) == 0 ? 0xff : random.nextInt(256));
        }
        return b;
    }

    @Test
    void corruptedBzImageSetupHeadersAreLoadedOrRefusedCleanly() {
        Random random = new Random(20261206);
        byte[] image = LinuxTestImages.bzImage(CODE, b -> { });
        int loaded = 0;
        for (int round = 0; round < 3000; round++) {
            loaded += loadOrRefuse(corrupt(image, random, 0x1f1, LinuxTestImages.HEADER_END));
        }
        assertThat(loaded).as("some corruptions leave a loadable kernel").isPositive();
    }

    @Test
    void corruptedPvhElfHeadersAndNotesAreLoadedOrRefusedCleanly() {
        Random random = new Random(20261207);
        byte[] image = LinuxTestImages.pvhElf(16 * MIB, CODE, 16 * MIB);
        int loaded = 0;
        for (int round = 0; round < 3000; round++) {
            loaded += loadOrRefuse(corrupt(image, random, 4, 64 + 2 * 56 + 24));
        }
        assertThat(loaded).as("some corruptions leave a loadable kernel").isPositive();
    }
}
